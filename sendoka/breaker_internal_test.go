package sendoka

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBreakerStates(t *testing.T) {
	t.Parallel()
	var seen []BreakerState
	b := newBreaker(BreakerConfig{Failures: 3, OpenFor: time.Minute}, func(s BreakerState) { seen = append(seen, s) })
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// Failures must be consecutive: a success in between starts the count again.
	b.record(true, t0)
	b.record(true, t0)
	b.record(false, t0)
	b.record(true, t0)
	b.record(true, t0)
	require.True(t, b.allow(t0))
	require.Equal(t, BreakerClosed, b.current())
	b.record(true, t0)
	require.Equal(t, BreakerOpen, b.current())
	require.False(t, b.allow(t0.Add(59*time.Second)))
	require.True(t, b.open(t0.Add(59*time.Second)))
	require.Equal(t, 30*time.Second, b.reopensIn(t0.Add(30*time.Second)))

	// Past OpenFor, exactly one probe goes; the others still skip the provider.
	probeAt := t0.Add(time.Minute)
	require.False(t, b.open(probeAt), "open only peeks: a probe may go")
	require.True(t, b.allow(probeAt))
	require.Equal(t, BreakerHalfOpen, b.current())
	require.False(t, b.allow(probeAt.Add(time.Second)), "one probe at a time")
	// A failed probe opens it for another whole interval.
	b.record(true, probeAt.Add(time.Second))
	require.Equal(t, BreakerOpen, b.current())
	require.False(t, b.allow(probeAt.Add(time.Minute)))
	require.True(t, b.allow(probeAt.Add(time.Minute+time.Second)))
	// A probe that never reports is replaced after another interval.
	require.False(t, b.allow(probeAt.Add(2*time.Minute)))
	require.True(t, b.allow(probeAt.Add(2*time.Minute+time.Second)))
	// A probe given back (no connection free) lets the next message probe at once.
	b.abandon(probeAt.Add(2*time.Minute + 2*time.Second))
	require.Equal(t, BreakerOpen, b.current())
	require.True(t, b.allow(probeAt.Add(2*time.Minute+2*time.Second)))
	// Its success closes it.
	b.record(false, probeAt.Add(2*time.Minute+3*time.Second))
	require.Equal(t, BreakerClosed, b.current())
	require.True(t, b.allow(probeAt.Add(2*time.Minute+3*time.Second)))

	require.Equal(t, []BreakerState{BreakerOpen, BreakerHalfOpen, BreakerOpen, BreakerHalfOpen, BreakerOpen, BreakerHalfOpen, BreakerClosed}, seen)

	var none *breaker
	require.True(t, none.allow(t0), "a provider without a breaker is always tried")
	require.False(t, none.open(t0))
	none.record(true, t0)
	require.Equal(t, BreakerClosed, none.current())
}

func TestRouteMatches(t *testing.T) {
	t.Parallel()
	m := &Message{TenantID: "ten_1", Tags: []string{"a", "b"}, Stream: StreamBroadcast}
	for _, tc := range []struct {
		r    Route
		want bool
	}{
		{Route{}, true},
		{Route{TenantID: "ten_1"}, true},
		{Route{TenantID: "ten_2"}, false},
		{Route{Tag: "b"}, true},
		{Route{Tag: "c"}, false},
		{Route{Stream: StreamBroadcast}, true},
		{Route{Stream: StreamTransactional}, false},
		{Route{TenantID: "ten_1", Tag: "a", Stream: StreamBroadcast}, true},
		{Route{TenantID: "ten_1", Tag: "z", Stream: StreamBroadcast}, false},
	} {
		require.Equal(t, tc.want, tc.r.matches(m), "%+v", tc.r)
	}
	require.True(t, (&Route{Stream: StreamTransactional}).matches(&Message{}), "no stream is transactional")
}
