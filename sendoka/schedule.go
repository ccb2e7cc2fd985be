package sendoka

import (
	"context"
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
	if !ok || len(h) != 2 || len(m) != 2 || strings.Trim(h+m, "0123456789") != "" {
		return 0, 0, false // two digits each: Atoi alone would take "+9:-0"
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

// CancelMessage cancels a scheduled message of the given channel: in one transaction it
// flips the message to canceled, records message.canceled and removes its job. A message
// that is not scheduled (sent, failed, already canceled, or being handed to its provider
// right now) is CodeNotScheduled. An id unknown, of the other channel or outside the
// principal's scope is CodeNotFound.
//
// Cancel takes the message with the same conditional claim a delivery attempt takes, so when
// a cancel races the job that fires the message exactly one of them wins: the message ends
// canceled and never reaches a provider, or it is sent and the cancel fails.
func (c *Client) CancelMessage(ctx context.Context, p *Principal, channel Channel, id string) (*Message, error) {
	if err := p.require(sendPermission(channel)); err != nil {
		return nil, err
	}
	now := c.now()
	var m *Message
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if m, err = c.claimScheduled(ctx, tx, p, channel, id, now); err != nil {
			return err
		}
		if ok, err := c.cancelClaimed(ctx, tx, m, now); err != nil {
			return err
		} else if !ok {
			return notScheduled(m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// cancelClaimed cancels a scheduled message that the caller claimed in tx: it flips it to
// canceled, records message.canceled and removes its job. It reports false, changing
// nothing, when the stored message is no longer scheduled.
func (c *Client) cancelClaimed(ctx context.Context, tx Tx, m *Message, now time.Time) (bool, error) {
	m.Status = StatusCanceled
	m.UpdatedAt = now
	m.CompletedAt = &now
	ok, err := c.transition(ctx, tx, m, StatusScheduled, c.newEvent(m, EventCanceled, StatusCanceled, nil, now))
	if err != nil || !ok {
		return false, err
	}
	return true, c.queue.Cancel(ctx, tx, m.JobID)
}

// RescheduleMargin is how close to its time a scheduled message may still be rescheduled.
// Nearer than this, its job may already be running (the queue fires on the database's
// clock): rescheduling would race it, so the message counts as no longer scheduled.
const RescheduleMargin = 5 * time.Second

// RescheduleMessage moves a scheduled message to a new time (s: scheduled_at, or
// scheduled_local with scheduled_at_tz, with the rules of a send). In one transaction it
// replaces the message's job with one at the new time and records message.scheduled with
// the previous time. A message that is not scheduled, or is due within RescheduleMargin, is
// CodeNotScheduled; scope and channel as CancelMessage.
func (c *Client) RescheduleMessage(ctx context.Context, p *Principal, channel Channel, id string, s ScheduleRequest) (*Message, error) {
	if err := p.require(sendPermission(channel)); err != nil {
		return nil, err
	}
	now := c.now()
	var v Validation
	at := c.scheduledAt(&s, &v)
	if at == nil && len(v.Fields) == 0 {
		v.Add(FieldRequired, "Required: the new scheduled_at (or scheduled_local with scheduled_at_tz)", "scheduled_at")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var m *Message
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if m, err = c.claimScheduled(ctx, tx, p, channel, id, now); err != nil {
			return err
		}
		prev := m.ScheduledAt
		if prev == nil || !prev.After(now.Add(RescheduleMargin)) {
			return &Error{Code: CodeNotScheduled, Message: "the message is due and being sent; it can no longer be rescheduled"}
		}
		ids, err := c.queue.Enqueue(ctx, tx, Job{Kind: JobDeliverMessage, SubjectID: m.ID, RunAt: *at})
		if err != nil {
			return err
		}
		if err := c.queue.Cancel(ctx, tx, m.JobID); err != nil {
			return err
		}
		m.ScheduledAt, m.JobID, m.ClaimedAt, m.LeaseUntil, m.UpdatedAt = at, ids[0], nil, nil, now
		ev := c.newEvent(m, EventScheduled, StatusScheduled, nil, now)
		ev.Data = map[string]any{
			"scheduled_at":          at.Format(time.RFC3339Nano),
			"previous_scheduled_at": prev.Format(time.RFC3339Nano),
		}
		if ok, err := c.transition(ctx, tx, m, StatusScheduled, ev); err != nil {
			return err
		} else if !ok {
			return notScheduled(m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// claimScheduled loads a message for cancel or reschedule and claims it, as a delivery
// attempt would, so that it and a firing job cannot both proceed. The claim only lasts as
// long as the caller's transaction: cancel ends the message, reschedule clears it.
func (c *Client) claimScheduled(ctx context.Context, tx Tx, p *Principal, channel Channel, id string, now time.Time) (*Message, error) {
	m, err := tx.GetMessage(ctx, id) // unscoped: the scope is checked next
	if err != nil {
		return nil, err
	}
	if !p.Scope().SeesMessage(m) || m.Channel != channel {
		return nil, NotFound("message")
	}
	if m.Status != StatusScheduled {
		return nil, notScheduled(m)
	}
	if m.ClaimedAt != nil {
		// Held by a delivery attempt, or left by one that died mid-hand-off: either way the
		// provider may have the message.
		return nil, &Error{Code: CodeNotScheduled, Message: "the message is being sent"}
	}
	ok, err := tx.ClaimMessage(ctx, id, now, now.Add(c.delivery.ClaimLease), StatusScheduled)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &Error{Code: CodeNotScheduled, Message: "the message is being sent"}
	}
	m.ClaimedAt = &now
	return m, nil
}

func notScheduled(m *Message) error {
	return &Error{Code: CodeNotScheduled, Message: "the message is " + string(m.Status) + ", not scheduled"}
}

func sendPermission(ch Channel) Permission {
	if ch == ChannelSMS {
		return PermissionSMSSend
	}
	return PermissionEmailsSend
}
