package sendoka

import (
	"crypto/rand"
	"time"

	"github.com/oklog/ulid/v2"
)

// Id prefixes. An id is a prefix and a ULID: time-sortable to the millisecond, random after.
const (
	PrefixMessage         = "msg_"
	PrefixEvent           = "evt_"
	PrefixRequest         = "req_"
	PrefixOrg             = "org_"
	PrefixAPIKey          = "key_"
	PrefixTenant          = "ten_"
	PrefixDomain          = "dom_"
	PrefixTemplate        = "tpl_"
	PrefixAudience        = "aud_"
	PrefixContact         = "con_"
	PrefixWebhookEndpoint = "whe_"
	PrefixWebhookDelivery = "whd_"
)

// NewID returns a new id with the given prefix, minted at t.
func NewID(prefix string, t time.Time) string {
	return prefix + ulid.MustNew(ulid.Timestamp(t), rand.Reader).String()
}
