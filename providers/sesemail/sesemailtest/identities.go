package sesemailtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// identitiesPath is where SES API v2 keeps email identities.
const identitiesPath = "/v2/email/identities"

// DKIMZone is the SigningHostedZone the fake reports, as SES does in its commercial regions.
const DKIMZone = "dkim.amazonses.com"

// Identity is a domain identity the fake keeps.
type Identity struct {
	Name string
	// Tokens are the Easy DKIM tokens, three, derived from Name (the same name always gets
	// the same tokens, as a fake should be predictable).
	Tokens []string
	// MailFromDomain and BehaviorOnMxFailure are what PutEmailIdentityMailFromAttributes set.
	MailFromDomain      string
	BehaviorOnMxFailure string
}

// IdentityCall is one identity operation as the server received it.
type IdentityCall struct {
	// Operation is CreateEmailIdentity, GetEmailIdentity or PutEmailIdentityMailFromAttributes.
	Operation string
	Name      string
	// Body is the request's JSON body (nil for a GET).
	Body map[string]any
}

// Tokens returns the Easy DKIM tokens the fake gives the identity name.
func Tokens(name string) []string {
	out := make([]string, 3)
	for i := range out {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", name, i))
		out[i] = hex.EncodeToString(sum[:16])
	}
	return out
}

// Identities returns the identities the server holds, by name.
func (s *Server) Identities() map[string]Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Identity, len(s.identities))
	for k, v := range s.identities {
		out[k] = *v
	}
	return out
}

// IdentityCalls returns the identity operations received so far, failed ones included.
func (s *Server) IdentityCalls() []IdentityCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]IdentityCall(nil), s.identityCall...)
}

// FailIdentityWith makes the server answer identity operations with what fn returns (nil:
// carry on).
func (s *Server) FailIdentityWith(fn func(IdentityCall) *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failIdentity = fn
}

// serveIdentity answers CreateEmailIdentity (POST /v2/email/identities), GetEmailIdentity
// (GET /v2/email/identities/{name}) and PutEmailIdentityMailFromAttributes (PUT
// /v2/email/identities/{name}/mail-from), with the JSON shapes of SES API v2.
func (s *Server) serveIdentity(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, identitiesPath), "/")
	call := IdentityCall{}
	switch {
	case r.Method == http.MethodPost && rest == "":
		call.Operation = "CreateEmailIdentity"
	case r.Method == http.MethodGet && rest != "" && !strings.Contains(rest, "/"):
		call.Operation, call.Name = "GetEmailIdentity", rest
	case r.Method == http.MethodPut && strings.HasSuffix(rest, "/mail-from"):
		call.Operation, call.Name = "PutEmailIdentityMailFromAttributes", strings.TrimSuffix(rest, "/mail-from")
	default:
		writeError(w, &Failure{Status: http.StatusNotFound, Type: "UnknownOperationException", Message: r.Method + " " + r.URL.Path})
		return
	}
	if r.Method != http.MethodGet {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if err := json.Unmarshal(data, &call.Body); err != nil {
			writeError(w, &Failure{Status: http.StatusBadRequest, Type: "BadRequestException", Message: "malformed JSON body"})
			return
		}
	}
	if call.Operation == "CreateEmailIdentity" {
		call.Name, _ = call.Body["EmailIdentity"].(string)
	}

	s.mu.Lock()
	s.identityCall = append(s.identityCall, call)
	fail := s.failIdentity
	s.mu.Unlock()
	if fail != nil {
		if f := fail(call); f != nil {
			writeError(w, f)
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.identities[call.Name]
	switch call.Operation {
	case "CreateEmailIdentity":
		switch {
		case call.Name == "" || !strings.Contains(call.Name, ".") || strings.Contains(call.Name, "@"):
			writeError(w, &Failure{Status: http.StatusBadRequest, Type: "BadRequestException", Message: "Invalid domain name " + call.Name})
			return
		case id != nil:
			writeError(w, &Failure{Status: http.StatusBadRequest, Type: "AlreadyExistsException", Message: "Email identity " + call.Name + " already exist."})
			return
		}
		id = &Identity{Name: call.Name, Tokens: Tokens(call.Name)}
		s.identities[call.Name] = id
		writeJSON(w, map[string]any{
			"IdentityType": "DOMAIN", "VerifiedForSendingStatus": false, "DkimAttributes": dkimAttributes(id),
		})
	case "GetEmailIdentity":
		if id == nil {
			writeError(w, &Failure{Status: http.StatusNotFound, Type: "NotFoundException", Message: "Email identity " + call.Name + " does not exist."})
			return
		}
		out := map[string]any{
			"IdentityType": "DOMAIN", "VerifiedForSendingStatus": false, "VerificationStatus": "PENDING",
			"FeedbackForwardingStatus": true, "DkimAttributes": dkimAttributes(id),
		}
		if id.MailFromDomain != "" {
			out["MailFromAttributes"] = map[string]any{"MailFromDomain": id.MailFromDomain,
				"MailFromDomainStatus": "PENDING", "BehaviorOnMxFailure": id.BehaviorOnMxFailure}
		}
		writeJSON(w, out)
	case "PutEmailIdentityMailFromAttributes":
		if id == nil {
			writeError(w, &Failure{Status: http.StatusNotFound, Type: "NotFoundException", Message: "Email identity " + call.Name + " does not exist."})
			return
		}
		id.MailFromDomain, _ = call.Body["MailFromDomain"].(string)
		id.BehaviorOnMxFailure, _ = call.Body["BehaviorOnMxFailure"].(string)
		writeJSON(w, map[string]any{})
	}
}

func dkimAttributes(id *Identity) map[string]any {
	return map[string]any{
		"SigningEnabled": true, "Status": "PENDING", "Tokens": id.Tokens,
		"SigningAttributesOrigin": "AWS_SES", "SigningHostedZone": DKIMZone,
		"CurrentSigningKeyLength": "RSA_2048_BIT", "NextSigningKeyLength": "RSA_2048_BIT",
		"LastKeyGenerationTimestamp": 1.7e9,
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
