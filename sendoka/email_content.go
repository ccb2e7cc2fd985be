package sendoka

import "unicode/utf8"

// validateEmailContent checks what newEmail does not: the bodies, tags that could reach a
// header, extra headers, attachments and the tracking switches, and fills content with the
// result. A combined attachment size over the limit is returned as its own error (413
// ATTACHMENT_TOO_LARGE); every other problem is added to v.
func validateEmailContent(v *Validation, req *EmailRequest, content *EmailContent) *Error {
	if !utf8.ValidString(req.Subject) {
		v.Add(FieldInvalid, "must be valid UTF-8", "subject")
	}
	switch {
	case len(req.HTML) > MaxHTMLBytes:
		v.Add(FieldTooBig, "at most 1 MiB", "html")
	case !utf8.ValidString(req.HTML):
		v.Add(FieldInvalid, "must be valid UTF-8", "html")
	}
	switch {
	case len(req.Text) > MaxTextBytes:
		v.Add(FieldTooBig, "at most 1 MiB", "text")
	case !utf8.ValidString(req.Text):
		v.Add(FieldInvalid, "must be valid UTF-8", "text")
	}
	for i, t := range req.Tags {
		if hasControl(t) || !utf8.ValidString(t) {
			v.Add(FieldInvalid, "a tag must not contain line breaks or control characters", "tags", i)
		}
	}
	validateHeaders(v, req.Headers)
	if len(req.Headers) > 0 {
		content.Headers = req.Headers
	}
	content.TrackOpens = req.TrackOpens == nil || *req.TrackOpens
	content.TrackClicks = req.TrackClicks == nil || *req.TrackClicks
	atts, tooLarge := parseAttachments(v, req.Attachments)
	if tooLarge != nil {
		return tooLarge
	}
	content.Attachments = atts
	return nil
}
