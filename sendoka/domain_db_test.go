package sendoka_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/sendoka/sendokatest"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// domBundle is a Client on a real database and River queue (not started unless a test
// starts it), an in-memory DNS zone, a manual clock, and a bootstrapped org.
type domBundle struct {
	db     *bunstore.DB
	queue  *riverjobs.Queue
	store  *domainStore
	dns    *sendokatest.DNS
	clock  *authClock
	cfg    sendoka.Config
	client *sendoka.Client
	orgID  string
	// root is the org-wide live principal.
	root *sendoka.Principal
}

// domainStore is the real store, counting the namespace reads of the send path.
type domainStore struct {
	*bunstore.DB
	namespaceReads atomic.Int64
}

func (s *domainStore) NamespaceDomains(ctx context.Context, orgID, tenantID string) ([]*sendoka.Domain, error) {
	s.namespaceReads.Add(1)
	return s.DB.NamespaceDomains(ctx, orgID, tenantID)
}

// newDomBundle builds the bundle; mod adjusts the client's config (providers, say).
func newDomBundle(t *testing.T, db *bunstore.DB, mod func(*sendoka.Config)) *domBundle {
	t.Helper()
	ctx := context.Background()
	dialect := string(db.Dialect())
	require.NoError(t, riverjobs.Migrate(ctx, db.SQLDB(), dialect))
	q, err := riverjobs.New(db.SQLDB(), dialect, riverjobs.Config{
		MaxWorkers: 10, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		ConflictSnooze: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	fake := memsend.New()
	b := &domBundle{db: db, queue: q, store: &domainStore{DB: db}, dns: sendokatest.NewDNS(), clock: newAuthClock()}
	b.cfg = sendoka.Config{Store: b.store, Queue: q, Clock: b.clock, DNS: b.dns,
		Email: fake, SMS: fake, SandboxEmail: fake, SandboxSMS: fake}
	if mod != nil {
		mod(&b.cfg)
	}
	b.client = b.node(t)
	res, err := b.client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)
	b.orgID = res.Org.ID
	b.root = sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)
	return b
}

// node returns another Client with the same config: a second process, with caches of its
// own.
func (b *domBundle) node(t *testing.T) *sendoka.Client {
	t.Helper()
	c, err := sendoka.New(b.cfg)
	require.NoError(t, err)
	return c
}

// principal returns a full-access principal of the org: mode, tenant ("" for org-wide) and
// allowed domains.
func (b *domBundle) principal(mode sendoka.Mode, tenant string, allowed ...string) *sendoka.Principal {
	p := sendoka.SystemPrincipal(b.orgID, mode)
	p.TenantID, p.AllowedDomainIDs = tenant, allowed
	return p
}

// create adds a domain, a millisecond after the previous one (ids order by the millisecond).
func (b *domBundle) create(t *testing.T, p *sendoka.Principal, name string) *sendoka.Domain {
	t.Helper()
	b.clock.add(time.Millisecond)
	d, err := b.client.CreateDomain(context.Background(), p, &sendoka.DomainRequest{Name: name})
	require.NoError(t, err)
	return d
}

// verified creates a domain, publishes its records and verifies it.
func (b *domBundle) verified(t *testing.T, p *sendoka.Principal, name string) *sendoka.Domain {
	t.Helper()
	d := b.create(t, p, name)
	b.dns.Publish(d)
	d, err := b.client.VerifyDomain(context.Background(), p, d.ID)
	require.NoError(t, err)
	require.Equal(t, sendoka.DomainVerified, d.Status, "%+v", d.Records)
	return d
}

func (b *domBundle) send(c *sendoka.Client, p *sendoka.Principal, from string) error {
	_, err := c.SendEmail(context.Background(), p, &sendoka.EmailRequest{From: from, To: []string{"user@example.com"}, Subject: "Hi", Text: "Hello"})
	return err
}

func TestDomainSendingRules(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ver := b.verified(t, b.root, "verified.example")
		pend := b.create(t, b.root, "pending.example")
		// A tenant's domains belong to the tenant.
		tenA := b.verified(t, b.principal(sendoka.ModeLive, "ten_a"), "tenant-a.example")
		require.Equal(t, "ten_a", tenA.TenantID)

		live, test := b.principal(sendoka.ModeLive, ""), b.principal(sendoka.ModeTest, "")
		cases := []struct {
			name string
			p    *sendoka.Principal
			from string
			code sendoka.Code // "" for accepted
			says string       // in the error message
		}{
			{"live, sandbox", live, "app@sandbox.sendoka.com", "", ""},
			{"live, verified", live, "App <app@Verified.Example>", "", ""},
			{"live, pending", live, "app@pending.example", sendoka.CodeValidation, "not verified yet: publish the DNS records GET /api/v1/domains/" + pend.ID},
			{"live, unknown", live, "app@unknown.example", sendoka.CodeValidation, "add it with POST /api/v1/domains"},
			{"live, a subdomain of a verified domain", live, "app@mail.verified.example", sendoka.CodeValidation, "not one of your sending domains"},
			{"test, pending", test, "app@pending.example", "", ""},
			{"test, verified", test, "app@verified.example", "", ""},
			{"test, unknown", test, "app@unknown.example", sendoka.CodeValidation, "add it with POST /api/v1/domains"},
			{"test, sandbox", test, "app@sandbox.sendoka.com", "", ""},

			{"allowed list, its domain", b.principal(sendoka.ModeLive, "", ver.ID), "app@verified.example", "", ""},
			{"allowed list, another verified domain", b.principal(sendoka.ModeLive, "", pend.ID), "app@verified.example", sendoka.CodeDomainNotAllowedForKey, "allowed_domain_ids"},
			{"allowed list, an unknown domain", b.principal(sendoka.ModeLive, "", ver.ID), "app@unknown.example", sendoka.CodeDomainNotAllowedForKey, ""},
			{"allowed list, test key", b.principal(sendoka.ModeTest, "", ver.ID), "app@pending.example", sendoka.CodeDomainNotAllowedForKey, ""},
			{"allowed list, pending domain in it, live", b.principal(sendoka.ModeLive, "", pend.ID), "app@pending.example", sendoka.CodeValidation, "not verified yet"},
			{"allowed list, sandbox always", b.principal(sendoka.ModeLive, "", ver.ID), "app@sandbox.sendoka.com", "", ""},

			{"tenant key, its tenant's domain", b.principal(sendoka.ModeLive, "ten_a"), "app@tenant-a.example", "", ""},
			{"tenant key, an org-level domain", b.principal(sendoka.ModeLive, "ten_a"), "app@verified.example", sendoka.CodeValidation, "not one of your sending domains"},
			{"another tenant's key", b.principal(sendoka.ModeTest, "ten_b"), "app@tenant-a.example", sendoka.CodeValidation, "not one of your sending domains"},
			{"org-wide key, a tenant's domain", live, "app@tenant-a.example", sendoka.CodeValidation, "not one of your sending domains"},
			{"tenant key, allowed list naming another tenant's domain", b.principal(sendoka.ModeLive, "ten_b", tenA.ID), "app@tenant-a.example", sendoka.CodeDomainNotAllowedForKey, ""},
		}
		for _, c := range cases {
			err := b.send(b.client, c.p, c.from)
			if c.code == "" {
				require.NoError(t, err, c.name)
				continue
			}
			e := requireCode(t, c.code, err)
			require.Contains(t, e.Message, c.says, c.name)
			if c.code == sendoka.CodeValidation {
				require.Equal(t, [][]any{{"from"}}, paths(err), c.name)
			}
		}

		// Batches apply the same rules row by row.
		res, err := b.client.SendEmailBatch(context.Background(), live, []*sendoka.EmailRequest{
			{From: "a@verified.example", To: []string{"x@example.com"}, Subject: "1", Text: "x"},
			{From: "a@pending.example", To: []string{"x@example.com"}, Subject: "2", Text: "x"},
		})
		require.NoError(t, err)
		require.Nil(t, res.Rows[0].Err)
		require.Equal(t, sendoka.CodeValidation, res.Rows[1].Err.Code)
	})
}

func TestDomainTenantIsolation(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		tenA, tenB := b.principal(sendoka.ModeLive, "ten_a"), b.principal(sendoka.ModeLive, "ten_b")
		a := b.create(t, tenA, "shared.example")
		// The same name in another tenant, and at the org level, is another domain.
		bDom := b.create(t, tenB, "shared.example")
		rootDom := b.create(t, b.root, "shared.example")
		require.NotEqual(t, a.DKIMSelector, bDom.DKIMSelector, "distinct record names")
		_, err := b.client.CreateDomain(ctx, tenA, &sendoka.DomainRequest{Name: "SHARED.example"})
		requireCode(t, sendoka.CodeConflict, err)

		_, err = b.client.GetDomain(ctx, tenB, a.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.client.VerifyDomain(ctx, tenB, a.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		requireCode(t, sendoka.CodeNotFound, b.client.DeleteDomain(ctx, tenB, a.ID))
		_, err = b.client.GetDomain(ctx, tenA, rootDom.ID)
		requireCode(t, sendoka.CodeNotFound, err) // a tenant does not see org-level domains

		listIDs := func(p *sendoka.Principal) []string {
			l, err := b.client.ListDomains(ctx, p, sendoka.ListParams{})
			require.NoError(t, err)
			var out []string
			for _, d := range l.Domains {
				out = append(out, d.ID)
			}
			return out
		}
		require.Equal(t, []string{a.ID, sendoka.SandboxDomainID}, listIDs(tenA))
		require.Equal(t, []string{bDom.ID, sendoka.SandboxDomainID}, listIDs(tenB))
		require.Equal(t, []string{rootDom.ID, bDom.ID, a.ID, sendoka.SandboxDomainID}, listIDs(b.root), "the org-wide key sees every tenant's")

		// Verifying tenant A's domain lets tenant A send, nobody else.
		b.dns.Publish(a)
		got, err := b.client.VerifyDomain(ctx, tenA, a.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.DomainVerified, got.Status)
		require.NoError(t, b.send(b.client, tenA, "x@shared.example"))
		requireCode(t, sendoka.CodeValidation, b.send(b.client, tenB, "x@shared.example"))
		requireCode(t, sendoka.CodeValidation, b.send(b.client, b.root, "x@shared.example"))
		// A message sent by tenant A belongs to tenant A.
		m, err := b.client.SendEmail(ctx, tenA, &sendoka.EmailRequest{From: "x@shared.example", To: []string{"u@example.com"}, Subject: "s", Text: "t"})
		require.NoError(t, err)
		require.Equal(t, "ten_a", m.TenantID)

		// The org-wide key may act on a tenant's domain by id (platform root).
		require.NoError(t, b.client.DeleteDomain(ctx, b.root, bDom.ID))
		requireCode(t, sendoka.CodeNotFound, b.client.DeleteDomain(ctx, tenB, bDom.ID))
	})
}

func TestDomainAPIRules(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		d := b.create(t, b.root, "Bücher.Example")
		require.Equal(t, "xn--bcher-kva.example", d.Name, "lower case, punycode")
		require.Regexp(t, `^dom_[0-9A-Z]{26}$`, d.ID)
		require.Equal(t, sendoka.DomainPending, d.Status)
		require.Equal(t, b.clock.Now().Truncate(time.Microsecond), d.CreatedAt)

		// The records: DKIM TXT with a 2048-bit key, SPF and MX on the return path, DMARC.
		require.Len(t, d.Records, 4)
		dkim := d.Records[0]
		require.Equal(t, sendoka.RecordDKIM, dkim.Purpose)
		require.Equal(t, "TXT", dkim.Type)
		require.Equal(t, d.DKIMSelector+"._domainkey.xn--bcher-kva.example", dkim.Name)
		require.Regexp(t, `^v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA[A-Za-z0-9+/]+=*$`, dkim.Value, "2048-bit RSA SPKI")
		require.Equal(t, []sendoka.DNSRecord{
			{Purpose: sendoka.RecordSPF, Type: "TXT", Name: "bounces.xn--bcher-kva.example", Value: "v=spf1 include:amazonses.com ~all", Required: true, Status: sendoka.RecordPending},
			{Purpose: sendoka.RecordReturnPath, Type: "MX", Name: "bounces.xn--bcher-kva.example", Value: "feedback-smtp.us-east-1.amazonses.com", Priority: 10, Required: true, Status: sendoka.RecordPending},
			{Purpose: sendoka.RecordDMARC, Type: "TXT", Name: "_dmarc.xn--bcher-kva.example", Value: "v=DMARC1; p=none;", Required: false, Status: sendoka.RecordPending},
		}, d.Records[1:])
		require.Contains(t, d.DKIMPrivateKey, "-----BEGIN PRIVATE KEY-----")

		got, err := b.client.GetDomain(ctx, b.root, d.ID)
		require.NoError(t, err)
		require.Equal(t, d, got)

		for _, name := range []string{"", "example.com.", "localhost", "a@example.com", "https://example.com", "-bad.example", "1.2.3.4",
			"exa mple.com", strings.Repeat("a", 64) + ".example", strings.Repeat("abcdefghi.", 26) + "example", "sandbox.sendoka.com", "mail.sandbox.sendoka.com",
			"ex_ample.com", "xn--zz.example"} {
			_, err := b.client.CreateDomain(ctx, b.root, &sendoka.DomainRequest{Name: name})
			requireCode(t, sendoka.CodeValidation, err)
			require.Equal(t, [][]any{{"name"}}, paths(err), name)
		}

		// Scopes.
		reader := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionDomainsRead}}
		writer := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionDomainsWrite}}
		sender := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}}
		_, err = b.client.GetDomain(ctx, reader, d.ID)
		require.NoError(t, err)
		_, err = b.client.GetDomain(ctx, writer, d.ID)
		require.NoError(t, err)
		_, err = b.client.GetDomain(ctx, sender, d.ID)
		requireCode(t, sendoka.CodeInsufficientScope, err)
		_, err = b.client.CreateDomain(ctx, reader, &sendoka.DomainRequest{Name: "r.example"})
		requireCode(t, sendoka.CodeInsufficientScope, err)
		_, err = b.client.VerifyDomain(ctx, reader, d.ID)
		requireCode(t, sendoka.CodeInsufficientScope, err)
		requireCode(t, sendoka.CodeInsufficientScope, b.client.DeleteDomain(ctx, reader, d.ID))
		_, err = b.client.CreateDomain(ctx, writer, &sendoka.DomainRequest{Name: "w.example"})
		require.NoError(t, err)

		// The sandbox domain: listed, readable, not deletable.
		sb, err := b.client.GetDomain(ctx, reader, sendoka.SandboxDomainID)
		require.NoError(t, err)
		require.Equal(t, "sandbox.sendoka.com", sb.Name)
		require.Equal(t, sendoka.DomainVerified, sb.Status)
		require.True(t, sb.BuiltIn)
		requireCode(t, sendoka.CodeConflict, b.client.DeleteDomain(ctx, b.root, sendoka.SandboxDomainID))

		// Deleting a domain: gone, and its name free again.
		require.NoError(t, b.client.DeleteDomain(ctx, b.root, d.ID))
		_, err = b.client.GetDomain(ctx, b.root, d.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		requireCode(t, sendoka.CodeNotFound, b.client.DeleteDomain(ctx, b.root, d.ID))
		b.create(t, b.root, "bücher.example")
	})
}

func TestDomainListPages(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		var want []string
		for _, n := range []string{"a.example", "b.example", "c.example", "d.example"} {
			b.clock.add(time.Millisecond)
			want = append([]string{b.create(t, b.root, n).ID}, want...)
		}
		want = append(want, sendoka.SandboxDomainID)
		for _, limit := range []int{1, 2, 4, 5, 100} {
			var got []string
			lp := sendoka.ListParams{Limit: limit}
			for range 10 {
				page, err := b.client.ListDomains(ctx, b.root, lp)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page.Domains), limit)
				for _, d := range page.Domains {
					got = append(got, d.ID)
				}
				if !page.HasMore {
					require.Empty(t, page.NextCursor)
					break
				}
				lp.Cursor = page.NextCursor
			}
			require.Equal(t, want, got, "limit %d", limit)
		}
	})
}

func TestDomainVerification(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		d := b.create(t, b.root, "acme.example")
		dkim, spf, mx, dmarc := d.Records[0], d.Records[1], d.Records[2], d.Records[3]
		verify := func() *sendoka.Domain {
			t.Helper()
			b.clock.add(time.Second)
			got, err := b.client.VerifyDomain(ctx, b.root, d.ID)
			require.NoError(t, err)
			stored, err := b.client.GetDomain(ctx, b.root, d.ID)
			require.NoError(t, err)
			require.Equal(t, got, stored, "what verify says is what is stored")
			require.Equal(t, b.clock.Now().UTC().Truncate(time.Microsecond), *got.CheckedAt)
			return got
		}
		status := func(got *sendoka.Domain) []sendoka.RecordStatus {
			var out []sendoka.RecordStatus
			for _, r := range got.Records {
				out = append(out, r.Status)
			}
			return out
		}

		// Nothing published: every record missing, each saying what to publish.
		got := verify()
		require.Equal(t, sendoka.DomainPending, got.Status)
		require.Nil(t, got.VerifiedAt)
		require.Equal(t, []sendoka.RecordStatus{sendoka.RecordMissing, sendoka.RecordMissing, sendoka.RecordMissing, sendoka.RecordMissing}, status(got))
		require.Equal(t, "no TXT record at "+dkim.Name+": publish TXT \""+dkim.Value+"\"", got.Records[0].Problem)
		require.Equal(t, "no MX record at bounces.acme.example: publish MX 10 feedback-smtp.us-east-1.amazonses.com", got.Records[2].Problem)
		require.Contains(t, got.Records[3].Problem, "we recommend publishing")

		// Wrong values.
		b.dns.SetTXT(dkim.Name, "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrongwrongwrong")
		b.dns.SetTXT(spf.Name, "v=spf1 include:_spf.google.com ~all")
		b.dns.SetMX(mx.Name, "mx.other.example")
		got = verify()
		require.Equal(t, sendoka.DomainPending, got.Status)
		require.Equal(t, []sendoka.RecordStatus{sendoka.RecordMismatch, sendoka.RecordMismatch, sendoka.RecordMismatch, sendoka.RecordMissing}, status(got))
		require.Contains(t, got.Records[0].Problem, "holds another key (p=MIIBIjANBgkqhkiG…)")
		require.Contains(t, got.Records[1].Problem, "does not contain include:amazonses.com")
		require.Contains(t, got.Records[2].Problem, "points to mx.other.example, not feedback-smtp.us-east-1.amazonses.com")

		// Two SPF records are an error for receivers, even if one is right.
		b.dns.SetTXT(spf.Name, "v=spf1 include:_spf.google.com ~all", spf.Value)
		got = verify()
		require.Equal(t, sendoka.RecordMismatch, got.Records[1].Status)
		require.Contains(t, got.Records[1].Problem, "has 2 SPF records")

		// A DNS server that fails: try again later.
		b.dns.Fail(mx.Name, errors.New("i/o timeout"))
		got = verify()
		require.Equal(t, sendoka.RecordLookupFailed, got.Records[2].Status)
		require.Contains(t, got.Records[2].Problem, "verify again later")
		b.dns.Fail(mx.Name, nil)

		// Everything required right; the key split over spaces as some DNS providers show it,
		// SPF merged with another include, MX among others; no DMARC (only recommended).
		p := strings.TrimPrefix(dkim.Value, "v=DKIM1; k=rsa; p=")
		b.dns.SetTXT(dkim.Name, "v=DKIM1; k=rsa; p="+p[:200]+" "+p[200:])
		b.dns.SetTXT(spf.Name, "v=spf1 include:_spf.google.com include:amazonses.com ~all", "google-site-verification=abc")
		b.dns.SetMX(mx.Name, "mx.other.example", "feedback-smtp.us-east-1.amazonses.com.")
		before := b.clock.Now()
		got = verify()
		require.Equal(t, sendoka.DomainVerified, got.Status, "%+v", got.Records)
		require.Equal(t, []sendoka.RecordStatus{sendoka.RecordVerified, sendoka.RecordVerified, sendoka.RecordVerified, sendoka.RecordMissing}, status(got))
		require.True(t, got.VerifiedAt.After(before))
		verifiedAt := *got.VerifiedAt

		// Live keys may send at once.
		require.NoError(t, b.send(b.client, b.root, "hello@acme.example"))

		// DMARC later: recorded; records gone later: recorded, the domain stays verified.
		b.dns.SetTXT(dmarc.Name, "v=DMARC1; p=quarantine; rua=mailto:d@acme.example")
		got = verify()
		require.Equal(t, sendoka.RecordVerified, got.Records[3].Status)
		b.dns.Remove(dkim.Name)
		got = verify()
		require.Equal(t, sendoka.DomainVerified, got.Status)
		require.Equal(t, verifiedAt, *got.VerifiedAt)
		require.Equal(t, sendoka.RecordMissing, got.Records[0].Status)
		require.NoError(t, b.send(b.client, b.root, "hello@acme.example"))

		_, err := b.client.VerifyDomain(ctx, b.root, "dom_nope")
		requireCode(t, sendoka.CodeNotFound, err)
	})
}

func TestDomainRecheckJob(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		old := b.create(t, b.root, "old.example") // added 73 hours before the pass
		b.dns.Publish(old)
		b.clock.add(2 * time.Hour)
		ready := b.create(t, b.root, "ready.example") // records published: verified by the pass
		b.dns.Publish(ready)
		notYet := b.create(t, b.root, "not-yet.example") // nothing published
		tenant := b.create(t, b.principal(sendoka.ModeTest, "ten_a"), "tenant.example")
		b.dns.Publish(tenant)
		b.clock.add(71 * time.Hour)

		// The job of the kind the queue runs periodically, run as the queue runs it.
		require.NoError(t, b.client.RunJob(ctx, sendoka.Job{Kind: sendoka.JobRecheckDomains}, sendoka.JobRun{Attempt: 1, MaxAttempts: 1}))

		get := func(d *sendoka.Domain) *sendoka.Domain {
			got, err := b.client.GetDomain(ctx, b.root, d.ID)
			require.NoError(t, err)
			return got
		}
		require.Equal(t, sendoka.DomainVerified, get(ready).Status)
		require.Equal(t, sendoka.DomainVerified, get(tenant).Status)
		waiting := get(notYet)
		require.Equal(t, sendoka.DomainPending, waiting.Status)
		require.NotNil(t, waiting.CheckedAt)
		require.Equal(t, sendoka.RecordMissing, waiting.Records[0].Status)
		stale := get(old)
		require.Equal(t, sendoka.DomainPending, stale.Status, "added more than 72 h ago: checked only when asked")
		require.Nil(t, stale.CheckedAt)

		// A live key may send from what the pass verified.
		require.NoError(t, b.send(b.client, b.root, "x@ready.example"))

		// The next pass checks what is still pending; a pass with nothing to do is fine.
		b.dns.Publish(notYet)
		res, err := b.client.RecheckDomains(ctx)
		require.NoError(t, err)
		require.Equal(t, sendoka.DomainRecheck{Checked: 1, Verified: 1}, res)
		res, err = b.client.RecheckDomains(ctx)
		require.NoError(t, err)
		require.Equal(t, sendoka.DomainRecheck{}, res)

		var spec *sendoka.JobSpec
		for _, s := range sendoka.JobSpecs(0, 0) {
			if s.Kind == sendoka.JobRecheckDomains {
				spec = &s
			}
		}
		require.NotNil(t, spec)
		require.Equal(t, sendoka.QueueMaintenance, spec.Queue)
		require.Equal(t, sendoka.DomainRecheckInterval, spec.Every)
	})
}

// TestDomainCache: the send path reads a namespace's domains at most once a second, and a
// change made by another process takes effect within a second.
func TestDomainCache(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		a, other := b.client, b.node(t)
		d := b.create(t, b.root, "cache.example")
		b.dns.Publish(d)
		live, test := b.principal(sendoka.ModeLive, ""), b.principal(sendoka.ModeTest, "")

		reads := b.store.namespaceReads.Load()
		for range 20 {
			require.NoError(t, b.send(other, test, "x@cache.example"))
		}
		require.Equal(t, reads+1, b.store.namespaceReads.Load(), "twenty sends, one read")
		requireCode(t, sendoka.CodeValidation, b.send(other, live, "x@cache.example"))

		// Verified on node a: a sees it at once, the other node within a second.
		_, err := a.VerifyDomain(context.Background(), b.root, d.ID)
		require.NoError(t, err)
		require.NoError(t, b.send(a, live, "x@cache.example"))
		b.clock.add(999 * time.Millisecond)
		requireCode(t, sendoka.CodeValidation, b.send(other, live, "x@cache.example"))
		b.clock.add(time.Millisecond)
		require.NoError(t, b.send(other, live, "x@cache.example"))

		// Deleted on node a: the other node refuses it within a second.
		require.NoError(t, a.DeleteDomain(context.Background(), b.root, d.ID))
		requireCode(t, sendoka.CodeValidation, b.send(a, test, "x@cache.example"))
		require.NoError(t, b.send(other, test, "x@cache.example"))
		b.clock.add(time.Second)
		requireCode(t, sendoka.CodeValidation, b.send(other, test, "x@cache.example"))

		// The sandbox domain never reads the store.
		reads = b.store.namespaceReads.Load()
		b.clock.add(time.Hour)
		require.NoError(t, b.send(other, live, "x@sandbox.sendoka.com"))
		require.Equal(t, reads, b.store.namespaceReads.Load())
	})
}

func TestBootstrapDomains(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		ctx := context.Background()
		b := newDomBundle(t, db, nil)
		// Pending before the bootstrap names it.
		pending := b.create(t, b.root, "pending-first.example")

		b.cfg.VerifiedDomains = []string{"Boot.Example", " pending-first.example ", ""}
		boot := b.node(t)
		_, err := boot.Bootstrap(ctx, sendoka.BootstrapOptions{})
		require.NoError(t, err)
		list := func() map[string]*sendoka.Domain {
			l, err := boot.ListDomains(ctx, b.root, sendoka.ListParams{})
			require.NoError(t, err)
			out := map[string]*sendoka.Domain{}
			for _, d := range l.Domains {
				out[d.Name] = d
			}
			return out
		}
		first := list()
		require.Len(t, first, 3) // and the sandbox domain
		require.Equal(t, sendoka.DomainVerified, first["boot.example"].Status)
		require.Equal(t, "", first["boot.example"].TenantID)
		require.NotNil(t, first["boot.example"].VerifiedAt)
		require.Equal(t, pending.ID, first["pending-first.example"].ID)
		require.Equal(t, sendoka.DomainVerified, first["pending-first.example"].Status)
		require.NoError(t, b.send(boot, b.root, "x@boot.example"))

		// A restart changes nothing.
		b.clock.add(time.Hour)
		again := b.node(t)
		_, err = again.Bootstrap(ctx, sendoka.BootstrapOptions{})
		require.NoError(t, err)
		require.Equal(t, first, list())

		b.cfg.VerifiedDomains = []string{"bad..example"}
		_, err = sendoka.New(b.cfg)
		require.ErrorContains(t, err, "VerifiedDomains[0]")
	})
}
