package sync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// PushRegistration is a device's FCM registration token and what it said of itself.
type PushRegistration struct {
	Token       string    `json:"token"`
	Platform    string    `json:"platform"` // android, ios or web
	AppVersion  string    `json:"app_version"`
	Locale      string    `json:"locale"`
	ConfirmedAt time.Time `json:"confirmed_at"` // the last time the device sent this token
}

// Token ages (FCM's guidance): a token not confirmed for StaleAfter receives
// no sends; one not confirmed for RemoveAfter is deleted.
const (
	DefaultTokenStaleAfter  = 30 * 24 * time.Hour
	DefaultTokenRemoveAfter = 270 * 24 * time.Hour
)

// RegisterPush records or rotates the FCM token of the caller's device and
// confirms it now.
func (s *Store) RegisterPush(actor Actor, reg PushRegistration) (Device, error) {
	var p inspector.Problems
	reg.Token, reg.Platform, reg.Locale = strings.TrimSpace(reg.Token), strings.ToLower(strings.TrimSpace(reg.Platform)), strings.TrimSpace(reg.Locale)
	if reg.Token == "" || len(reg.Token) > 4096 {
		p.Add("token", "invalid", "the FCM registration token, at most 4096 characters")
	}
	switch reg.Platform {
	case "android", "ios", "web":
	default:
		p.Add("platform", "invalid", "android, ios or web")
	}
	if len(reg.AppVersion) > 64 {
		p.Add("app_version", "too_long", "at most 64 characters")
	}
	if len(reg.Locale) > 35 {
		p.Add("locale", "too_long", "a BCP 47 tag such as fa-IR")
	}
	if err := p.Err(); err != nil {
		return Device{}, err
	}
	var d Device
	err := s.update(actor, func(t *tx) error {
		ok, err := getJSON(t.Bucket(bucketDevices), []byte(actor.DeviceID), &d)
		if err != nil {
			return err
		}
		if !ok || d.UserID != actor.UserID {
			return notFound("device", actor.DeviceID)
		}
		reg.ConfirmedAt = t.now
		action := "push_registered"
		if d.Push != nil && d.Push.Token == reg.Token {
			action = "push_confirmed"
		}
		d.Push = &reg
		if d.Version, err = t.log(KindDevice, d.ID, action, map[string]string{"user": d.UserID, "platform": reg.Platform}); err != nil {
			return err
		}
		return putJSON(t.Bucket(bucketDevices), []byte(d.ID), d)
	})
	return d, err
}

// PushTarget is a device that should be told of new work.
type PushTarget struct {
	UserID   string
	DeviceID string
	Token    string
	Platform string
	Locale   string
}

// PushTargets returns the devices of users that have a token confirmed
// within staleAfter and are not revoked.
func (s *Store) PushTargets(userIDs []string, staleAfter time.Duration) ([]PushTarget, error) {
	var out []PushTarget
	cutoff := s.now().Add(-staleAfter)
	err := s.view(func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketUserDevices).Cursor()
		devices := btx.Bucket(bucketDevices)
		for _, u := range userIDs {
			prefix := append([]byte(u), 0)
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				var d Device
				ok, err := getJSON(devices, k[len(prefix):], &d)
				if err != nil {
					return err
				}
				if !ok || d.RevokedAt != nil || d.Push == nil || d.Push.ConfirmedAt.Before(cutoff) || d.UserID != u {
					continue
				}
				out = append(out, PushTarget{UserID: u, DeviceID: d.ID, Token: d.Push.Token, Platform: d.Push.Platform, Locale: d.Push.Locale})
			}
		}
		return nil
	})
	return out, err
}

// DropPushToken removes a token FCM called unregistered or invalid, unless
// the device has registered another one meanwhile.
func (s *Store) DropPushToken(deviceID, token, reason string) error {
	return s.update(System, func(t *tx) error {
		var d Device
		ok, err := getJSON(t.Bucket(bucketDevices), []byte(deviceID), &d)
		if err != nil || !ok || d.Push == nil || d.Push.Token != token {
			return err
		}
		d.Push = nil
		if d.Version, err = t.log(KindDevice, d.ID, "push_token_removed", map[string]string{"user": d.UserID, "reason": reason}); err != nil {
			return err
		}
		return putJSON(t.Bucket(bucketDevices), []byte(d.ID), d)
	})
}

// PrunePushTokens deletes tokens not confirmed for removeAfter.
func (s *Store) PrunePushTokens(removeAfter time.Duration) (int, error) {
	var pruned int
	err := s.update(System, func(t *tx) error {
		pruned = 0
		cutoff := t.now.Add(-removeAfter)
		var old []Device
		err := t.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode device %s: %w", k, err)
			}
			if d.Push != nil && d.Push.ConfirmedAt.Before(cutoff) {
				old = append(old, d)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, d := range old {
			d.Push = nil
			if d.Version, err = t.log(KindDevice, d.ID, "push_token_removed", map[string]string{"user": d.UserID, "reason": "stale"}); err != nil {
				return err
			}
			if err := putJSON(t.Bucket(bucketDevices), []byte(d.ID), d); err != nil {
				return err
			}
			pruned++
		}
		return nil
	})
	return pruned, err
}

// NotifierCursor is the last change-log sequence the notifier settled.
func (s *Store) NotifierCursor() (uint64, error) {
	var seq uint64
	err := s.view(func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketMeta).Get(keyNotifierCursor); v != nil {
			var err error
			seq, err = btoi(v)
			return err
		}
		// A first start notifies of nothing from before it.
		seq = btx.Bucket(bucketLog).Sequence()
		return nil
	})
	return seq, err
}

// SaveNotifierCursor records that every change up to seq was notified.
func (s *Store) SaveNotifierCursor(seq uint64) error {
	return s.update(System, func(t *tx) error { return t.Bucket(bucketMeta).Put(keyNotifierCursor, itob(seq)) })
}

// InspectorsOf returns the ids of active inspectors whose region covers the
// province ("" for all active inspectors).
func (s *Store) InspectorsOf(province string) ([]string, error) {
	var out []string
	err := s.view(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			var u userRecord
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			if u.Role == inspector.RoleInspector && !u.Disabled &&
				(province == "" || (u.Region != nil && inspector.NormalizeText(u.Region.Province) == inspector.NormalizeText(province))) {
				out = append(out, u.ID)
			}
			return nil
		})
	})
	return out, err
}

// ComplaintBrief is what a user-visible notification may say of a complaint:
// never the caller.
type ComplaintBrief struct {
	Number     uint64
	OfficeName string
	Priority   inspector.Priority
	// InScopeOf is the inspector whose work it is now ("" if no one's).
	InScopeOf string
}

// Brief returns a complaint's brief.
func (s *Store) Brief(complaintID string) (ComplaintBrief, error) {
	var b ComplaintBrief
	err := s.view(func(btx *bolt.Tx) error {
		var c inspector.Complaint
		ok, err := getJSON(btx.Bucket(bucketComplaints), []byte(complaintID), &c)
		if err != nil || !ok {
			return err
		}
		var o inspector.Office
		if _, err := getJSON(btx.Bucket(bucketOffices), []byte(c.OfficeCode), &o); err != nil {
			return err
		}
		b = ComplaintBrief{Number: c.Number, OfficeName: o.NameFa, Priority: c.Priority}
		if c.Assignment != nil && inspector.InScope(c, c.Assignment.InspectorID) {
			b.InScopeOf = c.Assignment.InspectorID
		}
		return nil
	})
	return b, err
}

// migrateUserDevices builds the user_devices index of a store from before schema 4.
func migrateUserDevices(btx *bolt.Tx) error {
	idx := btx.Bucket(bucketUserDevices)
	return btx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
		var d Device
		if err := json.Unmarshal(v, &d); err != nil {
			return err
		}
		return idx.Put(joinKey(d.UserID, d.ID), nil)
	})
}
