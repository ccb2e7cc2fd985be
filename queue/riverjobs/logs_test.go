package riverjobs

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRiverLoggerQuiet: River's Info records go out at Debug, so an Info-level log doesn't
// show them; its warnings stay warnings; a Debug-level log shows the Info ones as DEBUG.
func TestRiverLoggerQuiet(t *testing.T) {
	var info bytes.Buffer
	l := riverLogger(slog.New(slog.NewTextHandler(&info, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Info("River client started", "client_id", "x")
	l.With("component", "leader").InfoContext(context.Background(), "leader elected")
	require.Empty(t, info.String(), "routine chatter is not at info")
	l.Warn("job failed")
	require.Contains(t, info.String(), "level=WARN msg=\"job failed\"")

	var debug bytes.Buffer
	d := riverLogger(slog.New(slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug})))
	d.Info("periodic job inserted")
	require.Contains(t, debug.String(), "level=DEBUG msg=\"periodic job inserted\"")
}
