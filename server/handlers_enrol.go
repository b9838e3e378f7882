package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
)

// Device enrolment: instead of typing a password on a shared phone, an admin
// issues a one-time code for an inspector and shows it as a QR code; the
// phone app scans it and signs in with POST /v1/auth/enrol.

// EnrolmentTTL is how long an enrolment code is good for.
const EnrolmentTTL = 15 * time.Minute

// enrolmentCodeBytes is the code's randomness: 80 bits, far past guessing
// within its 15 minutes at the sign-in rate limits.
const enrolmentCodeBytes = 10

var enrolmentEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

type enrolmentRequest struct {
	UserID string `json:"user_id"`
}

type enrolmentWire struct {
	UserID    string    `json:"user_id"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	Server    string    `json:"server"`
	QRPayload string    `json:"qr_payload"`
	QRPNG     string    `json:"qr_png"`
}

type enrolRequest struct {
	Code     string `json:"code"`
	DeviceID string `json:"device_id"`
	Cookie   bool   `json:"cookie"`
}

// newEnrolmentCode returns a random code, shown in groups of four
// (ABCD-EFGH-JKLM-NPQR) for anyone who must type it.
func newEnrolmentCode() string {
	b := make([]byte, enrolmentCodeBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	s := enrolmentEncoding.EncodeToString(b)
	var groups []string
	for len(s) > 4 {
		groups, s = append(groups, s[:4]), s[4:]
	}
	return strings.Join(append(groups, s), "-")
}

// enrolmentCodeHash is what the store keeps of a code: the SHA-256 of its
// characters in upper case, without the separators people may type.
func enrolmentCodeHash(code string) []byte {
	norm := strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, code)
	h := sha256.Sum256([]byte(norm))
	return h[:]
}

// baseURL is this server's root as the request reached it.
func baseURL(c echo.Context) string {
	return c.Scheme() + "://" + c.Request().Host
}

// createEnrolment is POST /v1/enrolments: a one-time code for an
// inspector's phone and its QR code.
func (s *Server) createEnrolment(c echo.Context) error {
	var req enrolmentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.UserID) == "" {
		return (&inspector.Problems{{Field: "user_id", Code: "required", Message: "the account to enrol a phone for"}}).Err()
	}
	code := newEnrolmentCode()
	e, err := s.store.CreateEnrolment(actor(c), strings.TrimSpace(req.UserID), enrolmentCodeHash(code), EnrolmentTTL)
	if err != nil {
		return err
	}
	server := baseURL(c)
	payload, err := json.Marshal(struct {
		Server string `json:"server"`
		Code   string `json:"code"`
	}{server, code})
	if err != nil {
		return err
	}
	png, err := qrcode.Encode(string(payload), qrcode.Medium, -6)
	if err != nil {
		return fmt.Errorf("enrolment QR code: %w", err)
	}
	s.log(c).Info("enrolment code issued", "user", e.UserID, "expires_at", e.ExpiresAt)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, enrolmentWire{UserID: e.UserID, Code: code, ExpiresAt: e.ExpiresAt.UTC(), Server: server,
		QRPayload: string(payload), QRPNG: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)})
}

// enrol is POST /v1/auth/enrol: a phone signs in with an enrolment code,
// which is spent. Rate-limited per address like sign-in.
func (s *Server) enrol(c echo.Context) error {
	var req enrolRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var p inspector.Problems
	if strings.TrimSpace(req.Code) == "" {
		p.Add("code", "required", "the enrolment code")
	} else if len(req.Code) > 64 {
		p.Add("code", "too_long", "at most 64 characters")
	}
	if !deviceIDPattern.MatchString(req.DeviceID) {
		p.Add("device_id", "invalid", "8–128 of A–Z, a–z, 0–9, '.', '_', ':' and '-'; stable for the app's install")
	}
	if err := p.Err(); err != nil {
		return err
	}
	if ok, wait := s.enrolLimiter.allow("", c.RealIP()); !ok {
		return &retryAfterError{err: inspector.Errorf(inspector.CodeRateLimited, "too many enrolment attempts; wait and try again"),
			retryAfterSeconds: int(math.Ceil(wait.Seconds()))}
	}
	token, refreshHash := auth.NewRefreshToken()
	ss, u, err := s.store.Enrol(enrolmentCodeHash(strings.TrimSpace(req.Code)), req.DeviceID, refreshHash, s.cfg.RefreshTTL)
	if err != nil {
		if inspector.ErrorCode(err) == inspector.CodeUnauthorized {
			s.log(c).Warn("enrolment refused", "device", req.DeviceID)
		}
		return err
	}
	s.log(c).Info("device enrolled", "user", u.ID, "device", req.DeviceID)
	return s.sendTokens(c, u, ss, token, req.Cookie)
}
