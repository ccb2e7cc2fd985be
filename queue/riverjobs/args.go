package riverjobs

import (
	"github.com/sendoka/sendoka/sendoka"
)

// deliverArgs are the arguments of a deliver_message job: the message id only, so the
// content is read from the store when the job runs (and never lingers in river_job).
type deliverArgs struct {
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (deliverArgs) Kind() string { return string(sendoka.JobDeliverMessage) }

// providerEventArgs are the arguments of a provider_event job: the provider's small report,
// flattened, with the message id at the top like deliverArgs.
type providerEventArgs struct {
	sendoka.ProviderEvent
}

// Kind implements river.JobArgs.
func (providerEventArgs) Kind() string { return string(sendoka.JobProviderEvent) }

// recoverArgs are the arguments of the periodic recover_deliveries job: none.
type recoverArgs struct{}

// Kind implements river.JobArgs.
func (recoverArgs) Kind() string { return "recover_deliveries" }
