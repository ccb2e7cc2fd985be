package bounce

import (
	"mime"
	"net/mail"
	"regexp"
	"strings"
)

var (
	bounceFromRE    = regexp.MustCompile(`(?i)mailer-daemon|postmaster|mail delivery|mail administrator|mailadmin|mmdf|mail-?router|nobody@|daemon@|bounce`)
	bounceSubjectRE = regexp.MustCompile(`(?i)undeliver|undelivered|delivery (?:status|failure|failed|notification|problem|report|has failed)|` +
		`returned mail|returned to sender|failure notice|mail delivery failed|could not be delivered|non[- ]?delivery|` +
		`delivery error|mail system error|nondeliverable|permanent error|bounce|rejected|warning: could not send|` +
		`message not delivered|mail failure|failed mail|delayed mail|delivery delayed|unable to deliver|error sending|` +
		`mail could not|problem delivering`)
	autoReplySubjectRE = regexp.MustCompile(`(?i)^(?:auto(?:matic)?[- ]?(?:reply|response)|out of (?:the )?office|vacation|abwesenheit|absence|away from)`)
	addrRE             = regexp.MustCompile(`[A-Za-z0-9!#$%&'*+/=?^_{|}~.\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+`)
	// originalMarkerRE starts the copy of the original message in a free-text bounce.
	originalMarkerRE = regexp.MustCompile(`(?im)^(?:-+ ?(?:below this line is a copy|original message|this is a copy|the original message|` +
		`returned message|unsent message|message header|headers of your message|start of (?:returned|forwarded) message)|` +
		`-+ ?original message|original message follows|content-type: message/rfc822|return-path: <|received: from)`)
)

// looksLikeBounce reports whether a message's sender or subject says it is a bounce.
func looksLikeBounce(h mail.Header) bool {
	return bounceFromRE.MatchString(h.Get("From")) || bounceSubjectRE.MatchString(decodeHeader(h.Get("Subject")))
}

// isAutoReply reports whether a message says it is an automatic reply (RFC 3834
// Auto-Submitted: auto-replied, or the usual vacation headers and subjects).
func isAutoReply(h mail.Header) bool {
	as := strings.ToLower(h.Get("Auto-Submitted"))
	if strings.HasPrefix(as, "auto-replied") {
		return true
	}
	if h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != "" || strings.EqualFold(h.Get("Precedence"), "auto_reply") {
		return true
	}
	return autoReplySubjectRE.MatchString(decodeHeader(h.Get("Subject")))
}

func decodeHeader(v string) string {
	d := mime.WordDecoder{}
	if s, err := d.DecodeHeader(v); err == nil {
		return s
	}
	return v
}

// parseNonStandard reads a bounce in free text: the text before the copy of the original
// message is classified as a whole, and each address it names, other than the bounce's own
// sender and recipient, is a recipient of the report. A bounce naming none has one
// recipient with no address (the VERP address of the listener names it).
func parseNonStandard(h mail.Header, top *part) *Report {
	text := top.text()
	if loc := originalMarkerRE.FindStringIndex(text); loc != nil && loc[0] > 0 {
		text = text[:loc[0]]
	}
	if len(text) > 64<<10 {
		text = text[:64<<10]
	}
	r := &Report{Format: FormatNonStd}
	if oh := top.originalHeaders(); oh != nil {
		r.OriginalMessageID = messageID(oh.Get("Message-Id"))
		r.OriginalTo = oh.Get("To")
	} else if m := regexp.MustCompile(`(?im)^message-id:\s*(<[^>]+>)`).FindStringSubmatch(top.text()); m != nil {
		r.OriginalMessageID = messageID(m[1])
	}
	skip := map[string]bool{}
	for _, f := range []string{"From", "To", "Sender", "Reply-To", "Return-Path", "Delivered-To", "X-Original-To"} {
		if a := bareAddress(h.Get(f)); a != "" {
			skip[a] = true
		}
		if as, err := mail.ParseAddressList(h.Get(f)); err == nil {
			for _, a := range as {
				skip[strings.ToLower(a.Address)] = true
			}
		}
	}
	status := ""
	if m := statusRE.FindStringSubmatch(text); m != nil {
		status = m[0]
	}
	code := ""
	if m := smtpCodeRE.FindStringSubmatch(text); m != nil {
		code = m[1]
	}
	reason := Classify(status, code, text)
	kind := kindOfReason(reason, status, code)
	if kind == Delivered {
		kind = Soft
	}
	if kind == Soft && status == "" && code == "" && reason == ReasonUndetermined && strings.Contains(strings.ToLower(text), "permanent") {
		kind = Hard
	}
	diag := diagnosticLine(text)
	seen := map[string]bool{}
	for _, a := range addrRE.FindAllString(text, -1) {
		a = strings.ToLower(strings.Trim(a, "."))
		local, _, _ := strings.Cut(a, "@")
		if seen[a] || skip[a] || local == "postmaster" || local == "mailer-daemon" || strings.HasPrefix(local, "mailer-daemon") {
			continue
		}
		seen[a] = true
		r.Recipients = append(r.Recipients, Recipient{Address: a, Kind: kind, Reason: reason, Action: "failed", Status: status, SMTPCode: code, Diagnostic: diag})
		if len(r.Recipients) == 50 {
			break
		}
	}
	if len(r.Recipients) == 0 {
		r.Recipients = []Recipient{{Kind: kind, Reason: reason, Action: "failed", Status: status, SMTPCode: code, Diagnostic: diag}}
	}
	if kind == Delayed {
		for i := range r.Recipients {
			r.Recipients[i].Action = "delayed"
		}
	}
	return r
}

// diagnosticLine picks the most telling line of a free-text bounce: the first with an SMTP
// reply or status code, else the first lines of the text.
func diagnosticLine(text string) string {
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimSpace(ln)
		if smtpCodeRE.MatchString(ln) || statusRE.MatchString(ln) {
			if len(ln) > 500 {
				ln = ln[:500]
			}
			return ln
		}
	}
	s := firstLines(text, 3)
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
