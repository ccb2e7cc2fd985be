package smtpemailtest_test

import (
	"crypto/tls"
	"net"
	"net/textproto"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
)

// client speaks SMTP by hand, so the test controls every byte of the commands.
type client struct {
	t  *testing.T
	nc net.Conn
	tp *textproto.Conn
}

func dial(t *testing.T, srv *smtpemailtest.Server, mode smtpemailtest.TLSMode) *client {
	t.Helper()
	var nc net.Conn
	var err error
	if mode == smtpemailtest.ImplicitTLS {
		nc, err = tls.Dial("tcp", srv.Addr(), srv.ClientTLS())
	} else {
		nc, err = net.Dial("tcp", srv.Addr())
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	c := &client{t: t, nc: nc, tp: textproto.NewConn(nc)}
	_, _, err = c.tp.ReadResponse(220)
	require.NoError(t, err)
	return c
}

// do sends line and returns the reply's code and text.
func (c *client) do(line string) (int, string) {
	c.t.Helper()
	require.NoError(c.t, c.tp.PrintfLine("%s", line))
	code, msg, err := c.tp.ReadResponse(0)
	if tpErr, ok := err.(*textproto.Error); ok {
		return tpErr.Code, tpErr.Msg
	}
	require.NoError(c.t, err)
	return code, msg
}

func (c *client) startTLS(srv *smtpemailtest.Server) {
	c.t.Helper()
	code, _ := c.do("STARTTLS")
	require.Equal(c.t, 220, code)
	tc := tls.Client(c.nc, srv.ClientTLS())
	require.NoError(c.t, tc.Handshake())
	c.nc, c.tp = tc, textproto.NewConn(tc)
}

func TestBarePathsRefused(t *testing.T) {
	t.Parallel()
	for _, mode := range []smtpemailtest.TLSMode{smtpemailtest.NoTLS, smtpemailtest.StartTLS, smtpemailtest.ImplicitTLS} {
		t.Run(string(mode)+"_", func(t *testing.T) {
			t.Parallel()
			srv := smtpemailtest.Start(t, smtpemailtest.Options{TLS: mode})
			c := dial(t, srv, mode)
			code, caps := c.do("EHLO client.test")
			require.Equal(t, 250, code)
			if mode == smtpemailtest.StartTLS {
				require.Contains(t, caps, "STARTTLS")
				c.startTLS(srv)
				code, caps = c.do("EHLO client.test")
				require.Equal(t, 250, code)
				require.NotContains(t, caps, "STARTTLS", "not offered twice")
			}

			code, msg := c.do("MAIL FROM:hello@acme.test")
			require.Equal(t, 501, code, "a bare reverse-path is refused")
			require.Contains(t, msg, "angle brackets")
			code, _ = c.do("MAIL FROM:<hello@acme.test> BODY=8BITMIME")
			require.Equal(t, 250, code)
			code, _ = c.do("RCPT TO:ada@example.com")
			require.Equal(t, 501, code, "a bare forward-path is refused")
			code, _ = c.do("RCPT TO:<ada@example.com>x")
			require.GreaterOrEqual(t, code, 500)
			code, _ = c.do("RCPT TO:<ada@example.com>")
			require.Equal(t, 250, code)

			code, _ = c.do("RSET")
			require.Equal(t, 250, code)
			code, _ = c.do("MAIL FROM:<>")
			require.Equal(t, 250, code, "the null reverse-path")
			code, _ = c.do("RCPT TO:<bob@example.com>")
			require.Equal(t, 250, code)
			code, _ = c.do("DATA")
			require.Equal(t, 354, code)
			// Data lines that look like commands are data.
			w := c.tp.DotWriter()
			_, err := w.Write([]byte("Message-ID: <m1@acme.test>\r\nSubject: x\r\n\r\nMAIL FROM:bare@acme.test\r\nSTARTTLS\r\n"))
			require.NoError(t, err)
			require.NoError(t, w.Close())
			_, _, err = c.tp.ReadResponse(250)
			require.NoError(t, err)

			msgs := srv.WaitFor(t, 1)
			require.Equal(t, []string{"MAIL FROM:<>", "RCPT TO:<bob@example.com>"}, msgs[0].Envelope)
			require.Equal(t, "m1@acme.test", msgs[0].MessageID)
			require.Equal(t, mode != smtpemailtest.NoTLS, msgs[0].TLS)
			require.Contains(t, string(msgs[0].Data), "MAIL FROM:bare@acme.test\r\nSTARTTLS\r\n")
			require.Equal(t, 1, srv.Received("<m1@acme.test>"))
			require.Equal(t, map[string]int{"m1@acme.test": 1}, srv.Receipts())

			// The connection is still in step: the next command is answered.
			code, _ = c.do("NOOP")
			require.Equal(t, 250, code)
		})
	}
}

func TestAuthNeedsTLS(t *testing.T) {
	t.Parallel()
	srv := smtpemailtest.Start(t, smtpemailtest.Options{TLS: smtpemailtest.StartTLS, Username: "u", Password: "p"})
	c := dial(t, srv, smtpemailtest.StartTLS)
	code, caps := c.do("EHLO client.test")
	require.Equal(t, 250, code)
	require.NotContains(t, caps, "AUTH", "no login offered in the clear")
	code, _ = c.do("AUTH PLAIN AHUAcA==")
	require.Equal(t, 523, code)

	c.startTLS(srv)
	code, caps = c.do("EHLO client.test")
	require.Equal(t, 250, code)
	require.Contains(t, caps, "AUTH PLAIN LOGIN")
	code, _ = c.do("AUTH PLAIN AHUAcA==") // \0u\0p
	require.Equal(t, 235, code)
	code, _ = c.do("MAIL FROM:<hello@acme.test>")
	require.Equal(t, 250, code)
}
