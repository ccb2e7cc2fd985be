package sendoka

import (
	"strconv"
	"strings"
	"time"
)

// MaxScheduleAhead is how far in the future a send may be scheduled.
const MaxScheduleAhead = 30 * 24 * time.Hour

// ScheduleRequest holds the scheduling fields of a send: either ScheduledAt, or ScheduledLocal
// with ScheduledAtTZ.
type ScheduleRequest struct {
	// ScheduledAt is an ISO 8601 / RFC 3339 time, UTC or with an offset, in the future.
	ScheduledAt string `json:"scheduled_at,omitempty" doc:"ISO 8601 time in the future (at most 30 days ahead)" example:"2026-05-01T12:00:00Z"`
	// ScheduledLocal is a wall-clock time "HH:MM" in ScheduledAtTZ; the send happens at its
	// next occurrence.
	ScheduledLocal string `json:"scheduled_local,omitempty" doc:"Local time HH:MM in scheduled_at_tz; the next occurrence is used" example:"09:00"`
	// ScheduledAtTZ is an IANA time zone name.
	ScheduledAtTZ string `json:"scheduled_at_tz,omitempty" doc:"IANA time zone for scheduled_local" example:"America/New_York"`
}

// resolve returns the time the send is due, or nil for "now". Problems are added to v.
func (s *ScheduleRequest) resolve(now time.Time, v *Validation) *time.Time {
	switch {
	case s.ScheduledAt != "" && (s.ScheduledLocal != "" || s.ScheduledAtTZ != ""):
		v.Add(FieldInvalid, "give either scheduled_at or scheduled_local with scheduled_at_tz, not both", "scheduled_at")
		return nil
	case s.ScheduledAt != "":
		t, err := time.Parse(time.RFC3339Nano, s.ScheduledAt)
		if err != nil {
			v.Add(FieldInvalidString, "must be an ISO 8601 time such as 2026-05-01T12:00:00Z", "scheduled_at")
			return nil
		}
		t = t.UTC().Truncate(time.Microsecond)
		if !t.After(now) {
			v.Add(FieldInvalid, "must be in the future", "scheduled_at")
			return nil
		}
		if t.Sub(now) > MaxScheduleAhead {
			v.Add(FieldTooBig, "must be at most 30 days ahead", "scheduled_at")
			return nil
		}
		return &t
	case s.ScheduledLocal != "" || s.ScheduledAtTZ != "":
		if s.ScheduledLocal == "" {
			v.Add(FieldRequired, "Required with scheduled_at_tz", "scheduled_local")
			return nil
		}
		if s.ScheduledAtTZ == "" {
			v.Add(FieldRequired, "Required with scheduled_local", "scheduled_at_tz")
			return nil
		}
		hh, mm, ok := parseHHMM(s.ScheduledLocal)
		if !ok {
			v.Add(FieldInvalidString, "must be HH:MM (24-hour)", "scheduled_local")
			return nil
		}
		loc, err := loadLocation(s.ScheduledAtTZ)
		if err != nil {
			v.Add(FieldInvalid, "unknown time zone (use an IANA name such as America/New_York)", "scheduled_at_tz")
			return nil
		}
		t := NextLocalTime(now, hh, mm, loc)
		return &t
	}
	return nil
}

func loadLocation(name string) (*time.Location, error) {
	// "Local" and "" would silently mean the server's zone.
	if name == "Local" || strings.ContainsAny(name, " \\") {
		return nil, &time.ParseError{Value: name}
	}
	return time.LoadLocation(name)
}

func parseHHMM(s string) (int, int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, 0, false
	}
	return hh, mm, true
}

// NextLocalTime returns the first instant after now at which the wall clock in loc reads
// hh:mm. A wall time that does not exist that day (a spring-forward gap) moves forward by the
// gap, as a clock that skipped it would; one that happens twice (fall back) happens twice.
func NextLocalTime(now time.Time, hh, mm int, loc *time.Location) time.Time {
	local := now.In(loc)
	for day := 0; day < 3; day++ {
		d := local.AddDate(0, 0, day)
		for _, t := range wallToInstants(d.Year(), d.Month(), d.Day(), hh, mm, loc) {
			if t.After(now) {
				return t.UTC()
			}
		}
	}
	return now.UTC() // unreachable: some day within three has the time ahead
}

// wallToInstants returns the instants, earliest first, at which the wall clock in loc reads
// the given time: one, two in a fall-back overlap, and for a spring-forward gap the instant
// the wall time denotes with the offset in force before the gap.
func wallToInstants(y int, mo time.Month, d, hh, mm int, loc *time.Location) []time.Time {
	wall := time.Date(y, mo, d, hh, mm, 0, 0, time.UTC)
	_, before := wall.Add(-24 * time.Hour).In(loc).Zone()
	_, after := wall.Add(24 * time.Hour).In(loc).Zone()
	var out []time.Time
	for _, off := range []int{before, after} {
		t := wall.Add(-time.Duration(off) * time.Second)
		l := t.In(loc)
		if l.Day() == d && l.Hour() == hh && l.Minute() == mm && (len(out) == 0 || !out[0].Equal(t)) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return []time.Time{wall.Add(-time.Duration(before) * time.Second)}
	}
	if len(out) == 2 && out[1].Before(out[0]) {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

// scheduledAt resolves a request's schedule, or returns nil (send now) without asking the
// clock when the request sets none.
func (c *Client) scheduledAt(s *ScheduleRequest, v *Validation) *time.Time {
	if *s == (ScheduleRequest{}) {
		return nil
	}
	return s.resolve(c.now(), v)
}
