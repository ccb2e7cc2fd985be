package smtpemail_test

import (
	"bytes"
	"context"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/mimemail"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
)

// plain returns a Sender for srv without TLS, with opts' other fields.
func plain(t *testing.T, srv *smtpemailtest.Server, opts smtpemail.Options) *smtpemail.Sender {
	t.Helper()
	opts.Host, opts.Port, opts.Security = srv.Host, srv.Port, smtpemail.NoTLS
	return newSender(t, opts)
}

// After the final "." the relay has the message: no answer is not a failure to retry.
func TestNoReplyAfterDataIsUnknown(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		reply   error // what the relay does after the data
		message string
	}{
		{"never answers", smtpemailtest.ErrNoReply, "no reply to the end of DATA within 300ms; the relay may have accepted the message"},
		{"drops the connection", smtpemailtest.ErrHangUp, "connection lost waiting for the reply to the end of DATA"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var first atomic.Bool
			first.Store(true)
			srv := smtpemailtest.Start(t, smtpemailtest.Options{Data: func(smtpemailtest.Message) error {
				if first.CompareAndSwap(true, false) {
					return tc.reply
				}
				return nil
			}})
			s := plain(t, srv, smtpemail.Options{FinalReplyTimeout: 300 * time.Millisecond})
			m := email("msg_01JUNKNOWN")
			start := time.Now()
			_, err := s.SendEmail(ctx(t), m)
			pe := requireKind(t, sendoka.Unknown, err)
			require.Equal(t, "outcome_unknown", pe.Code)
			require.Contains(t, pe.Message, tc.message)
			require.Less(t, time.Since(start), 10*time.Second)
			require.Equal(t, 1, srv.Received(mimemail.MessageID(m)), "the data reached the relay exactly once")
			require.Empty(t, srv.Messages(), "never accepted")

			// The broken connection is not reused: the next message goes on a new one.
			_, err = s.SendEmail(ctx(t), email("msg_01JNEXT"))
			require.NoError(t, err)
			require.Equal(t, 2, srv.Connections())
			require.Equal(t, 1, srv.Received(mimemail.MessageID(m)), "nothing sent twice")
		})
	}
}

func TestContextEndsAfterDataIsUnknown(t *testing.T) {
	t.Parallel()
	reached := make(chan struct{})
	srv := smtpemailtest.Start(t, smtpemailtest.Options{Data: func(smtpemailtest.Message) error {
		close(reached)
		return smtpemailtest.ErrNoReply
	}})
	s := plain(t, srv, smtpemail.Options{})
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.SendEmail(c, email("msg_01JCANCEL"))
		done <- err
	}()
	select {
	case <-reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the data never reached the relay")
	}
	cancel()
	select {
	case err := <-done:
		pe := requireKind(t, sendoka.Unknown, err)
		require.Equal(t, "outcome_unknown", pe.Code)
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("SendEmail kept waiting after its context was canceled")
	}
}

// Before the final ".", the relay has nothing: a timeout is retried.
func TestCommandTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := smtpemailtest.Start(t, smtpemailtest.Options{Rcpt: func(string) error {
		<-release
		return nil
	}})
	t.Cleanup(func() { close(release) }) // before the server stops
	s := plain(t, srv, smtpemail.Options{CommandTimeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := s.SendEmail(ctx(t), email("msg_01JSLOWRCPT"))
	pe := requireKind(t, sendoka.Transient, err)
	require.Equal(t, "timeout", pe.Code)
	require.Equal(t, "RCPT TO <ada@example.com>: no progress within 200ms", pe.Message)
	require.Less(t, time.Since(start), 10*time.Second)
	require.Empty(t, srv.Receipts(), "no data sent")

	// A context canceled before the data is written is Transient too.
	c, cancel := context.WithTimeout(ctx(t), 100*time.Millisecond)
	defer cancel()
	s = plain(t, srv, smtpemail.Options{})
	_, err = s.SendEmail(c, email("msg_01JSLOWRCPT2"))
	pe = requireKind(t, sendoka.Transient, err)
	require.Equal(t, "canceled", pe.Code)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// A relay that stops reading the message: the write times out, the relay never saw the
// final ".", and the message is retried.
func TestDataTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stopped := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(stopped)
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = nc.Close() }()
		_ = nc.(*net.TCPConn).SetReadBuffer(4096)
		tp := textproto.NewConn(nc)
		_ = tp.PrintfLine("220 mx.test ESMTP")
		for {
			line, err := tp.ReadLine()
			if err != nil {
				return
			}
			switch verb, _, _ := strings.Cut(strings.ToUpper(line), " "); verb {
			case "EHLO":
				_ = tp.PrintfLine("250 mx.test")
			case "DATA":
				_ = tp.PrintfLine("354 go ahead")
				<-stopped // and read no more
				return
			default:
				_ = tp.PrintfLine("250 ok")
			}
		}
	})
	s := newSender(t, smtpemail.Options{
		Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Security: smtpemail.NoTLS,
		DataTimeout: 300 * time.Millisecond,
	})
	m := email("msg_01JSTUCK")
	// Far more than the socket buffers hold.
	m.Attachments = []sendoka.Attachment{{Filename: "big.bin", ContentType: "application/octet-stream", Content: bytes.Repeat([]byte("0123456789abcdef"), 1<<20)}}
	_, err = s.SendEmail(ctx(t), m)
	pe := requireKind(t, sendoka.Transient, err)
	require.Equal(t, "timeout", pe.Code)
	require.Equal(t, "message data: no progress within 300ms", pe.Message)
}

// Each phase's clock starts with the phase: a send that waited for the only connection
// still has its whole FinalReplyTimeout.
func TestPoolWaitCostsNoPhaseTime(t *testing.T) {
	t.Parallel()
	const delay, sends = 100 * time.Millisecond, 6
	srv := smtpemailtest.Start(t, smtpemailtest.Options{ReplyDelay: delay})
	budget := 500 * time.Millisecond // less than the last send waits for the connection
	s := plain(t, srv, smtpemail.Options{
		MaxConns: 1, DialTimeout: budget, CommandTimeout: budget, DataTimeout: budget, FinalReplyTimeout: budget,
	})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, sends)
	for i := range sends {
		wg.Go(func() {
			_, err := s.SendEmail(ctx(t), email("msg_01JPOOL"+string(rune('A'+i))))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, time.Since(start), sends*delay, "the sends went one at a time")
	require.Equal(t, 1, srv.Connections())
	require.Len(t, srv.Receipts(), sends)
	for id, n := range srv.Receipts() {
		require.Equal(t, 1, n, id)
	}
}

func TestConcurrencyAndDuration(t *testing.T) {
	t.Parallel()
	var limiter sendoka.ConcurrencyLimiter = newSender(t, smtpemail.Options{Host: "relay.test"})
	require.Equal(t, 4, limiter.MaxConcurrency(), "MaxConns' default")

	s := newSender(t, smtpemail.Options{Host: "relay.test", MaxConns: 7})
	require.Equal(t, 7, s.MaxConcurrency())
	// 15s + 53 × 30s + 3m + 10m: the defaults.
	require.Equal(t, 39*time.Minute+45*time.Second, s.MaxSendDuration())

	s = newSender(t, smtpemail.Options{
		Host: "relay.test", DialTimeout: time.Second, CommandTimeout: time.Second,
		DataTimeout: time.Second, FinalReplyTimeout: time.Second,
		SendTimeout: time.Millisecond, // ignored
	})
	require.Equal(t, time.Duration(1+sendoka.MaxEmailRecipientsTotal+3+1+1)*time.Second, s.MaxSendDuration())
}
