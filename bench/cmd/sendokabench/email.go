package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// emailScenarios drive the email request contract at full size: a 200 KB HTML body (what a
// newsletter-sized transactional email weighs, twice Gmail's clipping point) with two
// attachments, one of them an inline image. It measures JSON decoding, base64 decoding,
// the attachment side table and, at delivery, reading the contents back.
func emailScenarios() []scenario {
	var html strings.Builder
	html.WriteString("<html><body>")
	for i := 0; html.Len() < 200<<10; i++ {
		fmt.Fprintf(&html, `<p>Line %d of the receipt, <a href="https://example.com/orders/%d">order %d</a>, with enough text to look like a real email body.</p>`, i, i, i)
	}
	html.WriteString(`<img src="cid:logo"></body></html>`)
	htmlJSON, _ := json.Marshal(html.String())
	pdf := make([]byte, 150<<10)
	png := make([]byte, 50<<10)
	for i := range pdf {
		pdf[i] = byte(i * 31)
	}
	for i := range png {
		png[i] = byte(i * 17)
	}
	attachments := fmt.Sprintf(`[{"filename":"receipt.pdf","content":%q},{"filename":"logo.png","content":%q,"content_id":"logo"}]`,
		base64.StdEncoding.EncodeToString(pdf), base64.StdEncoding.EncodeToString(png))
	return []scenario{{
		Name: "email, 200 KB HTML + 2 attachments", Path: "/api/v1/emails", ListPath: "/api/v1/emails", Messages: 1, Tag: "bench-large",
		Body: func(i int) []byte {
			return fmt.Appendf(nil, `{"from":"you@sandbox.sendoka.com","to":["user%d@example.com"],"subject":"Receipt %d","html":%s,"attachments":%s,"tags":["bench-large"]}`,
				i, i, htmlJSON, attachments)
		},
	}}
}
