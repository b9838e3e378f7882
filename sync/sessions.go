package sync

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// Device is a phone or browser that signed in. A revoked device is refused at
// once on every request and cannot sign in again.
type Device struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
	Version   uint64     `json:"version"`
	// Push is the device's FCM registration, if it registered one.
	Push *PushRegistration `json:"push,omitempty"`
}

// Session is one sign-in on one device: a family of rotating refresh tokens.
type Session struct {
	ID           string     `json:"id"`
	UserID       string     `json:"user_id"`
	DeviceID     string     `json:"device_id"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

type refreshToken struct {
	SessionID string     `json:"session_id"`
	ExpiresAt time.Time  `json:"expires_at"`
	SpentAt   *time.Time `json:"spent_at,omitempty"`
	Successor []byte     `json:"successor,omitempty"` // the hash of the token that replaced it
}

// RefreshReuseGrace is how long after a refresh token is spent it may be
// presented again while its successor is still unused: the answer to the
// first refresh was lost on a flaky network, and the phone retries. The
// unused successor is replaced. After the grace, or once the successor was
// used, a reuse is theft and revokes the whole session.
const RefreshReuseGrace = time.Minute

// StartSession opens a session for user on device, with the first refresh
// token (stored only as its hash) valid for ttl.
func (s *Store) StartSession(userID, deviceID string, refreshHash []byte, ttl time.Duration) (Session, error) {
	var ss Session
	err := s.update(Actor{UserID: userID, DeviceID: deviceID}, func(t *tx) error {
		var err error
		ss, err = t.startSession(s, userID, deviceID, refreshHash, ttl)
		return err
	})
	return ss, err
}

// startSession is StartSession inside a transaction.
func (t *tx) startSession(s *Store, userID, deviceID string, refreshHash []byte, ttl time.Duration) (Session, error) {
	var ss Session
	err := func() error {
		var u userRecord
		if err := getRecord(t.Bucket(bucketUsers), "user", userID, []byte(userID), &u); err != nil {
			return err
		}
		if u.Disabled {
			return inspector.Errorf(inspector.CodeAccountDisabled, "this account is disabled")
		}
		devices := t.Bucket(bucketDevices)
		var d Device
		known, err := getJSON(devices, []byte(deviceID), &d)
		if err != nil {
			return err
		}
		if d.RevokedAt != nil {
			return inspector.Errorf(inspector.CodeDeviceRevoked, "this device was revoked; ask an administrator")
		}
		if known && d.UserID != userID {
			// Device ids are the client's to choose: a device on which another
			// account is signed in is not handed over until it signs out there.
			live, err := t.liveSessionOn(deviceID)
			if err != nil {
				return err
			}
			if live {
				return &inspector.Error{Code: inspector.CodeConflict, Message: "another account is signed in on this device; sign out there first",
					Fields: []inspector.FieldError{{Field: "device_id", Code: "in_use", Message: "this device id is in use by another account"}}}
			}
		}
		if !known || d.UserID != userID {
			// A device that changes hands starts afresh: it must not keep the previous
			// user's cursor, nor receive their notifications.
			if known {
				if err := t.Bucket(bucketUserDevices).Delete(joinKey(d.UserID, deviceID)); err != nil {
					return err
				}
			}
			if err := t.Bucket(bucketUserDevices).Put(joinKey(userID, deviceID), nil); err != nil {
				return err
			}
			d = Device{ID: deviceID, UserID: userID, FirstSeen: t.now}
			if d.Version, err = t.log(KindDevice, deviceID, ActionCreated, map[string]string{"user": userID}); err != nil {
				return err
			}
		}
		d.LastSeen = t.now
		if err := putJSON(devices, []byte(deviceID), d); err != nil {
			return err
		}
		ss = Session{ID: s.newID(), UserID: userID, DeviceID: deviceID, CreatedAt: t.now, ExpiresAt: t.now.Add(ttl)}
		if _, err := t.log(KindSession, ss.ID, ActionCreated, map[string]string{"user": userID, "device": deviceID}); err != nil {
			return err
		}
		if err := putJSON(t.Bucket(bucketSessions), []byte(ss.ID), ss); err != nil {
			return err
		}
		return putJSON(t.Bucket(bucketRefresh), refreshHash, refreshToken{SessionID: ss.ID, ExpiresAt: ss.ExpiresAt})
	}()
	return ss, err
}

// RotateRefresh spends the refresh token with oldHash and stores its successor
// newHash, extending the session by ttl. Presenting a token that was already
// spent is taken as theft: the whole session is revoked and CodeRefreshReused
// returned.
func (s *Store) RotateRefresh(oldHash, newHash []byte, ttl time.Duration) (Session, inspector.User, error) {
	var (
		ss      Session
		u       userRecord
		refusal error // committed with the transaction, then returned
	)
	err := s.update(System, func(t *tx) error {
		refusal = nil
		tokens := t.Bucket(bucketRefresh)
		var rt refreshToken
		ok, err := getJSON(tokens, oldHash, &rt)
		if err != nil {
			return err
		}
		if !ok {
			return inspector.Errorf(inspector.CodeUnauthorized, "unknown refresh token; sign in again")
		}
		if _, err := getJSON(t.Bucket(bucketSessions), []byte(rt.SessionID), &ss); err != nil {
			return err
		}
		t.actor = Actor{UserID: ss.UserID, DeviceID: ss.DeviceID}
		if rt.SpentAt != nil && t.now.Sub(*rt.SpentAt) <= RefreshReuseGrace && len(rt.Successor) > 0 {
			var succ refreshToken
			if ok, err := getJSON(tokens, rt.Successor, &succ); err != nil {
				return err
			} else if ok && succ.SpentAt == nil {
				// A retry after a lost answer: the unused successor is retired (spent,
				// with no successor of its own, so presenting it later is a reuse that
				// revokes the session) and replaced below.
				retired := t.now
				succ.SpentAt = &retired
				if err := putJSON(tokens, rt.Successor, succ); err != nil {
					return err
				}
				rt.SpentAt = nil
			}
		}
		if rt.SpentAt != nil {
			if ss.RevokedAt == nil {
				if err := t.revokeSession(&ss, "refresh_reused"); err != nil {
					return err
				}
			}
			refusal = inspector.Errorf(inspector.CodeRefreshReused, "this refresh token was already used; the session is revoked, sign in again")
			return nil
		}
		if err := t.checkSession(&ss, &u); err != nil {
			return err
		}
		if t.now.After(rt.ExpiresAt) {
			return inspector.Errorf(inspector.CodeUnauthorized, "the session has expired; sign in again")
		}
		spent := t.now
		rt.SpentAt, rt.Successor = &spent, newHash
		if err := putJSON(tokens, oldHash, rt); err != nil {
			return err
		}
		ss.ExpiresAt = t.now.Add(ttl)
		if err := putJSON(t.Bucket(bucketSessions), []byte(ss.ID), ss); err != nil {
			return err
		}
		return putJSON(tokens, newHash, refreshToken{SessionID: ss.ID, ExpiresAt: ss.ExpiresAt})
	})
	if err == nil {
		err = refusal
	}
	return ss, u.User, err
}

// CheckSession returns nil if the session is live, its device not revoked and
// its user enabled; otherwise the error says which. It is called on every
// authenticated request, so that a revocation takes effect at once.
func (s *Store) CheckSession(sessionID string) (inspector.User, error) {
	var u userRecord
	err := s.view(func(btx *bolt.Tx) error {
		var ss Session
		ok, err := getJSON(btx.Bucket(bucketSessions), []byte(sessionID), &ss)
		if err != nil {
			return err
		}
		if !ok {
			return inspector.Errorf(inspector.CodeSessionRevoked, "unknown session; sign in again")
		}
		return (&tx{Tx: btx, now: s.now()}).checkSession(&ss, &u)
	})
	return u.User, err
}

func (t *tx) checkSession(ss *Session, u *userRecord) error {
	if ss.RevokedAt != nil {
		switch ss.RevokeReason {
		case "device_revoked":
			return inspector.Errorf(inspector.CodeDeviceRevoked, "this device was revoked; ask an administrator")
		case "account_disabled":
			// Enabled again since, the account may sign in: this session
			// stays ended, and says so.
			if ok, err := getJSON(t.Bucket(bucketUsers), []byte(ss.UserID), u); err != nil {
				return err
			} else if !ok || u.Disabled {
				return inspector.Errorf(inspector.CodeAccountDisabled, "this account is disabled")
			}
			return inspector.Errorf(inspector.CodeSessionRevoked, "the session ended when the account was disabled; sign in again")
		case "logout", "logout_everywhere":
			// Signed out, here or everywhere: the device drops what it pulled.
			return inspector.Errorf(inspector.CodeSignedOut, "this session was signed out; sign in again")
		}
		return inspector.Errorf(inspector.CodeSessionRevoked, "the session has ended (%s); sign in again", ss.RevokeReason)
	}
	var d Device
	if _, err := getJSON(t.Bucket(bucketDevices), []byte(ss.DeviceID), &d); err != nil {
		return err
	}
	if d.RevokedAt != nil {
		return inspector.Errorf(inspector.CodeDeviceRevoked, "this device was revoked; ask an administrator")
	}
	ok, err := getJSON(t.Bucket(bucketUsers), []byte(ss.UserID), u)
	if err != nil {
		return err
	}
	if !ok || u.Disabled {
		return inspector.Errorf(inspector.CodeAccountDisabled, "this account is disabled")
	}
	return nil
}

// EndSession signs the session's account out of the session's device
// (logout): the session ends, and so does any other session the account
// still holds there (it signed in again without signing out), so that no
// token of the account outlives the sign-out and the device can be handed
// over.
func (s *Store) EndSession(actor Actor, sessionID, reason string) error {
	return s.update(actor, func(t *tx) error {
		var ss Session
		if err := getRecord(t.Bucket(bucketSessions), "session", sessionID, []byte(sessionID), &ss); err != nil {
			return err
		}
		return t.revokeSessions(func(o *Session) bool { return o.UserID == ss.UserID && o.DeviceID == ss.DeviceID }, reason)
	})
}

// EndUserSessions revokes every session of a user, on every device ("sign
// out everywhere").
func (s *Store) EndUserSessions(actor Actor, userID, reason string) error {
	return s.update(actor, func(t *tx) error {
		return t.revokeSessions(func(ss *Session) bool { return ss.UserID == userID }, reason)
	})
}

func (t *tx) revokeSession(ss *Session, reason string) error {
	at := t.now
	ss.RevokedAt, ss.RevokeReason = &at, reason
	if _, err := t.log(KindSession, ss.ID, "revoked", map[string]string{"reason": reason, "user": ss.UserID, "device": ss.DeviceID}); err != nil {
		return err
	}
	return putJSON(t.Bucket(bucketSessions), []byte(ss.ID), ss)
}

// liveSessionOn reports whether a session on the device is neither revoked
// nor expired.
func (t *tx) liveSessionOn(deviceID string) (bool, error) {
	live := false
	err := t.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		var ss Session
		if err := json.Unmarshal(v, &ss); err != nil {
			return fmt.Errorf("decode session %s: %w", k, err)
		}
		if ss.DeviceID == deviceID && ss.RevokedAt == nil && t.now.Before(ss.ExpiresAt) {
			live = true
		}
		return nil
	})
	return live, err
}

// revokeSessions revokes every live session for which match is true.
func (t *tx) revokeSessions(match func(*Session) bool, reason string) error {
	var hit []Session
	err := t.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		var ss Session
		if err := json.Unmarshal(v, &ss); err != nil {
			return fmt.Errorf("decode session %s: %w", k, err)
		}
		if ss.RevokedAt == nil && match(&ss) {
			hit = append(hit, ss)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range hit {
		if err := t.revokeSession(&hit[i], reason); err != nil {
			return err
		}
	}
	return nil
}

// RevokeDevice refuses a device from now on and ends its sessions.
func (s *Store) RevokeDevice(actor Actor, deviceID string) (Device, error) {
	var d Device
	err := s.update(actor, func(t *tx) error {
		if err := getRecord(t.Bucket(bucketDevices), "device", deviceID, []byte(deviceID), &d); err != nil {
			return err
		}
		if d.RevokedAt != nil {
			return nil
		}
		at := t.now
		d.RevokedAt, d.RevokedBy = &at, actor.UserID
		var err error
		if d.Version, err = t.log(KindDevice, d.ID, "revoked", map[string]string{"user": d.UserID}); err != nil {
			return err
		}
		if err := putJSON(t.Bucket(bucketDevices), []byte(d.ID), d); err != nil {
			return err
		}
		return t.revokeSessions(func(ss *Session) bool { return ss.DeviceID == deviceID }, "device_revoked")
	})
	return d, err
}

// Devices lists every device that ever signed in, most recently seen first.
func (s *Store) Devices() ([]Device, error) {
	out := []Device{}
	err := s.view(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode device %s: %w", k, err)
			}
			out = append(out, d)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out, err
}
