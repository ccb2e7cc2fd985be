package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// request is one hostile request, written on the wire byte for byte as given: the Go
// client would refuse, or fix, half of what the attack sends (a NUL in a header, a path
// with "..", a body shorter than its Content-Length).
type request struct {
	op     *operation // nil for the probes that are not about one operation
	attack string     // what is hostile about it, for the report
	method string
	target string // the request-target as sent: path and query, already escaped as intended
	header []headerField
	body   []byte
	// raw, when set, is sent instead of what the fields above make (malformed HTTP).
	raw []byte
	// httpLevel marks a request that is malformed as HTTP: Go's net/http may answer it
	// itself, before any handler, with a plain-text 400, 431, 501 or 505.
	httpLevel bool
	// noContentLength leaves Content-Length out (the header list says how the body is framed).
	noContentLength bool
	// expect, when set, is the status the request must get (a probe with a known answer).
	expect int
}

type headerField struct{ name, value string }

// with returns a copy of r with a header set (replacing one of the same name).
func (r *request) set(name, value string) {
	for i, h := range r.header {
		if strings.EqualFold(h.name, name) {
			r.header[i].value = value
			return
		}
	}
	r.header = append(r.header, headerField{name, value})
}

func (r *request) del(name string) {
	out := r.header[:0]
	for _, h := range r.header {
		if !strings.EqualFold(h.name, name) {
			out = append(out, h)
		}
	}
	r.header = out
}

func (r *request) get(name string) string {
	for _, h := range r.header {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

func (r *request) clone() *request {
	c := *r
	c.header = append([]headerField(nil), r.header...)
	return &c
}

// wire is the request's bytes.
func (r *request) wire(host string) []byte {
	if r.raw != nil {
		return r.raw
	}
	var b bytes.Buffer
	b.Grow(len(r.body) + 512)
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.method, r.target, host)
	for _, h := range r.header {
		b.WriteString(h.name)
		b.WriteString(": ")
		b.WriteString(h.value)
		b.WriteString("\r\n")
	}
	if !r.noContentLength && (len(r.body) > 0 || r.method == http.MethodPost || r.method == http.MethodPatch || r.method == http.MethodPut) {
		b.WriteString("Content-Length: " + strconv.Itoa(len(r.body)) + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(r.body)
	return b.Bytes()
}

// result is what came back.
type result struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
	// err is set when no complete answer came: the connection was closed first, or the
	// deadline passed (timedOut).
	err      error
	timedOut bool
}

// maxAnswer bounds the body read of an answer: the largest legitimate ones (a page of 100
// messages, the OpenAPI document) are far smaller.
const maxAnswer = 8 << 20

// send writes r on a fresh connection and reads one answer, waiting at most limit.
func send(addr string, r *request, limit time.Duration) *result {
	start := time.Now()
	res := &result{}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		res.err = err
		return res
	}
	defer conn.Close()
	_ = conn.SetDeadline(start.Add(limit))
	// Write and read at once: a server may answer (413, 431) before it has read it all.
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(r.wire(addr))
		wrote <- err
	}()
	br := bufio.NewReaderSize(conn, 64<<10)
	sent := &http.Request{Method: r.method} // a HEAD's answer has no body
	resp, err := http.ReadResponse(br, sent)
	for err == nil && resp.StatusCode < 200 { // 100 Continue: the answer follows
		resp, err = http.ReadResponse(br, sent)
	}
	if err == nil {
		res.status, res.header = resp.StatusCode, resp.Header
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		_ = resp.Body.Close()
	}
	res.took = time.Since(start)
	if err != nil {
		res.err = err
		var ne net.Error
		res.timedOut = errors.As(err, &ne) && ne.Timeout()
	}
	_ = conn.SetDeadline(time.Now()) // unblock the writer if the server stopped reading
	<-wrote
	return res
}
