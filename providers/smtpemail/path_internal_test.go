package smtpemail

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPath(t *testing.T) {
	t.Parallel()
	require.Equal(t, "<ada@example.com>", path("ada@example.com"))
	require.Equal(t, "<>", path(""), "the null reverse-path")
}
