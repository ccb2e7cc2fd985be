package snssms_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/providertest"
	"github.com/sendoka/sendoka/providers/snssms"
	"github.com/sendoka/sendoka/sendoka"
)

// fakeSNS speaks the part of SNS's query protocol the Sender uses: form-encoded POSTs with an
// Action, answered with SNS's XML documents and error envelopes.
type fakeSNS struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	publishes []publish
	failNext  *snsError
	stall     bool
	hanging   map[string]bool // bodies of Publish calls hanging at the peer
	numbers   []number
	listCalls int
	requests  int
}

// publish is one Publish as SNS received it.
type publish struct {
	form  url.Values
	attrs map[string]string // message attribute name -> StringValue
	types map[string]string // message attribute name -> DataType
	auth  string
}

type snsError struct {
	status  int
	code    string
	message string
}

type number struct {
	phone, status, country string
	caps                   []string
}

func newFakeSNS(t *testing.T) *fakeSNS {
	t.Helper()
	f := &fakeSNS{t: t, hanging: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSNS) sender(t *testing.T, opts snssms.Options) *snssms.Sender {
	t.Helper()
	opts.Region = "us-east-1"
	opts.Endpoint = f.srv.URL
	opts.Credentials = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	s, err := snssms.New(context.Background(), opts)
	require.NoError(t, err)
	return s
}

func (f *fakeSNS) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	if r.Method != http.MethodPost || r.Form.Get("Version") != "2010-03-31" {
		writeError(w, &snsError{400, "InvalidAction", "bad request"})
		return
	}
	f.mu.Lock()
	fail := f.failNext
	f.failNext = nil
	f.mu.Unlock()
	if fail != nil {
		writeError(w, fail)
		return
	}
	switch r.Form.Get("Action") {
	case "Publish":
		f.publish(w, r)
	case "ListOriginationNumbers":
		f.listOriginationNumbers(w, r)
	default:
		writeError(w, &snsError{400, "InvalidAction", "unknown action " + r.Form.Get("Action")})
	}
}

func (f *fakeSNS) publish(w http.ResponseWriter, r *http.Request) {
	p := publish{form: r.Form, attrs: map[string]string{}, types: map[string]string{}, auth: r.Header.Get("Authorization")}
	for i := 1; ; i++ {
		prefix := "MessageAttributes.entry." + strconv.Itoa(i) + "."
		name := r.Form.Get(prefix + "Name")
		if name == "" {
			break
		}
		p.attrs[name] = r.Form.Get(prefix + "Value.StringValue")
		p.types[name] = r.Form.Get(prefix + "Value.DataType")
	}
	f.mu.Lock()
	stall := f.stall
	f.mu.Unlock()
	if stall {
		body := r.Form.Get("Message")
		f.mu.Lock()
		f.hanging[body] = true
		f.mu.Unlock()
		<-r.Context().Done()
		return
	}
	f.mu.Lock()
	f.publishes = append(f.publishes, p)
	n := len(f.publishes)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult>
    <MessageId>94f20ce6-13c5-43a0-9a9e-%012d</MessageId>
  </PublishResult>
  <ResponseMetadata>
    <RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId>
  </ResponseMetadata>
</PublishResponse>`, n)
}

// listOriginationNumbers pages two numbers at a time, as SNS pages with NextToken.
func (f *fakeSNS) listOriginationNumbers(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.listCalls++
	numbers := f.numbers
	f.mu.Unlock()
	start, _ := strconv.Atoi(r.Form.Get("NextToken"))
	end := min(start+2, len(numbers))
	var b strings.Builder
	for _, n := range numbers[start:end] {
		fmt.Fprintf(&b, `<member><PhoneNumber>%s</PhoneNumber><Status>%s</Status><Iso2CountryCode>%s</Iso2CountryCode><RouteType>Transactional</RouteType><NumberCapabilities>`, n.phone, n.status, n.country)
		for _, c := range n.caps {
			fmt.Fprintf(&b, `<member>%s</member>`, c)
		}
		b.WriteString(`</NumberCapabilities><CreatedAt>2024-01-02T03:04:05Z</CreatedAt></member>`)
	}
	next := ""
	if end < len(numbers) {
		next = "<NextToken>" + strconv.Itoa(end) + "</NextToken>"
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<ListOriginationNumbersResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <ListOriginationNumbersResult><PhoneNumbers>%s</PhoneNumbers>%s</ListOriginationNumbersResult>
  <ResponseMetadata><RequestId>2e1a0b2c-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</ListOriginationNumbersResponse>`, b.String(), next)
}

func writeError(w http.ResponseWriter, e *snsError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error>
  <RequestId>9a1b8f2e-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>`, typ, e.code, e.message)
}

func (f *fakeSNS) fail(e *snsError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = e
}

func (f *fakeSNS) all() []publish {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]publish(nil), f.publishes...)
}

func TestPublishWireFormat(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	s := f.sender(t, snssms.Options{})
	ctx := context.Background()

	res, err := s.SendSMS(ctx, &sendoka.OutboundSMS{MessageID: "msg_1", From: "+15551234567", To: "+15559876543", Body: "Your code is 1234 & <ok>"})
	require.NoError(t, err)
	require.Equal(t, "94f20ce6-13c5-43a0-9a9e-000000000001", res.ProviderMessageID)
	require.Empty(t, res.Events, "outcomes arrive later, through notifications")

	res, err = s.SendSMS(ctx, &sendoka.OutboundSMS{MessageID: "msg_2", From: "Acme", To: "+447700900123", Body: "Привет 👋"})
	require.NoError(t, err)
	require.Equal(t, "94f20ce6-13c5-43a0-9a9e-000000000002", res.ProviderMessageID)

	got := f.all()
	require.Len(t, got, 2)
	number, senderID := got[0], got[1]
	for _, p := range got {
		require.Equal(t, "Publish", p.form.Get("Action"))
		require.Equal(t, "2010-03-31", p.form.Get("Version"))
		require.Empty(t, p.form.Get("TopicArn"))
		require.Empty(t, p.form.Get("TargetArn"))
		require.True(t, strings.HasPrefix(p.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), p.auth)
		require.Contains(t, p.auth, "/us-east-1/sns/aws4_request", "signed for the configured region")
		for name, typ := range p.types {
			require.Equal(t, "String", typ, name)
		}
	}
	require.Equal(t, "+15559876543", number.form.Get("PhoneNumber"))
	require.Equal(t, "Your code is 1234 & <ok>", number.form.Get("Message"))
	require.Equal(t, map[string]string{
		snssms.AttrSMSType:           "Transactional",
		snssms.AttrOriginationNumber: "+15551234567",
	}, number.attrs)
	require.Equal(t, "+447700900123", senderID.form.Get("PhoneNumber"))
	require.Equal(t, "Привет 👋", senderID.form.Get("Message"))
	require.Equal(t, map[string]string{
		snssms.AttrSMSType:  "Transactional",
		snssms.AttrSenderID: "Acme",
	}, senderID.attrs)

	// Promotional, and no sender at all (SNS picks one).
	promo := f.sender(t, snssms.Options{SMSType: "Promotional"})
	_, err = promo.SendSMS(ctx, &sendoka.OutboundSMS{MessageID: "msg_3", To: "+15559876543", Body: "Sale"})
	require.NoError(t, err)
	last := f.all()[2]
	require.Equal(t, map[string]string{snssms.AttrSMSType: "Promotional"}, last.attrs)
}

func TestMMSRefused(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	s := f.sender(t, snssms.Options{})
	require.False(t, s.SupportsMMS())
	_, err := s.SendSMS(context.Background(), &sendoka.OutboundSMS{MessageID: "msg_1", From: "+15551234567", To: "+15559876543",
		Body: "x", MediaURLs: []string{"https://example.com/a.png"}})
	var pe *sendoka.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, sendoka.Permanent, pe.Kind)
	require.Equal(t, "mms_unsupported", pe.Code)
	require.Zero(t, f.requests, "nothing reached SNS")
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		err      *snsError
		kind     sendoka.ProviderErrorKind
		code     string
		contains string
	}{
		{"throttling", &snsError{400, "Throttling", "Rate exceeded"}, sendoka.Throttled, "Throttling", "Rate exceeded"},
		{"throttled exception", &snsError{429, "Throttled", "Too many requests"}, sendoka.Throttled, "Throttled", "Too many"},
		{"invalid parameter", &snsError{400, "InvalidParameter", "Invalid parameter: PhoneNumber Reason: +1555 is not valid to publish to"}, sendoka.Permanent, "InvalidParameter", "not valid to publish"},
		{"invalid parameter value", &snsError{400, "InvalidParameterValue", "Invalid parameter: Message too long"}, sendoka.Permanent, "InvalidParameterValue", "too long"},
		{"opted out", &snsError{400, "OptedOut", "Phone number is opted out"}, sendoka.Permanent, "opted_out", "opted out"},
		{"opted out as invalid parameter", &snsError{400, "InvalidParameter", "Invalid parameter: PhoneNumber Reason: +15559876543 is opted out"}, sendoka.Permanent, "opted_out", "opted out"},
		{"internal error", &snsError{500, "InternalError", "We encountered an internal error"}, sendoka.Transient, "InternalError", "internal error"},
		{"unavailable", &snsError{503, "ServiceUnavailable", "Service is unavailable"}, sendoka.Transient, "ServiceUnavailable", "unavailable"},
		{"authorization", &snsError{403, "AuthorizationError", "not authorized to perform SNS:Publish"}, sendoka.Transient, "AuthorizationError", "not authorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSNS(t)
			s := f.sender(t, snssms.Options{})
			f.fail(tc.err)
			_, err := s.SendSMS(context.Background(), &sendoka.OutboundSMS{MessageID: "msg_1", From: "+15551234567", To: "+15559876543", Body: "x"})
			var pe *sendoka.ProviderError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tc.kind, pe.Kind)
			require.Equal(t, tc.code, pe.Code)
			require.Equal(t, "sns", pe.Provider)
			require.Contains(t, pe.Message, tc.contains, "SNS's own words are the diagnostic")
			require.Equal(t, 1, f.requests, "the SDK does not retry on its own")
		})
	}

	t.Run("network", func(t *testing.T) {
		t.Parallel()
		f := newFakeSNS(t)
		s := f.sender(t, snssms.Options{})
		f.srv.Close()
		_, err := s.SendSMS(context.Background(), &sendoka.OutboundSMS{MessageID: "msg_1", To: "+15559876543", Body: "x"})
		var pe *sendoka.ProviderError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, sendoka.Transient, pe.Kind)
		require.Equal(t, "network", pe.Code)
	})
}

func TestProvisionSender(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	f.numbers = []number{
		{"+15551230001", "ACTIVE", "US", []string{"SMS", "VOICE"}},
		{"+18005550100", "PENDING", "US", []string{"SMS"}},
		{"+15551230003", "ACTIVE", "US", []string{"VOICE"}},
		{"+15551230004", "ACTIVE", "CA", []string{"SMS", "MMS"}},
		{"+15551230005", "ACTIVE", "US", nil},
	}
	s := f.sender(t, snssms.Options{})
	cases := []struct {
		number string
		status sendoka.SenderStatus
		code   string
	}{
		{"+15551230001", sendoka.SenderActive, ""},
		{"+18005550100", sendoka.SenderPending, "PENDING"},
		{"+15551230003", sendoka.SenderFailed, "no_sms_capability"},
		{"+15551230004", sendoka.SenderFailed, "country_mismatch"},
		{"+15551230005", sendoka.SenderActive, ""}, // on the last page
		{"+15551239999", sendoka.SenderFailed, "not_an_origination_number"},
	}
	for _, tc := range cases {
		res, err := s.ProvisionSender(context.Background(), &sendoka.PhoneNumber{Kind: sendoka.SenderLongCode, PhoneNumber: tc.number, ISOCountry: "US"})
		require.NoError(t, err, tc.number)
		require.Equal(t, tc.status, res.Status, tc.number)
		if tc.code == "" {
			require.Nil(t, res.Diagnostic, tc.number)
			continue
		}
		require.Equal(t, tc.code, res.Diagnostic.Code, tc.number)
		require.Equal(t, "sns", res.Diagnostic.Provider)
		require.NotEmpty(t, res.Diagnostic.Message)
	}
	require.Equal(t, 1+1+2+2+3+3, f.listCalls, "pages are followed with NextToken, and only as far as needed")

	// ListOriginationNumbers failing: the step could not run.
	f.fail(&snsError{400, "Throttling", "Rate exceeded"})
	_, err := s.ProvisionSender(context.Background(), &sendoka.PhoneNumber{PhoneNumber: "+15551230001", ISOCountry: "US"})
	require.Error(t, err)
	require.Equal(t, sendoka.Throttled, sendoka.ProviderErrorKindOf(err))
}

func TestNewNeedsRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	_, err := snssms.New(context.Background(), snssms.Options{})
	require.ErrorContains(t, err, "region")
}

// recorder remembers what each Sendoka message id was, so the fake's Publish calls (which
// carry no Sendoka id: SNS has no field for it) can be told apart by recipient and body.
type recorder struct {
	*snssms.Sender
	mu   sync.Mutex
	byID map[string]sendoka.OutboundSMS
}

func (r *recorder) SendSMS(ctx context.Context, m *sendoka.OutboundSMS) (sendoka.SendResult, error) {
	r.mu.Lock()
	r.byID[m.MessageID] = *m
	r.mu.Unlock()
	return r.Sender.SendSMS(ctx, m)
}

func (r *recorder) message(t *testing.T, id string) (sendoka.OutboundSMS, bool) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.byID[id]
	return m, ok
}

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.RunSMS(t, providertest.SMSHarness{
		Features: providertest.Features{ReportsName: true, CanForceFailures: true},
		New: func(t *testing.T) *providertest.SMSSetup {
			f := newFakeSNS(t)
			rec := &recorder{Sender: f.sender(t, snssms.Options{}), byID: map[string]sendoka.OutboundSMS{}}
			return &providertest.SMSSetup{
				Sender: rec,
				Received: func(t *testing.T, id string) []providertest.ReceivedSMS {
					m, ok := rec.message(t, id)
					if !ok {
						return nil
					}
					var out []providertest.ReceivedSMS
					for _, p := range f.all() {
						if p.form.Get("PhoneNumber") != m.To || p.form.Get("Message") != m.Body {
							continue
						}
						from := p.attrs[snssms.AttrOriginationNumber]
						if from == "" {
							from = p.attrs[snssms.AttrSenderID]
						}
						out = append(out, providertest.ReceivedSMS{From: from, To: p.form.Get("PhoneNumber"), Body: p.form.Get("Message")})
					}
					return out
				},
				FailNext: func(t *testing.T, kind sendoka.ProviderErrorKind) {
					switch kind {
					case sendoka.Throttled:
						f.fail(&snsError{400, "Throttling", "Rate exceeded"})
					case sendoka.Transient:
						f.fail(&snsError{500, "InternalError", "internal error"})
					default:
						f.fail(&snsError{400, "InvalidParameter", "Invalid parameter: PhoneNumber"})
					}
				},
				Stall: func(t *testing.T) func(string) bool {
					f.mu.Lock()
					f.stall = true
					f.mu.Unlock()
					return func(id string) bool {
						m, ok := rec.message(t, id)
						f.mu.Lock()
						defer f.mu.Unlock()
						return ok && f.hanging[m.Body]
					}
				},
			}
		},
	})
}
