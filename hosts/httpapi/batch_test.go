package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// rowPaths lists the paths of a row error.
func rowPaths(r BatchRow) [][]any {
	var out [][]any
	for _, f := range r.Error.Errors {
		out = append(out, f.Path)
	}
	return out
}

func TestEmailBatchAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{workers: true})
		batch := func(key string, body any, header ...map[string]string) *response {
			r := req{method: http.MethodPost, path: "/api/v1/emails/batch", key: key, body: body}
			if len(header) > 0 {
				r.header = header[0]
			}
			return b.do(t, r)
		}
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.test, body: map[string]any{
			"slug": "hi", "channel": "email", "subject": "Hi {{name}}", "text": "Hello {{name}}",
		}}).decode(t, http.StatusOK, &Template{})

		// Per-item: the docs' example, plus rows that fail in each way a row can.
		var res BatchResponse
		rows := []any{
			map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"a@example.com"}, "subject": "Personalized 1", "html": "<p>hi 1</p>"},
			map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"b@example.com", "c@example.com"}, "cc": []string{"d@example.com"}, "subject": "Personalized 2", "html": "<p>hi 2</p>"},
			map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"not an address"}, "subject": "x", "html": "x"},
			map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"e@example.com"}, "subject": "x", "html": "x", "colour": "blue"},
			"not an object",
			map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"f@example.com"}, "template": "hi"},
			map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"g@example.com"}, "template": "hi", "variables": map[string]any{"name": "G"},
				"scheduled_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		}
		first := batch(b.test, rows, map[string]string{"Idempotency-Key": "batch-per-item"})
		first.decode(t, http.StatusOK, &res)
		// The key covers the whole call: a retry gets the stored per-row response, and
		// sends nothing again.
		var stored int
		require.NoError(t, b.db.SQLDB().QueryRowContext(context.Background(), "SELECT count(*) FROM messages").Scan(&stored))
		replay := batch(b.test, rows, map[string]string{"Idempotency-Key": "batch-per-item"})
		require.Equal(t, http.StatusOK, replay.status)
		require.Equal(t, "true", replay.header.Get("Idempotent-Replayed"))
		require.Equal(t, first.body, replay.body)
		var after int
		require.NoError(t, b.db.SQLDB().QueryRowContext(context.Background(), "SELECT count(*) FROM messages").Scan(&after))
		require.Equal(t, stored, after)
		batch(b.test, rows[:1], map[string]string{"Idempotency-Key": "batch-per-item"}).requireError(t, http.StatusConflict, sendoka.CodeIdempotencyMismatch)
		require.Equal(t, 7, res.Total)
		require.Equal(t, 3, res.Succeeded)
		require.Equal(t, 4, res.Failed)
		for i, row := range res.Data {
			require.Equal(t, i, row.Index)
		}
		for _, i := range []int{0, 1} {
			require.Equal(t, "queued", res.Data[i].Status)
			require.Nil(t, res.Data[i].Error)
		}
		require.Equal(t, "scheduled", res.Data[6].Status)
		for _, i := range []int{2, 3, 4, 5} {
			require.Equal(t, "failed", res.Data[i].Status, "row %d", i)
			require.Nil(t, res.Data[i].ID)
		}
		require.Equal(t, "VALIDATION_ERROR", res.Data[2].Error.Code)
		require.Equal(t, [][]any{{"to", float64(0)}}, rowPaths(res.Data[2]))
		require.Equal(t, [][]any{{"colour"}}, rowPaths(res.Data[3]), "unknown fields are refused, as on single sends")
		require.Equal(t, "VALIDATION_ERROR", res.Data[4].Error.Code)
		require.Equal(t, "TEMPLATE_MISSING_VARIABLES", res.Data[5].Error.Code)
		require.Equal(t, [][]any{{"variables", "name"}}, rowPaths(res.Data[5]))

		var second EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + *res.Data[1].ID, key: b.test}).decode(t, http.StatusOK, &second)
		require.Equal(t, []string{"b@example.com", "c@example.com"}, second.To, "the per-item shape keeps multi-recipient headers")
		require.Equal(t, []string{"d@example.com"}, second.Cc)
		var last EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + *res.Data[6].ID, key: b.test}).decode(t, http.StatusOK, &last)
		require.Equal(t, "Hi G", last.Subject)

		// Bulk: one message per recipient.
		to := make([]string, 100)
		for i := range to {
			to[i] = fmt.Sprintf("r%d@example.com", i)
		}
		to[5] = "broken"
		batch(b.test, map[string]any{"from": "you@sandbox.sendoka.com", "to": to, "subject": "Launch", "html": "<p>Live</p>", "tags": []string{"launch"}}).
			decode(t, http.StatusOK, &res)
		require.Equal(t, 100, res.Total)
		require.Equal(t, 99, res.Succeeded)
		require.Equal(t, [][]any{{"to", float64(5)}}, rowPaths(res.Data[5]))
		ids := map[string]bool{}
		for i, row := range res.Data {
			if i != 5 {
				ids[*row.ID] = true
			}
		}
		require.Len(t, ids, 99, "each recipient has a message of its own")
		var one EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + *res.Data[7].ID, key: b.test}).decode(t, http.StatusOK, &one)
		require.Equal(t, []string{"r7@example.com"}, one.To)
		eventually(t, deliveryDeadline, func() bool {
			var list EmailList
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?tag=launch&status=queued", key: b.test}).decode(t, http.StatusOK, &list)
			return len(list.Data) == 0
		}, "the bulk batch is delivered")

		// Whole-call failures: the envelope, nothing accepted.
		many := make([]any, 101)
		for i := range many {
			many[i] = quickstart()
		}
		e := batch(b.test, many).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.Contains(t, e.Message, "at most 100")
		e = batch(b.test, map[string]any{"from": "you@sandbox.sendoka.com", "to": append(to, "x@example.com"), "subject": "s", "text": "t"}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.Contains(t, e.Message, "at most 100")
		e = batch(b.test, map[string]any{"from": "you@sandbox.sendoka.com", "to": to[:2], "cc": []string{"boss@example.com"}, "subject": "s", "text": "t"}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "cc"), "%+v", e)
		e = batch(b.test, map[string]any{"from": "you@sandbox.sendoka.com", "to": to[:2], "subject": "s", "text": "t", "colour": "x"}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldUnrecognized, "colour"), "%+v", e)
		batch(b.test, []any{}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		batch(b.test, map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{}, "subject": "s", "text": "t"}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		batch(b.test, "5").requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		batch(b.test, `[{"from":`).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		batch(b.test, nil).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// The key needs the channel's send scope, even when every row is invalid.
		_, smsOnly := b.key(t, sendoka.CreateKeyParams{Mode: sendoka.ModeTest, Permissions: []sendoka.Permission{sendoka.PermissionSMSSend}})
		batch(smsOnly, []any{quickstart()}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		batch(smsOnly, []any{"bad"}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		batch(smsOnly, map[string]any{"from": "you@sandbox.sendoka.com", "to": to[:2], "subject": "s", "text": "t"}).
			requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails/batch", body: []any{quickstart()}}).requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
	})
}

func TestSMSBatchAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		batch := func(body any) *response {
			return b.do(t, req{method: http.MethodPost, path: "/api/v1/sms/batch", key: b.test, body: body})
		}
		// The docs' per-item example.
		var res BatchResponse
		batch(`[
		  { "from": "+15551234567", "to": "+15559876543", "body": "Personalized 1", "tags": ["promo"] },
		  { "from": "+15551234567", "to": "+15559876544", "body": "Personalized 2", "tags": ["promo"] },
		  { "from": "+15551234567", "to": ["+15559876545"], "body": "wrong shape of to" }
		]`).decode(t, http.StatusOK, &res)
		require.Equal(t, 2, res.Succeeded)
		require.Equal(t, "VALIDATION_ERROR", res.Data[2].Error.Code)
		require.Equal(t, [][]any{{"to"}}, rowPaths(res.Data[2]))

		// Bulk: to is a list of numbers.
		batch(map[string]any{"from": "+15551234567", "to": []string{"+15559876543", "+15559876544", "12"}, "body": "Flash sale"}).
			decode(t, http.StatusOK, &res)
		require.Equal(t, 3, res.Total)
		require.Equal(t, 2, res.Succeeded)
		require.Equal(t, [][]any{{"to", float64(2)}}, rowPaths(res.Data[2]))
		var got SMSMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + *res.Data[1].ID, key: b.test}).decode(t, http.StatusOK, &got)
		require.Equal(t, "+15559876544", got.To)
		require.Equal(t, "Flash sale", got.Body)

		to := make([]string, 101)
		for i := range to {
			to[i] = "+15559876543"
		}
		e := batch(map[string]any{"from": "+15551234567", "to": to, "body": "x"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.Contains(t, e.Message, "at most 100")
		batch(map[string]any{"from": "+15551234567", "to": "+15559876543", "body": "x"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	})
}

func TestBatchOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						OneOf []json.RawMessage `json:"oneOf"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	b.do(t, reqGet("/api/v1/openapi.json")).decode(t, http.StatusOK, &doc)
	for _, path := range []string{"/api/v1/emails/batch", "/api/v1/sms/batch"} {
		content := doc.Paths[path]["post"].RequestBody.Content
		require.Equal(t, []string{"application/json"}, keys(content), path)
		require.Len(t, content["application/json"].Schema.OneOf, 2, path)
	}
	var bulk struct {
		Properties map[string]struct {
			Type     json.RawMessage `json:"type"`
			MaxItems int             `json:"maxItems"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(doc.Components.Schemas["SMSBulkRequest"], &bulk))
	require.JSONEq(t, `"array"`, string(bulk.Properties["to"].Type))
	require.Equal(t, 100, bulk.Properties["to"].MaxItems)
	require.Contains(t, bulk.Properties, "body")
	require.Contains(t, doc.Components.Schemas, "BatchResponse")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
