package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// sesRecorder is a second email provider for the servers under test: an endpoint that
// speaks Amazon SES's API v2 SendEmail (POST /v2/email/outbound-emails, REST-JSON, raw
// MIME) and counts every message it accepts by Sendoka's message id. The binary builds one
// SMTP relay, so a failover from one recorder to another goes from SMTP to "SES".
type sesRecorder struct {
	url string

	mu   sync.Mutex
	byID map[string]int
	n    int
}

// Credentials and region the servers sign their SES requests with (the recorder checks
// nothing; AWS's SDK wants them).
const (
	sesRegion = "eu-west-1"
	sesKeyID  = "AKIDSENDOKACHAOS"
)

// startSESRecorder starts a recorder on a free port of 127.0.0.1; cl stops it.
func startSESRecorder(e *env) (*sesRecorder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &sesRecorder{url: "http://" + ln.Addr().String(), byID: map[string]int{}}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	e.cl.add(func() { _ = srv.Close() })
	return r, nil
}

// env is the server settings of SES pointed at this recorder.
func (r *sesRecorder) env() []string {
	return []string{
		"SENDOKA_SES_REGION=" + sesRegion,
		"SENDOKA_SES_ENDPOINT=" + r.url,
		"AWS_ACCESS_KEY_ID=" + sesKeyID,
		"AWS_SECRET_ACCESS_KEY=chaos",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

func (r *sesRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v2/email/outbound-emails" {
		sesError(w, http.StatusNotFound, "UnknownOperationException", req.Method+" "+req.URL.Path)
		return
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var body struct {
		Content struct {
			Raw *struct{ Data []byte }
		}
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Content.Raw == nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "expected Content.Raw")
		return
	}
	id := sendokaID(body.Content.Raw.Data)
	r.mu.Lock()
	r.n++
	r.byID[id]++
	n := r.n
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"MessageId": fmt.Sprintf("chaos-ses-%08d", n)})
}

func sesError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// counts returns a copy of the receipts by message id.
func (r *sesRecorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.byID))
	for k, v := range r.byID {
		out[k] = v
	}
	return out
}

// received returns how many messages arrived in all.
func (r *sesRecorder) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}
