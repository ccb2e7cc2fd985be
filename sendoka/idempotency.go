package sendoka

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"sync"
	"time"
)

// Idempotency keys. A request that carries a key is processed once: BeginIdempotent
// stores the key with a lock, the request runs, and its response is stored on the key
// (IdempotentCall.Commit inside the transaction of what it creates, or Finish after). A
// later request with the same key and body, within IdempotencyRetention, gets the stored
// response instead of running again; one with another body is CodeIdempotencyMismatch;
// one that arrives while the first still holds the lock is CodeIdempotencyInFlight. A lock
// older than IdempotencyLockTimeout belongs to a request that died: the next request with
// the key takes it over.
const (
	// IdempotencyLockTimeout is how long a request holds its key before another request
	// with the same key may take it over.
	IdempotencyLockTimeout = 30 * time.Second
	// IdempotencyRetention is how long a key is remembered: a request after that is new.
	// The periodic JobPurgeIdempotencyKeys deletes older keys.
	IdempotencyRetention = 24 * time.Hour
	// MaxIdempotencyKeyLen is the longest key, in characters (printable ASCII).
	MaxIdempotencyKeyLen = 255
	// IdempotencyPurgeInterval is how often the queue's leader deletes expired keys.
	IdempotencyPurgeInterval = 10 * time.Minute
)

// IdempotencyRequest is one request made under an idempotency key.
type IdempotencyRequest struct {
	// Route is the operation: method and route pattern ("POST /api/v1/emails").
	Route string
	// Key is the caller's key (checked with ValidateIdempotencyKey).
	Key string
	// Body is the request's body, as received; it is hashed (RequestHash), never stored.
	Body []byte
	// InTx promises that the request commits what it creates with Commit, in one
	// transaction (the sends do), and that a request that fails calls Settle before it
	// answers. BeginIdempotent then neither reads nor locks the key: Commit inserts the
	// completed record in the creating transaction, which fails if the key exists (a
	// replay, another body, or a concurrent request that committed first), and Settle then
	// says what to answer instead. The send path keeps one statement per request for its
	// key and no commit of its own.
	InTx bool
}

// ValidateIdempotencyKey checks a key: 1 to MaxIdempotencyKeyLen printable ASCII
// characters (0x20 to 0x7E). Anything else is CodeValidation.
func ValidateIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return &Error{Code: CodeValidation, Message: "Idempotency-Key must be 1 to 255 characters",
			Fields: []FieldError{{Path: []any{"Idempotency-Key"}, Code: FieldInvalid, Message: "1 to 255 printable ASCII characters"}}}
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return &Error{Code: CodeValidation, Message: "Idempotency-Key must be printable ASCII",
				Fields: []FieldError{{Path: []any{"Idempotency-Key"}, Code: FieldInvalid, Message: "1 to 255 printable ASCII characters"}}}
		}
	}
	return nil
}

// RequestHash is the hex SHA-256 of a request body in canonical form: a JSON body is
// parsed and written again with sorted keys and no insignificant whitespace (numbers kept
// as written), so key order and formatting do not make two bodies differ; any other body
// is hashed as it is.
func RequestHash(body []byte) string {
	sum := sha256.Sum256(canonicalJSON(body))
	return hex.EncodeToString(sum[:])
}

// canonicalJSON returns body re-encoded (encoding/json sorts object keys), or body itself
// when it is not exactly one JSON value.
func canonicalJSON(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body
	}
	if _, err := dec.Token(); err != io.EOF {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// IdempotentCall is a request that holds its idempotency key, or a replay of an earlier
// one (Replay). A call that holds the key must end with Commit (in the transaction of what
// it creates) and Finish, or with Release; a call that does neither keeps its key locked
// until IdempotencyLockTimeout passes.
type IdempotentCall struct {
	c      *Client
	key    IdempotencyKey
	token  string
	replay *StoredResponse
	// inTx: the call holds no record yet; Commit inserts it (IdempotencyRequest.InTx).
	inTx bool
	hash string

	mu        sync.Mutex
	committed *StoredResponse
}

// Replay returns the stored response of an earlier request with the same key and body, or
// nil when this call holds the key and must run the request.
func (ic *IdempotentCall) Replay() *StoredResponse { return ic.replay }

// Key returns the key the call is about.
func (ic *IdempotentCall) Key() IdempotencyKey { return ic.key }

// BeginIdempotent looks req's key up in p's scope and decides, in statements that commit
// on their own (no lock is held across the request):
//   - no record, or one older than IdempotencyRetention: the call holds the key (locked)
//     and the request runs;
//   - a record of another body: CodeIdempotencyMismatch;
//   - a locked record younger than IdempotencyLockTimeout: CodeIdempotencyInFlight with
//     RetryAfterSeconds 1; an older one is taken over (the call holds the key);
//   - a completed record: the call is a replay (Replay returns the stored response).
//
// An invalid key is CodeValidation.
func (c *Client) BeginIdempotent(ctx context.Context, p *Principal, req IdempotencyRequest) (*IdempotentCall, error) {
	if err := ValidateIdempotencyKey(req.Key); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, Errorf(CodeUnauthorized, "missing API key")
	}
	k := IdempotencyKey{OrgID: p.OrgID, TenantID: p.TenantID, Mode: p.Mode, Route: req.Route, Key: req.Key}
	hash := RequestHash(req.Body)
	if req.InTx {
		// Nothing is read or written now: Commit inserts the record, and a request that
		// does not commit looks the key up then (Settle).
		return &IdempotentCall{c: c, key: k, token: newIdempotencyToken(), hash: hash, inTx: true}, nil
	}
	// A few rounds at most: each one loses only to another request that changed the record
	// in between (released it, or took it over).
	for range 4 {
		now := c.now()
		rec := &IdempotencyRecord{IdempotencyKey: k, RequestHash: hash, Token: newIdempotencyToken(),
			State: IdempotencyLocked, LockedAt: now, CreatedAt: now}
		ok, err := c.store.CreateIdempotencyRecord(ctx, rec)
		if err != nil {
			return nil, AsError(err)
		}
		if ok {
			return &IdempotentCall{c: c, key: k, token: rec.Token}, nil
		}
		old, err := c.store.GetIdempotencyRecord(ctx, k)
		if ErrorCode(err) == CodeNotFound {
			continue // released or purged since: insert again
		}
		if err != nil {
			return nil, AsError(err)
		}
		lockedBefore, createdBefore := now.Add(-IdempotencyLockTimeout), now.Add(-IdempotencyRetention)
		expired := !old.CreatedAt.After(createdBefore)
		if !expired && old.RequestHash != hash {
			return nil, Errorf(CodeIdempotencyMismatch, "this Idempotency-Key was used with a different request body")
		}
		lapsed := old.State == IdempotencyLocked && !old.LockedAt.After(lockedBefore)
		if expired || lapsed {
			ok, err := c.store.TakeOverIdempotencyRecord(ctx, rec, old.Token, lockedBefore, createdBefore)
			if err != nil {
				return nil, AsError(err)
			}
			if ok {
				return &IdempotentCall{c: c, key: k, token: rec.Token}, nil
			}
			continue // another request took it over first: look again
		}
		if old.State == IdempotencyLocked || old.Response == nil {
			return nil, inFlight()
		}
		return &IdempotentCall{c: c, key: k, replay: old.Response}, nil
	}
	return nil, inFlight()
}

func inFlight() *Error {
	return &Error{Code: CodeIdempotencyInFlight, RetryAfterSeconds: 1, Retry: time.Second,
		Message: "a request with this Idempotency-Key is still being processed; retry shortly"}
}

func newIdempotencyToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Commit completes the call's record with resp inside tx, the transaction of what the
// request creates: both commit, or neither does. It fails with CodeIdempotencyInFlight
// when the call no longer holds its key (another request took over a lapsed lock), which
// rolls tx back. Use it through WithinTx (or WithinBatchTx) on a send.
func (ic *IdempotentCall) Commit(ctx context.Context, tx Tx, resp StoredResponse) error {
	if ic.replay != nil {
		return errors.New("sendoka: Commit of a replayed idempotent call")
	}
	ic.setCommitted(nil) // until this attempt stores it
	var ok bool
	var err error
	if ic.inTx {
		ok, err = tx.InsertCompletedIdempotencyRecords(ctx, ic.record(resp))
	} else {
		ok, err = tx.CompleteIdempotencyRecord(ctx, ic.key, ic.token, &resp)
	}
	if err != nil {
		return err
	}
	if !ok {
		e := inFlight()
		e.Message = "another request took over this Idempotency-Key; retry shortly"
		if ic.inTx {
			e.Message = "another request with this Idempotency-Key completed first; retry to get its response"
		}
		return e
	}
	ic.mu.Lock()
	ic.committed = &resp
	ic.mu.Unlock()
	return nil
}

// errIdempotencyTaken fails a group's transaction when one of its sends' keys exists; each
// send then runs on its own, and only that one fails.
var errIdempotencyTaken = &Error{Code: CodeIdempotencyInFlight, RetryAfterSeconds: 1, Retry: time.Second,
	Message: "another request with this Idempotency-Key completed first; retry to get its response"}

// record is the completed record an InTx call inserts, with resp.
func (ic *IdempotentCall) record(resp StoredResponse) *IdempotencyRecord {
	now := ic.c.now()
	return &IdempotencyRecord{IdempotencyKey: ic.key, RequestHash: ic.hash, Token: ic.token,
		State: IdempotencyCompleted, LockedAt: now, CreatedAt: now, Response: &resp}
}

// setCommitted records the response the call stored in its transaction (nil: none yet).
func (ic *IdempotentCall) setCommitted(resp *StoredResponse) {
	ic.mu.Lock()
	ic.committed = resp
	ic.mu.Unlock()
}

// InTx reports whether the call was begun with IdempotencyRequest.InTx.
func (ic *IdempotentCall) InTx() bool { return ic.inTx }

// Committed reports whether Commit stored the call's response in a transaction that did not
// fail (as far as the call knows: a transaction that failed after Commit rolls it back, and
// the send reports that failure).
func (ic *IdempotentCall) Committed() bool {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.committed != nil
}

// Settle is called by an InTx call whose request failed (nothing committed): it looks the
// key up and says what to answer instead of the failure. A completed record with the same
// body: its response, to replay. A record of another body: CodeIdempotencyMismatch. A
// locked one: CodeIdempotencyInFlight. An expired one, or one locked by a request that died
// (its lock lapsed), is cleared and rerun is true: the request may run again at once, as the
// key's new holder. No record: nothing, and the failure stands (Finish stores it, if it is
// not to be retried).
func (ic *IdempotentCall) Settle(ctx context.Context) (replay *StoredResponse, rerun bool, err error) {
	if !ic.inTx || ic.replay != nil {
		return nil, false, nil
	}
	c := ic.c
	old, err := c.store.GetIdempotencyRecord(ctx, ic.key)
	if ErrorCode(err) == CodeNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, AsError(err)
	}
	now := c.now()
	lockedBefore, createdBefore := now.Add(-IdempotencyLockTimeout), now.Add(-IdempotencyRetention)
	expired := !old.CreatedAt.After(createdBefore)
	lapsed := old.State == IdempotencyLocked && !old.LockedAt.After(lockedBefore)
	switch {
	case expired || lapsed:
		// Take it over and give it up at once: the key is free for the retry.
		rec := &IdempotencyRecord{IdempotencyKey: ic.key, RequestHash: ic.hash, Token: newIdempotencyToken(),
			State: IdempotencyLocked, LockedAt: now, CreatedAt: now}
		ok, err := c.store.TakeOverIdempotencyRecord(ctx, rec, old.Token, lockedBefore, createdBefore)
		if err != nil {
			return nil, false, AsError(err)
		}
		if !ok {
			return nil, false, inFlight() // another request took it first
		}
		if _, err := c.store.ReleaseIdempotencyRecord(ctx, ic.key, rec.Token); err != nil {
			return nil, false, AsError(err)
		}
		return nil, true, nil
	case old.RequestHash != ic.hash:
		return nil, false, Errorf(CodeIdempotencyMismatch, "this Idempotency-Key was used with a different request body")
	case old.State == IdempotencyLocked || old.Response == nil:
		return nil, false, inFlight()
	}
	return old.Response, false, nil
}

// Finish stores resp as the response to replay, once the request has answered. When the
// request already committed an identical response with Commit nothing is written. A call
// that lost its key to a take-over writes nothing either.
func (ic *IdempotentCall) Finish(ctx context.Context, resp StoredResponse) error {
	if ic.replay != nil {
		return nil
	}
	ic.mu.Lock()
	committed := ic.committed
	ic.mu.Unlock()
	if committed != nil && sameResponse(committed, &resp) {
		return nil
	}
	if ic.inTx && committed == nil {
		// The request answered without committing (a validation error, say): store that
		// answer, unless another request with the key stored its own first.
		now := ic.c.now()
		ok, err := ic.c.store.CreateIdempotencyRecord(ctx, &IdempotencyRecord{IdempotencyKey: ic.key, RequestHash: ic.hash,
			Token: ic.token, State: IdempotencyLocked, LockedAt: now, CreatedAt: now})
		if err != nil || !ok {
			return wrapErr(err)
		}
	}
	_, err := ic.c.store.CompleteIdempotencyRecord(ctx, ic.key, ic.token, &resp)
	return wrapErr(err)
}

// Release gives the key up when the request failed in a way worth retrying (an outage, a
// server error, a limit): the next request with the key runs as new. A record the request
// already completed in its transaction (Commit) is kept: what it created exists.
func (ic *IdempotentCall) Release(ctx context.Context) error {
	if ic.replay != nil || ic.inTx {
		return nil // an InTx call holds a record only once committed, and that one is kept
	}
	_, err := ic.c.store.ReleaseIdempotencyRecord(ctx, ic.key, ic.token)
	return wrapErr(err)
}

// sameResponse reports whether two responses are equal.
func sameResponse(a, b *StoredResponse) bool {
	return a.Status == b.Status && maps.Equal(a.Header, b.Header) && bytes.Equal(a.Body, b.Body)
}

// wrapErr is AsError that returns an untyped nil for nil, so its result can be returned
// as an error.
func wrapErr(err error) error {
	if err == nil {
		return nil
	}
	return AsError(err)
}

// PurgeIdempotencyKeys deletes the keys older than IdempotencyRetention and returns how
// many it deleted. The queue runs it periodically (JobPurgeIdempotencyKeys); keys past
// their retention are treated as absent even before it runs.
func (c *Client) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	n, err := c.store.DeleteIdempotencyRecords(ctx, c.now().Add(-IdempotencyRetention))
	if err != nil {
		return 0, AsError(err)
	}
	if n > 0 {
		c.log.InfoContext(ctx, "purged idempotency keys", "count", n)
	}
	return n, nil
}
