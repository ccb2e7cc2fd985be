package sendoka_test

import (
	"context"
	"encoding/base64"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// trackingClient is another Client on the bundle's database and queue, with tracking on.
func (b *dbBundle) trackingClient(t *testing.T, secret []byte) *sendoka.Client {
	t.Helper()
	c, err := sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, Clock: b.clock,
		Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake,
		Tracking: sendoka.TrackingConfig{BaseURL: "https://t.example.com/", Secret: secret}})
	require.NoError(t, err)
	return c
}

// deliverNow sends a message and hands it to the provider at once, returning what went out.
func (b *dbBundle) deliverNow(t *testing.T, c *sendoka.Client, req *sendoka.EmailRequest) (*sendoka.Message, *sendoka.OutboundEmail) {
	t.Helper()
	ctx := context.Background()
	m, err := c.SendEmail(ctx, b.p, req)
	require.NoError(t, err)
	require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
	for _, s := range b.fake.Sent() {
		if s.MessageID() == m.ID {
			return m, s.Email
		}
	}
	t.Fatalf("message %s did not reach the provider", m.ID)
	return nil, nil
}

var (
	clickToken = regexp.MustCompile(`https://t\.example\.com/t/c/([A-Za-z0-9_-]+)`)
	openToken  = regexp.MustCompile(`https://t\.example\.com/t/o/([A-Za-z0-9_-]+)`)
)

func TestTrackingOnTheDatabase(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		node1 := b.trackingClient(t, nil)
		node2 := b.trackingClient(t, nil)
		req := b.email("user@example.com")
		req.HTML = `<p><a href="https://example.com/a">A</a> <a href="https://example.com/b?x=1&amp;y=2">B</a></p>`
		m, out := b.deliverNow(t, node1, req)
		clicks := clickToken.FindAllStringSubmatch(out.HTML, -1)
		require.Len(t, clicks, 2, out.HTML)
		opens := openToken.FindAllStringSubmatch(out.HTML, -1)
		require.Len(t, opens, 1, out.HTML)

		// The secret was generated once and stored: another node checks the same tokens.
		url, err := node2.TrackClick(ctx, clicks[1][1], sendoka.TrackingRequest{UserAgent: "UA"})
		require.NoError(t, err)
		require.Equal(t, "https://example.com/b?x=1&y=2", url)
		require.NoError(t, node2.TrackOpen(ctx, opens[0][1], sendoka.TrackingRequest{}))

		// A client with another secret refuses them.
		other := b.trackingClient(t, []byte("another secret, configured by hand"))
		_, err = other.TrackClick(ctx, clicks[0][1], sendoka.TrackingRequest{})
		requireCode(t, sendoka.CodeNotFound, err)
		requireCode(t, sendoka.CodeNotFound, other.TrackOpen(ctx, opens[0][1], sendoka.TrackingRequest{}))

		got := b.get(t, sendoka.ChannelEmail, m.ID)
		types := eventTypes(got)
		require.Len(t, types, 4)
		require.Equal(t, []sendoka.EventType{sendoka.EventQueued, sendoka.EventSent}, types[:2])
		require.ElementsMatch(t, []sendoka.EventType{sendoka.EventClicked, sendoka.EventOpened}, types[2:])
		require.Equal(t, sendoka.StatusSent, got.Status, "opens and clicks never move the status")
		click := got.Events[2]
		if click.Type != sendoka.EventClicked {
			click = got.Events[3]
		}
		require.Equal(t, map[string]any{"url": "https://example.com/b?x=1&y=2", "link": float64(1), "user_agent": "UA"}, click.Data)

		// A retried delivery stores the same links again without error, and the first stay.
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.InsertLinks(ctx, &sendoka.Link{MessageID: m.ID, Position: 0, URL: "https://evil.test/", CreatedAt: time.Now()})
		}))
		url, err = node1.TrackClick(ctx, clicks[0][1], sendoka.TrackingRequest{})
		require.NoError(t, err)
		require.Equal(t, "https://example.com/a", url)
	})
}

func TestTrackingEventsAreBounded(t *testing.T) {
	t.Parallel()
	db := bunstoretest.Open(t, bunstore.DialectSQLite)
	b := newDBBundle(t, db)
	ctx := context.Background()
	c := b.trackingClient(t, []byte("0123456789abcdef0123456789abcdef"))
	req := b.email("user@example.com")
	req.HTML = "<p>hi</p>"
	m, out := b.deliverNow(t, c, req)
	open := openToken.FindStringSubmatch(out.HTML)[1]
	filler := make([]*sendoka.Event, sendoka.MaxTrackingEvents-1)
	for i := range filler {
		filler[i] = &sendoka.Event{ID: sendoka.NewID(sendoka.PrefixEvent, time.Now()), OrgID: m.OrgID, MessageID: m.ID,
			Type: sendoka.EventOpened, CreatedAt: time.Now().UTC()}
	}
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertEvents(ctx, filler...) }))
	for range 3 {
		require.NoError(t, c.TrackOpen(ctx, open, sendoka.TrackingRequest{}), "the pixel still answers")
	}
	opened := 0
	for _, e := range b.get(t, sendoka.ChannelEmail, m.ID).Events {
		if e.Type == sendoka.EventOpened {
			opened++
		}
	}
	require.Equal(t, sendoka.MaxTrackingEvents, opened, "recorded up to the bound, no further")
}

func TestAttachmentsReachTheProvider(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		content := make([]byte, 300<<10)
		for i := range content {
			content[i] = byte(i)
		}
		req := b.email("user@example.com")
		req.HTML = `<p><img src="cid:chart"></p>`
		req.Attachments = []sendoka.AttachmentRequest{
			{Filename: "data.bin", Content: base64.StdEncoding.EncodeToString(content)},
			{Filename: "chart.png", Content: base64.StdEncoding.EncodeToString([]byte("png")), ContentID: "chart"},
		}
		m, out := b.deliverNow(t, b.client, req)
		require.Len(t, out.Attachments, 2)
		require.Equal(t, sendoka.Attachment{Filename: "data.bin", ContentType: "application/octet-stream", Size: len(content), Content: content}, out.Attachments[0])
		require.Equal(t, sendoka.Attachment{Filename: "chart.png", ContentType: "image/png", ContentID: "chart", Size: 3, Content: []byte("png")}, out.Attachments[1])
		require.Equal(t, req.HTML, out.HTML, "no tracking without a base URL")

		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Len(t, got.Email.Attachments, 2)
		require.Nil(t, got.Email.Attachments[0].Content, "reads never carry the content")
		require.Equal(t, len(content), got.Email.Attachments[0].Size)
	})
}
