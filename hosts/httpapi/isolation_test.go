package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// isolationFixture makes an object for a path template of the API and says how to call each
// of its operations validly, so that the only reason left to refuse a call is who makes it.
type isolationFixture struct {
	// create makes the object as key and returns the id to put in the path.
	create func(t *testing.T, b *bundle, key string) string
	// body is a valid request body for the method, if it takes one.
	body map[string]func() any
}

// isolationFixtures covers every route of the API with a path parameter. A route added
// without an entry here fails TestIsolationEveryRoute: a new route must show that another
// org (and another tenant) gets 404 for its objects.
func isolationFixtures() map[string]isolationFixture {
	future := func() string { return time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339) }
	scheduledEmail := func(path string) func(t *testing.T, b *bundle, key string) string {
		return func(t *testing.T, b *bundle, key string) string {
			body := quickstart()
			body["scheduled_at"] = future()
			return b.send(t, path, key, body)
		}
	}
	scheduledSMS := func(t *testing.T, b *bundle, key string) string {
		body := smsBody()
		body["scheduled_at"] = future()
		return b.send(t, "/api/v1/sms", key, body)
	}
	reschedule := map[string]func() any{http.MethodPatch: func() any { return map[string]any{"scheduled_at": future()} }}
	return map[string]isolationFixture{
		"/api/v1/emails/{id}": {create: scheduledEmail("/api/v1/emails"), body: reschedule},
		"/api/v1/sms/{id}":    {create: scheduledSMS, body: reschedule},
		"/api/v1/templates/{id_or_slug}": {
			create: func(t *testing.T, b *bundle, key string) string {
				var out Template
				b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: key, body: map[string]any{
					"slug": fmt.Sprintf("iso-%d", time.Now().UnixNano()), "channel": "email", "subject": "Hi", "text": "Hello",
				}}).decode(t, http.StatusOK, &out)
				return out.ID
			},
			body: map[string]func() any{http.MethodPatch: func() any { return map[string]any{"subject": "Changed"} }},
		},
		"/api/v1/phone-numbers/{id}":           {create: createPhoneNumber},
		"/api/v1/phone-numbers/{id}/provision": {create: createPhoneNumber},
		"/api/v1/phone-pools/{id}": {
			create: func(t *testing.T, b *bundle, key string) string {
				var out map[string]any
				b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-pools", key: key, body: map[string]any{
					"name": "iso", "phone_number_ids": []string{},
				}}).decode(t, http.StatusOK, &out)
				return out["id"].(string)
			},
			body: map[string]func() any{http.MethodPatch: func() any { return map[string]any{"name": "changed"} }},
		},
		"/api/v1/api-keys/{id}": {
			create: func(t *testing.T, b *bundle, key string) string {
				var out APIKeyCreated
				b.do(t, req{method: http.MethodPost, path: "/api/v1/api-keys", key: key, body: map[string]any{"mode": "live", "scopes": []string{"emails:send"}}}).
					decode(t, http.StatusOK, &out)
				return out.ID
			},
			body: map[string]func() any{http.MethodPatch: func() any { return map[string]any{"name": "changed"} }},
		},
	}
}

// phoneSeq numbers the senders the fixtures register, so no two collide.
var phoneSeq atomic.Int64

func createPhoneNumber(t *testing.T, b *bundle, key string) string {
	var out map[string]any
	b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers", key: key, body: map[string]any{
		"kind": "long_code", "phone_number": fmt.Sprintf("+1555%07d", 3000000+phoneSeq.Add(1)), "iso_country": "US",
	}}).decode(t, http.StatusOK, &out)
	return out["id"].(string)
}

// operation is one route of the OpenAPI document.
type operation struct{ method, path string }

// idOperations lists the operations of the served OpenAPI document whose path has a
// parameter.
func idOperations(t *testing.T, b *bundle) []operation {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	b.do(t, req{method: http.MethodGet, path: "/api/v1/openapi.json"}).decode(t, http.StatusOK, &doc)
	var ops []operation
	for path, item := range doc.Paths {
		if !strings.Contains(path, "{") {
			continue
		}
		for method := range item {
			ops = append(ops, operation{strings.ToUpper(method), path})
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.path+a.method, b.path+b.method) })
	return ops
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestIsolationEveryRoute: for every route of the OpenAPI document that takes an id, another
// org's full-access key gets 404 NOT_FOUND for the first org's object, and the object is
// still there, unchanged, for its owner afterwards.
func TestIsolationEveryRoute(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		ctx := context.Background()
		now := time.Now().UTC()
		orgB := &sendoka.Org{ID: sendoka.NewID(sendoka.PrefixOrg, now), Name: "org b", Plan: "free", CreatedAt: now}
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertOrg(ctx, orgB) }))
		_, keyB := b.orgKey(t, orgB.ID, sendoka.CreateKeyParams{})

		fixtures := isolationFixtures()
		ops := idOperations(t, b)
		require.NotEmpty(t, ops)
		for _, op := range ops {
			fx, ok := fixtures[op.path]
			if !assertHasFixture(t, ok, op) {
				continue
			}
			id := fx.create(t, b, b.live)
			path := pathParam.ReplaceAllString(op.path, id)
			var body any
			if mk := fx.body[op.method]; mk != nil {
				body = mk()
			}
			b.do(t, req{method: op.method, path: path, key: keyB, body: body}).
				requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
			// The owner still has it: the other org's call changed nothing.
			if strings.Count(op.path, "/") == 4 { // the object's own route, not a sub-route
				res := b.do(t, req{method: http.MethodGet, path: path, key: b.live})
				require.Equal(t, http.StatusOK, res.status, "%s %s: the owner lost the object: %s", op.method, op.path, res.body)
			}
		}
	})
}

func assertHasFixture(t *testing.T, ok bool, op operation) bool {
	t.Helper()
	if !ok {
		t.Errorf("%s %s takes an id but has no isolation fixture: add one to isolationFixtures", op.method, op.path)
	}
	return ok
}
