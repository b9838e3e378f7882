package sync

import (
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

const ttl = 30 * 24 * time.Hour

// hash stands in for the SHA-256 of a refresh token, which is all the store sees.
func hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

type sessionFixture struct {
	s     *Store
	clock *fakeClock
	path  string
	ali   inspector.User
}

func newSessionFixture(t *testing.T) *sessionFixture {
	t.Helper()
	f := &sessionFixture{clock: newFakeClock(), path: filepath.Join(t.TempDir(), "favad.db")}
	f.s = mustOpenStoreAt(t, f.path, Options{Now: f.clock.Now})
	f.ali = mustCreateUser(t, f.s, "ali", inspector.RoleInspector, inspector.ModeField)
	return f
}

func (f *sessionFixture) start(t *testing.T, device, token string) Session {
	t.Helper()
	ss, err := f.s.StartSession(f.ali.ID, device, hash(token), ttl)
	require.NoError(t, err)
	return ss
}

func TestSessionHappyPath(t *testing.T) {
	f := newSessionFixture(t)
	ss := f.start(t, "phone-1", "r1")
	assert.NotEmpty(t, ss.ID)
	assert.Equal(t, Session{ID: ss.ID, UserID: f.ali.ID, DeviceID: "phone-1", CreatedAt: t0, ExpiresAt: t0.Add(ttl)}, ss)

	u, err := f.s.CheckSession(ss.ID)
	require.NoError(t, err)
	assert.Equal(t, f.ali, u)

	f.clock.Advance(time.Hour)
	ss2, u2, err := f.s.RotateRefresh(hash("r1"), hash("r2"), ttl)
	require.NoError(t, err)
	assert.Equal(t, ss.ID, ss2.ID, "the same session, a new token")
	assert.Equal(t, t0.Add(time.Hour+ttl), ss2.ExpiresAt, "rotation extends the session")
	assert.Equal(t, f.ali, u2)

	f.clock.Advance(time.Hour)
	_, _, err = f.s.RotateRefresh(hash("r2"), hash("r3"), ttl)
	require.NoError(t, err)
	_, err = f.s.CheckSession(ss.ID)
	require.NoError(t, err)

	devices, err := f.s.Devices()
	require.NoError(t, err)
	require.Len(t, devices, 1)
	assert.Equal(t, "phone-1", devices[0].ID)
	assert.Equal(t, f.ali.ID, devices[0].UserID)
	assert.Nil(t, devices[0].RevokedAt)

	// The change log records the device's first sign-in and the session.
	var kinds []string
	for _, c := range allChanges(t, f.s) {
		kinds = append(kinds, c.Kind+"/"+c.Action)
	}
	assert.Equal(t, []string{"user/created", "device/created", "session/created"}, kinds)
}

func TestRefreshReuseRevokesSession(t *testing.T) {
	f := newSessionFixture(t)
	ss := f.start(t, "phone-1", "r1")
	_, _, err := f.s.RotateRefresh(hash("r1"), hash("r2"), ttl)
	require.NoError(t, err)
	seq := lastSeq(t, f.s)

	// A thief (or a confused client) presents the spent token, after the grace.
	f.clock.Advance(2 * time.Minute)
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("thief"), ttl)
	requireCode(t, err, inspector.CodeRefreshReused)

	// The revocation was committed even though an error was returned.
	_, err = f.s.CheckSession(ss.ID)
	requireCode(t, err, inspector.CodeSessionRevoked)
	assert.Equal(t, seq+1, lastSeq(t, f.s))
	last := allChanges(t, f.s)[seq]
	assert.Equal(t, Change{Seq: seq + 1, Kind: KindSession, ID: ss.ID, Action: "revoked", Actor: f.ali.ID, Device: "phone-1",
		At: t0.Add(2 * time.Minute), Data: map[string]string{"reason": "refresh_reused", "user": f.ali.ID, "device": "phone-1"}}, last)

	// Neither the legitimate successor nor the thief's token works now.
	_, _, err = f.s.RotateRefresh(hash("r2"), hash("r3"), ttl)
	requireCode(t, err, inspector.CodeSessionRevoked)
	_, _, err = f.s.RotateRefresh(hash("thief"), hash("r4"), ttl)
	requireCode(t, err, inspector.CodeUnauthorized)

	// Reusing again still says so, and does not log a second revocation.
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r5"), ttl)
	requireCode(t, err, inspector.CodeRefreshReused)
	assert.Equal(t, seq+1, lastSeq(t, f.s))

	// And it survives a restart.
	require.NoError(t, f.s.Close())
	s := mustOpenStoreAt(t, f.path, Options{Now: f.clock.Now})
	_, err = s.CheckSession(ss.ID)
	requireCode(t, err, inspector.CodeSessionRevoked)

	// Other sessions of the same user are untouched; signing in again works.
	ss2, err := s.StartSession(f.ali.ID, "phone-1", hash("fresh"), ttl)
	require.NoError(t, err)
	_, err = s.CheckSession(ss2.ID)
	require.NoError(t, err)
}

func TestRotateRefreshRefused(t *testing.T) {
	f := newSessionFixture(t)
	f.start(t, "phone-1", "r1")

	_, _, err := f.s.RotateRefresh(hash("never issued"), hash("x"), ttl)
	requireCode(t, err, inspector.CodeUnauthorized)

	seq := lastSeq(t, f.s)
	f.clock.Advance(ttl + time.Second)
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r2"), ttl)
	requireCode(t, err, inspector.CodeUnauthorized)
	// An expired token is not spent: it stays refused, not "reused".
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r2"), ttl)
	requireCode(t, err, inspector.CodeUnauthorized)
	_, _, err = f.s.RotateRefresh(hash("r2"), hash("r3"), ttl)
	requireCode(t, err, inspector.CodeUnauthorized) // the successor of a refused rotation was not stored
	assert.Equal(t, seq, lastSeq(t, f.s))
}

func TestStartSessionRefused(t *testing.T) {
	f := newSessionFixture(t)
	_, err := f.s.StartSession("nobody", "phone-1", hash("r1"), ttl)
	requireCode(t, err, inspector.CodeNotFound)
	assert.Len(t, allChanges(t, f.s), 1, "only the user's creation")
	devices, err := f.s.Devices()
	require.NoError(t, err)
	assert.Empty(t, devices)
}

func TestRevokeDevice(t *testing.T) {
	f := newSessionFixture(t)
	s1 := f.start(t, "phone-1", "r1")
	s2 := f.start(t, "phone-1", "r2") // signed in twice on one phone
	other := f.start(t, "tablet-1", "t1")

	f.clock.Advance(time.Minute)
	seq := lastSeq(t, f.s)
	d, err := f.s.RevokeDevice(admin, "phone-1")
	require.NoError(t, err)
	require.NotNil(t, d.RevokedAt)
	assert.Equal(t, t0.Add(time.Minute), *d.RevokedAt)
	assert.Equal(t, admin.UserID, d.RevokedBy)
	assert.Equal(t, seq+1, d.Version)
	assert.Equal(t, seq+3, lastSeq(t, f.s), "the device and both its sessions")

	for _, id := range []string{s1.ID, s2.ID} {
		_, err = f.s.CheckSession(id)
		requireCode(t, err, inspector.CodeDeviceRevoked)
	}
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r1b"), ttl)
	requireCode(t, err, inspector.CodeDeviceRevoked)
	_, err = f.s.StartSession(f.ali.ID, "phone-1", hash("r3"), ttl)
	requireCode(t, err, inspector.CodeDeviceRevoked)

	// A revoked device is refused to anyone, not only its last user.
	sara := mustCreateUser(t, f.s, "sara", inspector.RoleInspector, inspector.ModePhone)
	_, err = f.s.StartSession(sara.ID, "phone-1", hash("s1"), ttl)
	requireCode(t, err, inspector.CodeDeviceRevoked)

	// The user's other device keeps working.
	_, err = f.s.CheckSession(other.ID)
	require.NoError(t, err)

	// Revoking again is a no-op.
	seq = lastSeq(t, f.s)
	d2, err := f.s.RevokeDevice(admin, "phone-1")
	require.NoError(t, err)
	assert.Equal(t, d, d2)
	assert.Equal(t, seq, lastSeq(t, f.s))

	_, err = f.s.RevokeDevice(admin, "nope")
	requireCode(t, err, inspector.CodeNotFound)
}

func TestDeviceChangesHands(t *testing.T) {
	f := newSessionFixture(t)
	first := f.start(t, "phone-1", "r1")
	sara := mustCreateUser(t, f.s, "sara", inspector.RoleInspector, inspector.ModePhone)
	f.clock.Advance(time.Hour)
	_, err := f.s.StartSession(sara.ID, "phone-1", hash("s0"), ttl)
	requireCode(t, err, inspector.CodeConflict) // not while ali is signed in there
	require.NoError(t, f.s.EndSession(Actor{UserID: first.UserID, DeviceID: "phone-1"}, first.ID, "logout"))
	ss, err := f.s.StartSession(sara.ID, "phone-1", hash("s1"), ttl)
	require.NoError(t, err)
	u, err := f.s.CheckSession(ss.ID)
	require.NoError(t, err)
	assert.Equal(t, sara.ID, u.ID)

	devices, err := f.s.Devices()
	require.NoError(t, err)
	require.Len(t, devices, 1)
	assert.Equal(t, sara.ID, devices[0].UserID)
	assert.Equal(t, t0.Add(time.Hour), devices[0].FirstSeen, "a device that changes hands starts afresh")

	created := 0
	for _, c := range allChanges(t, f.s) {
		if c.Kind == KindDevice && c.Action == ActionCreated {
			created++
		}
	}
	assert.Equal(t, 2, created)
}

func TestDevicesMostRecentFirst(t *testing.T) {
	f := newSessionFixture(t)
	for _, d := range []string{"a", "b", "c"} {
		f.clock.Advance(time.Minute)
		f.start(t, d, "tok-"+d)
	}
	f.clock.Advance(time.Minute)
	f.start(t, "a", "tok-a2")
	devices, err := f.s.Devices()
	require.NoError(t, err)
	var ids []string
	for _, d := range devices {
		ids = append(ids, d.ID)
	}
	assert.Equal(t, []string{"a", "c", "b"}, ids)
	assert.Equal(t, t0.Add(time.Minute), devices[0].FirstSeen)
	assert.Equal(t, t0.Add(4*time.Minute), devices[0].LastSeen)
}

func TestSetUserDisabled(t *testing.T) {
	f := newSessionFixture(t)
	ss := f.start(t, "phone-1", "r1")

	u, err := f.s.SetUserDisabled(admin, "ALI", true)
	require.NoError(t, err)
	assert.True(t, u.Disabled)
	ch := allChanges(t, f.s)
	assert.Equal(t, "session/revoked", ch[len(ch)-2].Kind+"/"+ch[len(ch)-2].Action)
	assert.Equal(t, "user/disabled", ch[len(ch)-1].Kind+"/"+ch[len(ch)-1].Action)

	_, err = f.s.StartSession(f.ali.ID, "phone-2", hash("r2"), ttl)
	requireCode(t, err, inspector.CodeAccountDisabled)
	_, err = f.s.CheckSession(ss.ID)
	require.Error(t, err, "a disabled user's session is refused at once")
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r3"), ttl)
	require.Error(t, err)

	// Enabling again lets the user sign in; the old session stays ended.
	u, err = f.s.SetUserDisabled(admin, "ali", false)
	require.NoError(t, err)
	assert.False(t, u.Disabled)
	assert.Equal(t, "user/enabled", func() string { c := allChanges(t, f.s); l := c[len(c)-1]; return l.Kind + "/" + l.Action }())
	_, err = f.s.CheckSession(ss.ID)
	requireCode(t, err, inspector.CodeSessionRevoked) // no longer "disabled": sign in again
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r3"), ttl)
	requireCode(t, err, inspector.CodeSessionRevoked)
	ss2 := f.start(t, "phone-1", "r4")
	_, err = f.s.CheckSession(ss2.ID)
	require.NoError(t, err)
}

// Regression: disabling an account revokes its sessions with reason
// "account_disabled", but checkSession maps every revocation reason except
// "device_revoked" to CodeSessionRevoked ("sign in again"), so a disabled
// user's device is told to sign in rather than that the account is disabled.
func TestCheckSessionAfterDisableSaysAccountDisabled(t *testing.T) {
	f := newSessionFixture(t)
	ss := f.start(t, "phone-1", "r1")
	_, err := f.s.SetUserDisabled(admin, "ali", true)
	require.NoError(t, err)
	_, err = f.s.CheckSession(ss.ID)
	requireCode(t, err, inspector.CodeAccountDisabled)
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r2"), ttl)
	requireCode(t, err, inspector.CodeAccountDisabled)
}

func TestSetPasswordHashRevokesSessions(t *testing.T) {
	f := newSessionFixture(t)
	a := f.start(t, "phone-1", "r1")
	b := f.start(t, "tablet-1", "t1")
	sara := mustCreateUser(t, f.s, "sara", inspector.RoleInspector, inspector.ModePhone)
	other, err := f.s.StartSession(sara.ID, "phone-9", hash("s1"), ttl)
	require.NoError(t, err)

	_, err = f.s.SetPasswordHash(admin, "ali", "$argon2id$new")
	require.NoError(t, err)
	for _, id := range []string{a.ID, b.ID} {
		_, err = f.s.CheckSession(id)
		requireCode(t, err, inspector.CodeSessionRevoked)
	}
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r2"), ttl)
	requireCode(t, err, inspector.CodeSessionRevoked)
	_, err = f.s.CheckSession(other.ID)
	require.NoError(t, err, "other users keep their sessions")

	_, h, err := f.s.Credentials("ali")
	require.NoError(t, err)
	assert.Equal(t, "$argon2id$new", h)
}

func TestEndSession(t *testing.T) {
	f := newSessionFixture(t)
	a := f.start(t, "phone-1", "r1")
	b := f.start(t, "tablet-1", "t1")

	seq := lastSeq(t, f.s)
	require.NoError(t, f.s.EndSession(Actor{UserID: f.ali.ID, DeviceID: "phone-1"}, a.ID, "logout"))
	assert.Equal(t, seq+1, lastSeq(t, f.s))
	_, err := f.s.CheckSession(a.ID)
	e := requireCode(t, err, inspector.CodeSignedOut)
	assert.Contains(t, e.Message, "signed out")
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r2"), ttl)
	requireCode(t, err, inspector.CodeSignedOut)

	require.NoError(t, f.s.EndSession(admin, a.ID, "logout"), "ending an ended session is a no-op")
	assert.Equal(t, seq+1, lastSeq(t, f.s))

	_, err = f.s.CheckSession(b.ID)
	require.NoError(t, err, "one logout ends one session")

	requireCode(t, f.s.EndSession(admin, "nope", "logout"), inspector.CodeNotFound)
	_, err = f.s.CheckSession("nope")
	requireCode(t, err, inspector.CodeSessionRevoked)
}

// Signing out of a device ends every session the account holds there: a
// device that signed in twice without signing out keeps no live token, and
// is free for another account. The account's other devices stay signed in.
func TestEndSessionSignsTheAccountOutOfTheDevice(t *testing.T) {
	f := newSessionFixture(t)
	first := f.start(t, "phone-1", "r1")
	second := f.start(t, "phone-1", "r2") // signed in again, never signed out
	tablet := f.start(t, "tablet-1", "t1")

	seq := lastSeq(t, f.s)
	require.NoError(t, f.s.EndSession(Actor{UserID: f.ali.ID, DeviceID: "phone-1"}, second.ID, "logout"))
	assert.Equal(t, seq+2, lastSeq(t, f.s), "both sessions on the phone ended")
	for _, id := range []string{first.ID, second.ID} {
		_, err := f.s.CheckSession(id)
		requireCode(t, err, inspector.CodeSignedOut)
	}
	_, _, err := f.s.RotateRefresh(hash("r1"), hash("r1b"), ttl)
	requireCode(t, err, inspector.CodeSignedOut)
	_, err = f.s.CheckSession(tablet.ID)
	require.NoError(t, err, "the tablet stays signed in")

	sara := mustCreateUser(t, f.s, "sara", inspector.RoleInspector, inspector.ModePhone)
	_, err = f.s.StartSession(sara.ID, "phone-1", hash("s1"), ttl)
	require.NoError(t, err, "signed out there, the phone is handed over")
}

// TestRefreshRetryAfterLostAnswer: within RefreshReuseGrace, the spent token
// may be presented again while its successor is unused (the answer was lost):
// a new successor is issued and the unused one retired, so presenting the
// retired one later is a reuse that revokes the session.
func TestRefreshRetryAfterLostAnswer(t *testing.T) {
	f := newSessionFixture(t)
	ss := f.start(t, "phone-1", "r1")
	_, _, err := f.s.RotateRefresh(hash("r1"), hash("r2"), ttl) // the answer never reaches the phone
	require.NoError(t, err)
	f.clock.Advance(10 * time.Second)
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("r2b"), ttl) // the phone retries
	require.NoError(t, err, "a retry within the grace is answered")
	_, err = f.s.CheckSession(ss.ID)
	require.NoError(t, err)
	_, _, err = f.s.RotateRefresh(hash("r2b"), hash("r3"), ttl)
	require.NoError(t, err, "the new successor works")

	_, _, err = f.s.RotateRefresh(hash("r2"), hash("x"), ttl)
	requireCode(t, err, inspector.CodeRefreshReused) // the retired successor: theft
	_, err = f.s.CheckSession(ss.ID)
	requireCode(t, err, inspector.CodeSessionRevoked)
}

// TestRefreshReuseAfterSuccessorUsedRevokes: once the successor was used, a
// reuse of the old token within the grace is theft too.
func TestRefreshReuseAfterSuccessorUsedRevokes(t *testing.T) {
	f := newSessionFixture(t)
	ss := f.start(t, "phone-1", "r1")
	_, _, err := f.s.RotateRefresh(hash("r1"), hash("r2"), ttl)
	require.NoError(t, err)
	_, _, err = f.s.RotateRefresh(hash("r2"), hash("r3"), ttl)
	require.NoError(t, err)
	_, _, err = f.s.RotateRefresh(hash("r1"), hash("thief"), ttl)
	requireCode(t, err, inspector.CodeRefreshReused)
	_, err = f.s.CheckSession(ss.ID)
	requireCode(t, err, inspector.CodeSessionRevoked)
}
