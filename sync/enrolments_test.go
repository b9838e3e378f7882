package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

func codeHash(code string) []byte {
	h := sha256.Sum256([]byte(code))
	return h[:]
}

// TestEnrolmentIsSpentOnce: a code signs its inspector in on a device once,
// within its time; a second use, an expired code or an unknown one is
// unauthorized, and only the code's hash is stored.
func TestEnrolmentIsSpentOnce(t *testing.T) {
	f := newFieldFixture(t)
	e, err := f.s.CreateEnrolment(admin, f.ali.ID, codeHash("CODE-1"), 15*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, f.clock.Now().Add(15*time.Minute), e.ExpiresAt)

	ss, u, err := f.s.Enrol(codeHash("CODE-1"), "android-ali-0001", []byte("refresh-1"), time.Hour)
	require.NoError(t, err)
	assert.Equal(t, f.ali.ID, u.ID)
	assert.Equal(t, f.ali.ID, ss.UserID)
	assert.Equal(t, "android-ali-0001", ss.DeviceID)
	got, err := f.s.CheckSession(ss.ID)
	require.NoError(t, err)
	assert.Equal(t, f.ali.ID, got.ID)

	_, _, err = f.s.Enrol(codeHash("CODE-1"), "android-ali-0002", []byte("refresh-2"), time.Hour)
	requireCode(t, err, inspector.CodeUnauthorized)
	_, _, err = f.s.Enrol(codeHash("NEVER"), "android-ali-0002", []byte("refresh-2"), time.Hour)
	requireCode(t, err, inspector.CodeUnauthorized)

	_, err = f.s.CreateEnrolment(admin, f.reza.ID, codeHash("CODE-2"), 15*time.Minute)
	require.NoError(t, err)
	f.clock.Advance(15 * time.Minute)
	_, _, err = f.s.Enrol(codeHash("CODE-2"), "android-reza-001", []byte("refresh-3"), time.Hour)
	requireCode(t, err, inspector.CodeUnauthorized)

	// Issuing a code drops the expired ones; nothing but hashes is kept.
	_, err = f.s.CreateEnrolment(admin, f.reza.ID, codeHash("CODE-3"), 15*time.Minute)
	require.NoError(t, err)
	var keys []string
	require.NoError(t, f.s.view(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketEnrolments).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	}))
	assert.Equal(t, []string{hex.EncodeToString(codeHash("CODE-3"))}, keys)

	var actions []string
	for _, ch := range allChanges(t, f.s) {
		if ch.Kind == KindUser && ch.ID == f.ali.ID {
			actions = append(actions, ch.Action)
		}
	}
	assert.Contains(t, actions, ActionEnrolmentIssued)
	assert.Contains(t, actions, ActionEnrolled)
}

// TestEnrolmentRefused: only an active inspector is enrolled; a sign-in the
// device cannot make leaves the code unspent.
func TestEnrolmentRefused(t *testing.T) {
	f := newFieldFixture(t)
	disp := mustCreateUser(t, f.s, "disp", inspector.RoleDispatcher, "")
	_, err := f.s.CreateEnrolment(admin, disp.ID, codeHash("X"), time.Minute)
	requireField(t, err, inspector.CodeInvalid, "user_id", "not_inspector")
	_, err = f.s.CreateEnrolment(admin, "no-such-user", codeHash("X"), time.Minute)
	requireCode(t, err, inspector.CodeNotFound)
	_, err = f.s.SetUserDisabled(admin, f.reza.Username, true)
	require.NoError(t, err)
	_, err = f.s.CreateEnrolment(admin, f.reza.ID, codeHash("X"), time.Minute)
	requireField(t, err, inspector.CodeInvalid, "user_id", "disabled")

	_, err = f.s.CreateEnrolment(admin, f.ali.ID, codeHash("CODE-R"), time.Minute)
	require.NoError(t, err)
	_, err = f.s.StartSession(f.ali.ID, "android-lost-01", []byte("r0"), time.Hour)
	require.NoError(t, err)
	_, err = f.s.RevokeDevice(admin, "android-lost-01")
	require.NoError(t, err)
	_, _, err = f.s.Enrol(codeHash("CODE-R"), "android-lost-01", []byte("r1"), time.Hour)
	requireCode(t, err, inspector.CodeDeviceRevoked)
	_, _, err = f.s.Enrol(codeHash("CODE-R"), "android-new-001", []byte("r2"), time.Hour)
	require.NoError(t, err, "the refused attempt left the code unspent")
}
