package dashboard

import (
	"encoding/json"
	"html"
	"net/http"
	"strings"

	"github.com/sendoka/sendoka/sendoka"
)

func htmlEscape(s string) string { return html.EscapeString(s) }

type templatesData struct {
	List *sendoka.TemplateList
	Form sendoka.TemplateRequest
}

func (h *handler) templates(x *rq) error {
	list, err := h.c.ListTemplates(x.r.Context(), x.p, sendoka.TemplateListParams{Limit: 100, Cursor: x.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "templates", "Templates", "templates", templatesData{List: list, Form: sendoka.TemplateRequest{Channel: sendoka.ChannelEmail}})
}

func (h *handler) createTemplate(x *rq) error {
	req := &sendoka.TemplateRequest{
		Slug: strings.TrimSpace(x.r.PostFormValue("slug")), Name: x.r.PostFormValue("name"),
		Channel: sendoka.Channel(x.r.PostFormValue("channel")),
	}
	// A new template starts with content that parses, to edit at once.
	if req.Channel == sendoka.ChannelSMS {
		req.Body = "Hi {{name}}"
	} else {
		req.Subject, req.HTML, req.Text = "Hello {{name}}", "<p>Hello {{name}},</p>", "Hello {{name}},"
	}
	t, err := h.c.CreateTemplate(x.r.Context(), x.p, req)
	if err != nil {
		if statusOf(err) != http.StatusUnprocessableEntity {
			return err
		}
		list, lerr := h.c.ListTemplates(x.r.Context(), x.p, sendoka.TemplateListParams{Limit: 100})
		if lerr != nil {
			return lerr
		}
		l := x.layout(h, "Templates", "templates")
		l.Error = userMessage(err)
		h.pages.render(x.w, http.StatusUnprocessableEntity, "templates", l, templatesData{List: list, Form: *req})
		return nil
	}
	return h.redirect(x, "/templates/"+t.ID, "Template created.")
}

type templateData struct {
	T *sendoka.Template
	// Sample is the sample variables as JSON, for the preview and the test send.
	Sample string
	From   string
}

// sampleVariables makes a sample value for every variable a template uses ("name" →
// "Sample name"), nested by dotted path.
func sampleVariables(names []string) string {
	vars := map[string]any{}
	for _, n := range names {
		parts := strings.Split(n, ".")
		cur := vars
		for i, p := range parts {
			if i == len(parts)-1 {
				cur[p] = "Sample " + strings.ReplaceAll(n, ".", " ")
				break
			}
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
	}
	b, _ := json.MarshalIndent(vars, "", "  ")
	return string(b)
}

func (h *handler) template(x *rq) error {
	t, err := h.c.GetTemplate(x.r.Context(), x.p, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "template", "Template "+t.Slug, "templates",
		templateData{T: t, Sample: sampleVariables(t.Variables), From: "test@" + h.c.SandboxDomain()})
}

func formString(r *http.Request, name string) *string {
	if _, ok := r.PostForm[name]; !ok {
		return nil
	}
	v := strings.ReplaceAll(r.PostFormValue(name), "\r\n", "\n")
	return &v
}

func (h *handler) updateTemplate(x *rq) error {
	if err := x.r.ParseForm(); err != nil {
		return sendoka.Errorf(sendoka.CodeValidation, "the form could not be read")
	}
	u := &sendoka.TemplateUpdate{Name: formString(x.r, "name"), Subject: formString(x.r, "subject"),
		HTML: formString(x.r, "html"), Text: formString(x.r, "text"), Body: formString(x.r, "body")}
	t, err := h.c.UpdateTemplate(x.r.Context(), x.p, x.r.PathValue("id"), u)
	if err != nil {
		if statusOf(err) != http.StatusUnprocessableEntity {
			return err
		}
		cur, gerr := h.c.GetTemplate(x.r.Context(), x.p, x.r.PathValue("id"))
		if gerr != nil {
			return gerr
		}
		for _, f := range []struct {
			dst *string
			src *string
		}{{&cur.Name, u.Name}, {&cur.Subject, u.Subject}, {&cur.HTML, u.HTML}, {&cur.Text, u.Text}, {&cur.Body, u.Body}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		l := x.layout(h, "Template "+cur.Slug, "templates")
		l.Error = userMessage(err)
		h.pages.render(x.w, http.StatusUnprocessableEntity, "template", l,
			templateData{T: cur, Sample: x.r.PostFormValue("variables"), From: "test@" + h.c.SandboxDomain()})
		return nil
	}
	return h.redirect(x, "/templates/"+t.ID, "Saved: version "+itoa(t.Version)+".")
}

func (h *handler) deleteTemplate(x *rq) error {
	if err := h.c.DeleteTemplate(x.r.Context(), x.p, x.r.PathValue("id")); err != nil {
		return err
	}
	return h.redirect(x, "/templates", "Template deleted.")
}

// draft reads the editor's fields and sample variables.
func draft(r *http.Request) (*sendoka.TemplateRequest, map[string]any, error) {
	d := &sendoka.TemplateRequest{Channel: sendoka.Channel(r.PostFormValue("channel")),
		Subject: r.PostFormValue("subject"), HTML: r.PostFormValue("html"), Text: r.PostFormValue("text"), Body: r.PostFormValue("body")}
	vars := map[string]any{}
	if s := strings.TrimSpace(r.PostFormValue("variables")); s != "" {
		if err := json.Unmarshal([]byte(s), &vars); err != nil {
			var v sendoka.Validation
			v.Add(sendoka.FieldInvalid, "sample variables must be a JSON object", "variables")
			return d, nil, v.Err()
		}
	}
	return d, vars, nil
}

// templatePreviewFrame renders the editor's draft into the sandboxed preview frame.
func (h *handler) templatePreviewFrame(x *rq) error {
	d, vars, err := draft(x.r)
	var pv *sendoka.TemplatePreview
	if err == nil {
		pv, err = h.c.PreviewTemplate(x.r.Context(), x.p, d, vars)
	}
	switch {
	case err != nil && statusOf(err) == http.StatusUnprocessableEntity:
		writePreview(x.w, "<p>"+htmlEscape(userMessage(err))+"</p>", false)
	case err != nil:
		return err
	case d.Channel == sendoka.ChannelSMS:
		writePreview(x.w, "<pre>"+htmlEscape(pv.Body)+"</pre>", false)
	case pv.HTML != "":
		writePreview(x.w, pv.HTML, false)
	default:
		writePreview(x.w, "<pre>"+htmlEscape(pv.Text)+"</pre>", false)
	}
	return nil
}

type previewInfo struct {
	P     *sendoka.TemplatePreview
	Error string
}

// templatePreviewInfo is the htmx fragment beside the frame: the rendered subject and the
// variables the sample lacks.
func (h *handler) templatePreviewInfo(x *rq) error {
	d, vars, err := draft(x.r)
	var pv *sendoka.TemplatePreview
	if err == nil {
		pv, err = h.c.PreviewTemplate(x.r.Context(), x.p, d, vars)
	}
	info := previewInfo{P: pv}
	if err != nil {
		if statusOf(err) != http.StatusUnprocessableEntity {
			return err
		}
		info.Error = userMessage(err)
	}
	h.pages.fragment(x.w, http.StatusOK, "template", "preview-info", x.layout(h, "", ""), info)
	return nil
}

func (h *handler) sendTestEmail(x *rq) error {
	t, err := h.c.GetTemplate(x.r.Context(), x.p, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	_, vars, err := draft(x.r)
	if err != nil {
		return err
	}
	req := &sendoka.EmailRequest{From: strings.TrimSpace(x.r.PostFormValue("from")), To: []string{strings.TrimSpace(x.r.PostFormValue("to"))},
		Template: t.Slug, Variables: vars, Tags: []string{"dashboard-test"}}
	if t.Channel == sendoka.ChannelSMS {
		m, err := h.c.SendSMS(x.r.Context(), x.p, &sendoka.SMSRequest{To: req.To[0], Template: t.Slug, Variables: vars, Tags: req.Tags})
		if err != nil {
			return err
		}
		return h.redirect(x, "/messages/"+m.ID, "Test SMS sent.")
	}
	m, err := h.c.SendEmail(x.r.Context(), x.p, req)
	if err != nil {
		return err
	}
	return h.redirect(x, "/messages/"+m.ID, "Test email sent.")
}
