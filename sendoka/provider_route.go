package sendoka

import (
	"fmt"
	"slices"
	"time"
)

// EmailProvider is one of several live email providers (Config.EmailProviders), under the
// name that routes refer to and that each delivery attempt records.
type EmailProvider struct {
	// Name identifies the provider in routes, attempts and metrics ("ses", "smtp"). Required,
	// unique among the email providers.
	Name   string
	Sender EmailSender
}

// SMSProvider is one of several live SMS providers (Config.SMSProviders).
type SMSProvider struct {
	// Name identifies the provider in routes, attempts and metrics ("sns"). Required, unique
	// among the SMS providers.
	Name   string
	Sender SMSSender
}

// Route picks the providers of the live messages it matches, in order of preference
// (Config.Routes). A message takes the first route that matches it; one that matches no route
// goes to every provider of its channel in the order they are configured. Empty fields match
// everything, so a route with only Channel set replaces the default order.
//
// Delivery hands a message to the first provider of its route whose circuit breaker is not
// open. When that provider refuses it without taking it (a transient failure or a throttle),
// the same attempt moves it to the next one; an unknown outcome (a timeout after the data
// went out) or a permanent refusal ends the attempt there, so a message is never sent by two
// providers. Test keys and the sandbox domain never use routes: they always go to the
// sandbox.
type Route struct {
	// Channel is the channel the route is for. Required.
	Channel Channel
	// TenantID matches the messages of one tenant (ten_...).
	TenantID string
	// Tag matches the messages that carry this tag.
	Tag string
	// Stream matches StreamTransactional or StreamBroadcast messages.
	Stream string
	// Providers are the names of the providers, in order of preference. Required.
	Providers []string
}

// matches reports whether m takes route r.
func (r *Route) matches(m *Message) bool {
	return (r.TenantID == "" || r.TenantID == m.TenantID) &&
		(r.Tag == "" || slices.Contains(m.Tags, r.Tag)) &&
		(r.Stream == "" || r.Stream == m.StreamName())
}

// liveProvider is a configured provider with its breaker (nil when its channel has one
// provider: there is nowhere to fail over to, and the retry schedule paces it).
type liveProvider struct {
	name    string
	sender  any // EmailSender or SMSSender
	breaker *breaker
}

// providerSet is one channel's live providers and routes.
type providerSet struct {
	list   []*liveProvider
	routes [][]*liveProvider // per Route of the channel, its providers
	match  []Route
}

// newProviderSet builds a channel's set. single is Config.Email or Config.SMS, used when no
// list is given.
func newProviderSet(ch Channel, single any, names []string, senders []any, routes []Route, bc BreakerConfig, obs func(Channel, string, BreakerState)) (*providerSet, error) {
	s := &providerSet{}
	if len(senders) == 0 {
		if single != nil {
			s.list = []*liveProvider{{name: namerName(single), sender: single}}
		}
	} else if single != nil {
		return nil, fmt.Errorf("sendoka: set either Config.%s or Config.%sProviders, not both", channelField(ch), channelField(ch))
	}
	byName := map[string]*liveProvider{}
	for i, snd := range senders {
		name := names[i]
		if name == "" || snd == nil {
			return nil, fmt.Errorf("sendoka: Config.%sProviders[%d]: a name and a sender are required", channelField(ch), i)
		}
		if byName[name] != nil {
			return nil, fmt.Errorf("sendoka: Config.%sProviders: the name %q is used twice", channelField(ch), name)
		}
		p := &liveProvider{name: name, sender: snd}
		if len(senders) > 1 {
			p.breaker = newBreaker(bc, func(st BreakerState) {
				if obs != nil {
					obs(ch, name, st)
				}
			})
		}
		byName[name] = p
		s.list = append(s.list, p)
	}
	for i, r := range routes {
		if r.Channel != ch {
			continue
		}
		if len(r.Providers) == 0 {
			return nil, fmt.Errorf("sendoka: Config.Routes[%d]: no providers", i)
		}
		if r.Stream != "" && r.Stream != StreamTransactional && r.Stream != StreamBroadcast {
			return nil, fmt.Errorf("sendoka: Config.Routes[%d]: stream %q: %s or %s", i, r.Stream, StreamTransactional, StreamBroadcast)
		}
		var ps []*liveProvider
		for _, n := range r.Providers {
			p := byName[n]
			if p == nil {
				return nil, fmt.Errorf("sendoka: Config.Routes[%d]: no %s provider is named %q", i, ch, n)
			}
			if slices.Contains(ps, p) {
				return nil, fmt.Errorf("sendoka: Config.Routes[%d]: provider %q is named twice", i, n)
			}
			ps = append(ps, p)
		}
		s.routes = append(s.routes, ps)
		s.match = append(s.match, r)
	}
	return s, nil
}

func channelField(ch Channel) string {
	if ch == ChannelEmail {
		return "Email"
	}
	return "SMS"
}

// candidates returns m's providers in order of preference: its route's, or every one.
func (s *providerSet) candidates(m *Message) []*liveProvider {
	for i := range s.match {
		if s.match[i].matches(m) {
			return s.routes[i]
		}
	}
	return s.list
}

// primary returns the first provider's sender, or nil.
func (s *providerSet) primary() any {
	if len(s.list) == 0 {
		return nil
	}
	return s.list[0].sender
}

// senders returns every provider's sender.
func (s *providerSet) senders() []any {
	out := make([]any, len(s.list))
	for i, p := range s.list {
		out[i] = p.sender
	}
	return out
}

// ProviderHealth is a live provider's name and the state of its circuit breaker.
type ProviderHealth struct {
	Channel Channel
	Name    string
	// Breaker is BreakerClosed for a provider without a breaker (the only one of its
	// channel).
	Breaker BreakerState
}

// Providers returns the live providers of both channels, email first, in the order they are
// configured, with the state of their circuit breakers in this process.
func (c *Client) Providers() []ProviderHealth {
	var out []ProviderHealth
	for _, set := range []struct {
		ch Channel
		s  *providerSet
	}{{ChannelEmail, c.emailSet}, {ChannelSMS, c.smsSet}} {
		for _, p := range set.s.list {
			out = append(out, ProviderHealth{Channel: set.ch, Name: p.name, Breaker: p.breaker.current()})
		}
	}
	return out
}

// routeFor is the providers a delivery of m may use: the sandbox alone for test keys and
// the sandbox domain, else m's route.
func (c *Client) routeFor(m *Message) []*liveProvider {
	if c.isSandboxSender(m) {
		if m.Channel == ChannelEmail {
			return c.sandboxEmailRoute
		}
		return c.sandboxSMSRoute
	}
	if m.Channel == ChannelEmail {
		return c.emailSet.candidates(m)
	}
	return c.smsSet.candidates(m)
}

// firstOpenable returns the first provider of route whose breaker does not skip it now, or
// nil when every one is open.
func firstOpenable(route []*liveProvider, now time.Time) *liveProvider {
	for _, p := range route {
		if !p.breaker.open(now) {
			return p
		}
	}
	return nil
}
