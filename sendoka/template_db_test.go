package sendoka_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func ptr[T any](v T) *T { return &v }

func TestTemplateCRUD(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		c := b.client

		tpl, err := c.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{
			Slug: "welcome-v2", Channel: sendoka.ChannelEmail, Name: "Welcome",
			Subject: "Welcome, {{name}}", HTML: "<p>{{ name }} on {{plan}}</p>", Text: "{{name}}: {{order.id}}",
		})
		require.NoError(t, err)
		require.Regexp(t, `^tpl_[0-9A-Z]{26}$`, tpl.ID)
		require.Equal(t, []string{"name", "plan", "order.id"}, tpl.Variables)
		require.Equal(t, 1, tpl.Version)

		// By id and by slug, the same template.
		for _, ref := range []string{tpl.ID, "welcome-v2"} {
			got, err := c.GetTemplate(ctx, b.p, ref)
			require.NoError(t, err)
			require.Equal(t, tpl, got)
		}

		// A taken slug is a conflict, as every taken name is (README, "Errors").
		_, err = c.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{Slug: "welcome-v2", Channel: sendoka.ChannelEmail, HTML: "x"})
		requireCode(t, sendoka.CodeConflict, err)
		require.Contains(t, err.Error(), "welcome-v2")

		// Other save-time errors are 422s with the field's path.
		bad := []struct {
			req  sendoka.TemplateRequest
			path []any
		}{
			{sendoka.TemplateRequest{Slug: "Bad Slug", Channel: sendoka.ChannelEmail, HTML: "x"}, []any{"slug"}},
			{sendoka.TemplateRequest{Slug: "x", Channel: "fax", HTML: "x"}, []any{"channel"}},
			{sendoka.TemplateRequest{Slug: "x", Channel: sendoka.ChannelEmail, HTML: "Hi {{name"}, []any{"html"}},
			{sendoka.TemplateRequest{Slug: "x", Channel: sendoka.ChannelSMS}, []any{"body"}},
		}
		for _, tc := range bad {
			_, err := c.CreateTemplate(ctx, b.p, &tc.req)
			requireCode(t, sendoka.CodeValidation, err)
			require.Contains(t, paths(err), tc.path, "%+v", tc.req)
		}

		// PATCH: nil leaves a field, "" clears it; variables follow the content.
		upd, err := c.UpdateTemplate(ctx, b.p, "welcome-v2", &sendoka.TemplateUpdate{
			Subject: ptr("Hello {{first}}"), Text: ptr(""),
		})
		require.NoError(t, err)
		require.Equal(t, "Hello {{first}}", upd.Subject)
		require.Equal(t, tpl.HTML, upd.HTML)
		require.Empty(t, upd.Text)
		require.Equal(t, "Welcome", upd.Name)
		require.Equal(t, []string{"first", "name", "plan"}, upd.Variables)
		require.Equal(t, 2, upd.Version)
		require.Equal(t, tpl.CreatedAt, upd.CreatedAt)
		_, err = c.UpdateTemplate(ctx, b.p, tpl.ID, &sendoka.TemplateUpdate{HTML: ptr("{{oops")})
		require.Equal(t, [][]any{{"html"}}, paths(requireCode(t, sendoka.CodeValidation, err)))
		_, err = c.UpdateTemplate(ctx, b.p, tpl.ID, &sendoka.TemplateUpdate{HTML: ptr("")})
		requireCode(t, sendoka.CodeValidation, err) // neither html nor text would be left

		// Renaming the slug: the old one is gone, a taken one is refused.
		_, err = c.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{Slug: "other", Channel: sendoka.ChannelSMS, Body: "hi"})
		require.NoError(t, err)
		_, err = c.UpdateTemplate(ctx, b.p, tpl.ID, &sendoka.TemplateUpdate{Slug: ptr("other")})
		requireCode(t, sendoka.CodeConflict, err)
		_, err = c.UpdateTemplate(ctx, b.p, tpl.ID, &sendoka.TemplateUpdate{Slug: ptr("welcome-v3")})
		require.NoError(t, err)
		_, err = c.GetTemplate(ctx, b.p, "welcome-v2")
		requireCode(t, sendoka.CodeNotFound, err)

		// Another org sees none of it.
		stranger := sendoka.SystemPrincipal("org_stranger", sendoka.ModeTest)
		_, err = c.GetTemplate(ctx, stranger, tpl.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = c.UpdateTemplate(ctx, stranger, tpl.ID, &sendoka.TemplateUpdate{Name: ptr("x")})
		requireCode(t, sendoka.CodeNotFound, err)
		requireCode(t, sendoka.CodeNotFound, c.DeleteTemplate(ctx, stranger, tpl.ID))
		list, err := c.ListTemplates(ctx, stranger, sendoka.TemplateListParams{})
		require.NoError(t, err)
		require.Empty(t, list.Templates)

		// Managing templates takes full access; a sending key may read them.
		sender := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeTest, Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}}
		_, err = c.CreateTemplate(ctx, sender, &sendoka.TemplateRequest{Slug: "y", Channel: sendoka.ChannelSMS, Body: "x"})
		requireCode(t, sendoka.CodeInsufficientScope, err)
		_, err = c.GetTemplate(ctx, sender, "other")
		require.NoError(t, err)

		require.NoError(t, c.DeleteTemplate(ctx, b.p, "welcome-v3"))
		_, err = c.GetTemplate(ctx, b.p, tpl.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		requireCode(t, sendoka.CodeNotFound, c.DeleteTemplate(ctx, b.p, tpl.ID))
	})
}

func TestTemplateList(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		var want []string
		for i := range 5 {
			req := &sendoka.TemplateRequest{Slug: fmt.Sprintf("t%d", i), Channel: sendoka.ChannelEmail, Text: "x"}
			if i%2 == 1 {
				req.Channel, req.Text, req.Body = sendoka.ChannelSMS, "", "y"
			}
			tpl, err := b.client.CreateTemplate(ctx, b.p, req)
			require.NoError(t, err)
			want = append([]string{tpl.ID}, want...) // newest first
		}
		var got []string
		lp := sendoka.TemplateListParams{Limit: 2}
		for range 5 {
			page, err := b.client.ListTemplates(ctx, b.p, lp)
			require.NoError(t, err)
			for _, tpl := range page.Templates {
				got = append(got, tpl.ID)
			}
			if !page.HasMore {
				require.Empty(t, page.NextCursor)
				break
			}
			lp.Cursor = page.NextCursor
		}
		require.Equal(t, want, got)

		page, err := b.client.ListTemplates(ctx, b.p, sendoka.TemplateListParams{Channel: sendoka.ChannelSMS})
		require.NoError(t, err)
		require.Len(t, page.Templates, 2)

		for _, lp := range []sendoka.TemplateListParams{{Limit: 101}, {Cursor: "!!"}, {Channel: "fax"}} {
			_, err := b.client.ListTemplates(ctx, b.p, lp)
			requireCode(t, sendoka.CodeValidation, err)
		}
	})
}

func TestSendWithTemplate(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		_, err := b.client.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{
			Slug: "order_shipped", Channel: sendoka.ChannelEmail,
			Subject: "Order {{order_id}} shipped", HTML: `<p>Hi {{name}}, <a href="{{tracking_url}}">track it</a>{{{footer}}}</p>`,
			Text: "Hi {{name}}, track it at {{tracking_url}}",
		})
		require.NoError(t, err)

		req := b.email("user@example.com")
		req.Subject, req.Text = "", ""
		req.Template = "order_shipped"
		req.Variables = map[string]any{"order_id": "ord_abc123", "name": "Ann & <Co>",
			"tracking_url": "https://track.example.com/ord_abc123?a=1&b=2", "footer": "<hr>"}
		m, err := b.client.SendEmail(ctx, b.p, req)
		require.NoError(t, err)
		stored := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, "Order ord_abc123 shipped", stored.Email.Subject)
		require.Equal(t, `<p>Hi Ann &amp; &lt;Co&gt;, <a href="https://track.example.com/ord_abc123?a=1&amp;b=2">track it</a><hr></p>`, stored.Email.HTML)
		require.Equal(t, "Hi Ann & <Co>, track it at https://track.example.com/ord_abc123?a=1&b=2", stored.Email.Text)

		// Missing variables: one error per name, nothing stored.
		req.Variables = map[string]any{"name": "x"}
		_, err = b.client.SendEmail(ctx, b.p, req)
		e := requireCode(t, sendoka.CodeTemplateMissingVariables, err)
		require.Equal(t, [][]any{{"variables", "order_id"}, {"variables", "tracking_url"}, {"variables", "footer"}}, paths(e))

		// Unknown slug, or an SMS template for an email.
		_, err = b.client.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{Slug: "sms-code", Channel: sendoka.ChannelSMS, Body: "{{code}}"})
		require.NoError(t, err)
		for _, slug := range []string{"nope", "sms-code"} {
			r := b.email("user@example.com")
			r.Template = slug
			_, err = b.client.SendEmail(ctx, b.p, r)
			require.Equal(t, [][]any{{"template"}}, paths(requireCode(t, sendoka.CodeValidation, err)), slug)
		}

		// The subject is validated after rendering: a variable cannot inject a header.
		req.Variables = map[string]any{"order_id": "1\r\nBcc: evil@example.com", "name": "x", "tracking_url": "u", "footer": ""}
		_, err = b.client.SendEmail(ctx, b.p, req)
		require.Contains(t, paths(requireCode(t, sendoka.CodeValidation, err)), []any{"subject"})

		// A later edit changes later sends, never the stored message. Another node's client
		// renders the new version although it cached the old one.
		other := b.newClient(t)
		req.Variables = map[string]any{"order_id": "2", "name": "x", "tracking_url": "u", "footer": ""}
		_, err = other.SendEmail(ctx, b.p, req) // caches version 1 on the other node
		require.NoError(t, err)
		_, err = b.client.UpdateTemplate(ctx, b.p, "order_shipped", &sendoka.TemplateUpdate{Subject: ptr("v2 {{order_id}}")})
		require.NoError(t, err)
		for _, c := range []*sendoka.Client{b.client, other} {
			m2, err := c.SendEmail(ctx, b.p, req)
			require.NoError(t, err)
			require.Equal(t, "v2 2", b.get(t, sendoka.ChannelEmail, m2.ID).Email.Subject)
		}
		require.Equal(t, "Order ord_abc123 shipped", b.get(t, sendoka.ChannelEmail, m.ID).Email.Subject)

		// Once deleted, the slug is unknown at send time.
		require.NoError(t, b.client.DeleteTemplate(ctx, b.p, "order_shipped"))
		_, err = other.SendEmail(ctx, b.p, req)
		require.Equal(t, [][]any{{"template"}}, paths(requireCode(t, sendoka.CodeValidation, err)))
	})
}
