package smtpemailtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emersion/go-smtp"
)

// wireConn stands between a client and go-smtp, so the server can judge the commands as
// the client sent them: go-smtp parses MAIL FROM and RCPT TO leniently and accepts a path
// without angle brackets, which real relays refuse (Postfix with strict envelopes, Exchange,
// most submission services).
//
// To keep reading the commands in clear after STARTTLS, the wireConn performs STARTTLS
// itself: it answers the command, shakes hands and goes on with TLS underneath, and go-smtp
// (which offers STARTTLS but never sees the command) carries on with what looks to it like
// the same plain connection. Everything else is go-smtp's.
//
// It follows the stream line by line: a line after a 354 reply is message data until the
// lone ".", a line after a 334 reply is a SASL answer, a BDAT chunk is passed through
// unread. Only go-smtp's connection goroutine reads and writes, so the state needs no lock.
type wireConn struct {
	net.Conn // the accepted connection: addresses, deadlines, Close

	rw        io.ReadWriter // the transport: Conn, or TLS over it after STARTTLS
	r         *bufio.Reader // reads rw
	startTLS  *tls.Config   // set when STARTTLS is offered
	tls       atomic.Bool   // the session is encrypted
	mode      wireMode
	skip      int64  // bytes left in a BDAT chunk
	midLine   bool   // the last piece handed over did not end a line
	pending   []byte // the rest of the line being handed over
	mail      string // the last MAIL command line, as sent
	rcpt      string // the last RCPT command line, as sent
	startTLSd bool   // STARTTLS succeeded: EHLO replies stop offering it
}

type wireMode int

const (
	modeCommand wireMode = iota
	modeData             // after a 354 reply, until the lone "."
	modeSASL             // after a 334 reply, for one line
)

// newWireConn wraps an accepted connection. isTLS: it already speaks TLS (implicit TLS);
// startTLS: offer STARTTLS with this configuration.
func newWireConn(c net.Conn, isTLS bool, startTLS *tls.Config) *wireConn {
	w := &wireConn{Conn: c, rw: c, r: bufio.NewReader(c), startTLS: startTLS}
	w.tls.Store(isTLS)
	return w
}

// Read hands go-smtp the client's bytes one line at a time, so every line is seen before
// go-smtp acts on it and none is read ahead of the replies the client waits for.
func (w *wireConn) Read(p []byte) (int, error) {
	for len(w.pending) == 0 {
		if w.skip > 0 {
			n, err := w.r.Read(p[:min(int64(len(p)), w.skip)])
			w.skip -= int64(n)
			return n, err
		}
		line, err := w.r.ReadSlice('\n')
		if len(line) == 0 {
			return 0, err
		}
		continued := w.midLine
		w.midLine = line[len(line)-1] != '\n'
		if continued {
			w.pending = line
			break
		}
		pass, err := w.observe(line)
		if err != nil {
			return 0, err
		}
		if pass {
			w.pending = line
		}
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	return n, nil
}

// observe looks at one line from the client before go-smtp does; pass is false for a line
// go-smtp must not see (STARTTLS, done here).
func (w *wireConn) observe(line []byte) (pass bool, err error) {
	switch w.mode {
	case modeData:
		if s := string(line); s == ".\r\n" || s == ".\n" {
			w.mode = modeCommand
		}
		return true, nil
	case modeSASL:
		w.mode = modeCommand
		return true, nil
	}
	cmd := strings.TrimRight(string(line), "\r\n")
	verb, arg, _ := strings.Cut(cmd, " ")
	switch strings.ToUpper(verb) {
	case "MAIL":
		w.mail = cmd
	case "RCPT":
		w.rcpt = cmd
	case "BDAT":
		if f := strings.Fields(arg); len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && n > 0 {
				w.skip = n
			}
		}
	case "STARTTLS":
		if w.startTLS != nil && !w.tls.Load() && strings.TrimSpace(arg) == "" {
			return false, w.upgrade()
		}
	}
	return true, nil
}

// upgrade answers STARTTLS and shakes hands, as go-smtp would.
func (w *wireConn) upgrade() error {
	if w.r.Buffered() > 0 {
		// RFC 3207: the client waits for the 220 before the handshake.
		return errors.New("smtpemailtest: data pipelined after STARTTLS")
	}
	if _, err := io.WriteString(w.rw, "220 2.0.0 Ready to start TLS\r\n"); err != nil {
		return err
	}
	tc := tls.Server(w.Conn, w.startTLS)
	if err := tc.Handshake(); err != nil {
		return err
	}
	w.rw, w.r = tc, bufio.NewReader(tc)
	w.tls.Store(true)
	w.startTLSd = true
	return nil
}

// Write passes go-smtp's replies on, noting those that change how the next lines read.
// go-smtp flushes every reply line on its own.
func (w *wireConn) Write(p []byte) (int, error) {
	switch {
	case bytes.HasPrefix(p, []byte("354")):
		w.mode = modeData
	case bytes.HasPrefix(p, []byte("334")):
		w.mode = modeSASL
	case w.startTLSd && bytes.Equal(p, []byte("250-STARTTLS\r\n")):
		// go-smtp thinks the connection is still plain; a server does not offer
		// STARTTLS twice.
		return len(p), nil
	}
	return w.rw.Write(p)
}

// isTLS reports whether the session is encrypted (implicit TLS, or after STARTTLS).
func (w *wireConn) isTLS() bool { return w.tls.Load() }

// checkPath refuses a MAIL or RCPT command line whose path is not in angle brackets (RFC
// 5321 §4.1.1.2, §4.1.1.3, §4.1.2): "MAIL FROM:<a@example.com>", "MAIL FROM:<>", "RCPT
// TO:<b@example.com>", each optionally followed by parameters. A space after the colon is
// tolerated, as most relays do.
func checkPath(line, prefix string) error {
	bad := &smtp.SMTPError{
		Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
		Message: "Syntax error: the path must be in angle brackets, as in " + prefix + "<address> (RFC 5321 4.1.2)",
	}
	if len(line) < len(prefix) || !strings.EqualFold(line[:len(prefix)], prefix) {
		return bad
	}
	rest := strings.TrimLeft(line[len(prefix):], " ")
	end := strings.IndexByte(rest, '>')
	if !strings.HasPrefix(rest, "<") || end < 0 || (end+1 < len(rest) && rest[end+1] != ' ') {
		return bad
	}
	return nil
}
