package sendoka

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNextLocalTime(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	cases := []struct {
		name   string
		now    string
		hh, mm int
		want   string
	}{
		{"later today", "2026-06-01T12:00:00Z", 9, 0, "2026-06-01T13:00:00Z"}, // 08:00 EDT now → 09:00 EDT
		{"tomorrow", "2026-06-01T14:00:00Z", 9, 0, "2026-06-02T13:00:00Z"},
		{"exactly now is not next", "2026-06-01T13:00:00Z", 9, 0, "2026-06-02T13:00:00Z"},
		{"winter offset", "2026-01-10T00:00:00Z", 9, 0, "2026-01-10T14:00:00Z"},
		// 2026-03-08 02:30 does not exist in New York: it moves forward to 03:30 EDT = 07:30Z.
		{"spring-forward gap", "2026-03-08T05:00:00Z", 2, 30, "2026-03-08T07:30:00Z"},
		{"after the gap", "2026-03-08T05:00:00Z", 3, 30, "2026-03-08T07:30:00Z"},
		// 2026-11-01 01:30 happens twice; the first (EDT, 05:30Z) is used.
		{"fall-back overlap", "2026-11-01T04:00:00Z", 1, 30, "2026-11-01T05:30:00Z"},
		{"fall-back overlap, first passed", "2026-11-01T05:45:00Z", 1, 30, "2026-11-01T06:30:00Z"},
	}
	for _, tc := range cases {
		now, _ := time.Parse(time.RFC3339, tc.now)
		want, _ := time.Parse(time.RFC3339, tc.want)
		got := NextLocalTime(now, tc.hh, tc.mm, ny)
		require.Equal(t, want, got, tc.name)
		require.True(t, got.After(now), tc.name)
	}
}

func TestScheduleResolve(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ok := func(s ScheduleRequest) *time.Time {
		var v Validation
		got := s.resolve(now, &v)
		require.NoError(t, v.Err())
		return got
	}
	bad := func(s ScheduleRequest, path string) {
		var v Validation
		require.Nil(t, s.resolve(now, &v))
		require.Len(t, v.Fields, 1, s)
		require.Equal(t, []any{path}, v.Fields[0].Path, s)
	}
	require.Nil(t, ok(ScheduleRequest{}))
	require.Equal(t, time.Date(2026, 6, 1, 13, 0, 0, 0, time.UTC), *ok(ScheduleRequest{ScheduledAt: "2026-06-01T13:00:00Z"}))
	require.Equal(t, time.Date(2026, 6, 1, 13, 0, 0, 0, time.UTC), *ok(ScheduleRequest{ScheduledAt: "2026-06-01T15:00:00+02:00"}), "offsets are accepted")
	require.Equal(t, time.Date(2026, 6, 1, 13, 0, 0, 0, time.UTC), *ok(ScheduleRequest{ScheduledLocal: "09:00", ScheduledAtTZ: "America/New_York"}))
	bad(ScheduleRequest{ScheduledAt: "2026-06-01T11:59:59Z"}, "scheduled_at")
	bad(ScheduleRequest{ScheduledAt: "2026-07-02T12:00:01Z"}, "scheduled_at")
	bad(ScheduleRequest{ScheduledAt: "tomorrow"}, "scheduled_at")
	bad(ScheduleRequest{ScheduledAt: "2026-06-01T13:00:00Z", ScheduledLocal: "09:00", ScheduledAtTZ: "UTC"}, "scheduled_at")
	bad(ScheduleRequest{ScheduledLocal: "9:00", ScheduledAtTZ: "UTC"}, "scheduled_local")
	bad(ScheduleRequest{ScheduledLocal: "24:00", ScheduledAtTZ: "UTC"}, "scheduled_local")
	bad(ScheduleRequest{ScheduledLocal: "09:00", ScheduledAtTZ: "Mars/Olympus"}, "scheduled_at_tz")
	bad(ScheduleRequest{ScheduledLocal: "09:00", ScheduledAtTZ: "Local"}, "scheduled_at_tz")
	bad(ScheduleRequest{ScheduledLocal: "09:00"}, "scheduled_at_tz")
	bad(ScheduleRequest{ScheduledAtTZ: "UTC"}, "scheduled_local")
}
