package riverjobs

import (
	"encoding/json"

	"github.com/sendoka/sendoka/sendoka"
)

// jobArgs are the River arguments of every Sendoka job: the core's sendoka.Job without its
// scheduling. River's kind is the Sendoka kind (kind is set on insert and, for the worker
// of each kind, at registration), so river_job rows read as deliver_message,
// provider_event, ... Content never travels in a job: the subject is read when it runs.
type jobArgs struct {
	kind      sendoka.JobKind
	SubjectID string          `json:"subject_id,omitempty" river:"unique"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	UniqueKey string          `json:"unique_key,omitempty" river:"unique"`
}

// Kind implements river.JobArgs.
func (a jobArgs) Kind() string { return string(a.kind) }

// UnmarshalJSON also reads the arguments of jobs enqueued before the general job model:
// deliver_message as {"message_id"} and provider_event as the flattened ProviderEvent.
func (a *jobArgs) UnmarshalJSON(b []byte) error {
	var v struct {
		SubjectID string          `json:"subject_id"`
		Payload   json.RawMessage `json:"payload"`
		UniqueKey string          `json:"unique_key"`
		MessageID string          `json:"message_id"`
		Type      string          `json:"type"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.SubjectID, a.Payload, a.UniqueKey = v.SubjectID, v.Payload, v.UniqueKey
	if a.SubjectID == "" {
		a.SubjectID = v.MessageID
	}
	if len(a.Payload) == 0 && v.Type != "" {
		a.Payload = append(json.RawMessage(nil), b...)
	}
	return nil
}
