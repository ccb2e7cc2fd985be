package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testEmail runs the email subtests (EmailStore and EmailTx) on one store.
func testEmail(t *testing.T, b *bundle) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *bundle)
	}{
		{"Attachments", testAttachments},
		{"AttachmentsRollback", testAttachmentsRollback},
		{"Links", testLinks},
		{"EnsureSecret", testEnsureSecret},
		{"CountEvents", testCountEvents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

func (b *bundle) attachmentContents(t *testing.T, id string) [][]byte {
	t.Helper()
	var out [][]byte
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		out, err = tx.AttachmentContents(ctx, id)
		return err
	})
	return out
}

func testAttachments(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	binary := make([]byte, 256<<10) // every byte value, NULs included
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	with := newEmail(org, "", b.at(0))
	with.Email.Attachments = []sendoka.Attachment{
		{Filename: "report ü.pdf", ContentType: "application/pdf", Size: len(binary), Content: binary},
		{Filename: "logo.png", ContentType: "image/png", ContentID: "logo@acme", Size: 4, Content: []byte("\x89PNG")},
		{Filename: "empty.txt", ContentType: "text/plain", Size: 0, Content: []byte{}},
	}
	without := newEmail(org, "", b.at(1))
	b.insert(t, with, without) // one InsertMessages call, as a batch send makes it

	got := b.get(t, sendoka.Scope{OrgID: org}, with.ID)
	want := make([]sendoka.Attachment, len(with.Email.Attachments))
	for i, a := range with.Email.Attachments {
		a.Content = nil // reads never load contents
		want[i] = a
	}
	require.Equal(t, want, got.Email.Attachments)
	page := b.list(t, sendoka.Scope{OrgID: org}, sendoka.MessageQuery{})
	require.Len(t, page.Messages, 2)
	for _, m := range page.Messages {
		for _, a := range m.Email.Attachments {
			require.Nil(t, a.Content, "ListMessages must not load attachment contents")
		}
	}

	contents := b.attachmentContents(t, with.ID)
	require.Len(t, contents, 3)
	require.Equal(t, binary, contents[0])
	require.Equal(t, []byte("\x89PNG"), contents[1])
	require.Empty(t, contents[2])
	require.Nil(t, b.attachmentContents(t, without.ID))
	require.Nil(t, b.attachmentContents(t, "msg_unknown"))
}

func testAttachmentsRollback(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	m := newEmail(org, "", b.at(0))
	m.Email.Attachments = []sendoka.Attachment{{Filename: "a.txt", ContentType: "text/plain", Size: 1, Content: []byte("a")}}
	boom := fmt.Errorf("boom")
	err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
		if err := tx.InsertMessages(ctx, m); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Nil(t, b.attachmentContents(t, m.ID), "attachments roll back with their message")
	// The same message inserts cleanly afterwards: nothing was left behind.
	b.insert(t, m)
	require.Equal(t, [][]byte{[]byte("a")}, b.attachmentContents(t, m.ID))
}

func testLinks(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	m := newEmail(org, "ten_a", b.at(0))
	b.insert(t, m)
	links := []*sendoka.Link{
		{MessageID: m.ID, Position: 0, URL: "https://example.com/a?x=1&y=ü", CreatedAt: b.at(1)},
		{MessageID: m.ID, Position: 1, URL: "http://example.com/b#frag", CreatedAt: b.at(1)},
	}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertLinks(ctx, links...) })
	// A retried delivery inserts again; what was stored first stays.
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.InsertLinks(ctx, &sendoka.Link{MessageID: m.ID, Position: 0, URL: "https://evil.test/", CreatedAt: b.at(2)})
	})
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertLinks(ctx) })

	for _, want := range links {
		got, err := b.store.GetLink(b.ctx(t), m.ID, want.Position)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := b.store.GetLink(b.ctx(t), m.ID, 2)
	requireCode(t, sendoka.CodeNotFound, err)
	_, err = b.store.GetLink(b.ctx(t), "msg_unknown", 0)
	requireCode(t, sendoka.CodeNotFound, err)
}

func testEnsureSecret(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	first, err := b.store.EnsureSecret(ctx, "tracking", []byte("one\x00\xff"))
	require.NoError(t, err)
	require.Equal(t, []byte("one\x00\xff"), first)
	again, err := b.store.EnsureSecret(ctx, "tracking", []byte("two"))
	require.NoError(t, err)
	require.Equal(t, first, again, "a stored secret is never replaced")

	// Processes starting together: one value wins, everyone gets it.
	const n = 8
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := b.store.EnsureSecret(ctx, "other", fmt.Appendf(nil, "value-%d", i))
			if err == nil {
				got[i] = v
			}
		})
	}
	wg.Wait()
	for i := range n {
		require.NotNil(t, got[i], "call %d failed", i)
		require.Equal(t, got[0], got[i])
	}
}

func testCountEvents(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	m, other := newEmail(org, "", b.at(0)), newEmail(org, "", b.at(1))
	b.insert(t, m, other)
	ev := func(msg *sendoka.Message, typ sendoka.EventType, n int) *sendoka.Event {
		return &sendoka.Event{ID: sendoka.NewID(sendoka.PrefixEvent, b.at(n)), OrgID: org, MessageID: msg.ID, Type: typ, CreatedAt: b.at(n)}
	}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.InsertEvents(ctx, ev(m, sendoka.EventQueued, 1), ev(m, sendoka.EventOpened, 2), ev(m, sendoka.EventOpened, 3),
			ev(m, sendoka.EventClicked, 4), ev(other, sendoka.EventOpened, 5))
	})
	count := func(id string, types ...sendoka.EventType) int {
		var n int
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			n, err = tx.CountEvents(ctx, id, types...)
			return err
		})
		return n
	}
	require.Equal(t, 3, count(m.ID, sendoka.EventOpened, sendoka.EventClicked))
	require.Equal(t, 2, count(m.ID, sendoka.EventOpened))
	require.Equal(t, 4, count(m.ID))
	require.Equal(t, 1, count(other.ID, sendoka.EventOpened))
	require.Equal(t, 0, count("msg_unknown", sendoka.EventOpened))
}
