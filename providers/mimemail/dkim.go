package mimemail

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sendoka/sendoka/sendoka"
)

// DKIMHeaders are the header fields SignDKIM signs, those of them a message has: the ones
// that say who sent the message to whom and what it is, and the unsubscribe fields (RFC
// 8058 requires List-Unsubscribe-Post to be signed for one-click unsubscribe).
var DKIMHeaders = []string{
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version", "Content-Type",
	"List-Unsubscribe", "List-Unsubscribe-Post",
}

// SignDKIM returns raw, a message Build made, with a DKIM-Signature header field in front:
// rsa-sha256 (or ed25519-sha256, as key's Signer is), relaxed/relaxed canonicalization, d=
// and s= from key, over the fields of DKIMHeaders that raw has. go-msgauth does the
// canonicalization and the signing. Sign the message as it will be sent: any later change
// to a signed field or to the body breaks the signature.
func SignDKIM(raw []byte, key *sendoka.DKIMKey) ([]byte, error) {
	if key == nil || key.Signer == nil || key.Domain == "" || key.Selector == "" {
		return nil, errors.New("mimemail: DKIM key without domain, selector or signer")
	}
	opts := &dkim.SignOptions{
		Domain: key.Domain, Selector: key.Selector, Signer: key.Signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             presentFields(raw, DKIMHeaders),
	}
	var out bytes.Buffer
	out.Grow(len(raw) + 1024)
	if err := dkim.Sign(&out, bytes.NewReader(raw), opts); err != nil {
		return nil, fmt.Errorf("mimemail: DKIM signing: %w", err)
	}
	return out.Bytes(), nil
}

// presentFields returns the names of want (in want's order) that are fields of the header of
// raw, each once.
func presentFields(raw []byte, want []string) []string {
	header := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		header = raw[:i+2]
	}
	have := map[string]bool{}
	for line := range strings.SplitSeq(string(header), "\r\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue // a folded continuation
		}
		if name, _, ok := strings.Cut(line, ":"); ok {
			have[strings.ToLower(strings.TrimSpace(name))] = true
		}
	}
	var out []string
	for _, w := range want {
		if have[strings.ToLower(w)] {
			out = append(out, w)
		}
	}
	return out
}
