package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// apiClient calls a server's API with one key.
type apiClient struct {
	hc  *http.Client
	key string
}

// newAPIClient returns a client whose requests give up after timeout (the clients of the
// load "retry on errors and timeouts").
func newAPIClient(key string, timeout time.Duration) *apiClient {
	return &apiClient{key: key, hc: &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxIdleConnsPerHost: 128, MaxConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}}}
}

// answer is one request's outcome.
type answer struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
	err    error // the request got no answer (refused, reset, timed out)
}

// do sends one request; body is JSON-encoded unless nil. headers are name, value pairs.
func (c *apiClient) do(ctx context.Context, method, url string, body any, headers ...string) answer {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	res, err := c.hc.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: b, took: time.Since(start), err: err}
}

// getJSON GETs url into v; anything but 200 is an error.
func (c *apiClient) getJSON(ctx context.Context, url string, v any) error {
	a := c.do(ctx, http.MethodGet, url, nil)
	if a.err != nil {
		return a.err
	}
	if a.status != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, a.status, a.body)
	}
	return json.Unmarshal(a.body, v)
}

// postJSON POSTs body to url and decodes a 200 or 201 answer into v (when not nil).
func (c *apiClient) postJSON(ctx context.Context, url string, body, v any, headers ...string) error {
	return c.sendJSON(ctx, http.MethodPost, url, body, v, headers...)
}

// sendJSON sends a scenario's setup request (creating a template, an audience…) and
// decodes a 200 or 201 answer into v (when not nil). Like any client it retries for a
// while on no answer, a 5xx, a 409 or a 429 (a loaded machine can make the database
// slower than the API's 4 s): the setup is not what the scenario tests. Setup requests
// are safe to repeat, or carry an Idempotency-Key.
func (c *apiClient) sendJSON(ctx context.Context, method, url string, body, v any, headers ...string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		a := c.do(ctx, method, url, body, headers...)
		if a.status == http.StatusOK || a.status == http.StatusCreated {
			if v == nil {
				return nil
			}
			return json.Unmarshal(a.body, v)
		}
		_, wait, done := classifyAnswer(a)
		if done || time.Now().After(deadline) {
			if a.err != nil {
				return a.err
			}
			return fmt.Errorf("%s %s: %d %s", method, url, a.status, a.body)
		}
		if !sleepCtx(ctx, wait) {
			return ctx.Err()
		}
	}
}

// envelope is the docs' error envelope.
type envelope struct {
	Error *struct {
		Type      string `json:"type"`
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// errorCode returns the code of an answer in the error envelope, and whether the answer
// is one (type, code, message and request_id all there, the request id also in
// X-Request-Id).
func (a answer) errorCode() (string, bool) {
	var e envelope
	if json.Unmarshal(a.body, &e) != nil || e.Error == nil {
		return "", false
	}
	ok := e.Error.Type != "" && e.Error.Code != "" && e.Error.Message != "" && e.Error.RequestID != "" &&
		a.header.Get("X-Request-Id") == e.Error.RequestID
	return e.Error.Code, ok
}

// retryAfter is the answer's Retry-After in seconds, or def when it has none.
func (a answer) retryAfter(def time.Duration) time.Duration {
	if n, err := strconv.Atoi(a.header.Get("Retry-After")); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return def
}
