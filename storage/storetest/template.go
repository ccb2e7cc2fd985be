package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testTemplates runs the template subtests (TemplateStore and TemplateTx) on one store.
func testTemplates(t *testing.T, b *bundle) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *bundle)
	}{
		{"RoundTrip", testTemplateRoundTrip},
		{"Namespaces", testTemplateNamespaces},
		{"SlugUnique", testTemplateSlugUnique},
		{"List", testTemplateList},
		{"Update", testTemplateUpdate},
		{"Delete", testTemplateDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

// newTemplate returns an email template of org (and tenant) with the given slug.
func newTemplate(org, tenant, slug string, b *bundle, n int) *sendoka.Template {
	return &sendoka.Template{
		ID: sendoka.NewID(sendoka.PrefixTemplate, b.at(n)), OrgID: org, TenantID: tenant, Slug: slug,
		Channel: sendoka.ChannelEmail, Subject: "Hi {{name}}", HTML: "<p>{{name}}</p>",
		Variables: []string{"name"}, Version: 1, CreatedAt: b.at(n), UpdatedAt: b.at(n),
	}
}

func (b *bundle) insertTemplate(t *testing.T, tpls ...*sendoka.Template) {
	t.Helper()
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		for _, tpl := range tpls {
			if err := tx.InsertTemplate(ctx, tpl); err != nil {
				return err
			}
		}
		return nil
	})
}

func testTemplateRoundTrip(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	email := newTemplate(org, "", "welcome-v2", b, 1)
	email.Name = "Welcome ✓"
	email.Text = "Hi {{ name }}, order {{order.id}}"
	email.Variables = []string{"name", "order.id"}
	sms := &sendoka.Template{
		ID: sendoka.NewID(sendoka.PrefixTemplate, b.at(2)), OrgID: org, TenantID: "ten_acme", Slug: "code",
		Channel: sendoka.ChannelSMS, Body: "Your code is {{code}}", Variables: []string{"code"},
		Version: 7, CreatedAt: b.at(2), UpdatedAt: b.at(3),
	}
	noVars := newTemplate(org, "", "static", b, 4)
	noVars.Subject, noVars.HTML, noVars.Variables = "Static", "<p>static</p>", []string{}
	b.insertTemplate(t, email, sms, noVars)

	ctx := b.ctx(t)
	for _, want := range []*sendoka.Template{email, sms, noVars} {
		scope := sendoka.Scope{OrgID: want.OrgID, TenantID: want.TenantID}
		got, err := b.store.GetTemplate(ctx, scope, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, "UTC", got.CreatedAt.Location().String())
		got, err = b.store.GetTemplateBySlug(ctx, scope, want.Slug)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := b.store.GetTemplate(ctx, sendoka.Scope{OrgID: org}, "tpl_nope")
	requireCode(t, sendoka.CodeNotFound, err)
	_, err = b.store.GetTemplateBySlug(ctx, sendoka.Scope{OrgID: org}, "nope")
	requireCode(t, sendoka.CodeNotFound, err)
}

func testTemplateNamespaces(t *testing.T, b *bundle) {
	orgA := sendoka.NewID(sendoka.PrefixOrg, b.at(1))
	orgB := sendoka.NewID(sendoka.PrefixOrg, b.at(2))
	root := newTemplate(orgA, "", "welcome", b, 1)
	tenant := newTemplate(orgA, "ten_1", "welcome", b, 2)
	other := newTemplate(orgB, "", "welcome", b, 3)
	b.insertTemplate(t, root, tenant, other)

	ctx := b.ctx(t)
	cases := []struct {
		scope sendoka.Scope
		sees  *sendoka.Template
		not   []*sendoka.Template
	}{
		// The org-level namespace does not include the tenants' templates.
		{sendoka.Scope{OrgID: orgA}, root, []*sendoka.Template{tenant, other}},
		{sendoka.Scope{OrgID: orgA, TenantID: "ten_1"}, tenant, []*sendoka.Template{root, other}},
		{sendoka.Scope{OrgID: orgB}, other, []*sendoka.Template{root, tenant}},
		{sendoka.Scope{OrgID: orgB, TenantID: "ten_1"}, nil, []*sendoka.Template{root, tenant, other}},
	}
	for _, tc := range cases {
		got, err := b.store.GetTemplateBySlug(ctx, tc.scope, "welcome")
		if tc.sees == nil {
			requireCode(t, sendoka.CodeNotFound, err)
		} else {
			require.NoError(t, err)
			require.Equal(t, tc.sees.ID, got.ID, "%+v", tc.scope)
		}
		for _, n := range tc.not {
			_, err := b.store.GetTemplate(ctx, tc.scope, n.ID)
			requireCode(t, sendoka.CodeNotFound, err)
		}
		page, err := b.store.ListTemplates(ctx, tc.scope, sendoka.TemplateQuery{Limit: 100})
		require.NoError(t, err)
		var want []string
		if tc.sees != nil {
			want = []string{tc.sees.ID}
		}
		require.Equal(t, want, templateIDs(page.Templates), "%+v", tc.scope)
	}
}

func testTemplateSlugUnique(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	b.insertTemplate(t, newTemplate(org, "", "welcome", b, 1))
	err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
		return tx.InsertTemplate(ctx, newTemplate(org, "", "welcome", b, 2))
	})
	requireCode(t, sendoka.CodeConflict, err)
	// Same slug, another namespace: fine.
	b.insertTemplate(t, newTemplate(org, "ten_1", "welcome", b, 3), newTemplate(org, "ten_2", "welcome", b, 4))
	err = b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
		return tx.InsertTemplate(ctx, newTemplate(org, "ten_1", "welcome", b, 5))
	})
	requireCode(t, sendoka.CodeConflict, err)
}

func testTemplateList(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	var all []*sendoka.Template
	for i := range 7 {
		tpl := newTemplate(org, "", fmt.Sprintf("t%d", i), b, i/2) // pairs share a created_at
		if i%3 == 0 {
			tpl.Channel, tpl.Subject, tpl.HTML, tpl.Body = sendoka.ChannelSMS, "", "", "x"
		}
		all = append(all, tpl)
	}
	b.insertTemplate(t, all...)
	// Newest first: created_at, then id, descending.
	want := make([]string, 0, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		want = append(want, all[i].ID)
	}
	sortNewestFirst(all, want)

	ctx := b.ctx(t)
	scope := sendoka.Scope{OrgID: org}
	var got []string
	q := sendoka.TemplateQuery{Limit: 3}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		page, err := b.store.ListTemplates(ctx, scope, q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Templates), 3)
		got = append(got, templateIDs(page.Templates)...)
		if !page.HasMore {
			break
		}
		last := page.Templates[len(page.Templates)-1]
		q.After = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	require.Equal(t, want, got)

	page, err := b.store.ListTemplates(ctx, scope, sendoka.TemplateQuery{Limit: 100, Channel: sendoka.ChannelSMS})
	require.NoError(t, err)
	require.False(t, page.HasMore)
	var wantSMS []string
	for _, id := range want {
		for _, tpl := range all {
			if tpl.ID == id && tpl.Channel == sendoka.ChannelSMS {
				wantSMS = append(wantSMS, id)
			}
		}
	}
	require.Len(t, wantSMS, 3)
	require.Equal(t, wantSMS, templateIDs(page.Templates))

	page, err = b.store.ListTemplates(ctx, scope, sendoka.TemplateQuery{Limit: 7})
	require.NoError(t, err)
	require.False(t, page.HasMore, "exactly a full page has no more")
	require.Len(t, page.Templates, 7)
}

// sortNewestFirst orders ids by the (CreatedAt, ID) of their templates, descending.
func sortNewestFirst(all []*sendoka.Template, ids []string) {
	byID := map[string]*sendoka.Template{}
	for _, tpl := range all {
		byID[tpl.ID] = tpl
	}
	less := func(a, b *sendoka.Template) bool { // a after b
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		return a.ID > b.ID
	}
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && less(byID[ids[j]], byID[ids[j-1]]); j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}

func testTemplateUpdate(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	tpl := newTemplate(org, "", "welcome", b, 1)
	taken := newTemplate(org, "", "taken", b, 2)
	b.insertTemplate(t, tpl, taken)

	update := func(tpl *sendoka.Template, from int) (bool, error) {
		var ok bool
		err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			ok, err = tx.UpdateTemplate(ctx, tpl, from)
			return err
		})
		return ok, err
	}
	changed := *tpl
	changed.Slug, changed.Name, changed.Subject, changed.HTML, changed.Text = "welcome-v2", "v2", "Yo {{first}}", "", "{{first}}!"
	changed.Variables = []string{"first"}
	changed.Version = 2
	changed.UpdatedAt = b.at(50)
	changed.Channel = sendoka.ChannelSMS // never written
	changed.CreatedAt = b.at(99)         // never written

	ok, err := update(&changed, 1)
	require.NoError(t, err)
	require.True(t, ok)
	got, err := b.store.GetTemplate(b.ctx(t), sendoka.Scope{OrgID: org}, tpl.ID)
	require.NoError(t, err)
	want := changed
	want.Channel, want.CreatedAt = sendoka.ChannelEmail, tpl.CreatedAt
	require.Equal(t, &want, got)

	// A stale version writes nothing.
	stale := changed
	stale.Name = "stale"
	ok, err = update(&stale, 1)
	require.NoError(t, err)
	require.False(t, ok)

	// Another namespace writes nothing.
	foreign := changed
	foreign.TenantID = "ten_1"
	ok, err = update(&foreign, 2)
	require.NoError(t, err)
	require.False(t, ok)

	// A slug taken by another template of the namespace is a conflict.
	clash := changed
	clash.Slug = "taken"
	_, err = update(&clash, 2)
	requireCode(t, sendoka.CodeConflict, err)

	got, err = b.store.GetTemplateBySlug(b.ctx(t), sendoka.Scope{OrgID: org}, "welcome-v2")
	require.NoError(t, err)
	require.Equal(t, "v2", got.Name)
	require.Equal(t, 2, got.Version)
}

func testTemplateDelete(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	tpl := newTemplate(org, "", "welcome", b, 1)
	keep := newTemplate(org, "", "keep", b, 2)
	b.insertTemplate(t, tpl, keep)
	del := func(scope sendoka.Scope, id string) error {
		return b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error { return tx.DeleteTemplate(ctx, scope, id) })
	}
	requireCode(t, sendoka.CodeNotFound, del(sendoka.Scope{OrgID: "org_other"}, tpl.ID))
	requireCode(t, sendoka.CodeNotFound, del(sendoka.Scope{OrgID: org, TenantID: "ten_1"}, tpl.ID))
	require.NoError(t, del(sendoka.Scope{OrgID: org}, tpl.ID))
	requireCode(t, sendoka.CodeNotFound, del(sendoka.Scope{OrgID: org}, tpl.ID))
	_, err := b.store.GetTemplate(b.ctx(t), sendoka.Scope{OrgID: org}, tpl.ID)
	requireCode(t, sendoka.CodeNotFound, err)
	_, err = b.store.GetTemplate(b.ctx(t), sendoka.Scope{OrgID: org}, keep.ID)
	require.NoError(t, err)
	// The slug is free again.
	b.insertTemplate(t, newTemplate(org, "", "welcome", b, 3))
}

func templateIDs(tpls []*sendoka.Template) []string {
	var out []string
	for _, tpl := range tpls {
		out = append(out, tpl.ID)
	}
	return out
}
