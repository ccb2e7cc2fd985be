package sendoka

import (
	"context"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// SenderKind is the kind of a registered SMS sender.
type SenderKind string

// The sender kinds of the docs.
const (
	// SenderAlphanumeric is a sender ID such as "Acme" (UK, AU, most of the EU). It cannot
	// receive replies, cannot send MMS, and is not allowed in the US, Canada or India.
	SenderAlphanumeric SenderKind = "alphanumeric"
	// SenderLongCode is an ordinary phone number (in the US, a 10DLC number).
	SenderLongCode SenderKind = "long_code"
	// SenderTollFree is a US or Canadian toll-free number (+1 800, 833, 844, 855, 866, 877, 888).
	SenderTollFree SenderKind = "toll_free"
)

// SenderKinds lists every kind.
var SenderKinds = []SenderKind{SenderAlphanumeric, SenderLongCode, SenderTollFree}

// SenderStatus is where a registered sender is in its provisioning.
type SenderStatus string

// Sender statuses. Only an active sender may send.
const (
	SenderPending SenderStatus = "pending" // waiting for the provider's provisioning step
	SenderActive  SenderStatus = "active"
	SenderFailed  SenderStatus = "failed" // the provider refused it; see Diagnostic
)

// Id prefixes of the SMS resources.
const (
	PrefixPhoneNumber = "pn_"
	PrefixPhonePool   = "pool_"
	PrefixSuppression = "sup_"
)

// PhoneNumber is a registered SMS sender: a phone number or an alphanumeric sender ID. A
// message may only come from an active sender of its org (and tenant).
type PhoneNumber struct {
	ID       string
	OrgID    string
	TenantID string // "" for an org-wide sender
	Kind     SenderKind
	// PhoneNumber is the E.164 number of a long code or toll-free number; SenderID the
	// alphanumeric sender ID. Exactly one is set, as Kind says.
	PhoneNumber string
	SenderID    string
	// ISOCountry is the ISO 3166-1 alpha-2 country the sender is registered for.
	ISOCountry string
	Status     SenderStatus
	// Provider is the SMS provider whose provisioning step last ran ("" when none did).
	Provider string
	// Diagnostic explains a failed or still pending provisioning.
	Diagnostic *Diagnostic
	// DailyCap is the most live SMS it sends a UTC day, where a carrier asks for one (a new
	// 10DLC number, say); 0: none.
	DailyCap  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Address is what a message from this sender carries in its from: the number or the ID.
func (n *PhoneNumber) Address() string {
	if n.Kind == SenderAlphanumeric {
		return n.SenderID
	}
	return n.PhoneNumber
}

// CanSendMMS reports whether the sender can send MMS: US and Canadian long codes and
// toll-free numbers can; alphanumeric sender IDs and numbers elsewhere cannot.
func (n *PhoneNumber) CanSendMMS() bool {
	return n.Kind != SenderAlphanumeric && (n.ISOCountry == "US" || n.ISOCountry == "CA")
}

// PhoneNumberRequest is the body of POST /api/v1/phone-numbers.
type PhoneNumberRequest struct {
	Kind        SenderKind `json:"kind" enum:"alphanumeric,long_code,toll_free" doc:"alphanumeric (sender ID, active at once), long_code (US 10DLC or another country's number) or toll_free (US/CA)" example:"alphanumeric"`
	SenderID    string     `json:"sender_id,omitempty" doc:"For alphanumeric: 1-11 letters, digits and spaces, at least one letter" example:"Acme"`
	PhoneNumber string     `json:"phone_number,omitempty" doc:"For long_code and toll_free: the E.164 number" example:"+15551234567"`
	ISOCountry  string     `json:"iso_country" doc:"ISO 3166-1 alpha-2 country the sender is registered for" example:"GB"`
	// DailyCap is the sender's daily cap of live SMS (0: none).
	DailyCap int64 `json:"daily_cap,omitempty" minimum:"0" doc:"Most live SMS this sender sends a UTC day, where a carrier asks for a cap; 0 or left out: none" example:"1000"`
	// TenantID registers the sender for a tenant (platform mode): see Client.ForTenant.
	TenantID string `json:"tenant_id,omitempty" doc:"Platform mode: register the sender for this tenant (platform-root keys); a tenant-bound key may only name its own" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S" maxLength:"64"`
}

// SenderProvisioner is implemented by SMS providers that set a number up before it can send
// (10DLC campaign registration, toll-free verification, checking that the number belongs to
// the account). The core calls it for long codes and toll-free numbers when they are
// registered and when Client.ProvisionPhoneNumber asks again; alphanumeric sender IDs never
// reach it. A provider without this interface has no provisioning step: its numbers are
// active as soon as they are registered.
//
// ProvisionSender must be idempotent: it may be called again for a number that is pending or
// already active. It returns the number's status now: SenderActive when it can send,
// SenderPending when the provider will finish later (Diagnostic may say what it waits for),
// SenderFailed when it never will (Diagnostic says why). An error means the step could not
// run (the provider was unreachable): the number stays as it was.
type SenderProvisioner interface {
	ProvisionSender(ctx context.Context, n *PhoneNumber) (ProvisionResult, error)
}

// ProvisionResult is what a provisioning step reports.
type ProvisionResult struct {
	Status     SenderStatus
	Diagnostic *Diagnostic
}

// MMSSupporter is implemented by SMS providers that can tell whether they send MMS. A
// provider that reports false makes the core refuse media_url for the live messages it would
// carry; a provider without this method is assumed to send MMS.
type MMSSupporter interface {
	SupportsMMS() bool
}

// SenderStore is the part of the Store that reads senders and pools. Every method takes the
// caller's Scope: org-wide (TenantID "") sees every tenant's senders, a tenant only its own.
type SenderStore interface {
	// GetPhoneNumber returns a sender in scope, or CodeNotFound.
	GetPhoneNumber(ctx context.Context, scope Scope, id string) (*PhoneNumber, error)
	// GetPhoneNumbers returns the senders of ids that exist in scope, in any order; unknown ids
	// are left out.
	GetPhoneNumbers(ctx context.Context, scope Scope, ids []string) ([]*PhoneNumber, error)
	// ListPhoneNumbers returns one page of senders in scope, newest first ((CreatedAt, ID)
	// descending), strictly after q.After when it is set.
	ListPhoneNumbers(ctx context.Context, scope Scope, q PageQuery) (*PhoneNumberPage, error)
	// FindPhoneNumbers returns the senders in scope whose address (PhoneNumber or SenderID,
	// compared exactly) is address, oldest first.
	FindPhoneNumbers(ctx context.Context, scope Scope, address string) ([]*PhoneNumber, error)
	// PhoneNumbersByAddress returns every registration of a phone number in every org, oldest
	// first: inbound messages name only the number they were sent to.
	PhoneNumbersByAddress(ctx context.Context, address string) ([]*PhoneNumber, error)

	// GetPhonePool returns a pool in scope with its members, or CodeNotFound.
	GetPhonePool(ctx context.Context, scope Scope, id string) (*PhonePool, error)
	// ListPhonePools returns one page of pools in scope, newest first, like ListPhoneNumbers.
	ListPhonePools(ctx context.Context, scope Scope, q PageQuery) (*PhonePoolPage, error)
	// DefaultPhonePool returns the default pool of exactly this org and tenant ("" for the
	// org-wide default), or CodeNotFound.
	DefaultPhonePool(ctx context.Context, orgID, tenantID string) (*PhonePool, error)
}

// SenderTx is the part of the Tx that writes senders and pools.
type SenderTx interface {
	// InsertPhoneNumber inserts a sender. The same address registered twice for one country
	// by one org and tenant is CodeConflict.
	InsertPhoneNumber(ctx context.Context, n *PhoneNumber) error
	// UpdatePhoneNumber writes Status, Provider, Diagnostic and UpdatedAt of the sender with
	// n.ID, whatever its scope; CodeNotFound when it no longer exists.
	UpdatePhoneNumber(ctx context.Context, n *PhoneNumber) error
	// DeletePhoneNumber deletes a sender in scope and removes it from every pool; CodeNotFound
	// when it is not in scope.
	DeletePhoneNumber(ctx context.Context, scope Scope, id string) error
	// InsertPhonePool inserts a pool and its members. When the pool is the default, the
	// previous default pool of the same org and tenant stops being one.
	InsertPhonePool(ctx context.Context, p *PhonePool) error
	// UpdatePhonePool writes Name, Default, PhoneNumberIDs and UpdatedAt of a pool in scope
	// (clearing another default as InsertPhonePool does); CodeNotFound when not in scope.
	UpdatePhonePool(ctx context.Context, scope Scope, p *PhonePool) error
	// DeletePhonePool deletes a pool in scope (never its numbers); CodeNotFound when not in
	// scope.
	DeletePhonePool(ctx context.Context, scope Scope, id string) error
}

// PageQuery selects one page of a newest-first listing of senders or pools.
type PageQuery struct {
	Limit int // 1..100; the core always sets it
	After *Cursor
}

// PhoneNumberPage is one page of ListPhoneNumbers.
type PhoneNumberPage struct {
	PhoneNumbers []*PhoneNumber
	HasMore      bool
}

// PhoneNumberList is one page of senders with the cursor of the next.
type PhoneNumberList struct {
	PhoneNumbers []*PhoneNumber
	HasMore      bool
	NextCursor   string
}

// NANP toll-free area codes.
var tollFreeAreaCodes = map[string]bool{"800": true, "833": true, "844": true, "855": true, "866": true, "877": true, "888": true}

// alphanumericRefused names, for the countries that refuse alphanumeric sender IDs, what to
// register instead.
var alphanumericRefused = map[string]string{
	"US": "the US does not allow alphanumeric sender IDs: register a 10DLC number (kind long_code) or a toll-free number (kind toll_free)",
	"CA": "Canada does not allow alphanumeric sender IDs: register a toll-free number (kind toll_free)",
	"IN": "India requires DLT-registered senders: register your DLT sender ID and templates first; alphanumeric sender IDs are refused here",
}

// CreatePhoneNumber registers a sender. An alphanumeric sender ID is active at once. A long
// code or toll-free number starts pending and goes through the live SMS provider's
// provisioning step (SenderProvisioner) right away; the sandbox activates it at once, a
// provider without a provisioning step leaves nothing to wait for. If the step cannot run
// (provider unreachable) the number stays pending with a diagnostic saying so:
// ProvisionPhoneNumber runs it again.
func (c *Client) CreatePhoneNumber(ctx context.Context, p *Principal, req *PhoneNumberRequest) (*PhoneNumber, error) {
	if err := p.require(PermissionPhoneNumbersWrite); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, req.TenantID)
	if err != nil {
		return nil, err
	}
	n, err := newPhoneNumber(p, req)
	if err != nil {
		return nil, err
	}
	now := c.now()
	n.ID = NewID(PrefixPhoneNumber, now)
	n.CreatedAt, n.UpdatedAt = now, now
	if req.DailyCap < 0 {
		return nil, fieldError(FieldTooSmall, "0 (no cap) or more", "daily_cap")
	}
	n.DailyCap = req.DailyCap
	n.Status = SenderActive
	if n.Kind != SenderAlphanumeric {
		n.Status = SenderPending
	}
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertPhoneNumber(ctx, n) }); err != nil {
		if ErrorCode(err) == CodeConflict {
			return nil, &Error{Code: CodeConflict, Message: n.Address() + " is already registered for " + n.ISOCountry, Err: err}
		}
		return nil, err
	}
	if n.Status == SenderPending {
		if err := c.provision(ctx, n); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// ProvisionPhoneNumber runs the SMS provider's provisioning step again for a sender that is
// not active yet (for example after the provider finished a 10DLC registration), and returns
// the sender as it is now. An active sender is returned unchanged. A step that cannot run
// leaves the status as it was, with a diagnostic (code provider_unreachable) saying why.
func (c *Client) ProvisionPhoneNumber(ctx context.Context, p *Principal, id string) (*PhoneNumber, error) {
	if err := p.require(PermissionPhoneNumbersWrite); err != nil {
		return nil, err
	}
	if !plausibleID(id) {
		return nil, NotFound("phone number")
	}
	n, err := c.store.GetPhoneNumber(ctx, p.Scope(), id)
	if err != nil {
		return nil, AsError(err)
	}
	if n.Status == SenderActive || n.Kind == SenderAlphanumeric {
		return n, nil
	}
	if err := c.provision(ctx, n); err != nil {
		return nil, err
	}
	return n, nil
}

// provision runs the live SMS provider's provisioning step and records its result on n. A
// step that cannot run is recorded as a diagnostic on the unchanged status.
func (c *Client) provision(ctx context.Context, n *PhoneNumber) error {
	res := ProvisionResult{Status: SenderActive}
	provider := ""
	if pr, ok := c.sms.(SenderProvisioner); ok {
		provider = namerName(c.sms)
		var err error
		res, err = pr.ProvisionSender(ctx, n)
		switch {
		case err != nil:
			c.log.WarnContext(ctx, "provisioning step did not run", "phone_number_id", n.ID, "error", err)
			res = ProvisionResult{Status: n.Status, Diagnostic: &Diagnostic{Provider: provider, Code: "provider_unreachable",
				Message: "the provisioning step could not run: " + err.Error() + "; provision the number again"}}
		case res.Status != SenderActive && res.Status != SenderPending && res.Status != SenderFailed:
			return Errorf(CodeInternal, "provider %s returned provisioning status %q", provider, res.Status)
		}
	}
	n.Status, n.Diagnostic, n.Provider = res.Status, res.Diagnostic, provider
	n.UpdatedAt = c.now()
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.UpdatePhoneNumber(ctx, n) })
}

func namerName(v any) string {
	if n, ok := v.(Namer); ok {
		return n.Name()
	}
	return "unknown"
}

// GetPhoneNumber returns a sender in the principal's scope.
func (c *Client) GetPhoneNumber(ctx context.Context, p *Principal, id string) (*PhoneNumber, error) {
	if err := p.require(PermissionPhoneNumbersRead, PermissionSMSSend, PermissionSMSRead); err != nil {
		return nil, err
	}
	if !plausibleID(id) {
		return nil, NotFound("phone number")
	}
	n, err := c.store.GetPhoneNumber(ctx, p.Scope(), id)
	if err != nil {
		return nil, AsError(err)
	}
	return n, nil
}

// ListPhoneNumbers returns a page of the principal's senders, newest first. Status and Tag of
// lp do not apply.
func (c *Client) ListPhoneNumbers(ctx context.Context, p *Principal, lp ListParams) (*PhoneNumberList, error) {
	if err := p.require(PermissionPhoneNumbersRead, PermissionSMSSend, PermissionSMSRead); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, lp.TenantID)
	if err != nil {
		return nil, err
	}
	q, err := pageQuery(lp)
	if err != nil {
		return nil, err
	}
	page, err := c.store.ListPhoneNumbers(ctx, p.Scope(), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &PhoneNumberList{PhoneNumbers: page.PhoneNumbers, HasMore: page.HasMore}
	if page.HasMore && len(page.PhoneNumbers) > 0 {
		last := page.PhoneNumbers[len(page.PhoneNumbers)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// DeletePhoneNumber removes a sender (and its place in every pool). Messages already accepted
// from it still go out; new ones cannot use it.
func (c *Client) DeletePhoneNumber(ctx context.Context, p *Principal, id string) error {
	if err := p.require(PermissionPhoneNumbersWrite); err != nil {
		return err
	}
	if !plausibleID(id) {
		return NotFound("phone number")
	}
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.DeletePhoneNumber(ctx, p.Scope(), id) })
}

// plausibleID reports whether s can be an id at all: ids are short and free of NUL, which
// Postgres refuses in text, so anything else is unknown without asking the database.
func plausibleID(s string) bool {
	return s != "" && len(s) <= 64 && !strings.ContainsRune(s, 0)
}

// pageQuery validates the limit and cursor of a listing.
func pageQuery(lp ListParams) (PageQuery, error) {
	var v Validation
	q := PageQuery{Limit: lp.Limit}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		v.Add(FieldTooBig, "limit must be between 1 and 100", "limit")
	}
	if lp.Cursor != "" {
		cur, err := DecodeCursor(lp.Cursor)
		if err != nil {
			v.Add(FieldInvalid, "malformed cursor", "cursor")
		}
		q.After = cur
	}
	return q, v.Err()
}

// newPhoneNumber validates a registration request.
func newPhoneNumber(p *Principal, req *PhoneNumberRequest) (*PhoneNumber, error) {
	var v Validation
	n := &PhoneNumber{OrgID: p.OrgID, TenantID: p.TenantID, Kind: req.Kind}
	country := strings.ToUpper(strings.TrimSpace(req.ISOCountry))
	switch {
	case req.ISOCountry == "":
		v.Add(FieldRequired, "Required", "iso_country")
	case len(country) != 2 || !phonenumbers.GetSupportedRegions()[country]:
		v.Add(FieldInvalid, "must be an ISO 3166-1 alpha-2 country code such as GB", "iso_country")
		country = ""
	default:
		n.ISOCountry = country
	}
	switch req.Kind {
	case SenderAlphanumeric:
		if req.PhoneNumber != "" {
			v.Add(FieldUnrecognized, "an alphanumeric sender has a sender_id, not a phone_number", "phone_number")
		}
		switch {
		case req.SenderID == "":
			v.Add(FieldRequired, "Required", "sender_id")
		case !validSenderID(req.SenderID):
			v.Add(FieldInvalidString, "1 to 11 letters, digits and spaces, with at least one letter", "sender_id")
		default:
			n.SenderID = req.SenderID
		}
		if why, refused := alphanumericRefused[country]; refused {
			v.Add(FieldInvalid, why, "iso_country")
		}
	case SenderLongCode, SenderTollFree:
		if req.SenderID != "" {
			v.Add(FieldUnrecognized, "a "+string(req.Kind)+" sender has a phone_number, not a sender_id", "sender_id")
		}
		num, ok := ParseE164(req.PhoneNumber)
		switch {
		case req.PhoneNumber == "":
			v.Add(FieldRequired, "Required", "phone_number")
		case !ok:
			v.Add(FieldInvalidString, "must be an E.164 phone number such as +15551234567", "phone_number")
		default:
			n.PhoneNumber = num
			if country != "" && phonenumbers.GetCountryCodeForRegion(country) != callingCode(num) {
				v.Add(FieldInvalid, "the number is not a "+country+" number", "phone_number")
			}
			tollFree := callingCode(num) == 1 && tollFreeAreaCodes[num[2:5]]
			switch {
			case req.Kind == SenderTollFree && country != "" && country != "US" && country != "CA":
				v.Add(FieldInvalid, "toll-free numbers are US or CA", "iso_country")
			case req.Kind == SenderTollFree && !tollFree:
				v.Add(FieldInvalid, "not a toll-free number (+1 800, 833, 844, 855, 866, 877 or 888)", "phone_number")
			case req.Kind == SenderLongCode && tollFree:
				v.Add(FieldInvalid, "a toll-free number: register it with kind toll_free", "kind")
			}
		}
	case "":
		v.Add(FieldRequired, "Required", "kind")
	default:
		v.Add(FieldInvalid, "must be alphanumeric, long_code or toll_free", "kind")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return n, nil
}

// callingCode returns the country calling code of a number ParseE164 accepted.
func callingCode(e164 string) int {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return 0
	}
	return int(num.GetCountryCode())
}

// numberCountry returns the ISO country of a number ParseE164 accepted: the region that owns
// it, or, for a number no region claims (an unallocated area code such as +1 555), the main
// region of its calling code.
func numberCountry(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != "ZZ" {
		return r
	}
	r := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
	if r == "ZZ" {
		return ""
	}
	return r
}
