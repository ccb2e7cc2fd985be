package sendoka

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidSlug(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"welcome": true, "welcome-v2": true, "order_shipped": true, "0day": true, "a": true,
		strings.Repeat("a", 64): true,
		"":                      false, strings.Repeat("a", 65): false, "-x": false, "_x": false,
		"Welcome": false, "we lcome": false, "wel.come": false, "tpl_01JABCDEFGHJKMNPQRSTVWXYZ": false,
		"ü": false,
	}
	for in, want := range cases {
		require.Equal(t, want, validSlug(in), in)
	}
}

func TestValidateTemplate(t *testing.T) {
	t.Parallel()
	email := func() *Template {
		return &Template{Slug: "welcome", Channel: ChannelEmail, Subject: "Hi {{name}}", HTML: "<p>{{ name }} {{{footer}}}</p>", Text: "{{order.id}} {{name}}"}
	}
	sms := func() *Template { return &Template{Slug: "code", Channel: ChannelSMS, Body: "Code {{code}}"} }

	tpl := email()
	_, err := validateTemplate(&Validation{}, tpl)
	require.NoError(t, err)
	require.Equal(t, []string{"name", "footer", "order.id"}, tpl.Variables, "first use, subject then html then text")
	tpl = sms()
	_, err = validateTemplate(&Validation{}, tpl)
	require.NoError(t, err)
	require.Equal(t, []string{"code"}, tpl.Variables)
	tpl = &Template{Slug: "static", Channel: ChannelEmail, Text: "no variables"}
	_, err = validateTemplate(&Validation{}, tpl)
	require.NoError(t, err)
	require.Equal(t, []string{}, tpl.Variables, "an empty list, not null")

	cases := []struct {
		name string
		tpl  func() *Template
		mod  func(t *Template)
		path []any
	}{
		{"no slug", email, func(t *Template) { t.Slug = "" }, []any{"slug"}},
		{"bad slug", email, func(t *Template) { t.Slug = "Welcome!" }, []any{"slug"}},
		{"long name", email, func(t *Template) { t.Name = strings.Repeat("n", 201) }, []any{"name"}},
		{"subject does not parse", email, func(t *Template) { t.Subject = "Hi {{name" }, []any{"subject"}},
		{"html does not parse", email, func(t *Template) { t.HTML = "{{a b}}" }, []any{"html"}},
		{"text does not parse", email, func(t *Template) { t.Text = "{{}}" }, []any{"text"}},
		{"email without body", email, func(t *Template) { t.HTML, t.Text = "", "" }, []any{"html"}},
		{"email with sms body", email, func(t *Template) { t.Body = "x" }, []any{"body"}},
		{"subject line break", email, func(t *Template) { t.Subject = "a\nb" }, []any{"subject"}},
		{"subject NEL", email, func(t *Template) { t.Subject = "a\u0085b" }, []any{"subject"}},
		{"subject line separator", email, func(t *Template) { t.Subject = "{{a}}\u2028b" }, []any{"subject"}},
		{"subject C0 control", email, func(t *Template) { t.Subject = "a\x1bb" }, []any{"subject"}},
		{"huge html", email, func(t *Template) { t.HTML = strings.Repeat("x", MaxTemplateContent+1) }, []any{"html"}},
		{"sms without body", sms, func(t *Template) { t.Body = "" }, []any{"body"}},
		{"sms with subject", sms, func(t *Template) { t.Subject = "x" }, []any{"subject"}},
		{"sms body does not parse", sms, func(t *Template) { t.Body = "{{{x}}" }, []any{"body"}},
	}
	for _, tc := range cases {
		tpl := tc.tpl()
		tc.mod(tpl)
		_, err := validateTemplate(&Validation{}, tpl)
		require.Contains(t, fieldPaths(t, err), tc.path, tc.name)
	}
}

func TestTemplateCache(t *testing.T) {
	t.Parallel()
	var tc templateCache
	tpl := &Template{ID: "tpl_1", Slug: "x", Channel: ChannelSMS, Body: "v1 {{a}}", Version: 1}
	cs1, err := tc.get(tpl)
	require.NoError(t, err)
	again, err := tc.get(tpl)
	require.NoError(t, err)
	require.Same(t, cs1, again, "the same version is compiled once")

	// Another node saved version 2: the stale entry is not used.
	tpl2 := *tpl
	tpl2.Body, tpl2.Version = "v2 {{b}}", 2
	cs2, err := tc.get(&tpl2)
	require.NoError(t, err)
	require.NotSame(t, cs1, cs2)
	out, missing := cs2.body.render(map[string]any{"b": "B"}, false)
	require.Equal(t, "v2 B", out)
	require.Empty(t, missing)

	tc.forget("tpl_1")
	cs3, err := tc.get(&tpl2)
	require.NoError(t, err)
	require.NotSame(t, cs2, cs3, "forgotten entries are compiled again")
}

func TestApplyTemplate(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	ctx := context.Background()
	p := SystemPrincipal("org_1", ModeTest)
	welcome := &Template{ID: "tpl_W", Slug: "welcome", Channel: ChannelEmail, Version: 1,
		Subject: "Hi {{name}} <3", HTML: "<p>{{name}} {{{footer}}}</p>", Text: "Order {{order.id}} for {{name}}"}
	code := &Template{ID: "tpl_C", Slug: "code", Channel: ChannelSMS, Version: 1, Body: "Code {{code}} for {{ user.name }}"}
	// A pre-filled lookup stands in for the store.
	lookup := func() templateLookup { return templateLookup{"welcome": welcome, "code": code, "gone": nil} }
	vars := map[string]any{"name": "Ada & <Bob>", "footer": "<b>f</b>", "order": map[string]any{"id": 42.0}}

	got, err := c.applyEmailTemplate(ctx, p, &EmailRequest{Template: "welcome", Variables: vars}, lookup())
	require.NoError(t, err)
	require.Equal(t, "Hi Ada & <Bob> <3", got.Subject, "subject is raw")
	require.Equal(t, "<p>Ada &amp; &lt;Bob&gt; <b>f</b></p>", got.HTML, "html escapes {{}}, not {{{}}}")
	require.Equal(t, "Order 42 for Ada & <Bob>", got.Text, "text is raw")

	// Fields of the call win, and the variables only they would have needed are not required.
	got, err = c.applyEmailTemplate(ctx, p, &EmailRequest{Template: "welcome", Subject: "Mine {{name}}", Text: "plain",
		Variables: map[string]any{"name": "N", "footer": ""}}, lookup())
	require.NoError(t, err)
	require.Equal(t, "Mine {{name}}", got.Subject, "call fields are not templates")
	require.Equal(t, "plain", got.Text)
	require.Equal(t, "<p>N </p>", got.HTML)

	// Every missing name, once, in order, as a path into variables.
	_, err = c.applyEmailTemplate(ctx, p, &EmailRequest{Template: "welcome", Variables: map[string]any{"footer": "x"}}, lookup())
	e := AsError(err)
	require.Equal(t, CodeTemplateMissingVariables, e.Code)
	require.Equal(t, []FieldError{
		{Path: []any{"variables", "name"}, Code: FieldRequired, Message: "Required by template welcome"},
		{Path: []any{"variables", "order", "id"}, Code: FieldRequired, Message: "Required by template welcome"},
	}, e.Fields)
	require.Contains(t, e.Message, "name, order.id")

	smsGot, err := c.applySMSTemplate(ctx, p, &SMSRequest{Template: "code", Variables: map[string]any{"code": "1234", "user": map[string]any{"name": "<A>"}}}, lookup())
	require.NoError(t, err)
	require.Equal(t, "Code 1234 for <A>", smsGot.Body, "SMS bodies are never escaped")
	smsGot, err = c.applySMSTemplate(ctx, p, &SMSRequest{Template: "code", Body: "override"}, lookup())
	require.NoError(t, err)
	require.Equal(t, "override", smsGot.Body)

	bad := []struct {
		name string
		run  func() error
		path []any
	}{
		{"unknown slug", func() error {
			_, err := c.applyEmailTemplate(ctx, p, &EmailRequest{Template: "gone"}, lookup())
			return err
		}, []any{"template"}},
		{"not a slug", func() error {
			_, err := c.applyEmailTemplate(ctx, p, &EmailRequest{Template: "Not A Slug"}, lookup())
			return err
		}, []any{"template"}},
		{"sms template for email", func() error {
			_, err := c.applyEmailTemplate(ctx, p, &EmailRequest{Template: "code"}, lookup())
			return err
		}, []any{"template"}},
		{"email template for sms", func() error {
			_, err := c.applySMSTemplate(ctx, p, &SMSRequest{Template: "welcome"}, lookup())
			return err
		}, []any{"template"}},
		{"variables without template", func() error {
			_, err := c.applyEmailTemplate(ctx, p, &EmailRequest{Variables: map[string]any{"a": 1.0}}, lookup())
			return err
		}, []any{"variables"}},
	}
	for _, tc := range bad {
		require.Equal(t, [][]any{tc.path}, fieldPaths(t, tc.run()), tc.name)
	}

	// A request without template passes through untouched.
	req := &EmailRequest{Subject: "s"}
	got, err = c.applyEmailTemplate(ctx, p, req, nil)
	require.NoError(t, err)
	require.Same(t, req, got)
}

func TestBulkPaths(t *testing.T) {
	t.Parallel()
	var v Validation
	v.Add(FieldInvalidString, "invalid email address", "to", 0)
	v.Add(FieldRequired, "Required", "subject")
	err := bulkPaths(v.Err(), 7)
	require.Equal(t, [][]any{{"to", 7}, {"subject"}}, fieldPaths(t, err))
	require.Equal(t, [][]any{{"to", 0}, {"subject"}}, fieldPaths(t, v.Err()), "the original is not changed")
	require.NoError(t, bulkPaths(nil, 3))
}

func TestBatchSize(t *testing.T) {
	t.Parallel()
	require.NoError(t, batchSize(1, nil))
	require.NoError(t, batchSize(MaxBatch, nil))
	err := batchSize(MaxBatch+1, nil, []any{}...)
	e := AsError(err)
	require.Equal(t, CodeValidation, e.Code)
	require.Equal(t, "a batch holds at most 100 messages, this one has 101: split it (or use an audience for large sends)", e.Message)
	require.Equal(t, []any{}, e.Fields[0].Path, "the whole body")
	require.Equal(t, [][]any{{"to"}}, fieldPaths(t, batchSize(0, nil, "to")))
}
