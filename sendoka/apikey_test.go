package sendoka

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyPlaintext(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeLive, ModeTest} {
		k := NewKeyPlaintext(mode)
		got, ok := ParseKey(k)
		require.True(t, ok, k)
		require.Equal(t, mode, got)
		require.True(t, strings.HasPrefix(k, "sok_"+string(mode)+"_"))
		require.Len(t, HashKey(k), 64)
		require.NotEqual(t, k, NewKeyPlaintext(mode), "keys are random")
		require.Equal(t, k[:len("sok_live_")+4], keyVisible(k))
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key  string
		mode Mode
		ok   bool
	}{
		{"sok_test_" + strings.Repeat("a", 24), ModeTest, true},
		{"sok_live_" + strings.Repeat("Z9", 16), ModeLive, true},
		{"sok_test_" + strings.Repeat("a", 23), "", false},
		{"sok_prod_" + strings.Repeat("a", 30), "", false},
		{"sok_test_" + strings.Repeat("a", 23) + "-", "", false},
		{"Bearer sok_test_" + strings.Repeat("a", 30), "", false},
		{"", "", false},
		{"sok_live_" + strings.Repeat("a", 200), "", false},
	}
	for _, tc := range cases {
		mode, ok := ParseKey(tc.key)
		require.Equal(t, tc.ok, ok, tc.key)
		require.Equal(t, tc.mode, mode, tc.key)
	}
}

func TestIPAllowed(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr("10.1.2.3")
	require.True(t, ipAllowed(nil, ip))
	require.True(t, ipAllowed([]string{"10.0.0.0/8"}, ip))
	require.True(t, ipAllowed([]string{"10.0.0.0/8"}, netip.MustParseAddr("::ffff:10.9.9.9")))
	require.False(t, ipAllowed([]string{"192.168.0.0/16", "10.1.2.4/32"}, ip))
}

func TestPrincipalCan(t *testing.T) {
	t.Parallel()
	p := &Principal{Permissions: []Permission{PermissionSMSSend}}
	require.True(t, p.Can(PermissionSMSSend))
	require.False(t, p.Can(PermissionEmailsSend))
	require.Equal(t, CodeInsufficientScope, ErrorCode(p.require(PermissionEmailsSend)))
	require.NoError(t, SystemPrincipal("org_1", ModeLive).require(PermissionEmailsSend))
	var nilP *Principal
	require.Equal(t, CodeUnauthorized, ErrorCode(nilP.require(PermissionEmailsSend)))
}

// TestAsErrorNil guards against returning a nil *Error as a non-nil error.
func TestAsErrorNil(t *testing.T) {
	t.Parallel()
	require.Nil(t, AsError(nil))
	require.Equal(t, Code(""), ErrorCode(nil))
}
