package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestNUL: a NUL character anywhere (valid JSON, refused by Postgres) is bad input, never
// a database error, on both databases.
func TestNUL(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		const from = `"from":"you@sandbox.sendoka.com","to":["a@example.com"],"subject":"s"`
		nulCursor := base64.RawURLEncoding.EncodeToString([]byte("2026-01-01T00:00:00Z|msg_\x00"))
		for _, tc := range []struct {
			req    req
			status int
			path   []any
		}{
			{req{method: http.MethodPost, path: "/api/v1/emails", body: `{` + from + `,"html":"x\u0000"}`}, 422, []any{"html"}},
			{req{method: http.MethodPost, path: "/api/v1/emails", body: `{` + from + `,"text":"x","metadata":{"k":"v\u0000"}}`}, 422, []any{"metadata", "k"}},
			{req{method: http.MethodPost, path: "/api/v1/emails", body: `{` + from + `,"text":"x","metadata":{"k\u0000":1}}`}, 422, []any{"metadata", "k\x00"}},
			{req{method: http.MethodPost, path: "/api/v1/emails", body: `{` + from + `,"text":"x","cc":["ok@example.com","b\u0000@example.com"]}`}, 422, []any{"cc", 1}},
			{req{method: http.MethodPost, path: "/api/v1/sms", body: `{"from":"+15551234567","to":"+15559876543","body":"a\u0000b"}`}, 422, []any{"body"}},
			{req{method: http.MethodGet, path: "/api/v1/emails?tag=%00"}, 422, []any{"tag"}},
			{req{method: http.MethodGet, path: "/api/v1/sms?cursor=" + nulCursor}, 422, []any{"cursor"}},
			{req{method: http.MethodGet, path: "/api/v1/emails/msg_%00"}, 404, nil},
			{req{method: http.MethodGet, path: "/api/v1/sms/%00"}, 404, nil},
		} {
			tc.req.key = b.live
			res := b.do(t, tc.req)
			if tc.status == 404 {
				res.requireError(t, 404, sendoka.CodeNotFound)
				continue
			}
			e := res.requireError(t, tc.status, sendoka.CodeValidation)
			require.True(t, hasField(e, sendoka.FieldInvalidString, tc.path...) || hasField(e, sendoka.FieldInvalid, tc.path...),
				"%s %s: want %q in %+v", tc.req.method, tc.req.path, tc.path, e.Errors)
		}
		// Invalid UTF-8 is not a database error either.
		require.Equal(t, http.StatusNotFound, b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/msg_%ff", key: b.live}).status)
		require.Equal(t, http.StatusOK, b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?tag=%ff", key: b.live}).status)
	})
}

func TestRejectNUL(t *testing.T) {
	t.Parallel()
	require.NoError(t, rejectNUL(&sendoka.EmailRequest{Subject: `literally \u0000`, Metadata: map[string]any{"a": []any{"b"}}}))
	err := rejectNUL(map[string]any{"a": []any{"ok", map[string]any{"b\x00": "c\x00"}}})
	e := sendoka.AsError(err)
	require.Equal(t, sendoka.CodeValidation, e.Code)
	require.Equal(t, []sendoka.FieldError{
		{Path: []any{"a", 1, "b\x00"}, Code: sendoka.FieldInvalidString, Message: "keys must not contain NUL characters"},
		{Path: []any{"a", 1, "b\x00"}, Code: sendoka.FieldInvalidString, Message: "must not contain NUL characters"},
	}, e.Fields)
}

// TestFieldNamesAreExact: a key that names a field only when case is ignored is an unknown
// field (unrecognized_keys at its path), in every JSON body, nested objects and batch rows
// included; it never fills the field, nor replaces one given in the right case.
func TestFieldNamesAreExact(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		const email = `"from":"you@sandbox.sendoka.com","to":["a@example.com"],"subject":"s","text":"t"`
		const sms = `"from":"+15551234567","to":"+15559876543","body":"b"`
		var pool struct {
			ID string `json:"id"`
		}
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-pools", key: b.live, body: `{"name":"p","phone_number_ids":[]}`}).
			decode(t, http.StatusOK, &pool)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.live,
			body: `{"slug":"exact","channel":"email","text":"hi"}`}).decode(t, http.StatusOK, &struct{}{})
		scheduled := b.send(t, "/api/v1/emails", b.live, `{`+email+`,"scheduled_at":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)

		for _, tc := range []struct {
			name, method, path, body string
			want                     [][]any
		}{
			{"email Bcc", "POST", "/api/v1/emails", `{` + email + `,"Bcc":["x@evil.test"]}`, [][]any{{"Bcc"}}},
			{"email To after to", "POST", "/api/v1/emails", `{` + email + `,"To":["x@evil.test"]}`, [][]any{{"To"}}},
			{"email to after To", "POST", "/api/v1/emails", `{"To":["x@evil.test"],` + email + `}`, [][]any{{"To"}}},
			{"email FROM alone", "POST", "/api/v1/emails", `{"FROM":"you@sandbox.sendoka.com","to":["a@example.com"],"subject":"s","text":"t"}`, [][]any{{"FROM"}}},
			{"email Unicode fold", "POST", "/api/v1/emails", `{` + email + `,"ſubject":"x","track_clicKs":false}`, [][]any{{"ſubject"}, {"track_clicKs"}}},
			{"email embedded field", "POST", "/api/v1/emails", `{` + email + `,"Scheduled_At":"2030-01-01T00:00:00Z"}`, [][]any{{"Scheduled_At"}}},
			{"email attachment", "POST", "/api/v1/emails", `{` + email + `,"attachments":[{"filename":"a.txt","content":"eA=="},{"Filename":"b.txt","filename":"c.txt","content":"eA=="}]}`,
				[][]any{{"attachments", 1, "Filename"}}},
			{"sms To", "POST", "/api/v1/sms", `{` + sms + `,"To":"+15559876544"}`, [][]any{{"To"}}},
			{"sms Body alone", "POST", "/api/v1/sms", `{"from":"+15551234567","to":"+15559876543","Body":"b"}`, [][]any{{"Body"}}},
			{"template create", "POST", "/api/v1/templates", `{"slug":"t1","channel":"email","text":"x","Subject":"s"}`, [][]any{{"Subject"}}},
			{"template update", "PATCH", "/api/v1/templates/exact", `{"Name":"n"}`, [][]any{{"Name"}}},
			{"phone number", "POST", "/api/v1/phone-numbers", `{"kind":"alphanumeric","sender_id":"Beta","ISO_Country":"GB"}`, [][]any{{"ISO_Country"}}},
			{"pool create", "POST", "/api/v1/phone-pools", `{"name":"q","Phone_Number_IDs":[]}`, [][]any{{"Phone_Number_IDs"}}},
			{"pool update", "PATCH", "/api/v1/phone-pools/" + pool.ID, `{"Default":true}`, [][]any{{"Default"}}},
			{"reschedule", "PATCH", "/api/v1/emails/" + scheduled, `{"Scheduled_at":"2030-01-01T00:00:00Z"}`, [][]any{{"Scheduled_at"}}},
			{"bulk email", "POST", "/api/v1/emails/batch", `{"from":"you@sandbox.sendoka.com","TO":["a@example.com"],"to":["b@example.com"],"subject":"s","text":"t"}`, [][]any{{"TO"}}},
			{"bulk sms", "POST", "/api/v1/sms/batch", `{"from":"+15551234567","to":["+15559876543"],"body":"b","Tags":["x"]}`, [][]any{{"Tags"}}},
		} {
			e := b.do(t, req{method: tc.method, path: tc.path, key: b.live, body: tc.body}).
				requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
			var got [][]any
			for _, f := range e.Errors {
				require.Equal(t, sendoka.FieldUnrecognized, f.Code, "%s: %+v", tc.name, e.Errors)
				got = append(got, f.Path)
			}
			require.Equal(t, normalise(t, tc.want), got, tc.name)
		}

		// A batch row with a miscased key fails on its own; the others go.
		var res BatchResponse
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails/batch", key: b.live,
			body: `[{` + email + `},{` + email + `,"Bcc":["x@evil.test"]},{` + email + `,"attachments":[{"FileName":"a.txt","content":"eA=="}]}]`}).
			decode(t, http.StatusOK, &res)
		require.Equal(t, 1, res.Succeeded)
		require.Nil(t, res.Data[0].Error)
		for i, path := range map[int][]any{1: {"Bcc"}, 2: {"attachments", 0, "FileName"}} {
			require.NotNil(t, res.Data[i].Error, i)
			require.Equal(t, string(sendoka.CodeValidation), res.Data[i].Error.Code)
			require.Equal(t, []FieldError{{Path: normalise(t, [][]any{path})[0], Code: sendoka.FieldUnrecognized, Message: "Unknown field"}}, res.Data[i].Error.Errors)
		}
		b.do(t, req{method: http.MethodPost, path: "/api/v1/sms/batch", key: b.live, body: `[{` + sms + `,"MEDIA_URL":[]}]`}).decode(t, http.StatusOK, &res)
		require.Equal(t, 1, res.Failed)
		require.Equal(t, sendoka.FieldUnrecognized, res.Data[0].Error.Errors[0].Code)

		// Keys of free-form maps keep their case; the exact names still work.
		b.send(t, "/api/v1/emails", b.live, `{`+email+`,"metadata":{"Key":1,"key":2},"headers":{"x-ref":"1"},"bcc":["b@example.com"]}`)
		b.send(t, "/api/v1/sms", b.live, `{`+sms+`,"metadata":{"ORDER":"1"}}`)
	})
}

// normalise gives paths the types a decoded envelope has (indexes as float64).
func normalise(t *testing.T, paths [][]any) [][]any {
	raw, err := json.Marshal(paths)
	require.NoError(t, err)
	var out [][]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func TestMiscasedKeys(t *testing.T) {
	t.Parallel()
	emailType := reflect.TypeFor[sendoka.EmailRequest]()
	require.Equal(t, [][]any{{"Cc"}, {"attachments", 0, "CONTENT"}, {"Scheduled_AT"}},
		miscasedKeys([]byte(`{"Cc":[],"unknown":{"To":1},"metadata":{"To":{"From":1}},"headers":{"to":"x"},
			"attachments":[{"CONTENT":"x"}],"Scheduled_AT":"x","variables":[{"Subject":1}]}`), emailType),
		"unknown keys are the schema's; map keys and untyped values are free")
	require.Nil(t, miscasedKeys([]byte(`{"to":[],"from":"x"}`), emailType))
	require.Nil(t, miscasedKeys([]byte(`{"To":`), emailType), "not JSON: the decoder reports it")
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	require.Nil(t, miscasedKeys([]byte(`{"metadata":{"k":`+deep+`},"cc":`+deep+`}`), emailType), "depth costs no stack")
	require.Nil(t, miscasedKeys([]byte(deep), emailType))

	// Embedded structs are flattened as encoding/json does; the outer field wins.
	type inner struct {
		To   string `json:"to"`
		Name string
		Skip string `json:"-"`
	}
	type outer struct {
		inner
		To []string `json:"to"`
	}
	require.Equal(t, map[string]reflect.Type{"to": reflect.TypeFor[[]string](), "Name": reflect.TypeFor[string]()},
		jsonFields(reflect.TypeFor[outer]()))
	require.Equal(t, [][]any{{"name"}, {"TO"}}, miscasedKeys([]byte(`{"Name":"x","name":"y","TO":[],"skip":1}`), reflect.TypeFor[*outer]()))
}

// TestPlainKeys: the shortcut of miscasedKeys sees a key that is not lower-case ASCII
// written plainly, and only keys: values are free.
func TestPlainKeys(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		`{"to":["A@B.C"],"subject":"Hello \"World\": yes","html":"<B>:</B>"}`: true,
		`{"to":[],"Cc":[]}`:                      false,
		`{"to":[], "c\u0063" :[]}`:               false, // an escape may spell anything
		`{"ſubject":"x"}`:                        false, // folds to "subject"
		"{\"subject\"\n\t:\"x\",\"To\"\r\n : 1}": false,
		`["Cc", "Bcc"]`:                          true, // strings that are not keys
		`{"a":"b\\","Cc":1}`:                     false,
	} {
		require.Equal(t, want, plainKeys([]byte(raw)), raw)
	}
	require.True(t, lowerCaseFields(reflect.TypeFor[sendoka.EmailRequest]()), "the API's own fields are snake_case")
	type mixed struct {
		Inner []struct {
			Name string
		} `json:"inner"`
	}
	require.False(t, lowerCaseFields(reflect.TypeFor[mixed]()), "a Go name deeper down")
	require.Equal(t, [][]any{{"inner", 0, "name"}}, miscasedKeys([]byte(`{"inner":[{"name":"x"}]}`), reflect.TypeFor[mixed]()),
		"no shortcut for a type with an upper-case name")
}

// FuzzMiscasedKeys: the shortcut never hides a miscased key the walk finds.
func FuzzMiscasedKeys(f *testing.F) {
	for _, seed := range []string{`{"to":[],"from":"x"}`, `{"Cc":[]}`, `{"c\u0043":1}`, `{"attachments":[{"CONTENT":"x"}]}`,
		`{"ſubject":"x"}`, `{"subject":"\"Cc\":"}`, `{"subject":"x\\","To":1}`} {
		f.Add([]byte(seed))
	}
	emailType := reflect.TypeFor[sendoka.EmailRequest]()
	f.Fuzz(func(t *testing.T, raw []byte) {
		require.Equal(t, walkMiscased(raw, emailType), miscasedKeys(raw, emailType))
	})
}
