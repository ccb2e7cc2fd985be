package httpapi

import "github.com/sendoka/sendoka/sendoka"

// EmailAttachment describes an attachment of an email; its content is never returned.
type EmailAttachment struct {
	Filename    string  `json:"filename" example:"invoice.pdf"`
	ContentType string  `json:"content_type" example:"application/pdf"`
	ContentID   *string `json:"content_id" doc:"Set for an inline image (cid:), null otherwise"`
	Size        int     `json:"size" doc:"Decoded size in bytes" example:"48213"`
}

func emailAttachments(as []sendoka.Attachment) []EmailAttachment {
	out := make([]EmailAttachment, len(as))
	for i, a := range as {
		out[i] = EmailAttachment{Filename: a.Filename, ContentType: a.ContentType, ContentID: nullable(a.ContentID), Size: a.Size}
	}
	return out
}

func emailHeaders(h map[string]string) map[string]string {
	if h == nil {
		return map[string]string{}
	}
	return h
}
