package dashboard_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/dashboard"
	"github.com/sendoka/sendoka/sendoka"
)

func TestParseContactsCSV(t *testing.T) {
	t.Parallel()
	rows, err := dashboard.ParseContactsCSV(strings.NewReader("\ufeffEmail,First_Name,last_name,plan\nada@example.com, Ada ,Lovelace,pro\n,,,\n+x,,,\nbob@example.com,,,\n"))
	require.NoError(t, err)
	require.Len(t, rows, 3, "the blank row is skipped")
	require.Equal(t, "ada@example.com", rows[0].Email)
	require.Equal(t, "Ada", rows[0].FirstName)
	require.Equal(t, "Lovelace", rows[0].LastName)
	require.Equal(t, map[string]any{"plan": "pro"}, rows[0].Data)
	require.Equal(t, "+x", rows[1].Email, "checked by the core when stored, not here")

	for _, bad := range []string{"", "name,plan\nada,pro\n", "email\n", "email\n\"unterminated\n"} {
		_, err := dashboard.ParseContactsCSV(strings.NewReader(bad))
		require.Equal(t, sendoka.CodeValidation, sendoka.ErrorCode(err), "%q", bad)
	}
}

// FuzzParseContactsCSV: any input gives contacts or a validation error, never a panic, and
// every contact has a field set.
func FuzzParseContactsCSV(f *testing.F) {
	f.Add("email,phone\nada@example.com,+15551234567\n")
	f.Add("EMAIL;x\n\"a,b\",c\n")
	f.Add("phone,data\n+1,\"multi\nline\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := dashboard.ParseContactsCSV(strings.NewReader(in))
		if err != nil {
			require.Equal(t, sendoka.CodeValidation, sendoka.ErrorCode(err))
			return
		}
		for _, r := range rows {
			require.True(t, r.Email != "" || r.Phone != "" || r.FirstName != "" || r.LastName != "" || len(r.Data) > 0)
		}
	})
}
