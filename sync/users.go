package sync

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// userRecord is a user as stored: the domain user and its password hash.
type userRecord struct {
	inspector.User
	PasswordHash string `json:"password_hash"`
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,39}$`)

// NewUser is an account to create. PasswordHash is computed by the caller
// (package server/auth), so that the store never sees a password.
type NewUser struct {
	Username    string
	DisplayName string
	Role        inspector.Role
	Mode        inspector.Mode
	Region      *inspector.Region
	// OfficeCode or AgencyCode (exactly one) binds an office account.
	OfficeCode   string
	AgencyCode   string
	PasswordHash string
}

func (n *NewUser) validate() error {
	var p inspector.Problems
	if !usernamePattern.MatchString(n.Username) {
		p.Add("username", "invalid", "3–40 of a–z, 0–9, '.', '_' and '-'")
	}
	if inspector.IsBlank(n.DisplayName) {
		p.Add("display_name", "required", "the person's name is required")
	} else if utf8.RuneCountInString(n.DisplayName) > inspector.MaxName {
		p.Add("display_name", "too_long", "at most 200 characters")
	}
	if !n.Role.Valid() {
		p.Add("role", "invalid", "one of dispatcher, inspector, supervisor, admin, office")
	}
	switch {
	case n.Role == inspector.RoleOffice && (n.OfficeCode == "") == (n.AgencyCode == ""):
		p.Add("office_code", "required", "an office account is bound to one office (office_code) or to one agency's offices (agency_code)")
	case n.Role == inspector.RoleOffice && n.OfficeCode != "" && n.Region != nil:
		p.Add("region", "not_allowed", "an account bound to one office has no region")
	case n.Role != inspector.RoleOffice && (n.OfficeCode != "" || n.AgencyCode != ""):
		p.Add("office_code", "not_allowed", "only office accounts are bound to an office or agency")
	}
	if n.Role == inspector.RoleOffice {
		if n.Mode != "" {
			p.Add("mode", "not_allowed", "only inspectors have a mode")
		}
	} else if n.Role == inspector.RoleInspector {
		if !n.Mode.Valid() {
			p.Add("mode", "invalid", "an inspector works by field or phone")
		}
		if n.Region == nil || inspector.IsBlank(n.Region.Province) {
			p.Add("region.province", "required", "an inspector needs a province")
		}
	} else if n.Mode != "" || n.Region != nil {
		p.Add("mode", "not_allowed", "only inspectors have a mode and a region")
	}
	if n.PasswordHash == "" {
		p.Add("password", "required", "a password is required")
	}
	return p.Err()
}

// CreateUser adds an account. The username is unique, case-insensitively.
func (s *Store) CreateUser(actor Actor, n NewUser) (inspector.User, error) {
	n.Username = strings.ToLower(strings.TrimSpace(n.Username))
	n.DisplayName = strings.TrimSpace(n.DisplayName)
	// Codes are case-insensitive and kept in upper case, as everywhere.
	n.OfficeCode = strings.ToUpper(strings.TrimSpace(n.OfficeCode))
	n.AgencyCode = strings.ToUpper(strings.TrimSpace(n.AgencyCode))
	if err := n.validate(); err != nil {
		return inspector.User{}, err
	}
	u := userRecord{User: inspector.User{ID: s.newID(), Username: n.Username, DisplayName: n.DisplayName,
		Role: n.Role, Mode: n.Mode, Region: n.Region, OfficeCode: n.OfficeCode, AgencyCode: n.AgencyCode}, PasswordHash: n.PasswordHash}
	err := s.update(actor, func(t *tx) error {
		if err := t.requireBinding(u.User); err != nil {
			return err
		}
		names := t.Bucket(bucketUsernames)
		if names.Get([]byte(u.Username)) != nil {
			return &inspector.Error{Code: inspector.CodeConflict, Message: fmt.Sprintf("username %q is taken", u.Username),
				Fields: []inspector.FieldError{{Field: "username", Code: "taken", Message: "choose another username"}}}
		}
		u.CreatedAt = t.now
		if _, err := t.log(KindUser, u.ID, ActionCreated, map[string]string{"role": string(u.Role)}); err != nil {
			return err
		}
		if err := names.Put([]byte(u.Username), []byte(u.ID)); err != nil {
			return err
		}
		return putJSON(t.Bucket(bucketUsers), []byte(u.ID), u)
	})
	return u.User, err
}

// User returns the user with id, or CodeNotFound.
func (s *Store) User(id string) (inspector.User, error) {
	var u userRecord
	err := s.view(func(btx *bolt.Tx) error {
		ok, err := getJSON(btx.Bucket(bucketUsers), []byte(id), &u)
		if err == nil && !ok {
			err = notFound("user", id)
		}
		return err
	})
	return u.User, err
}

// Credentials returns the user with username and their password hash, or CodeNotFound.
func (s *Store) Credentials(username string) (inspector.User, string, error) {
	var u userRecord
	err := s.view(func(btx *bolt.Tx) error {
		id := btx.Bucket(bucketUsernames).Get([]byte(strings.ToLower(strings.TrimSpace(username))))
		if id == nil {
			return notFound("user", username)
		}
		_, err := getJSON(btx.Bucket(bucketUsers), id, &u)
		return err
	})
	return u.User, u.PasswordHash, err
}

// Users lists accounts by username; role "" lists all.
func (s *Store) Users(role inspector.Role) ([]inspector.User, error) {
	out := []inspector.User{}
	err := s.view(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			var u userRecord
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("decode user %s: %w", k, err)
			}
			if role == "" || u.Role == role {
				out = append(out, u.User)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, err
}

// SetUserDisabled disables or re-enables an account by username. Disabling
// revokes every session of the user at once.
func (s *Store) SetUserDisabled(actor Actor, username string, disabled bool) (inspector.User, error) {
	return s.changeUser(actor, username, func(t *tx, u *userRecord) (string, error) {
		u.Disabled = disabled
		if disabled {
			return "disabled", t.revokeSessions(func(ss *Session) bool { return ss.UserID == u.ID }, "account_disabled")
		}
		return "enabled", nil
	})
}

// SetPasswordHash replaces a user's password hash and ends their sessions.
func (s *Store) SetPasswordHash(actor Actor, username, hash string) (inspector.User, error) {
	if hash == "" {
		return inspector.User{}, (&inspector.Problems{{Field: "password", Code: "required", Message: "a password is required"}}).Err()
	}
	return s.changeUser(actor, username, func(t *tx, u *userRecord) (string, error) {
		u.PasswordHash = hash
		return "password_reset", t.revokeSessions(func(ss *Session) bool { return ss.UserID == u.ID }, "password_reset")
	})
}

func (s *Store) changeUser(actor Actor, username string, fn func(*tx, *userRecord) (string, error)) (inspector.User, error) {
	var u userRecord
	err := s.update(actor, func(t *tx) error {
		id := t.Bucket(bucketUsernames).Get([]byte(strings.ToLower(username)))
		if id == nil {
			return notFound("user", username)
		}
		if _, err := getJSON(t.Bucket(bucketUsers), id, &u); err != nil {
			return err
		}
		action, err := fn(t, &u)
		if err != nil {
			return err
		}
		if _, err := t.log(KindUser, u.ID, action, nil); err != nil {
			return err
		}
		return putJSON(t.Bucket(bucketUsers), []byte(u.ID), u)
	})
	return u.User, err
}

// requireBinding checks that an office account's office or agency exists.
func (t *tx) requireBinding(u inspector.User) error {
	switch {
	case u.OfficeCode != "":
		var o inspector.Office
		if ok, err := getJSON(t.Bucket(bucketOffices), []byte(u.OfficeCode), &o); err != nil {
			return err
		} else if !ok || o.Deleted {
			return (&inspector.Problems{{Field: "office_code", Code: "unknown", Message: fmt.Sprintf("no office with code %q", u.OfficeCode)}}).Err()
		}
	case u.AgencyCode != "":
		var a inspector.Agency
		if ok, err := getJSON(t.Bucket(bucketAgencies), []byte(u.AgencyCode), &a); err != nil {
			return err
		} else if !ok || a.Deleted {
			return (&inspector.Problems{{Field: "agency_code", Code: "unknown", Message: fmt.Sprintf("no agency with code %q", u.AgencyCode)}}).Err()
		}
	}
	return nil
}
