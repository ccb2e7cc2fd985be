package sendoka

import (
	"context"
	"maps"
	"strings"
	"time"
)

// tokenUnsubscribe is the token kind of unsubscribe links: it names an audience and one of
// its contacts, signed like the tracking tokens (tracking.go) but never valid as one.
const tokenUnsubscribe = 'u'

// UnsubscribeTx is the part of Tx that unsubscribes contacts.
type UnsubscribeTx interface {
	// UnsubscribeContact sets the contact's UnsubscribedAt to at unless it is set already,
	// and returns the contact as stored after, or CodeNotFound.
	UnsubscribeContact(ctx context.Context, audienceID, contactID string, at time.Time) (*Contact, error)
}

// UnsubscribeURL returns the one-click unsubscribe link of a contact of an audience,
// {public URL}/u/{token}. Without a public URL (Config.Tracking.BaseURL) there is none.
func (c *Client) UnsubscribeURL(ctx context.Context, audienceID, contactID string) (string, error) {
	if !c.tracking.enabled() {
		return "", Errorf(CodeValidation, "no public URL is configured to serve unsubscribe links")
	}
	key, err := c.tracking.hmacKey(ctx, c.store)
	if err != nil {
		return "", AsError(err)
	}
	return c.tracking.base + "/u/" + makeToken(key, tokenUnsubscribe, audienceID+"/"+contactID, 0), nil
}

// addUnsubscribe gives a broadcast email its RFC 8058 one-click unsubscribe headers.
func (c *Client) addUnsubscribe(ctx context.Context, m *Message, audienceID, contactID string) error {
	u, err := c.UnsubscribeURL(ctx, audienceID, contactID)
	if err != nil {
		return err
	}
	h := maps.Clone(m.Email.Headers)
	if h == nil {
		h = map[string]string{}
	}
	h["List-Unsubscribe"] = "<" + u + ">"
	if c.inbound.BounceDomain != "" {
		// A mailto for clients that do not POST (RFC 2369): mail to it comes back to the
		// inbound listener, which calls UnsubscribeByMail.
		token := u[strings.LastIndexByte(u, '/')+1:]
		h["List-Unsubscribe"] += ", <mailto:" + UnsubscribeMailPrefix + token + "@" + c.inbound.BounceDomain + ">"
	}
	h["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
	m.Email.Headers = h
	return nil
}

// UnsubscribeTarget is what an unsubscribe link names, for its confirmation page.
type UnsubscribeTarget struct {
	AudienceName string
	// Address is the contact's email address, or its phone when it has none.
	Address      string
	Unsubscribed bool
}

// parseUnsubscribeToken returns the audience and contact a valid unsubscribe token names.
func (c *Client) parseUnsubscribeToken(ctx context.Context, token string) (audienceID, contactID string, err error) {
	key, err := c.tracking.hmacKey(ctx, c.store)
	if err != nil {
		return "", "", AsError(err)
	}
	kind, subject, _, ok := parseToken(key, token)
	if !ok || kind != tokenUnsubscribe {
		return "", "", NotFound("unsubscribe link")
	}
	audienceID, contactID, ok = strings.Cut(subject, "/")
	if !ok {
		return "", "", NotFound("unsubscribe link")
	}
	return audienceID, contactID, nil
}

// UnsubscribeInfo returns what an unsubscribe link names, without changing anything (GET
// /u/{token}: mail scanners follow links, so a GET never unsubscribes). A token that is
// malformed, tampered with, or names no contact is CodeNotFound.
func (c *Client) UnsubscribeInfo(ctx context.Context, token string) (*UnsubscribeTarget, error) {
	audienceID, contactID, err := c.parseUnsubscribeToken(ctx, token)
	if err != nil {
		return nil, err
	}
	ct, err := c.store.GetContact(ctx, audienceID, contactID)
	if err != nil {
		return nil, AsError(err)
	}
	a, err := c.store.GetAudienceByID(ctx, audienceID)
	if err != nil {
		return nil, AsError(err)
	}
	return unsubscribeTarget(a, ct), nil
}

func unsubscribeTarget(a *Audience, ct *Contact) *UnsubscribeTarget {
	addr := ct.Email
	if addr == "" {
		addr = ct.Phone
	}
	return &UnsubscribeTarget{AudienceName: a.Name, Address: addr, Unsubscribed: !ct.Subscribed()}
}

// Unsubscribe unsubscribes the contact an unsubscribe link names from its audience (POST
// /u/{token}, the RFC 8058 one-click POST): later sends to the audience skip it. Doing it
// again changes nothing. A token that is malformed, tampered with, or names no contact is
// CodeNotFound.
func (c *Client) Unsubscribe(ctx context.Context, token string) (*UnsubscribeTarget, error) {
	audienceID, contactID, err := c.parseUnsubscribeToken(ctx, token)
	if err != nil {
		return nil, err
	}
	var ct *Contact
	now := c.now()
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		ct, err = tx.UnsubscribeContact(ctx, audienceID, contactID, now)
		return err
	}); err != nil {
		return nil, err
	}
	a, err := c.store.GetAudienceByID(ctx, audienceID)
	if err != nil {
		return nil, AsError(err)
	}
	return unsubscribeTarget(a, ct), nil
}

// UnsubscribeByMail unsubscribes the contact named by the token of a mailto unsubscribe
// address (unsubscribe+<token>@<bounce domain>) that mail was sent to, as Unsubscribe
// does. An address that is not one, or whose token is not valid, is CodeNotFound.
func (c *Client) UnsubscribeByMail(ctx context.Context, address string) (*UnsubscribeTarget, error) {
	at := strings.LastIndexByte(address, '@')
	if at < 0 || c.inbound.BounceDomain == "" || !strings.EqualFold(address[at+1:], c.inbound.BounceDomain) {
		return nil, NotFound("unsubscribe address")
	}
	local := address[:at]
	if len(local) <= len(UnsubscribeMailPrefix) || !strings.EqualFold(local[:len(UnsubscribeMailPrefix)], UnsubscribeMailPrefix) {
		return nil, NotFound("unsubscribe address")
	}
	return c.Unsubscribe(ctx, local[len(UnsubscribeMailPrefix):])
}
