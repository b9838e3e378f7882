package server

import (
	"context"
	"math"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
)

var deviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

func (s *Server) login(c echo.Context) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var p inspector.Problems
	if strings.TrimSpace(req.Username) == "" {
		p.Add("username", "required", "the username is required")
	}
	if req.Password == "" {
		p.Add("password", "required", "the password is required")
	}
	if !deviceIDPattern.MatchString(req.DeviceID) {
		p.Add("device_id", "invalid", "8–128 of A–Z, a–z, 0–9, '.', '_', ':' and '-'; stable for the app's install")
	}
	if err := p.Err(); err != nil {
		return err
	}
	done, wait := s.signIns.begin(strings.ToLower(strings.TrimSpace(req.Username)), c.RealIP())
	if done == nil {
		return &retryAfterError{err: inspector.Errorf(inspector.CodeRateLimited, "too many sign-in attempts; wait and try again"),
			retryAfterSeconds: max(1, int(math.Ceil(wait.Seconds())))}
	}
	u, ok, err := s.checkCredentials(c.Request().Context(), req.Username, req.Password)
	done(ok || err != nil) // only a wrong password counts as a failure
	if err != nil {
		return err
	}
	if !ok {
		if u.Username != "" {
			s.log(c).Warn("login refused", "username", u.Username)
		}
		return inspector.Errorf(inspector.CodeUnauthorized, "wrong username or password")
	}
	token, refreshHash := auth.NewRefreshToken()
	ss, err := s.store.StartSession(u.ID, req.DeviceID, refreshHash, s.cfg.RefreshTTL)
	if err != nil {
		return err
	}
	return s.sendTokens(c, u, ss, token, req.Cookie)
}

// Console sessions keep their refresh token in an HttpOnly cookie, scoped to
// the auth routes, which a cross-site request never carries (SameSite
// Strict) and which refresh accepts only with the consoleHeader, a header no
// form can send.
const (
	refreshCookie = "favad_refresh"
	consoleHeader = "Favad-Console"
)

func (s *Server) setRefreshCookie(c echo.Context, token string, expires time.Time) {
	ck := &http.Cookie{Name: refreshCookie, Value: token, Path: "/v1/auth", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.Request().TLS != nil || c.Scheme() == "https", Expires: expires}
	if token == "" {
		ck.MaxAge, ck.Expires = -1, time.Unix(0, 0)
	}
	c.SetCookie(ck)
}

// checkCredentials reports whether password is username's, holding one of the
// bounded password-check slots only while it hashes. An unknown username
// costs the same check (and returns a zero user), so that timing tells
// nothing.
func (s *Server) checkCredentials(ctx context.Context, username, password string) (inspector.User, bool, error) {
	release, err := s.passwords.enter(ctx)
	if err != nil {
		return inspector.User{}, false, err
	}
	defer release()
	u, hash, err := s.store.Credentials(username)
	if inspector.ErrorCode(err) == inspector.CodeNotFound {
		auth.CheckDummy(password)
		return inspector.User{}, false, nil
	}
	if err != nil {
		return inspector.User{}, false, err
	}
	ok, err := auth.CheckPassword(hash, password)
	return u, ok, err
}

func (s *Server) refresh(c echo.Context) error {
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	fromCookie := false
	if req.RefreshToken == "" && c.Request().Header.Get(consoleHeader) != "" {
		if ck, err := c.Cookie(refreshCookie); err == nil && ck.Value != "" {
			req.RefreshToken, fromCookie = ck.Value, true
		}
	}
	if req.RefreshToken == "" {
		return (&inspector.Problems{{Field: "refresh_token", Code: "required", Message: "the refresh token is required"}}).Err()
	}
	token, newHash := auth.NewRefreshToken()
	ss, u, err := s.store.RotateRefresh(auth.HashRefreshToken(req.RefreshToken), newHash, s.cfg.RefreshTTL)
	if err != nil {
		if inspector.ErrorCode(err) == inspector.CodeRefreshReused {
			s.log(c).Warn("refresh token reused; session revoked", "session", ss.ID, "user", ss.UserID, "device", ss.DeviceID)
		}
		if fromCookie {
			s.setRefreshCookie(c, "", time.Time{})
		}
		return err
	}
	return s.sendTokens(c, u, ss, token, fromCookie)
}

func (s *Server) sendTokens(c echo.Context, u inspector.User, ss favsync.Session, refreshToken string, cookie bool) error {
	access, exp, err := s.issuer.Issue(u, ss.DeviceID, ss.ID)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if cookie {
		s.setRefreshCookie(c, refreshToken, ss.ExpiresAt)
		refreshToken = ""
	}
	return c.JSON(http.StatusOK, tokenResponse{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL.Seconds()), ExpiresAt: exp,
		RefreshToken: refreshToken, RefreshExpiresAt: ss.ExpiresAt, User: toUserWire(u),
	})
}

// logout ends this session, or with {"everywhere": true} every session of
// the user on every device; a console's refresh cookie is cleared.
func (s *Server) logout(c echo.Context) error {
	var req logoutRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	p := principal(c)
	var err error
	if req.Everywhere {
		err = s.store.EndUserSessions(actor(c), p.User.ID, "logout_everywhere")
	} else {
		err = s.store.EndSession(actor(c), p.SessionID, "logout")
	}
	if err != nil {
		return err
	}
	s.setRefreshCookie(c, "", time.Time{})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) me(c echo.Context) error {
	return c.JSON(http.StatusOK, toUserWire(principal(c).User))
}

// actor is who the store records as making a change.
func actor(c echo.Context) favsync.Actor {
	p := principal(c)
	return favsync.Actor{UserID: p.User.ID, DeviceID: p.DeviceID}
}
