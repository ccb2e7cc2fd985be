package bounce

import "strings"

// parseARF reads the feedback-report part of an abuse report; nil when it has none.
func parseARF(top *part) *Report {
	fr := top.find("message/feedback-report")
	if fr == nil {
		return nil
	}
	f := map[string]string{}
	for _, b := range fieldBlocks(fr.body) {
		for k, v := range b {
			if _, seen := f[k]; !seen {
				f[k] = v
			}
		}
	}
	r := &Report{
		Format: FormatARF, FeedbackType: strings.ToLower(strings.TrimSpace(f["feedback-type"])),
		UserAgent: f["user-agent"], OriginalMailFrom: bareAddress(f["original-mail-from"]),
		OriginalRcptTo: bareAddress(f["original-rcpt-to"]), SourceIP: strings.TrimSpace(f["source-ip"]),
		ReportingMTA: typedValue(f["reporting-mta"]),
	}
	if r.FeedbackType == "" {
		r.FeedbackType = "abuse"
	}
	if h := top.originalHeaders(); h != nil {
		r.OriginalMessageID = messageID(h.Get("Message-Id"))
		r.OriginalTo = h.Get("To")
	}
	addr := r.OriginalRcptTo
	if addr == "" {
		addr = bareAddress(r.OriginalTo)
	}
	r.Recipients = []Recipient{{
		Address: addr, Kind: Complaint, Reason: "feedback", Action: "complaint",
		Diagnostic: "the recipient reported the message (" + r.FeedbackType + ")",
		RemoteMTA:  r.ReportingMTA,
	}}
	return r
}
