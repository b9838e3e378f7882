package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct-horse-battery")
	require.NoError(t, err)
	assert.Contains(t, h, "$argon2id$")
	ok, err := CheckPassword(h, "correct-horse-battery")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = CheckPassword(h, "correct-horse-batterx")
	require.NoError(t, err)
	assert.False(t, ok)
	h2, _ := HashPassword("correct-horse-battery")
	assert.NotEqual(t, h, h2, "each hash has its own salt")

	_, err = HashPassword("short")
	assert.ErrorIs(t, err, ErrWeakPassword)
	for _, bad := range []string{"", "$argon2id$v=19$m=1,t=1,p=1$!!$!!", "$bcrypt$x", h[:len(h)-3] + "$$$"} {
		_, err := CheckPassword(bad, "whatever-long")
		assert.Error(t, err, "%q", bad)
	}
}

func TestKeyFileIsCreatedOnceAndReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "jwt-keys.json")
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	ks, err := LoadOrCreateKeys(path, now)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	again, err := LoadOrCreateKeys(path, now.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, ks.current, again.current, "the second start reuses the key")

	// A token signed before a restart verifies after it.
	u := inspector.User{ID: "u1", Role: inspector.RoleDispatcher}
	is := &Issuer{Keys: ks, AccessTTL: time.Minute, Now: func() time.Time { return now }}
	tok, _, err := is.Issue(u, "dev-1", "s1")
	require.NoError(t, err)
	_, err = (&Issuer{Keys: again, AccessTTL: time.Minute, Now: is.Now}).Verify(tok)
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(path, []byte(`{"keys":[]}`), 0o600))
	_, err = LoadOrCreateKeys(path, now)
	assert.Error(t, err, "a key file with no keys is refused, not replaced")
}

func TestVerifyPinsTheAlgorithmAndKey(t *testing.T) {
	now := time.Now()
	is := &Issuer{Keys: NewKeySet(), AccessTTL: time.Minute, Now: func() time.Time { return now }}
	u := inspector.User{ID: "u1", Role: inspector.RoleInspector, Mode: inspector.ModeField}
	tok, _, err := is.Issue(u, "dev-1", "s1")
	require.NoError(t, err)
	c, err := is.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, "dev-1", c.DeviceID)
	assert.Equal(t, "s1", c.SessionID)

	claims := Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: issuerName, Subject: "u1", ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))},
		Role: inspector.RoleAdmin, SessionID: "s1"}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	hs.Header["kid"] = is.Keys.current
	forged, _ := hs.SignedString([]byte("guess"))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	unsigned, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	ed := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	ed.Header["kid"] = is.Keys.current
	strange, _ := ed.SignedString(other)
	for name, bad := range map[string]string{"HS256": forged, "none": unsigned, "other key": strange, "garbage": "a.b.c"} {
		_, err := is.Verify(bad)
		assert.Equal(t, inspector.CodeUnauthorized, inspector.ErrorCode(err), name)
	}

	later := &Issuer{Keys: is.Keys, AccessTTL: time.Minute, Now: func() time.Time { return now.Add(2 * time.Minute) }}
	_, err = later.Verify(tok)
	assert.Equal(t, inspector.CodeTokenExpired, inspector.ErrorCode(err))
}

func TestRefreshTokensAreRandomAndHashed(t *testing.T) {
	a, ha := NewRefreshToken()
	b, hb := NewRefreshToken()
	assert.NotEqual(t, a, b)
	assert.Equal(t, ha, HashRefreshToken(a))
	assert.NotEqual(t, ha, hb)
	assert.Len(t, ha, 32)
}

// A token verified once is not verified again, and its times still hold on
// every use: the verdict at each moment is what a fresh verification gives.
func TestAVerifiedTokenKeepsItsTimes(t *testing.T) {
	start := time.Now()
	now := start
	clock := func() time.Time { return now }
	is := &Issuer{Keys: NewKeySet(), AccessTTL: time.Minute, Now: clock}
	tok, exp, err := is.Issue(inspector.User{ID: "u1", Role: inspector.RoleInspector}, "dev-1", "s1")
	require.NoError(t, err)
	_, err = is.Verify(tok)
	require.NoError(t, err)
	require.Len(t, is.verified.m, 1)

	for _, at := range []time.Time{
		start.Add(30 * time.Second), exp.Add(4 * time.Second), exp.Add(5 * time.Second), exp.Add(time.Hour),
		start.Add(-time.Minute), start.Add(-66 * time.Second), start.Add(-2 * time.Minute),
	} {
		now = at
		fresh := &Issuer{Keys: is.Keys, AccessTTL: time.Minute, Now: clock}
		_, want := fresh.Verify(tok)
		_, got := is.Verify(tok)
		assert.Equal(t, inspector.ErrorCode(want), inspector.ErrorCode(got), "at %v after issue", at.Sub(start))
	}
	now = exp.Add(6 * time.Second)
	_, err = is.Verify(tok)
	assert.Equal(t, inspector.CodeTokenExpired, inspector.ErrorCode(err))

	// Another text is verified on its own: a token changed by one byte fails.
	now = start
	tampered := tok[:len(tok)-2] + map[bool]string{true: "A", false: "B"}[tok[len(tok)-2] != 'A'] + tok[len(tok)-1:]
	_, err = is.Verify(tampered)
	assert.Equal(t, inspector.CodeUnauthorized, inspector.ErrorCode(err))
	// A token verified with other keys is not taken on their word.
	other := &Issuer{Keys: NewKeySet(), AccessTTL: time.Minute, Now: clock}
	other.verified.m = is.verified.m
	_, err = other.Verify(tok)
	assert.Equal(t, inspector.CodeUnauthorized, inspector.ErrorCode(err))
}

func TestVerifiedTokensAreBounded(t *testing.T) {
	var v verifiedTokens
	keys := NewKeySet()
	for i := range maxVerifiedTokens + 10 {
		v.put(fmt.Sprint("token-", i), keys, Claims{})
	}
	assert.LessOrEqual(t, len(v.m), maxVerifiedTokens)
	_, ok := v.get(fmt.Sprint("token-", maxVerifiedTokens+9), keys)
	assert.True(t, ok, "the newest stays")
}
