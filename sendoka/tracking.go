package sendoka

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// TrackingConfig turns on open and click tracking of email.
type TrackingConfig struct {
	// BaseURL is the public address of the HTTP host that serves /t/o/{token} (the open
	// pixel) and /t/c/{token} (the click redirect), for example https://mail.example.com
	// (SENDOKA_PUBLIC_URL). Empty disables tracking: messages go out as written, whatever
	// track_opens and track_clicks say.
	BaseURL string
	// Secret signs the tokens. Empty: a random 32-byte secret is generated on first use and
	// kept in the Store (EnsureSecret "tracking"), so every process sharing the database
	// signs and checks alike, and links keep working across restarts.
	Secret []byte
}

// MaxTrackingEvents bounds the opens and clicks recorded per message; later ones still get
// their pixel or redirect, unrecorded, so a crawler cannot grow the timeline without end.
const MaxTrackingEvents = 1000

// tracker signs and checks tracking tokens.
type tracker struct {
	base   string // BaseURL without its trailing slash
	secret []byte // configured; nil means the stored one

	mu  sync.Mutex
	key []byte // the HMAC key, derived once
}

func newTracker(cfg TrackingConfig) (*tracker, error) {
	t := &tracker{base: strings.TrimRight(cfg.BaseURL, "/"), secret: cfg.Secret}
	if t.base != "" {
		u, err := url.Parse(t.base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("sendoka: Tracking.BaseURL %q is not an absolute http(s) URL", cfg.BaseURL)
		}
	}
	return t, nil
}

func (t *tracker) enabled() bool { return t != nil && t.base != "" }

// hmacKey returns the token signing key, loading or creating the stored secret the first
// time when none is configured. The key is derived from the secret, so the same secret can
// later sign other things without one signature standing for another.
func (t *tracker) hmacKey(ctx context.Context, store Store) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.key != nil {
		return t.key, nil
	}
	secret := t.secret
	if len(secret) == 0 {
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
		stored, err := store.EnsureSecret(ctx, "tracking", fresh)
		if err != nil {
			return nil, fmt.Errorf("tracking secret: %w", err)
		}
		secret = stored
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("sendoka tracking token v1"))
	t.key = mac.Sum(nil)
	return t.key, nil
}

// Token kinds.
const (
	tokenOpen  = 'o'
	tokenClick = 'c'
)

const tokenMACLen = 16 // 128 bits of HMAC-SHA256

// token returns the opaque token for a message's pixel (kind 'o') or one of its links
// (kind 'c', pos the link's position): base64url of kind, position, message id and a MAC.
// It names the link; the URL itself is looked up, so a token cannot point anywhere else.
func makeToken(key []byte, kind byte, messageID string, pos int) string {
	b := make([]byte, 0, 1+binary.MaxVarintLen32+len(messageID)+tokenMACLen)
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(pos))
	b = append(b, messageID...)
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	b = mac.Sum(b)[:len(b)+tokenMACLen]
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseToken checks a token's MAC and returns what it names.
func parseToken(key []byte, token string) (kind byte, messageID string, pos int, ok bool) {
	if len(token) > 200 {
		return 0, "", 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	// Only the token's own spelling: the decoder skips line breaks, and ignores the unused
	// low bits of the last character, so other strings would decode to the same bytes.
	if err != nil || len(b) < 2+tokenMACLen || base64.RawURLEncoding.EncodeToString(b) != token {
		return 0, "", 0, false
	}
	payload, sum := b[:len(b)-tokenMACLen], b[len(b)-tokenMACLen:]
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	if !hmac.Equal(mac.Sum(nil)[:tokenMACLen], sum) {
		return 0, "", 0, false
	}
	p, n := binary.Uvarint(payload[1:])
	if n <= 0 || p > MaxTrackedLinks {
		return 0, "", 0, false
	}
	return payload[0], string(payload[1+n:]), int(p), true
}

// TrackingRequest describes who fetched a tracking URL.
type TrackingRequest struct {
	UserAgent string
}

// TrackOpen records that a message was opened: its pixel, /t/o/{token}, was fetched. A token
// that is malformed, tampered with, or names no message is CodeNotFound.
func (c *Client) TrackOpen(ctx context.Context, token string, r TrackingRequest) error {
	key, err := c.tracking.hmacKey(ctx, c.store)
	if err != nil {
		return AsError(err)
	}
	kind, id, _, ok := parseToken(key, token)
	if !ok || kind != tokenOpen {
		return NotFound("tracking link")
	}
	return c.recordTracking(ctx, id, EventOpened, trackingData(r, nil))
}

// TrackClick records a click on a tracked link, /t/c/{token}, and returns where the link
// goes: the URL stored when the message was sent. A token that is malformed, tampered with,
// or names no stored link is CodeNotFound. When the link is known but recording the click
// fails, TrackClick returns the URL and the error: the reader should still get where they
// were going.
func (c *Client) TrackClick(ctx context.Context, token string, r TrackingRequest) (string, error) {
	key, err := c.tracking.hmacKey(ctx, c.store)
	if err != nil {
		return "", AsError(err)
	}
	kind, id, pos, ok := parseToken(key, token)
	if !ok || kind != tokenClick {
		return "", NotFound("tracking link")
	}
	link, err := c.store.GetLink(ctx, id, pos)
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			return "", NotFound("tracking link")
		}
		return "", AsError(err)
	}
	err = c.recordTracking(ctx, id, EventClicked, trackingData(r, map[string]any{"url": link.URL, "link": pos}))
	if ErrorCode(err) == CodeNotFound {
		return "", NotFound("tracking link")
	}
	return link.URL, err
}

func trackingData(r TrackingRequest, data map[string]any) map[string]any {
	if data == nil {
		data = map[string]any{}
	}
	if ua := strings.ToValidUTF8(r.UserAgent, ""); ua != "" {
		if len(ua) > 512 {
			ua = ua[:512]
		}
		data["user_agent"] = ua
	}
	if len(data) == 0 {
		return nil
	}
	return data
}

// recordTracking appends an open or click event, up to MaxTrackingEvents per message.
func (c *Client) recordTracking(ctx context.Context, messageID string, typ EventType, data map[string]any) error {
	now := c.now()
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		m, err := tx.GetMessage(ctx, messageID)
		if err != nil {
			return err
		}
		n, err := tx.CountEvents(ctx, messageID, EventOpened, EventClicked)
		if err != nil || n >= MaxTrackingEvents {
			return err
		}
		ev := c.newEvent(m, typ, "", nil, now)
		ev.Data = data
		return c.recordEvents(ctx, tx, ev)
	})
}

// applyTracking returns the HTML of m as it goes out: links rewritten to /t/c/ redirects
// when m tracks clicks, and a /t/o/ pixel when it tracks opens. The links it rewrote are
// returned, to be stored before the message leaves.
func (c *Client) applyTracking(ctx context.Context, m *Message) (string, []*Link, error) {
	e := m.Email
	if !c.tracking.enabled() || e.HTML == "" || (!e.TrackOpens && !e.TrackClicks) {
		return e.HTML, nil, nil
	}
	key, err := c.tracking.hmacKey(ctx, c.store)
	if err != nil {
		return "", nil, err
	}
	out := e.HTML
	var links []*Link
	if e.TrackClicks {
		now := c.now()
		out = rewriteLinks(out, func(pos int, u string) string {
			links = append(links, &Link{MessageID: m.ID, Position: pos, URL: u, CreatedAt: now})
			return c.tracking.base + "/t/c/" + makeToken(key, tokenClick, m.ID, pos)
		})
	}
	if e.TrackOpens {
		out = addPixel(out, c.tracking.base+"/t/o/"+makeToken(key, tokenOpen, m.ID, 0))
	}
	return out, links, nil
}
