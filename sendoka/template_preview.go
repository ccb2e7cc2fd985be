package sendoka

import (
	"context"
	"slices"
)

// TemplatePreview is a draft template rendered with sample variables.
type TemplatePreview struct {
	Subject, HTML, Text, Body string
	// Variables are the names the draft uses, in order of first use.
	Variables []string
	// Missing are the names of Variables that vars did not supply: a send would be refused
	// with CodeTemplateMissingVariables.
	Missing []string
}

// PreviewTemplate renders a draft (as it would be saved: the same parsing and checks, the
// slug aside) with sample variables, without storing anything. A draft that does not parse
// is CodeValidation with the field that fails. It takes what reading templates takes.
func (c *Client) PreviewTemplate(ctx context.Context, p *Principal, draft *TemplateRequest, vars map[string]any) (*TemplatePreview, error) {
	if err := p.require(templateReadPermissions...); err != nil {
		return nil, err
	}
	t := &Template{Slug: "preview", Channel: draft.Channel, Name: draft.Name, Subject: draft.Subject,
		HTML: draft.HTML, Text: draft.Text, Body: draft.Body}
	if t.Channel == "" {
		t.Channel = ChannelEmail
	}
	var v Validation
	if t.Channel != ChannelEmail && t.Channel != ChannelSMS {
		v.Add(FieldInvalid, "email or sms", "channel")
		return nil, v.Err()
	}
	cs, err := validateTemplate(&v, t)
	if err != nil {
		return nil, err
	}
	out := &TemplatePreview{Variables: t.Variables}
	var missing []string
	render := func(ct *compiledTemplate, escape bool) string {
		if ct == nil {
			return ""
		}
		s, m := ct.render(vars, escape)
		missing = append(missing, m...)
		return s
	}
	out.Subject = render(cs.subject, false)
	out.HTML = render(cs.html, true)
	out.Text = render(cs.text, false)
	out.Body = render(cs.body, false)
	for _, f := range []struct{ name, s string }{{"subject", out.Subject}, {"html", out.HTML}, {"text", out.Text}, {"body", out.Body}} {
		if len(f.s) > maxRenderedBytes {
			v.Add(FieldTooBig, "renders to more than 1 MiB with these variables", f.name)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	for _, name := range missing {
		if !slices.Contains(out.Missing, name) {
			out.Missing = append(out.Missing, name)
		}
	}
	return out, nil
}
