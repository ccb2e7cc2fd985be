package dashboard

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"

	"github.com/sendoka/sendoka/sendoka"
)

// maxCSVRows bounds one import.
const maxCSVRows = 100_000

// ParseContactsCSV reads a contact list: a header row, then one contact a row. The columns
// email, phone, first_name and last_name (any case) fill those fields; every other column
// goes into the contact's data under its header. Blank rows are skipped. A file without an
// email or phone column, with more than 100,000 rows, or that is not CSV is CodeValidation.
// Each contact is checked by the core when it is stored.
func ParseContactsCSV(r io.Reader) ([]sendoka.ContactInput, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, csvError("the file is empty or not CSV")
	}
	cols := make([]string, len(header))
	known := false
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // a BOM from spreadsheet exports
		cols[i] = h
		switch strings.ToLower(h) {
		case "email", "phone":
			known = true
		}
	}
	if !known {
		return nil, csvError("the header row needs an email or a phone column")
	}
	var out []sendoka.ContactInput
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError("the file is not valid CSV: " + err.Error())
		}
		if len(out) >= maxCSVRows {
			return nil, csvError("at most 100,000 contacts per file")
		}
		var c sendoka.ContactInput
		blank := true
		for i, v := range rec {
			if i >= len(cols) {
				break
			}
			v = strings.TrimSpace(v)
			if v == "" || cols[i] == "" {
				continue // no value, or a column without a name: nothing to keep
			}
			blank = false
			switch strings.ToLower(cols[i]) {
			case "email":
				c.Email = v
			case "phone":
				c.Phone = v
			case "first_name":
				c.FirstName = v
			case "last_name":
				c.LastName = v
			default:
				if c.Data == nil {
					c.Data = map[string]any{}
				}
				c.Data[cols[i]] = v
			}
		}
		if !blank {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, csvError("the file has no contacts")
	}
	return out, nil
}

func csvError(msg string) error {
	var v sendoka.Validation
	v.Add(sendoka.FieldInvalid, msg, "file")
	return v.Err()
}
