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
		require.Equal(t, k[:len("sok_live_")+4], KeyVisible(k))
		require.Len(t, k, len("sok_live_")+32+6, "32 random characters and a 6-character checksum")
		require.True(t, KeyChecksumValid(k), k)
	}
}

// TestKeyChecksum: the checksum catches any changed character, and keys without one (older
// keys, bootstrap keys) are valid keys without a valid checksum.
func TestKeyChecksum(t *testing.T) {
	t.Parallel()
	k := NewKeyPlaintext(ModeLive)
	for i := len(KeyPrefixLive); i < len(k); i++ {
		c := base62[(strings.IndexByte(base62, k[i])+1)%len(base62)]
		changed := k[:i] + string(c) + k[i+1:]
		_, ok := ParseKey(changed)
		require.True(t, ok, "still shaped like a key")
		require.False(t, KeyChecksumValid(changed), "character %d changed", i)
	}
	require.False(t, KeyChecksumValid(KeyPrefixTest+k[len(KeyPrefixLive):]), "the mode is covered")
	legacy := "sok_test_" + strings.Repeat("b", 32)
	_, ok := ParseKey(legacy)
	require.True(t, ok)
	require.False(t, KeyChecksumValid(legacy))
	// A known vector, so the format can be reimplemented by a scanner: CRC-32 (IEEE) of
	// "sok_live_" + 32 "a" is 0x87f8b6b1, 2281223857 = base62 "2UNmXB" (computed with
	// Python's zlib.crc32).
	require.Equal(t, "2UNmXB", keyChecksum("sok_live_"+strings.Repeat("a", 32)))
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

	w := &Principal{Permissions: []Permission{PermissionTemplatesWrite}}
	require.True(t, w.Can(PermissionTemplatesRead), "a :write scope holds its :read")
	require.False(t, w.Can(PermissionDomainsRead), "but not another resource's")
	r := &Principal{Permissions: []Permission{PermissionTemplatesRead}}
	require.False(t, r.Can(PermissionTemplatesWrite), "a :read scope does not hold :write")
}

// TestAsErrorNil guards against returning a nil *Error as a non-nil error.
func TestAsErrorNil(t *testing.T) {
	t.Parallel()
	require.Nil(t, AsError(nil))
	require.Equal(t, Code(""), ErrorCode(nil))
}
