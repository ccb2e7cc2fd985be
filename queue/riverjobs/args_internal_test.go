package riverjobs

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJobArgsReadsEarlierRows: jobs enqueued before the general job model still run.
func TestJobArgsReadsEarlierRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw, subject, payload string
	}{
		{name: "Current", raw: `{"subject_id":"msg_1","payload":{"type":"delivered"}}`, subject: "msg_1", payload: `{"type":"delivered"}`},
		{name: "EarlierDelivery", raw: `{"message_id":"msg_2"}`, subject: "msg_2"},
		{name: "EarlierProviderEvent", raw: `{"message_id":"msg_3","type":"bounced","recipient":"a@b.c"}`,
			subject: "msg_3", payload: `{"message_id":"msg_3","type":"bounced","recipient":"a@b.c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var a jobArgs
			require.NoError(t, json.Unmarshal([]byte(tt.raw), &a))
			require.Equal(t, tt.subject, a.SubjectID)
			if tt.payload == "" {
				require.Empty(t, a.Payload)
			} else {
				require.JSONEq(t, tt.payload, string(a.Payload))
			}
		})
	}
	var a jobArgs
	require.Error(t, json.Unmarshal([]byte(`[1]`), &a))
}
