// Package sesemailtest fakes Amazon SES at its wire protocol, for tests: an httptest server
// that answers the API v2 SendEmail operation (POST /v2/email/outbound-emails, REST-JSON)
// as SES does, records every request, and fails on demand with SES's error shapes. It also
// keeps domain identities (identities.go): CreateEmailIdentity, GetEmailIdentity and
// PutEmailIdentityMailFromAttributes.
//
//	srv := sesemailtest.Start(t)
//	sender := sesemail.New(srv.Client(), sesemail.Options{ConfigurationSet: "events"})
//	...
//	req := srv.Requests()[0] // req.Raw is the MIME message, req.Authorization the SigV4 header
package sesemailtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// Region and AccessKeyID are what Client signs with.
const (
	Region      = "eu-west-1"
	AccessKeyID = "AKIDSENDOKATEST"
)

// Request is one SendEmail call as the server received it.
type Request struct {
	From             string
	To, Cc, Bcc      []string
	Raw              []byte // Content.Raw.Data, decoded
	ConfigurationSet string
	Tags             map[string]string
	// Authorization is the request's Authorization header (AWS Signature Version 4).
	Authorization string
	ContentType   string
}

// Failure is an error answer: HTTP status, SES error type, message.
type Failure struct {
	Status  int
	Type    string // X-Amzn-ErrorType, for example "MessageRejected"
	Message string
	// Hangup closes the connection without an answer (a network failure).
	Hangup bool
}

// Server is a fake SES endpoint, closed when the test ends.
type Server struct {
	URL string

	hs   *httptest.Server
	mu   sync.Mutex
	reqs []Request
	fail func(context.Context, Request) *Failure
	n    int

	identities   map[string]*Identity // by name (identities.go)
	identityCall []IdentityCall
	failIdentity func(IdentityCall) *Failure
}

// Start starts a server.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{identities: map[string]*Identity{}}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.hs.Close)
	s.URL = s.hs.URL
	return s
}

// Close stops the server before the test ends: later requests find the port closed (the
// connection is refused). It waits for requests in progress.
func (s *Server) Close() { s.hs.Close() }

// Client returns an SES client for this server, with static credentials and Region;
// optFns adjust its options (an HTTP client with a timeout, for instance).
func (s *Server) Client(optFns ...func(*sesv2.Options)) *sesv2.Client {
	return sesv2.New(sesv2.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, "secret", ""),
	}, optFns...)
}

// FailWith makes the server answer requests with what fn returns (nil: accept). ctx is
// the request's: it ends when the client gives up, so fn may block on it to stall.
func (s *Server) FailWith(fn func(ctx context.Context, r Request) *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fn
}

// Requests returns the accepted requests so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// sendEmailBody is the JSON of SendEmailInput, the fields this fake reads.
type sendEmailBody struct {
	FromEmailAddress string
	Destination      struct{ ToAddresses, CcAddresses, BccAddresses []string }
	Content          struct {
		Raw *struct{ Data []byte }
	}
	ConfigurationSetName string
	EmailTags            []struct{ Name, Value string }
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/") || !strings.Contains(auth, "/"+Region+"/ses/aws4_request") {
		writeError(w, &Failure{Status: http.StatusForbidden, Type: "InvalidSignatureException", Message: "missing or foreign signature: " + auth})
		return
	}
	if strings.HasPrefix(r.URL.Path, identitiesPath) {
		s.serveIdentity(w, r) // identities.go
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v2/email/outbound-emails" {
		writeError(w, &Failure{Status: http.StatusNotFound, Type: "UnknownOperationException", Message: r.Method + " " + r.URL.Path})
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var body sendEmailBody
	if err := json.Unmarshal(data, &body); err != nil || body.Content.Raw == nil {
		writeError(w, &Failure{Status: http.StatusBadRequest, Type: "BadRequestException", Message: "expected Content.Raw"})
		return
	}
	req := Request{
		From: body.FromEmailAddress, To: body.Destination.ToAddresses, Cc: body.Destination.CcAddresses,
		Bcc: body.Destination.BccAddresses, Raw: body.Content.Raw.Data, ConfigurationSet: body.ConfigurationSetName,
		Authorization: auth, ContentType: r.Header.Get("Content-Type"), Tags: map[string]string{},
	}
	for _, tag := range body.EmailTags {
		req.Tags[tag.Name] = tag.Value
	}
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		if f := fail(r.Context(), req); f != nil {
			if f.Hangup {
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						_ = c.Close()
						return
					}
				}
			}
			writeError(w, f)
			return
		}
	}
	s.mu.Lock()
	s.n++
	id := fmt.Sprintf("0102018f%08d-fake-ses-message", s.n)
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", "req-"+id)
	_ = json.NewEncoder(w).Encode(map[string]string{"MessageId": id})
}

func writeError(w http.ResponseWriter, f *Failure) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", f.Type)
	w.WriteHeader(f.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": f.Message})
}
