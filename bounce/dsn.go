package bounce

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"regexp"
	"strings"
)

// decodeTransfer undoes a Content-Transfer-Encoding; a body that does not decode is kept
// as it is.
func decodeTransfer(cte string, raw []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, raw)
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil && n == 0 {
			return raw
		}
		return out[:n]
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		if err != nil && len(out) == 0 {
			return raw
		}
		return out
	}
	return raw
}

// fieldBlocks splits a message/delivery-status body into its blocks of fields (the
// per-message block, then one per recipient), unfolding continuation lines. Field names
// are lower-cased.
func fieldBlocks(body []byte) []map[string]string {
	var blocks []map[string]string
	cur := map[string]string{}
	last := ""
	for _, ln := range strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") {
		if strings.TrimSpace(ln) == "" {
			if len(cur) > 0 {
				blocks = append(blocks, cur)
				cur, last = map[string]string{}, ""
			}
			continue
		}
		if (ln[0] == ' ' || ln[0] == '\t') && last != "" {
			cur[last] += " " + strings.TrimSpace(ln)
			continue
		}
		name, value, ok := strings.Cut(ln, ":")
		if !ok || strings.ContainsAny(name, " \t") {
			continue
		}
		last = strings.ToLower(strings.TrimSpace(name))
		if _, seen := cur[last]; !seen {
			cur[last] = strings.TrimSpace(value)
		}
	}
	if len(cur) > 0 {
		blocks = append(blocks, cur)
	}
	return blocks
}

// typedValue strips the address or diagnostic type ("rfc822;", "smtp;", "dns;") of a DSN
// field.
func typedValue(v string) string {
	if t, rest, ok := strings.Cut(v, ";"); ok && !strings.ContainsAny(t, " @<") {
		return strings.TrimSpace(rest)
	}
	return strings.TrimSpace(v)
}

// bareAddress returns the address in a field value ("<a@b>", "a@b", "Name <a@b>"),
// lower-cased, or "".
func bareAddress(v string) string {
	v = strings.TrimSpace(typedValue(v))
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	v = strings.Trim(v, " <>\"'")
	if !strings.Contains(v, "@") || strings.ContainsAny(v, " \t") {
		return ""
	}
	return strings.ToLower(v)
}

var (
	statusRE   = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	smtpCodeRE = regexp.MustCompile(`(?:^|[\s;:(\[])([245][0-9][0-9])(?:[\s\-]|$)`)
)

// parseDSN reads the delivery-status part of a report; nil when it has none or it names no
// recipient.
func parseDSN(top *part) *Report {
	ds := top.find("message/delivery-status", "message/global-delivery-status")
	if ds == nil {
		return nil
	}
	blocks := fieldBlocks(ds.body)
	r := &Report{Format: FormatDSN}
	if len(blocks) > 0 {
		if v, ok := blocks[0]["reporting-mta"]; ok {
			r.ReportingMTA = typedValue(v)
		}
	}
	human := ""
	for _, c := range top.children {
		if c.mediaType == "text/plain" {
			human = string(c.body)
			break
		}
	}
	for _, b := range blocks {
		final, hasFinal := b["final-recipient"]
		orig := b["original-recipient"]
		if !hasFinal && orig == "" {
			continue
		}
		rc := Recipient{
			Address: bareAddress(final), OriginalRecipient: bareAddress(orig),
			Action:     strings.ToLower(strings.TrimSpace(b["action"])),
			Diagnostic: typedValue(b["diagnostic-code"]),
			RemoteMTA:  typedValue(b["remote-mta"]),
		}
		if rc.Address == "" {
			rc.Address = rc.OriginalRecipient
		}
		if m := statusRE.FindStringSubmatch(b["status"]); m != nil {
			rc.Status = m[0]
		}
		if m := smtpCodeRE.FindStringSubmatch(rc.Diagnostic); m != nil {
			rc.SMTPCode = m[1]
		}
		if rc.Status == "" {
			if m := statusRE.FindStringSubmatch(rc.Diagnostic); m != nil {
				rc.Status = m[0]
			}
		}
		text := rc.Diagnostic
		if text == "" {
			text = human
		}
		rc.Reason = Classify(rc.Status, rc.SMTPCode, text)
		rc.Kind = dsnKind(rc.Action, rc.Status, rc.SMTPCode, rc.Reason)
		if rc.Diagnostic == "" {
			rc.Diagnostic = firstLines(human, 3)
		}
		r.Recipients = append(r.Recipients, rc)
	}
	if len(r.Recipients) == 0 {
		return nil
	}
	if h := top.originalHeaders(); h != nil {
		r.OriginalMessageID = messageID(h.Get("Message-Id"))
		r.OriginalTo = h.Get("To")
	}
	return r
}

// dsnKind is the Kind of a DSN recipient, as the package doc says.
func dsnKind(action, status, code, reason string) Kind {
	switch action {
	case "delivered", "relayed", "expanded":
		return Delivered
	case "delayed":
		return Delayed
	}
	permanent := strings.HasPrefix(status, "5.") || (status == "" && strings.HasPrefix(code, "5"))
	switch {
	case hardReason(reason):
		return Hard
	case permanent:
		return Hard
	case action == "" && status == "" && code == "":
		// No action and no status: only the text says anything.
		return kindOfReason(reason, "", "")
	}
	return Soft
}

// firstLines returns up to n non-empty lines of s, joined by spaces.
func firstLines(s string, n int) string {
	var out []string
	for _, ln := range strings.Split(s, "\n") {
		if ln = strings.TrimSpace(ln); ln != "" {
			out = append(out, ln)
			if len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, " ")
}
