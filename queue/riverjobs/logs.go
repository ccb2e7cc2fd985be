package riverjobs

import (
	"context"
	"log/slog"
)

// riverLogger is the logger River gets: River reports routine work (a client started, a
// leader elected, periodic jobs inserted) at Info, which in a server's log is chatter, so
// its Info records go out at Debug. Warnings and errors stay as they are.
func riverLogger(log *slog.Logger) *slog.Logger {
	return slog.New(infoAsDebug{log.Handler()})
}

// infoAsDebug is a slog.Handler that lowers Info records to Debug.
type infoAsDebug struct{ next slog.Handler }

func (h infoAsDebug) lower(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

func (h infoAsDebug) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, h.lower(l))
}

func (h infoAsDebug) Handle(ctx context.Context, r slog.Record) error {
	r.Level = h.lower(r.Level)
	return h.next.Handle(ctx, r)
}

func (h infoAsDebug) WithAttrs(attrs []slog.Attr) slog.Handler {
	return infoAsDebug{h.next.WithAttrs(attrs)}
}

func (h infoAsDebug) WithGroup(name string) slog.Handler { return infoAsDebug{h.next.WithGroup(name)} }
