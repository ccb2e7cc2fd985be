package sendoka

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func newTestClient(t *testing.T) *Client {
	t.Helper()
	c := &Client{sandboxDomain: DefaultSandboxDomain}
	return c
}

func fieldPaths(t *testing.T, err error) [][]any {
	t.Helper()
	e := AsError(err)
	require.Equal(t, CodeValidation, e.Code, err)
	var out [][]any
	for _, f := range e.Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestNewEmailValidation(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	p := SystemPrincipal("org_1", ModeTest)
	ok := func() *EmailRequest {
		return &EmailRequest{From: "you@sandbox.sendoka.com", To: []string{"user@example.com"}, Subject: "Hi", HTML: "<p>x</p>"}
	}
	many := make([]string, 51)
	for i := range many {
		many[i] = "a@example.com"
	}
	cases := []struct {
		name  string
		mod   func(r *EmailRequest)
		paths [][]any
	}{
		{"missing from", func(r *EmailRequest) { r.From = "" }, [][]any{{"from"}}},
		{"bad to item", func(r *EmailRequest) { r.To = []string{"ok@example.com", "nope"} }, [][]any{{"to", 1}}},
		{"no to", func(r *EmailRequest) { r.To = nil }, [][]any{{"to"}}},
		{"too many to", func(r *EmailRequest) { r.To = many }, [][]any{{"to"}}},
		{"bad cc", func(r *EmailRequest) { r.Cc = []string{"x@"} }, [][]any{{"cc", 0}}},
		{"no subject", func(r *EmailRequest) { r.Subject = " " }, [][]any{{"subject"}}},
		{"subject with newline", func(r *EmailRequest) { r.Subject = "a\r\nBcc: x@evil.test" }, [][]any{{"subject"}}},
		{"no body", func(r *EmailRequest) { r.HTML = "" }, [][]any{{"html"}}},
		{"too many tags", func(r *EmailRequest) { r.Tags = strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",") }, [][]any{{"tags"}}},
		{"empty tag", func(r *EmailRequest) { r.Tags = []string{""} }, [][]any{{"tags", 0}}},
		{"nested metadata", func(r *EmailRequest) { r.Metadata = map[string]any{"a": map[string]any{}} }, [][]any{{"metadata", "a"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ok()
			tc.mod(r)
			_, err := c.newEmail(p, r)
			require.Equal(t, tc.paths, fieldPaths(t, err))
		})
	}

	m, err := c.newEmail(p, &EmailRequest{
		From: `"Ada" <Ada@Example.COM>`, To: []string{"User@EXAMPLE.com"}, Subject: "Hi", Text: "x",
		Metadata: map[string]any{"n": 1.5, "b": true, "s": "v"},
	})
	require.NoError(t, err)
	require.Equal(t, `"Ada" <Ada@example.com>`, m.Email.From, "domain lower-cased, local part kept")
	require.Equal(t, []string{"User@example.com"}, m.Email.To)
	require.Equal(t, ChannelEmail, m.Channel)
	require.Equal(t, ModeTest, m.Mode)
}

func TestSandboxRouting(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	email := func(mode Mode, from string) *Message {
		return &Message{Channel: ChannelEmail, Mode: mode, Email: &EmailContent{From: from}}
	}
	require.True(t, c.isSandboxSender(email(ModeTest, "a@example.com")), "test keys always use the sandbox")
	require.True(t, c.isSandboxSender(email(ModeLive, "a@sandbox.sendoka.com")), "the sandbox domain always uses the sandbox")
	require.True(t, c.isSandboxSender(email(ModeLive, `"X" <a@SANDBOX.sendoka.com>`)))
	require.False(t, c.isSandboxSender(email(ModeLive, "a@example.com")))
	require.True(t, c.isSandboxSender(&Message{Channel: ChannelSMS, Mode: ModeTest, SMS: &SMSContent{}}))
	require.False(t, c.isSandboxSender(&Message{Channel: ChannelSMS, Mode: ModeLive, SMS: &SMSContent{}}))
}
