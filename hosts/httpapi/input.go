package httpapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/sendoka/sendoka/sendoka"
)

// A NUL character is valid JSON ("\u0000") and valid Go, but Postgres stores it in neither
// text nor jsonb: letting one through turns bad input into a database error (a 500). The
// HTTP layer turns it away first, whatever field it is in.

// rejectNUL returns a VALIDATION_ERROR naming every string of body (a decoded request body),
// keys included, that contains a NUL character, or nil.
func rejectNUL(body any) error {
	raw, err := json.Marshal(body)
	if err != nil || !bytes.Contains(raw, []byte(`\u0000`)) {
		return nil // the common case: one scan of the encoding and no walk
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil
	}
	var v sendoka.Validation
	walkNUL(&v, doc, []any{})
	return v.Err()
}

func walkNUL(v *sendoka.Validation, x any, path []any) {
	switch x := x.(type) {
	case string:
		if hasNUL(x) {
			v.Add(sendoka.FieldInvalidString, "must not contain NUL characters", path...)
		}
	case []any:
		for i, e := range x {
			walkNUL(v, e, append(slices.Clip(path), i))
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			p := append(slices.Clip(path), k)
			if hasNUL(k) {
				v.Add(sendoka.FieldInvalidString, "keys must not contain NUL characters", p...)
			}
			walkNUL(v, x[k], p)
		}
	}
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// checkListQuery rejects list parameters that can match nothing because no stored value
// may contain them.
func checkListQuery(in *listInput) error {
	var v sendoka.Validation
	if hasNUL(in.Tag) {
		v.Add(sendoka.FieldInvalidString, "must not contain NUL characters", "tag")
	}
	if in.Cursor != "" {
		if cur, err := sendoka.DecodeCursor(in.Cursor); err == nil && hasNUL(cur.ID) {
			v.Add(sendoka.FieldInvalid, "malformed cursor", "cursor")
		}
	}
	return v.Err()
}
