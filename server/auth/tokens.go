package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
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

	verified verifiedTokens
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

// tokenLeeway is how far a token's clock may be off the server's.
const tokenLeeway = 5 * time.Second

// Verify parses an access token; only EdDSA with a known kid is accepted. It
// returns CodeTokenExpired for an expired token and CodeUnauthorized otherwise.
// A token verified before is not verified again (see verifiedTokens); its
// times are checked on every use.
func (is *Issuer) Verify(token string) (*Claims, error) {
	if c, ok := is.verified.get(token, is.Keys); ok {
		now := is.Now()
		switch {
		case !now.Before(c.ExpiresAt.Add(tokenLeeway)):
			return nil, errTokenExpired()
		case c.NotBefore != nil && now.Before(c.NotBefore.Add(-tokenLeeway)):
			return nil, errTokenInvalid()
		}
		return &c, nil
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := is.Keys.keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return k.Public(), nil
	}, jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithIssuer(issuerName),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(is.Now), jwt.WithLeeway(tokenLeeway))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, errTokenExpired()
	case err != nil, c.Subject == "" || c.SessionID == "" || !c.Role.Valid():
		return nil, errTokenInvalid()
	}
	is.verified.put(token, is.Keys, c)
	return &c, nil
}

func errTokenExpired() error {
	return inspector.Errorf(inspector.CodeTokenExpired, "the access token has expired; refresh it")
}

func errTokenInvalid() error {
	return inspector.Errorf(inspector.CodeUnauthorized, "the access token is not valid")
}

// maxVerifiedTokens bounds verifiedTokens: at about half a kilobyte a
// token, a few megabytes.
const maxVerifiedTokens = 8192

// verifiedTokens remembers access tokens whose signature and claims
// checked out, by their exact text, so that a phone's next request costs a
// map lookup instead of an Ed25519 verification (about 58 µs here, on every
// pull, push and upload). What it saves is only the signature: a token's
// times are checked on every use, and revocation is the server's session
// check on every request, as before. An entry holds for the key set it was
// verified with only; when full, it starts again empty.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	keys   *KeySet
	claims Claims
}

func (v *verifiedTokens) get(token string, keys *KeySet) (Claims, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.m[token]
	if !ok || e.keys != keys {
		return Claims{}, false
	}
	return e.claims, true
}

func (v *verifiedTokens) put(token string, keys *KeySet, c Claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerifiedTokens {
		v.m = make(map[string]verifiedToken)
	}
	v.m[token] = verifiedToken{keys: keys, claims: c}
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
