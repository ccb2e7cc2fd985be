package sendoka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func TestScheduledSendCancelReschedule(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db) // workers not started: nothing fires
		ctx := context.Background()

		req := b.email("user@example.com")
		req.ScheduledAt = b.clock.now().Add(2 * time.Hour).Format("2006-01-02T15:04:05.000000-07:00")
		m, err := b.client.SendEmail(ctx, b.p, req)
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusScheduled, m.Status)
		at := *m.ScheduledAt
		require.WithinDuration(t, b.clock.now().Add(2*time.Hour), at, time.Second)
		require.Equal(t, "scheduled", b.jobState(t, m.JobID))
		require.WithinDuration(t, at, b.jobScheduledAt(t, m.JobID), time.Millisecond)
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusScheduled, got.Status)
		require.Equal(t, []sendoka.EventType{sendoka.EventScheduled}, eventTypes(got))

		// Scope: another org, another tenant, the other channel: 404.
		for _, p := range []*sendoka.Principal{
			sendoka.SystemPrincipal("org_other", sendoka.ModeTest),
			{OrgID: b.orgID, TenantID: "ten_x", Mode: sendoka.ModeTest, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}},
		} {
			_, err := b.client.CancelMessage(ctx, p, sendoka.ChannelEmail, m.ID)
			requireCode(t, sendoka.CodeNotFound, err)
			_, err = b.client.RescheduleMessage(ctx, p, sendoka.ChannelEmail, m.ID, sendoka.ScheduleRequest{ScheduledAt: b.clock.in(3 * time.Hour)})
			requireCode(t, sendoka.CodeNotFound, err)
		}
		_, err = b.client.CancelMessage(ctx, b.p, sendoka.ChannelSMS, m.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, "msg_nope")
		requireCode(t, sendoka.CodeNotFound, err)
		readOnly := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeTest, Permissions: []sendoka.Permission{sendoka.PermissionEmailsRead}}
		_, err = b.client.CancelMessage(ctx, readOnly, sendoka.ChannelEmail, m.ID)
		requireCode(t, sendoka.CodeInsufficientScope, err)

		// Reschedule: a new job at the new time replaces the old one.
		for _, bad := range []sendoka.ScheduleRequest{{}, {ScheduledAt: b.clock.in(-time.Minute)}, {ScheduledAt: b.clock.in(31 * 24 * time.Hour)}, {ScheduledLocal: "25:00", ScheduledAtTZ: "UTC"}} {
			_, err := b.client.RescheduleMessage(ctx, b.p, sendoka.ChannelEmail, m.ID, bad)
			requireCode(t, sendoka.CodeValidation, err)
		}
		oldJob := m.JobID
		moved, err := b.client.RescheduleMessage(ctx, b.p, sendoka.ChannelEmail, m.ID, sendoka.ScheduleRequest{ScheduledLocal: "09:00", ScheduledAtTZ: "America/New_York"})
		require.NoError(t, err)
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		want := sendoka.NextLocalTime(b.clock.now(), 9, 0, ny)
		require.WithinDuration(t, want, *moved.ScheduledAt, time.Second)
		require.NotEqual(t, oldJob, moved.JobID)
		require.Equal(t, "cancelled", b.jobState(t, oldJob))
		require.Equal(t, "scheduled", b.jobState(t, moved.JobID))
		require.WithinDuration(t, *moved.ScheduledAt, b.jobScheduledAt(t, moved.JobID), time.Millisecond)
		got = b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusScheduled, got.Status)
		require.Nil(t, got.ClaimedAt, "the reschedule's claim is released")
		require.Equal(t, moved.JobID, got.JobID)
		require.Equal(t, []sendoka.EventType{sendoka.EventScheduled, sendoka.EventScheduled}, eventTypes(got))
		require.Equal(t, at.Format(time.RFC3339Nano), got.Events[1].Data["previous_scheduled_at"])

		// Cancel: canceled, message.canceled, the job removed, all at once.
		canceled, err := b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, m.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusCanceled, canceled.Status)
		got = b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusCanceled, got.Status)
		require.NotNil(t, got.CompletedAt)
		require.Equal(t, []sendoka.EventType{sendoka.EventScheduled, sendoka.EventScheduled, sendoka.EventCanceled}, eventTypes(got))
		require.Equal(t, "cancelled", b.jobState(t, moved.JobID))

		// Anything not scheduled is 409 NOT_SCHEDULED.
		_, err = b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, m.ID)
		requireCode(t, sendoka.CodeNotScheduled, err)
		_, err = b.client.RescheduleMessage(ctx, b.p, sendoka.ChannelEmail, m.ID, sendoka.ScheduleRequest{ScheduledAt: b.clock.in(time.Hour)})
		requireCode(t, sendoka.CodeNotScheduled, err)
		now, err := b.client.SendEmail(ctx, b.p, b.email("now@example.com"))
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusQueued, now.Status)
		_, err = b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, now.ID)
		requireCode(t, sendoka.CodeNotScheduled, err)

		// A message about to fire can be canceled but no longer moved.
		req.ScheduledAt = b.clock.in(time.Hour)
		due, err := b.client.SendEmail(ctx, b.p, req)
		require.NoError(t, err)
		b.clock.set(time.Hour - sendoka.RescheduleMargin/2)
		_, err = b.client.RescheduleMessage(ctx, b.p, sendoka.ChannelEmail, due.ID, sendoka.ScheduleRequest{ScheduledAt: b.clock.in(time.Hour)})
		requireCode(t, sendoka.CodeNotScheduled, err)
		_, err = b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, due.ID)
		require.NoError(t, err)
	})
}

func TestScheduledSendFires(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		// The core's clock runs an hour behind the database's: a send "in a minute" is due at
		// once for River, and one "in two hours" is due in an hour.
		b.clock.set(-time.Hour)
		b.start(t)

		req := b.email("due@example.com")
		req.ScheduledAt = b.clock.in(time.Minute)
		due, err := b.client.SendEmail(ctx, b.p, req)
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusScheduled, due.Status)

		// Moved from later to now, it fires on its new job.
		req.ScheduledAt = b.clock.in(2 * time.Hour)
		later, err := b.client.SendEmail(ctx, b.p, req)
		require.NoError(t, err)
		moved, err := b.client.RescheduleMessage(ctx, b.p, sendoka.ChannelEmail, later.ID, sendoka.ScheduleRequest{ScheduledAt: b.clock.in(time.Minute)})
		require.NoError(t, err)

		for _, id := range []string{due.ID, later.ID} {
			pollUntil(t, func() bool { return b.get(t, sendoka.ChannelEmail, id).Status == sendoka.StatusSent }, "%s was not sent", id)
			require.Equal(t, 1, b.fake.Count(id))
		}
		require.Equal(t, "cancelled", b.jobState(t, later.JobID))
		pollUntil(t, func() bool { return b.jobState(t, moved.JobID) == "completed" }, "the new job did not complete")
		got := b.get(t, sendoka.ChannelEmail, due.ID)
		require.Equal(t, []sendoka.EventType{sendoka.EventScheduled, sendoka.EventSent}, eventTypes(got))
		_, err = b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, due.ID)
		requireCode(t, sendoka.CodeNotScheduled, err)
	})
}

// TestCancelRacesFiring cancels many scheduled messages at the moment their jobs fire, from
// several goroutines each, while River's workers and extra direct delivery attempts race for
// the same messages. Whoever wins, each message ends exactly one way: canceled and never
// handed to the provider, or sent once with every cancel refused.
func TestCancelRacesFiring(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		b.clock.set(-time.Hour) // "in a minute" is already due for River
		b.start(t)

		const (
			messages   = 30
			cancellers = 4
		)
		reqs := make([]*sendoka.EmailRequest, messages)
		for i := range reqs {
			reqs[i] = b.email(fmt.Sprintf("u%d@example.com", i))
			reqs[i].ScheduledAt = b.clock.in(time.Minute)
		}
		// One batch: every job becomes visible to the workers at the same commit.
		res, err := b.client.SendEmailBatch(ctx, b.p, reqs)
		require.NoError(t, err)
		require.Equal(t, messages, res.Succeeded)

		type outcome struct {
			cancels int // successful cancels
			refused int // NOT_SCHEDULED
		}
		var (
			mu       sync.Mutex
			outcomes = map[string]*outcome{}
			wg       sync.WaitGroup
			start    = make(chan struct{})
		)
		for _, row := range res.Rows {
			id := row.Message.ID
			outcomes[id] = &outcome{}
			for range cancellers {
				wg.Go(func() {
					<-start
					_, err := b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, id)
					mu.Lock()
					defer mu.Unlock()
					switch sendoka.ErrorCode(err) {
					case "":
						outcomes[id].cancels++
					case sendoka.CodeNotScheduled:
						outcomes[id].refused++
					default:
						t.Errorf("cancel %s: %v", id, err)
					}
				})
			}
			// A direct delivery attempt, as a duplicate job would make.
			wg.Go(func() {
				<-start
				_ = b.client.Deliver(ctx, id, sendoka.DeliverOptions{})
			})
		}
		close(start)
		wg.Wait()

		var canceled, sent int
		for id, o := range outcomes {
			var m *sendoka.Message
			pollUntil(t, func() bool {
				m = b.get(t, sendoka.ChannelEmail, id)
				return m.Status == sendoka.StatusCanceled || m.Status == sendoka.StatusSent
			}, "%s never settled", id)
			// Wait until no run of its job is in flight. A job that lost the claim to the direct
			// attempt is snoozed (scheduled) for the claim's lease: when it runs it finds the
			// message final and does nothing, as the completed ones did.
			var state string
			pollUntil(t, func() bool {
				state = b.jobState(t, m.JobID)
				return state == "completed" || state == "cancelled" || state == "scheduled"
			}, "job of %s never settled (%s, message %s)", id, lazy(func() string { return state }), m.Status)
			m = b.get(t, sendoka.ChannelEmail, id)
			switch m.Status {
			case sendoka.StatusCanceled:
				canceled++
				require.Zero(t, b.fake.Calls(id), "%s was canceled but reached the provider", id)
				require.Equal(t, 1, o.cancels, "%s: one cancel wins", id)
				require.Equal(t, cancellers-1, o.refused)
				require.Equal(t, []sendoka.EventType{sendoka.EventScheduled, sendoka.EventCanceled}, eventTypes(m))
			case sendoka.StatusSent:
				sent++
				require.Equal(t, 1, b.fake.Count(id), "%s sent once", id)
				require.Zero(t, o.cancels, "%s was sent, yet a cancel succeeded", id)
				require.Equal(t, cancellers, o.refused)
				require.Equal(t, []sendoka.EventType{sendoka.EventScheduled, sendoka.EventSent}, eventTypes(m))
			}
		}
		require.Equal(t, messages, canceled+sent)
		t.Logf("%s: %d canceled, %d sent", db.Dialect(), canceled, sent)
	})
}

// TestStaleJobLeavesRescheduled: the job of an earlier schedule, run after a reschedule,
// sends nothing; the message's current job does.
func TestStaleJobLeavesRescheduled(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		req := b.email("user@example.com")
		req.ScheduledAt = b.clock.in(2 * time.Hour)
		m, err := b.client.SendEmail(ctx, b.p, req)
		require.NoError(t, err)
		moved, err := b.client.RescheduleMessage(ctx, b.p, sendoka.ChannelEmail, m.ID, sendoka.ScheduleRequest{ScheduledAt: b.clock.in(3 * time.Hour)})
		require.NoError(t, err)
		require.NotEqual(t, m.JobID, moved.JobID)

		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		require.Zero(t, b.fake.Calls(m.ID), "the old job hands nothing off")
		require.Equal(t, sendoka.StatusScheduled, b.get(t, sendoka.ChannelEmail, m.ID).Status)

		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: moved.JobID}))
		require.Equal(t, 1, b.fake.Count(m.ID), "the current job sends")
	})
}
