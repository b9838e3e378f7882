package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/favad/favad/inspector"
)

// Claims are what an access token asserts. The session id lets the server
// refuse a token at once when its session or device is revoked.
type Claims struct {
	jwt.RegisteredClaims
	Role      inspector.Role `json:"role"`
	Mode      inspector.Mode `json:"mode,omitempty"`
	DeviceID  string         `json:"dev"`
	SessionID string         `json:"sid"`
}

// Issuer signs and verifies access tokens.
type Issuer struct {
	Keys      *KeySet
	AccessTTL time.Duration
	Now       func() time.Time
}

const issuerName = "favad"

// Issue returns a signed access token for user on a session, and its expiry.
func (is *Issuer) Issue(u inspector.User, deviceID, sessionID string) (string, time.Time, error) {
	now := is.Now()
	exp := now.Add(is.AccessTTL)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuerName, Subject: u.ID, ID: uuid.NewString(),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Role: u.Role, Mode: u.Mode, DeviceID: deviceID, SessionID: sessionID,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = is.Keys.current
	s, err := t.SignedString(is.Keys.keys[is.Keys.current])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return s, exp, nil
}

// Verify parses an access token; only EdDSA with a known kid is accepted. It
// returns CodeTokenExpired for an expired token and CodeUnauthorized otherwise.
func (is *Issuer) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := is.Keys.keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return k.Public(), nil
	}, jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithIssuer(issuerName),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(is.Now), jwt.WithLeeway(5*time.Second))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, inspector.Errorf(inspector.CodeTokenExpired, "the access token has expired; refresh it")
	case err != nil:
		return nil, inspector.Errorf(inspector.CodeUnauthorized, "the access token is not valid")
	case c.Subject == "" || c.SessionID == "" || !c.Role.Valid():
		return nil, inspector.Errorf(inspector.CodeUnauthorized, "the access token is not valid")
	}
	return &c, nil
}

// NewRefreshToken returns a random opaque refresh token and the hash the store keeps.
func NewRefreshToken() (token string, hash []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token)
}

// HashRefreshToken is how a refresh token is looked up without storing it.
func HashRefreshToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
