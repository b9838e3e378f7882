package server

import (
	"context"
	"log/slog"

	xslog "golang.org/x/exp/slog"
)

// tusLogger bridges tusd's logger (golang.org/x/exp/slog) to the server's
// log/slog logger, keeping only warnings and errors: tusd logs every request
// at info, which the server's own request log already covers.
func tusLogger(l *slog.Logger) *xslog.Logger {
	return xslog.New(&tusBridge{to: l.With("component", "tus")})
}

type tusBridge struct {
	to    *slog.Logger
	attrs []any
}

func (b *tusBridge) Enabled(_ context.Context, level xslog.Level) bool {
	return level >= xslog.LevelWarn
}

func (b *tusBridge) Handle(ctx context.Context, r xslog.Record) error {
	args := append([]any(nil), b.attrs...)
	r.Attrs(func(a xslog.Attr) bool {
		args = append(args, a.Key, a.Value.String())
		return true
	})
	level := slog.Level(r.Level)
	if r.Message == "BodyReadError" {
		// A body that stopped arriving (a dropped or stalled link, a body
		// longer than the upload, a PATCH interrupted by the next one) is
		// the client's doing; uploads() logs a dropped link as a warning.
		level = slog.LevelInfo
	}
	b.to.Log(ctx, level, r.Message, args...)
	return nil
}

func (b *tusBridge) WithAttrs(attrs []xslog.Attr) xslog.Handler {
	n := &tusBridge{to: b.to, attrs: append([]any(nil), b.attrs...)}
	for _, a := range attrs {
		n.attrs = append(n.attrs, a.Key, a.Value.String())
	}
	return n
}

func (b *tusBridge) WithGroup(string) xslog.Handler { return b }
