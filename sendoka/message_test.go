package sendoka

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanTransition(t *testing.T) {
	t.Parallel()
	allowed := map[[2]Status]bool{
		{StatusQueued, StatusSent}: true, {StatusQueued, StatusFailed}: true,
		{StatusScheduled, StatusQueued}: true, {StatusScheduled, StatusSent}: true,
		{StatusScheduled, StatusFailed}: true, {StatusScheduled, StatusCanceled}: true,
		{StatusSent, StatusDelivered}: true, {StatusSent, StatusBounced}: true, {StatusSent, StatusFailed}: true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			require.Equal(t, allowed[[2]Status{from, to}], CanTransition(from, to), "%s -> %s", from, to)
		}
		if from.Terminal() {
			for _, to := range Statuses {
				require.False(t, CanTransition(from, to), "terminal %s must not move to %s", from, to)
			}
		}
	}
}

func TestStatusValid(t *testing.T) {
	t.Parallel()
	for _, s := range Statuses {
		require.True(t, s.Valid())
	}
	require.False(t, Status("sending").Valid())
	require.False(t, Status("").Valid())
}
