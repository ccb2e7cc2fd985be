package sandbox_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/providers/sandbox"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func TestProvisionSender(t *testing.T) {
	t.Parallel()
	s := sandbox.New(sandbox.Options{})
	cases := map[string]sendoka.SenderStatus{
		"+15555550100":        sendoka.SenderActive,
		"+18005550100":        sendoka.SenderActive,
		sandbox.PendingNumber: sendoka.SenderPending,
		sandbox.FailedNumber:  sendoka.SenderFailed,
	}
	for number, want := range cases {
		res, err := s.ProvisionSender(t.Context(), &sendoka.PhoneNumber{Kind: sendoka.SenderLongCode, PhoneNumber: number, ISOCountry: "US"})
		require.NoError(t, err)
		require.Equal(t, want, res.Status, number)
		if want != sendoka.SenderActive {
			require.Equal(t, "sandbox", res.Diagnostic.Provider)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.ProvisionSender(ctx, &sendoka.PhoneNumber{PhoneNumber: "+15555550100"})
	require.ErrorIs(t, err, context.Canceled)
}

func TestReplyStop(t *testing.T) {
	t.Parallel()
	type reply struct{ from, to, body string }
	var mu sync.Mutex
	var got []reply
	var fail error
	s := sandbox.New(sandbox.Options{Inbound: func(_ context.Context, from, to, body string) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, reply{from, to, body})
		return fail
	}})
	send := func(from, to string) error {
		_, err := s.SendSMS(t.Context(), &sendoka.OutboundSMS{MessageID: "msg_1", From: from, To: to, Body: "hi"})
		return err
	}
	require.NoError(t, send("+15555550100", "+15005550001"))
	require.NoError(t, send("Acme", sandbox.ReplyStopNumber), "nobody can reply to a sender ID")
	require.Empty(t, got)
	require.NoError(t, send("+15555550100", sandbox.ReplyStopNumber))
	require.Equal(t, []reply{{sandbox.ReplyStopNumber, "+15555550100", "STOP"}}, got)

	fail = errors.New("database down")
	err := send("+15555550100", sandbox.ReplyStopNumber)
	require.Equal(t, sendoka.Transient, sendoka.ProviderErrorKindOf(err))

	// Without Options.Inbound the reply is dropped.
	_, err = sandbox.New(sandbox.Options{}).SendSMS(t.Context(), &sendoka.OutboundSMS{MessageID: "msg_2", From: "+15555550100", To: sandbox.ReplyStopNumber, Body: "hi"})
	require.NoError(t, err)
}

// TestSMSThroughTheCore registers senders and sends to the STOP-replying number through the
// real server: the simulated STOP suppresses the number.
func TestSMSThroughTheCore(t *testing.T) {
	t.Parallel()
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			srv, err := server.Open(ctx, server.Config{DatabaseURL: bunstoretest.DSN(t, d)})
			require.NoError(t, err)
			t.Cleanup(func() { _ = srv.Close(context.Background()) })
			require.NoError(t, srv.Start(ctx))
			boot, err := srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{})
			require.NoError(t, err)
			p := sendoka.SystemPrincipal(boot.Org.ID, sendoka.ModeTest)

			register := func(number string) *sendoka.PhoneNumber {
				n, err := srv.Client.CreatePhoneNumber(ctx, p, &sendoka.PhoneNumberRequest{Kind: sendoka.SenderLongCode, PhoneNumber: number, ISOCountry: "US"})
				require.NoError(t, err)
				return n
			}
			require.Equal(t, sendoka.SenderActive, register("+15555550100").Status, "the sandbox provisions at once")
			require.Equal(t, sendoka.SenderPending, register(sandbox.PendingNumber).Status)
			require.Equal(t, sendoka.SenderFailed, register(sandbox.FailedNumber).Status)
			for _, from := range []string{sandbox.PendingNumber, sandbox.FailedNumber} {
				_, err := srv.Client.SendSMS(ctx, p, &sendoka.SMSRequest{From: from, To: "+15005550001", Body: "hi"})
				require.Equal(t, sendoka.CodeValidation, sendoka.ErrorCode(err), from)
			}

			m, err := srv.Client.SendSMS(ctx, p, &sendoka.SMSRequest{From: "+15555550100", To: sandbox.ReplyStopNumber, Body: "Your code is 1234"})
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				got, err := srv.Client.GetMessage(ctx, p, sendoka.ChannelSMS, m.ID)
				return err == nil && got.Status == sendoka.StatusDelivered &&
					slices.ContainsFunc(got.Events, func(e sendoka.Event) bool { return e.Type == sendoka.EventDelivered })
			}, 30*time.Second, 20*time.Millisecond)
			s, err := srv.Client.GetSuppression(ctx, p, sendoka.ChannelSMS, sandbox.ReplyStopNumber)
			require.NoError(t, err)
			require.Equal(t, sendoka.SuppressionOptOut, s.Reason)
			_, err = srv.Client.SendSMS(ctx, p, &sendoka.SMSRequest{From: "+15555550100", To: sandbox.ReplyStopNumber, Body: "again"})
			require.Equal(t, sendoka.CodeAllSuppressed, sendoka.ErrorCode(err))

			// START lifts it.
			action, err := srv.Client.HandleInboundSMS(ctx, sandbox.ReplyStopNumber, "+15555550100", "START")
			require.NoError(t, err)
			require.Equal(t, sendoka.InboundOptIn, action)
			_, err = srv.Client.SendSMS(ctx, p, &sendoka.SMSRequest{From: "+15555550100", To: sandbox.ReplyStopNumber, Body: "again"})
			require.NoError(t, err)
		})
	}
}
