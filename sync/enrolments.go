package sync

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/favad/favad/inspector"
)

// Device enrolment: an admin issues a one-time code for an inspector's
// account, shown as a QR code that the phone app scans, so that nobody types
// a password on a shared phone. The store keeps only the code's SHA-256; a
// code is good once, until it expires.

// enrolment is what the enrolments bucket holds under a code's hash.
type enrolment struct {
	UserID    string    `json:"user_id"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Enrolment is an issued enrolment code's record (never the code itself).
type Enrolment struct {
	UserID    string
	ExpiresAt time.Time
}

// Change-log actions of enrolments, on the user they sign in.
const (
	ActionEnrolmentIssued = "enrolment_issued"
	ActionEnrolled        = "enrolled"
)

// CreateEnrolment stores an enrolment code, by its SHA-256 codeHash, for
// user userID, good for ttl. Only an active inspector's account can be
// enrolled (the phone app is theirs): another role or a disabled account is
// CodeInvalid (field user_id), an unknown one CodeNotFound. Expired codes
// are dropped on the way.
func (s *Store) CreateEnrolment(actor Actor, userID string, codeHash []byte, ttl time.Duration) (Enrolment, error) {
	var out Enrolment
	err := s.update(actor, func(t *tx) error {
		var u userRecord
		if err := getRecord(t.Bucket(bucketUsers), "user", userID, []byte(userID), &u); err != nil {
			return err
		}
		switch {
		case u.Role != inspector.RoleInspector:
			return (&inspector.Problems{{Field: "user_id", Code: "not_inspector", Message: "only inspectors' phones are enrolled"}}).Err()
		case u.Disabled:
			return (&inspector.Problems{{Field: "user_id", Code: "disabled", Message: "this account is disabled"}}).Err()
		}
		if err := t.dropExpiredEnrolments(); err != nil {
			return err
		}
		e := enrolment{UserID: userID, CreatedBy: actor.UserID, CreatedAt: t.now, ExpiresAt: t.now.Add(ttl)}
		if _, err := t.log(KindUser, userID, ActionEnrolmentIssued, map[string]string{"expires_at": e.ExpiresAt.UTC().Format(time.RFC3339)}); err != nil {
			return err
		}
		out = Enrolment{UserID: userID, ExpiresAt: e.ExpiresAt}
		return putJSON(t.Bucket(bucketEnrolments), []byte(hex.EncodeToString(codeHash)), e)
	})
	return out, err
}

// Enrol spends the enrolment code with codeHash and starts a session for its
// user on deviceID, as a sign-in does, in one transaction. An unknown, spent
// or expired code is CodeUnauthorized; the errors of StartSession (a disabled
// account, a revoked device, a device another account is signed in on) leave
// the code unspent.
func (s *Store) Enrol(codeHash []byte, deviceID string, refreshHash []byte, ttl time.Duration) (Session, inspector.User, error) {
	var (
		ss Session
		u  userRecord
	)
	key := []byte(hex.EncodeToString(codeHash))
	err := s.update(Actor{DeviceID: deviceID}, func(t *tx) error {
		var e enrolment
		ok, err := getJSON(t.Bucket(bucketEnrolments), key, &e)
		if err != nil {
			return err
		}
		if !ok || !t.now.Before(e.ExpiresAt) {
			return inspector.Errorf(inspector.CodeUnauthorized, "this enrolment code is not valid: it was used, it expired, or it never existed")
		}
		if err := t.Bucket(bucketEnrolments).Delete(key); err != nil {
			return err
		}
		t.actor.UserID = e.UserID
		if ss, err = t.startSession(s, e.UserID, deviceID, refreshHash, ttl); err != nil {
			return err
		}
		if _, err := t.log(KindUser, e.UserID, ActionEnrolled, map[string]string{"device": deviceID}); err != nil {
			return err
		}
		_, err = getJSON(t.Bucket(bucketUsers), []byte(e.UserID), &u)
		return err
	})
	return ss, u.User, err
}

// dropExpiredEnrolments deletes the codes past their expiry. The bucket
// holds the few codes issued in the last minutes, so a scan is cheap.
func (t *tx) dropExpiredEnrolments() error {
	b := t.Bucket(bucketEnrolments)
	var expired [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var e enrolment
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode enrolment: %w", err)
		}
		if !t.now.Before(e.ExpiresAt) {
			expired = append(expired, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range expired {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
