package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
)

// Context keys.
const (
	ctxLogger    = "favad.logger"
	ctxPrincipal = "favad.principal"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	User      inspector.User
	DeviceID  string
	SessionID string
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID gives every request an id, taken from X-Request-ID when a proxy
// set a sane one, and a logger that puts it on every line.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		c.Set(ctxLogger, s.cfg.Logger.With(slog.String("request_id", id)))
		return next(c)
	}
}

// log returns the request's logger.
func (s *Server) log(c echo.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger).(*slog.Logger); ok {
		return l
	}
	return s.cfg.Logger
}

// recoverPanics turns a panic into a logged 500, never a stack trace to the client.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// observe logs each request and records its metrics.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		elapsed := time.Since(start)
		s.metrics.observe(metricMethod(c.Request().Method), route, status, elapsed)
		attrs := []any{
			slog.String("method", c.Request().Method), slog.String("route", route),
			slog.Int("status", status), slog.Duration("duration", elapsed),
			slog.String("remote", c.RealIP()),
		}
		if p, ok := c.Get(ctxPrincipal).(*Principal); ok {
			attrs = append(attrs, slog.String("user", p.User.ID))
		}
		s.log(c).Info("request", attrs...)
		return nil
	}
}

// bearerToken returns the token of an Authorization header of the Bearer
// scheme, whose name is case-insensitive (RFC 9110, 11.1): some clients
// send "bearer".
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// authenticate checks the bearer token and that its session, device and user
// are still live, so that a revocation takes effect on the next request.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
		if !ok {
			return inspector.Errorf(inspector.CodeUnauthorized, "send an access token as 'Authorization: Bearer …'")
		}
		claims, err := s.issuer.Verify(token)
		if err != nil {
			return err
		}
		u, err := s.store.CheckSession(claims.SessionID)
		if err != nil {
			return err
		}
		c.Set(ctxPrincipal, &Principal{User: u, DeviceID: claims.DeviceID, SessionID: claims.SessionID})
		return next(c)
	}
}

// requireRole refuses callers whose role is not in roles.
func requireRole(roles []inspector.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := principal(c)
			for _, r := range roles {
				if p.User.Role == r {
					return next(c)
				}
			}
			return inspector.Errorf(inspector.CodeForbidden, "the %s role may not do this", p.User.Role)
		}
	}
}

func principal(c echo.Context) *Principal {
	p, _ := c.Get(ctxPrincipal).(*Principal)
	if p == nil {
		return &Principal{}
	}
	return p
}

// bodyLimit refuses bodies over limit bytes with 413, whether or not they
// declare their length.
func bodyLimit(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > limit {
				return inspector.Errorf(codeTooLarge, "the request body is larger than %d bytes", limit)
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
			return next(c)
		}
	}
}

// bodyDeadline bounds how long a request body may stall. The connection's
// read deadline is BodyIdleTimeout from the start of the request and moves
// forward each time bytes arrive, so that a phone on a poor network that
// keeps sending finishes, however long it takes, while a client that sends
// headers and then stalls (or never sends the body it announced) is cut
// off, whether or not the route reads the body: net/http reads what is left
// of it before answering, and closes the connection when that read fails.
// The deadline is lifted when the body ends, so that a long handler or a
// live stream is not cut. An upload's body (tus) gets the first deadline
// only: tusd moves it on its own reads, by the same BodyIdleTimeout (its
// NetworkTimeout), and a second mover would only cost time.
func (s *Server) bodyDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}
		rc := http.NewResponseController(c.Response())
		if err := rc.SetReadDeadline(time.Now().Add(s.cfg.BodyIdleTimeout)); err != nil {
			return next(c) // not a network connection (an in-process test): nothing to stall
		}
		if !s.ownsBody[r.Method+" "+c.Path()] {
			r.Body = &idleBody{ReadCloser: r.Body, rc: rc, idle: s.cfg.BodyIdleTimeout}
		}
		return next(c)
	}
}

// errBodyStalled is what a read of a stalled body returns.
var errBodyStalled = errors.New("server: the request body stalled: no byte came within the idle timeout")

// idleBody is a request body whose connection's read deadline moves forward
// as bytes arrive.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = errBodyStalled
	case n > 0:
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	return n, err
}

// ipExtractor believes X-Forwarded-For only from trusted proxies.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// metricMethod bounds the method label: a client may send any token as a
// method, and each would be a new time series.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
