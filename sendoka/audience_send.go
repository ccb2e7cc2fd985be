package sendoka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxAudienceSend is the most recipients one audience send reaches, after unsubscribed and
// suppressed contacts are left out (the docs' AUDIENCE_TOO_LARGE).
const MaxAudienceSend = 10000

// maxAudienceScan bounds the contacts a send call reads to count its recipients: an
// audience with more contacts that have an address of the channel is AUDIENCE_TOO_LARGE
// whatever its suppressions.
const maxAudienceScan = 100000

// fanoutChunk is how many messages one transaction of the fan-out creates; on a database
// that takes one write at a time (OneWriter), fanoutChunkOneWriter, so that a transactional
// send's writes never wait long behind a chunk.
const (
	fanoutChunk          = 500
	fanoutChunkOneWriter = 250
)

// OneWriter is implemented by a Store whose database takes one write at a time (SQLite).
// The core keeps its long write transactions short on such a store.
type OneWriter interface {
	// OneWriter reports whether the database takes one write at a time.
	OneWriter() bool
}

// fanoutChunkSize is the fan-out's chunk on c's store.
func (c *Client) fanoutChunkSize() int {
	if ow, ok := c.store.(OneWriter); ok && ow.OneWriter() {
		return fanoutChunkOneWriter
	}
	return fanoutChunk
}

// PrefixAudienceSend is the id prefix of audience sends.
const PrefixAudienceSend = "asd_"

// JobAudienceFanout creates the messages of an audience send, a chunk per transaction
// (Client.RunAudienceFanout). SubjectID is the send id.
const JobAudienceFanout JobKind = "audience_fanout"

// AudienceSendRequest is the body of POST /api/v1/audiences/{id}/send: one message per
// subscribed, unsuppressed contact, rendered from a template with the contact's fields
// ({{first_name}}, {{last_name}}, {{email}}, {{phone}}, {{data.key}}) under the call's
// variables (which win).
type AudienceSendRequest struct {
	From        string         `json:"from" doc:"Sender: an email address of a verified domain (email), or a registered number or sender ID (sms)" example:"news@yourdomain.com" maxLength:"320"`
	Channel     Channel        `json:"channel" enum:"email,sms" doc:"email (to the contacts' email addresses) or sms (to their phone numbers)" example:"email"`
	Template    string         `json:"template" doc:"Template slug; rendered once per contact" example:"newsletter" maxLength:"64"`
	Variables   map[string]any `json:"variables,omitempty" doc:"Values for the template, over each contact's own fields"`
	Subject     string         `json:"subject,omitempty" doc:"Email subject; the template's when omitted" maxLength:"998"`
	Tags        []string       `json:"tags,omitempty" doc:"Max 10, on every message"`
	ScheduledAt string         `json:"scheduled_at,omitempty" doc:"ISO 8601 time in the future (at most 30 days ahead): the messages are scheduled for it" example:"2026-05-01T12:00:00Z"`
}

// AudienceSend is one send to an audience and how far its fan-out is.
type AudienceSend struct {
	ID         string
	OrgID      string
	TenantID   string
	AudienceID string
	KeyID      string
	Mode       Mode
	Channel    Channel
	// Request is the send as the fan-out needs it (JSON, the core's own shape).
	Request json.RawMessage
	// Recipients are the contacts the send reaches (its "queued"); the skipped ones were
	// left out when it was made.
	Recipients          int
	SkippedSuppressed   int
	SkippedUnsubscribed int
	// Processed counts the recipients the fan-out has handled so far; Refused those of them
	// that got no message (the contact was deleted, unsubscribed or suppressed since, or a
	// quota or warmup cap refused it).
	Processed int
	Refused   int
	// Cursor is the last contact id the fan-out handled ("" before it starts).
	Cursor     string
	CreatedAt  time.Time
	FinishedAt *time.Time

	// Statuses counts the send's messages by status. Filled by Client.GetAudienceSend only.
	Statuses map[Status]int
}

// AudienceRecipient is a contact with an address on the channel of a send.
type AudienceRecipient struct {
	ContactID    string
	Address      string
	Unsubscribed bool
}

// PendingRecipient is a recipient of a send that the fan-out has not handled: its contact as
// it is now (nil when it was deleted since).
type PendingRecipient struct {
	ContactID string
	Address   string
	Contact   *Contact
}

// RecipientOutcome is what the fan-out did for one recipient: the message it made, or why it
// made none.
type RecipientOutcome struct {
	ContactID string
	MessageID string
	Error     string
}

// AudienceSendStore is the part of Store that reads audience sends.
type AudienceSendStore interface {
	// AudienceRecipients returns at most limit contacts of the audience that have an address
	// on the channel (an email for email, a phone for sms), ordered by contact id.
	AudienceRecipients(ctx context.Context, audienceID string, ch Channel, limit int) ([]AudienceRecipient, error)
	// GetAudienceSend returns a send of the audience (the latest when sendID is ""), whose
	// namespace is the scope's, or CodeNotFound. Statuses is not filled.
	GetAudienceSend(ctx context.Context, scope Scope, audienceID, sendID string) (*AudienceSend, error)
	// GetAudienceSendByID returns a send by id whatever its scope (for the fan-out job), or
	// CodeNotFound.
	GetAudienceSendByID(ctx context.Context, id string) (*AudienceSend, error)
	// AudienceSendStatuses counts the messages of a send by status.
	AudienceSendStatuses(ctx context.Context, sendID string) (map[Status]int, error)
	// PendingRecipients returns at most limit recipients of the send whose contact id sorts
	// after after, ordered by contact id, each with its contact as it is now.
	PendingRecipients(ctx context.Context, sendID, after string, limit int) ([]PendingRecipient, error)
	// UnfinishedAudienceSends returns at most limit sends whose fan-out has not finished
	// (FinishedAt nil), whatever their scope, oldest first. Statuses is not filled.
	UnfinishedAudienceSends(ctx context.Context, limit int) ([]*AudienceSend, error)
}

// AudienceSendTx is the part of Tx that writes audience sends.
type AudienceSendTx interface {
	// InsertAudienceSend inserts a send and its recipients (multi-row statements of at most
	// 1 MiB each).
	InsertAudienceSend(ctx context.Context, s *AudienceSend, recipients []AudienceRecipient) error
	// AdvanceAudienceSend records a chunk of the fan-out: if the stored send's cursor is
	// still from, it writes s's Cursor, Processed, Refused and FinishedAt and each outcome's
	// message id or error, and reports true; otherwise (another run moved it) it changes
	// nothing and reports false.
	AdvanceAudienceSend(ctx context.Context, s *AudienceSend, from string, outcomes []RecipientOutcome) (bool, error)
}

// audienceSendSpec is AudienceSend.Request: what each message of the send is made of.
type audienceSendSpec struct {
	From        string         `json:"from"`
	Template    string         `json:"template"`
	Variables   map[string]any `json:"variables,omitempty"`
	Subject     string         `json:"subject,omitempty"`
	Tags        []string       `json:"tags,omitempty"`
	ScheduledAt *time.Time     `json:"scheduled_at,omitempty"`
}

// SendToAudience sends a template to every subscribed contact of an audience that has an
// address on the channel and is not suppressed: it counts them, records the send with its
// recipients and enqueues the fan-out job, in one transaction, and returns. The job
// (RunAudienceFanout) creates the messages, StreamBroadcast ones delivered on the bulk
// queue. More than MaxAudienceSend recipients is CodeAudienceTooLarge. A broadcast email
// needs a working unsubscribe link: without Config.Tracking.BaseURL it is refused.
func (c *Client) SendToAudience(ctx context.Context, p *Principal, audienceID string, req *AudienceSendRequest) (*AudienceSend, error) {
	perm := PermissionEmailsSend
	if req.Channel == ChannelSMS {
		perm = PermissionSMSSend
	}
	if err := p.require(perm); err != nil {
		return nil, err
	}
	a, err := c.getAudience(ctx, p.Scope(), audienceID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	var v Validation
	switch req.Channel {
	case ChannelEmail, ChannelSMS:
	default:
		v.Add(FieldInvalid, "must be email or sms", "channel")
	}
	if req.From == "" && req.Channel != ChannelSMS { // an SMS without one goes from the default pool
		v.Add(FieldRequired, "Required", "from")
	}
	if req.Template == "" {
		v.Add(FieldRequired, "Required", "template")
	}
	if req.Channel == ChannelSMS && req.Subject != "" {
		v.Add(FieldInvalid, "an SMS has no subject", "subject")
	}
	validateTags(&v, req.Tags)
	sched := ScheduleRequest{ScheduledAt: req.ScheduledAt}
	at := c.scheduledAt(&sched, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if req.Channel == ChannelEmail && !c.tracking.enabled() {
		return nil, fieldError(FieldInvalid, "broadcast email must carry a working unsubscribe link, and this server has no public URL "+
			"to serve it from: configure it (SENDOKA_PUBLIC_URL, or Config.Tracking.BaseURL) and send again", "channel")
	}
	// The template must exist for the channel, whatever the audience holds.
	if _, err := c.lookupTemplate(ctx, p, req.Template, req.Channel, nil); err != nil {
		return nil, err
	}

	all, err := c.store.AudienceRecipients(ctx, a.ID, req.Channel, maxAudienceScan+1)
	if err != nil {
		return nil, AsError(err)
	}
	if len(all) > maxAudienceScan {
		return nil, tooLarge(len(all))
	}
	s := &AudienceSend{ID: NewID(PrefixAudienceSend, now), OrgID: a.OrgID, TenantID: a.TenantID, AudienceID: a.ID,
		KeyID: p.KeyID, Mode: p.Mode, Channel: req.Channel, CreatedAt: now}
	var subscribed []AudienceRecipient
	for _, r := range all {
		if r.Unsubscribed {
			s.SkippedUnsubscribed++
		} else {
			subscribed = append(subscribed, r)
		}
	}
	suppressed, err := c.suppressedAddresses(ctx, a.OrgID, a.TenantID, req.Channel, subscribed)
	if err != nil {
		return nil, err
	}
	var sendable []AudienceRecipient
	for _, r := range subscribed {
		if suppressed[r.Address] {
			s.SkippedSuppressed++
		} else {
			sendable = append(sendable, r)
		}
	}
	if len(sendable) > MaxAudienceSend {
		return nil, tooLarge(len(sendable))
	}
	s.Recipients = len(sendable)
	spec := audienceSendSpec{From: req.From, Template: req.Template, Variables: req.Variables, Subject: req.Subject,
		Tags: req.Tags, ScheduledAt: at}
	if s.Request, err = json.Marshal(spec); err != nil {
		return nil, Errorf(CodeValidation, "variables: %v", err)
	}
	if len(sendable) > 0 {
		// One recipient's message, made with the caller's own key, catches what would fail
		// for all of them (the sender, its domain, the template's variables) before the send
		// is recorded.
		probe := PendingRecipient{ContactID: sendable[0].ContactID, Address: sendable[0].Address}
		if probe.Contact, err = c.store.GetContact(ctx, a.ID, probe.ContactID); err != nil {
			return nil, AsError(err)
		}
		if _, err := c.broadcastMessage(ctx, p, s, &spec, probe, &batchCache{}); err != nil {
			return nil, err
		}
	}
	if s.Recipients == 0 {
		s.FinishedAt = &now
	}
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.InsertAudienceSend(ctx, s, sendable); err != nil {
			return err
		}
		if s.FinishedAt != nil {
			return nil
		}
		_, err := c.queue.Enqueue(ctx, tx, Job{Kind: JobAudienceFanout, SubjectID: s.ID})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func tooLarge(n int) error {
	return Errorf(CodeAudienceTooLarge, "this send would reach %d recipients and one send reaches at most %d: split the contacts "+
		"into several audiences of at most %d each (POST /api/v1/audiences, then POST /api/v1/audiences/{id}/contacts) and send to each",
		n, MaxAudienceSend, MaxAudienceSend)
}

// suppressedAddresses returns which of the recipients' addresses are suppressed now for the
// org and tenant on the channel.
func (c *Client) suppressedAddresses(ctx context.Context, org, tenant string, ch Channel, rs []AudienceRecipient) (map[string]bool, error) {
	out := map[string]bool{}
	const chunk = 1000
	now := c.now()
	for start := 0; start < len(rs); start += chunk {
		addrs := make([]string, 0, chunk)
		for _, r := range rs[start:min(start+chunk, len(rs))] {
			addrs = append(addrs, r.Address)
		}
		sups, err := c.store.GetSuppressions(ctx, org, tenant, ch, addrs)
		if err != nil {
			return nil, AsError(err)
		}
		for _, s := range activeOnly(sups, now) {
			out[s.Address] = true
		}
	}
	return out, nil
}

// contactVariables are a contact's fields as template variables, under the call's own.
func contactVariables(ct *Contact, call map[string]any) map[string]any {
	data := ct.Data
	if data == nil {
		data = map[string]any{}
	}
	vars := map[string]any{"first_name": ct.FirstName, "last_name": ct.LastName, "email": ct.Email, "phone": ct.Phone, "data": data}
	for k, v := range call {
		vars[k] = v
	}
	return vars
}

// broadcastMessage prepares the message of one recipient of a send, as p.
func (c *Client) broadcastMessage(ctx context.Context, p *Principal, s *AudienceSend, spec *audienceSendSpec, r PendingRecipient, bc *batchCache) (*Message, error) {
	if r.Contact == nil {
		return nil, Errorf(CodeNotFound, "the contact was deleted")
	}
	vars := contactVariables(r.Contact, spec.Variables)
	md := map[string]any{"audience_id": s.AudienceID, "audience_send_id": s.ID, "contact_id": r.ContactID}
	var m *Message
	var err error
	switch s.Channel {
	case ChannelSMS:
		m, err = c.prepareSMS(ctx, p, &SMSRequest{From: spec.From, To: r.Address, Template: spec.Template, Variables: vars,
			Tags: spec.Tags, Metadata: md}, bc)
		if err == nil {
			err = c.addOptOutHint(m)
		}
	default:
		m, err = c.prepareEmail(ctx, p, &EmailRequest{From: spec.From, To: []string{r.Address}, Subject: spec.Subject,
			Template: spec.Template, Variables: vars, Tags: spec.Tags, Metadata: md}, bc)
		if err == nil {
			err = c.addUnsubscribe(ctx, m, s.AudienceID, r.ContactID)
		}
	}
	if err != nil {
		return nil, err
	}
	m.Stream = StreamBroadcast
	if spec.ScheduledAt != nil && spec.ScheduledAt.After(c.now()) {
		m.ScheduledAt = spec.ScheduledAt
	}
	return m, nil
}

// errFanoutMoved: another run of the fan-out advanced the send first.
var errFanoutMoved = errors.New("sendoka: the fan-out was advanced by another run")

// RunAudienceFanout creates the messages of an audience send, a chunk of recipients per
// transaction: the chunk's messages, their delivery jobs and the send's new cursor commit
// together, and a chunk commits only if the cursor is still where it was read. So a run cut
// short (a crash, a timeout) resumes after the last committed chunk, and two runs at once
// never give a contact two messages. A recipient that can no longer be sent to is refused
// with the reason recorded; quota and warmup caps apply to each message.
func (c *Client) RunAudienceFanout(ctx context.Context, sendID string) error {
	s, err := c.store.GetAudienceSendByID(ctx, sendID)
	if err != nil {
		return AsError(err)
	}
	var spec audienceSendSpec
	if err := json.Unmarshal(s.Request, &spec); err != nil {
		return Errorf(CodeValidation, "audience send %s: bad request: %v", s.ID, err)
	}
	p := &Principal{OrgID: s.OrgID, TenantID: s.TenantID, KeyID: s.KeyID, Mode: s.Mode, Permissions: []Permission{PermissionFullAccess}}
	for s.FinishedAt == nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := c.fanoutChunk(ctx, p, s, &spec)
		if errors.Is(err, errFanoutMoved) {
			if s, err = c.store.GetAudienceSendByID(ctx, sendID); err != nil {
				return AsError(err)
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fanoutChunk handles the next chunk of s and advances s to where it committed.
func (c *Client) fanoutChunk(ctx context.Context, p *Principal, s *AudienceSend, spec *audienceSendSpec) error {
	pending, err := c.store.PendingRecipients(ctx, s.ID, s.Cursor, c.fanoutChunkSize())
	if err != nil {
		return AsError(err)
	}
	next := *s
	from := s.Cursor
	if len(pending) == 0 {
		now := c.now()
		next.FinishedAt = &now
		if err := c.advance(ctx, nil, &next, from, nil); err != nil {
			return err
		}
		*s = next
		return nil
	}
	next.Cursor = pending[len(pending)-1].ContactID
	next.Processed += len(pending)
	if next.Processed >= next.Recipients {
		now := c.now()
		next.FinishedAt = &now
	}
	bc := newBatchCache()
	outcomes := make([]RecipientOutcome, len(pending))
	for i, r := range pending {
		outcomes[i].ContactID = r.ContactID
		if r.Contact != nil && !r.Contact.Subscribed() {
			outcomes[i].Error = "unsubscribed"
		}
	}
	base := s.Refused
	var o sendOptions
	o.inBatchTx = append(o.inBatchTx, func(ctx context.Context, tx Tx, res *BatchResult) error {
		return c.advanceWith(ctx, tx, &next, base, from, outcomes, res)
	})
	res, err := c.acceptBatch(ctx, o, bc, len(pending), func(i int) (*Message, error) {
		if outcomes[i].Error != "" {
			return nil, Errorf(CodeValidation, "%s", outcomes[i].Error)
		}
		return c.broadcastMessage(ctx, p, s, spec, pending[i], bc)
	})
	if err != nil {
		return err
	}
	if res.Succeeded == 0 {
		// No message, so no accepting transaction: the chunk's refusals commit on their own.
		if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
			return c.advanceWith(ctx, tx, &next, base, from, outcomes, res)
		}); err != nil {
			return err
		}
	}
	*s = next
	return nil
}

// advanceWith fills the outcomes from a chunk's batch result and records them; base is the
// send's refusals before the chunk.
func (c *Client) advanceWith(ctx context.Context, tx Tx, next *AudienceSend, base int, from string, outcomes []RecipientOutcome, res *BatchResult) error {
	for i := range outcomes {
		row := res.Rows[i]
		switch {
		case row.Err != nil && outcomes[i].Error == "":
			outcomes[i].Error = fmt.Sprintf("%s: %s", row.Err.Code, row.Err.Message)
		case row.Err == nil && row.Message != nil:
			outcomes[i].MessageID = row.Message.ID
		}
	}
	next.Refused = base + countRefused(outcomes)
	return c.advance(ctx, tx, next, from, outcomes)
}

func countRefused(outcomes []RecipientOutcome) int {
	n := 0
	for _, o := range outcomes {
		if o.Error != "" {
			n++
		}
	}
	return n
}

// advance records a chunk in tx (or in a transaction of its own when tx is nil).
func (c *Client) advance(ctx context.Context, tx Tx, next *AudienceSend, from string, outcomes []RecipientOutcome) error {
	run := func(ctx context.Context, tx Tx) error {
		ok, err := tx.AdvanceAudienceSend(ctx, next, from, outcomes)
		if err != nil {
			return err
		}
		if !ok {
			return errFanoutMoved
		}
		return nil
	}
	if tx != nil {
		return run(ctx, tx)
	}
	return c.inTx(ctx, run)
}

// GetAudienceSend returns a send of an audience (the latest when sendID is "") with its
// messages counted by status.
func (c *Client) GetAudienceSend(ctx context.Context, p *Principal, audienceID, sendID string) (*AudienceSend, error) {
	if err := p.require(append(audienceReadPermissions, PermissionEmailsSend, PermissionSMSSend, PermissionEmailsRead, PermissionSMSRead)...); err != nil {
		return nil, err
	}
	if !plausibleID(audienceID) || !strings.HasPrefix(audienceID, PrefixAudience) {
		return nil, NotFound("audience")
	}
	if sendID != "" && !plausibleID(sendID) {
		if _, err := c.getAudience(ctx, p.Scope(), audienceID); err != nil {
			return nil, err
		}
		return nil, NotFound("audience send")
	}
	// The send is read first, scoped like its audience: polling a running send's status
	// never counts the audience's contacts. Only a miss asks which of the two is missing.
	s, err := c.store.GetAudienceSend(ctx, p.Scope(), audienceID, sendID)
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			if _, aerr := c.getAudience(ctx, p.Scope(), audienceID); aerr != nil {
				return nil, aerr
			}
		}
		return nil, AsError(err)
	}
	if s.Statuses, err = c.store.AudienceSendStatuses(ctx, s.ID); err != nil {
		return nil, AsError(err)
	}
	return s, nil
}
