package sendoka

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode/utf8"
)

// AttachmentRequest is one file of POST /api/v1/emails.
type AttachmentRequest struct {
	Filename    string `json:"filename" doc:"File name shown to the recipient (1-255 bytes, no path)" example:"invoice.pdf"`
	Content     string `json:"content" doc:"The file, base64-encoded (standard or URL alphabet; padding and line breaks optional)"`
	ContentType string `json:"content_type,omitempty" doc:"MIME type. Default: guessed from the file name, else application/octet-stream" example:"application/pdf"`
	ContentID   string `json:"content_id,omitempty" doc:"Makes the file inline: the HTML shows it with <img src=\"cid:CONTENT_ID\">" example:"logo"`
}

// Attachment is a file sent with an email. Its description is part of the message; its
// Content is stored apart, so that reading or listing messages never loads it: a Store's
// InsertMessages keeps EmailContent.Attachments[i].Content, GetMessage and ListMessages
// leave Content nil, and Tx.AttachmentContents returns it for delivery.
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	// ContentID, when set, makes the attachment inline (cid:ContentID in the HTML).
	ContentID string `json:"content_id,omitempty"`
	// Size is the decoded size in bytes.
	Size    int    `json:"size"`
	Content []byte `json:"-"`
}

// Attachment limits.
const (
	MaxAttachments = 10
	// MaxAttachmentsSize bounds the decoded size of all attachments of one email together.
	// Over it the request fails with 413 ATTACHMENT_TOO_LARGE.
	MaxAttachmentsSize = 7 << 20
	MaxFilenameLen     = 255
	MaxContentIDLen    = 128
)

// BlockedExtensions are the file extensions refused as attachments: executables and
// scripts, the list mail providers such as Gmail block.
var BlockedExtensions = []string{
	".ade", ".adp", ".apk", ".appx", ".appxbundle", ".bat", ".cab", ".chm", ".cmd", ".com",
	".cpl", ".diagcab", ".diagcfg", ".diagpack", ".dll", ".dmg", ".ex", ".ex_", ".exe", ".hta",
	".img", ".ins", ".iso", ".isp", ".jar", ".jnlp", ".js", ".jse", ".lib", ".lnk", ".mde",
	".mjs", ".msc", ".msi", ".msix", ".msixbundle", ".msp", ".mst", ".nsh", ".pif", ".ps1",
	".psm1", ".reg", ".scr", ".sct", ".shb", ".sys", ".vb", ".vbe", ".vbs", ".vhd", ".vxd",
	".wsc", ".wsf", ".wsh", ".xll",
}

// blockedContentTypes are executable MIME types, refused whatever the file name says.
var blockedContentTypes = map[string]bool{
	"application/x-msdownload": true, "application/x-msdos-program": true,
	"application/x-dosexec": true, "application/vnd.microsoft.portable-executable": true,
	"application/x-ms-installer": true, "application/x-msi": true, "application/x-ms-shortcut": true,
	"application/x-executable": true, "application/x-mach-binary": true,
	"application/java-archive": true, "application/x-java-archive": true,
	"application/javascript": true, "text/javascript": true, "application/x-javascript": true,
	"application/x-bat": true, "application/x-sh": true, "application/hta": true,
	"application/vnd.ms-cab-compressed": true, "application/x-vbscript": true,
	"application/vnd.android.package-archive": true,
}

// contentTypes guesses common types from the extension. It is checked before
// mime.TypeByExtension, whose answers depend on the machine's mime.types files.
var contentTypes = map[string]string{
	".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml", ".ico": "image/x-icon",
	".txt": "text/plain", ".csv": "text/csv", ".html": "text/html", ".htm": "text/html",
	".ics": "text/calendar", ".json": "application/json", ".xml": "application/xml",
	".zip": "application/zip", ".gz": "application/gzip",
	".doc": "application/msword", ".xls": "application/vnd.ms-excel",
	".ppt":  "application/vnd.ms-powerpoint",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".odt":  "application/vnd.oasis.opendocument.text", ".rtf": "application/rtf",
	".mp3": "audio/mpeg", ".mp4": "video/mp4", ".eml": "message/rfc822",
}

// parseAttachments validates and decodes the attachments of a request. Field problems are
// added to v; a combined size over MaxAttachmentsSize is returned as its own error
// (CodeAttachmentTooLarge), checked on the encoded lengths first so an oversized request is
// refused before anything is decoded.
func parseAttachments(v *Validation, in []AttachmentRequest) ([]Attachment, *Error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > MaxAttachments {
		v.Add(FieldTooBig, "at most 10 attachments", "attachments")
		return nil, nil
	}
	estimate := 0
	for _, a := range in {
		estimate += base64.StdEncoding.DecodedLen(len(a.Content))
	}
	// DecodedLen over-counts by at most 2 bytes per attachment, plus line breaks: only a clear
	// excess is refused unread.
	if estimate > MaxAttachmentsSize*5/4+1024 {
		return nil, attachmentsTooLarge(estimate)
	}
	out := make([]Attachment, 0, len(in))
	cids := map[string]bool{}
	total := 0
	for i, a := range in {
		att, ok := parseAttachment(v, a, i, cids)
		total += att.Size
		if ok {
			out = append(out, att)
		}
	}
	if total > MaxAttachmentsSize {
		return nil, attachmentsTooLarge(total)
	}
	return out, nil
}

func attachmentsTooLarge(n int) *Error {
	msg := fmt.Sprintf("attachments are %d bytes combined (decoded); the limit is %d bytes (7 MiB)", n, MaxAttachmentsSize)
	return &Error{Code: CodeAttachmentTooLarge, Message: msg,
		Fields: []FieldError{{Path: []any{"attachments"}, Code: FieldTooBig, Message: msg}}}
}

// parseAttachment checks one attachment. It returns the decoded size even when the
// attachment is refused, so the combined size is still known.
func parseAttachment(v *Validation, a AttachmentRequest, i int, cids map[string]bool) (Attachment, bool) {
	n := len(v.Fields)
	out := Attachment{Filename: a.Filename}
	// Windows drops trailing dots and spaces: "x.exe. " opens as x.exe.
	ext := strings.ToLower(path.Ext(strings.TrimRight(a.Filename, ". ")))
	switch {
	case strings.TrimSpace(a.Filename) == "":
		v.Add(FieldRequired, "Required", "attachments", i, "filename")
	case len(a.Filename) > MaxFilenameLen:
		v.Add(FieldTooBig, "a file name is at most 255 bytes", "attachments", i, "filename")
	case !utf8.ValidString(a.Filename) || hasControl(a.Filename) || strings.ContainsAny(a.Filename, "\t/\\") ||
		a.Filename == "." || a.Filename == "..":
		v.Add(FieldInvalid, "a file name must not contain control characters, tabs or path separators", "attachments", i, "filename")
	case isBlockedExtension(ext):
		v.Add(FieldInvalid, "executable files ("+ext+") are not allowed as attachments", "attachments", i, "filename")
	}

	out.ContentType = guessContentType(ext)
	if a.ContentType != "" {
		mt, params, err := mime.ParseMediaType(a.ContentType)
		switch {
		case err != nil || hasControl(a.ContentType) || !strings.Contains(mt, "/") || len(a.ContentType) > 200:
			v.Add(FieldInvalid, "not a MIME type (type/subtype)", "attachments", i, "content_type")
		case blockedContentTypes[mt]:
			v.Add(FieldInvalid, "executable content ("+mt+") is not allowed as an attachment", "attachments", i, "content_type")
		default:
			out.ContentType = mime.FormatMediaType(mt, params)
		}
	}

	if a.ContentID != "" {
		cid := strings.TrimSuffix(strings.TrimPrefix(a.ContentID, "<"), ">")
		switch {
		case len(cid) > MaxContentIDLen || !validContentID(cid):
			v.Add(FieldInvalid, "a content_id is 1 to 128 letters, digits and !#$%&'*+-/=?^_`{|}~.@", "attachments", i, "content_id")
		case cids[strings.ToLower(cid)]:
			v.Add(FieldInvalid, "content_id is used by another attachment", "attachments", i, "content_id")
		default:
			cids[strings.ToLower(cid)] = true
			out.ContentID = cid
		}
	}

	content, err := decodeBase64(a.Content)
	switch {
	case a.Content == "":
		v.Add(FieldRequired, "Required", "attachments", i, "content")
	case err != nil:
		v.Add(FieldInvalid, "content is not valid base64", "attachments", i, "content")
	case isExecutable(content):
		v.Add(FieldInvalid, "executable content is not allowed as an attachment", "attachments", i, "content")
	}
	out.Content = content
	out.Size = len(content)
	return out, len(v.Fields) == n
}

// decodeBase64 accepts the standard and the URL alphabet, with or without padding, with
// line breaks or spaces (base64 tools wrap their output).
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s)
	}
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	return enc.DecodeString(s)
}

func isBlockedExtension(ext string) bool {
	for _, b := range BlockedExtensions {
		if ext == b {
			return true
		}
	}
	return false
}

func guessContentType(ext string) string {
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil && !blockedContentTypes[mt] {
			return t
		}
	}
	return "application/octet-stream"
}

// validContentID accepts the characters of an RFC 5322 msg-id without its angle brackets.
func validContentID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAtext(c) && c != '.' && c != '@' {
			return false
		}
	}
	return true
}

// isExecutable recognises native executables by their magic numbers, whatever the file is
// called: Windows PE ("MZ" and a "PE\0\0" header where the DOS stub points), ELF, Mach-O.
func isExecutable(b []byte) bool {
	switch {
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return true
	case bytes.HasPrefix(b, []byte{0xcf, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(b, []byte{0xce, 0xfa, 0xed, 0xfe}),
		bytes.HasPrefix(b, []byte{0xfe, 0xed, 0xfa, 0xcf}), bytes.HasPrefix(b, []byte{0xfe, 0xed, 0xfa, 0xce}):
		return true
	case bytes.HasPrefix(b, []byte("MZ")) && len(b) >= 0x40:
		off := int(binary.LittleEndian.Uint32(b[0x3c:0x40]))
		return off >= 0x40 && off+4 <= len(b) && bytes.Equal(b[off:off+4], []byte("PE\x00\x00"))
	}
	return false
}
