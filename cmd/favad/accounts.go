package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// accounts is what `favad users` does to accounts: on the store file when
// no server holds it, through the running server's admin socket otherwise,
// so that an operator never stops the 128 line to let an admin back in.
type accounts interface {
	Create(n favsync.NewUser) (inspector.User, error)
	List() ([]inspector.User, error)
	SetDisabled(username string, disabled bool) (inspector.User, error)
	SetPassword(username, hash string) (inspector.User, error)
	// Known returns an error if there is no account username.
	Known(username string) error
	Close()
}

// openAccounts opens the accounts of the store in dataDir. A missing store
// is created only when create is set (users add on a new directory); writes
// refuses a warm standby's directory not promoted.
func openAccounts(dataDir string, create, writes bool) (accounts, error) {
	if writes {
		if err := refuseStandbyDir(dataDir, "change accounts on the primary: the standby takes them with its next backup"); err != nil {
			return nil, err
		}
	}
	path := storeFile(dataDir)
	if _, err := os.Stat(path); err != nil && !create {
		return nil, fmt.Errorf("no store in %s (wrong --data?): %w", dataDir, err)
	}
	s, err := openStore(dataDir, favsync.Options{})
	switch {
	case errors.Is(err, favsync.ErrLocked):
		return socketAccounts{sock: adminSocketFile(dataDir)}, nil
	case err != nil:
		return nil, err
	}
	return storeAccounts{s}, nil
}

// storeAccounts works on the store directly.
type storeAccounts struct{ s *favsync.Store }

func (a storeAccounts) Create(n favsync.NewUser) (inspector.User, error) {
	return a.s.CreateUser(favsync.System, n)
}
func (a storeAccounts) List() ([]inspector.User, error) { return a.s.Users("") }
func (a storeAccounts) SetDisabled(username string, disabled bool) (inspector.User, error) {
	return a.s.SetUserDisabled(favsync.System, username, disabled)
}
func (a storeAccounts) SetPassword(username, hash string) (inspector.User, error) {
	return a.s.SetPasswordHash(favsync.System, username, hash)
}
func (a storeAccounts) Known(username string) error {
	_, _, err := a.s.Credentials(username)
	return err
}
func (a storeAccounts) Close() { a.s.Close() }

// The admin socket's account routes. Only whoever may open the socket file
// (mode 0600, the server's user) reaches them; passwords arrive hashed.
type (
	accountWire struct {
		Username     string            `json:"username"`
		DisplayName  string            `json:"display_name"`
		Role         inspector.Role    `json:"role"`
		Mode         inspector.Mode    `json:"mode,omitempty"`
		Region       *inspector.Region `json:"region,omitempty"`
		OfficeCode   string            `json:"office_code,omitempty"`
		AgencyCode   string            `json:"agency_code,omitempty"`
		PasswordHash string            `json:"password_hash"`
	}
	accountChange struct {
		Disabled     *bool  `json:"disabled,omitempty"`
		PasswordHash string `json:"password_hash,omitempty"`
	}
	// accountError carries an *inspector.Error across the socket.
	accountError struct {
		Code    inspector.Code         `json:"code"`
		Message string                 `json:"message"`
		Fields  []inspector.FieldError `json:"fields,omitempty"`
	}
)

// serveAccounts adds the account routes to the admin socket's mux.
func serveAccounts(mux *http.ServeMux, store *favsync.Store) {
	answer := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		var appErr *inspector.Error
		switch {
		case errors.As(err, &appErr):
			w.WriteHeader(http.StatusUnprocessableEntity)
			v = accountError{Code: appErr.Code, Message: appErr.Message, Fields: appErr.Fields}
		case err != nil:
			w.WriteHeader(http.StatusInternalServerError)
			v = accountError{Code: inspector.CodeInternal, Message: err.Error()}
		}
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		users, err := store.Users("")
		answer(w, users, err)
	})
	mux.HandleFunc("GET /users/{username}", func(w http.ResponseWriter, r *http.Request) {
		u, _, err := store.Credentials(r.PathValue("username"))
		answer(w, u, err)
	})
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		var a accountWire
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			answer(w, nil, &inspector.Error{Code: inspector.CodeInvalid, Message: "not an account: " + err.Error()})
			return
		}
		u, err := store.CreateUser(favsync.System, favsync.NewUser{Username: a.Username, DisplayName: a.DisplayName, Role: a.Role,
			Mode: a.Mode, Region: a.Region, OfficeCode: a.OfficeCode, AgencyCode: a.AgencyCode, PasswordHash: a.PasswordHash})
		answer(w, u, err)
	})
	mux.HandleFunc("POST /users/{username}", func(w http.ResponseWriter, r *http.Request) {
		var ch accountChange
		if err := json.NewDecoder(r.Body).Decode(&ch); err != nil || (ch.Disabled == nil) == (ch.PasswordHash == "") {
			answer(w, nil, &inspector.Error{Code: inspector.CodeInvalid, Message: "one change: disabled or password_hash"})
			return
		}
		var (
			u   inspector.User
			err error
		)
		if ch.Disabled != nil {
			u, err = store.SetUserDisabled(favsync.System, r.PathValue("username"), *ch.Disabled)
		} else {
			u, err = store.SetPasswordHash(favsync.System, r.PathValue("username"), ch.PasswordHash)
		}
		answer(w, u, err)
	})
}

// socketAccounts works through the running server's admin socket.
type socketAccounts struct{ sock string }

func (a socketAccounts) Create(n favsync.NewUser) (inspector.User, error) {
	var u inspector.User
	err := a.call(http.MethodPost, "/users", accountWire{Username: n.Username, DisplayName: n.DisplayName, Role: n.Role, Mode: n.Mode,
		Region: n.Region, OfficeCode: n.OfficeCode, AgencyCode: n.AgencyCode, PasswordHash: n.PasswordHash}, &u)
	return u, err
}
func (a socketAccounts) List() ([]inspector.User, error) {
	var users []inspector.User
	err := a.call(http.MethodGet, "/users", nil, &users)
	return users, err
}
func (a socketAccounts) SetDisabled(username string, disabled bool) (inspector.User, error) {
	var u inspector.User
	err := a.call(http.MethodPost, "/users/"+url.PathEscape(username), accountChange{Disabled: &disabled}, &u)
	return u, err
}
func (a socketAccounts) SetPassword(username, hash string) (inspector.User, error) {
	var u inspector.User
	err := a.call(http.MethodPost, "/users/"+url.PathEscape(username), accountChange{PasswordHash: hash}, &u)
	return u, err
}
func (a socketAccounts) Known(username string) error {
	return a.call(http.MethodGet, "/users/"+url.PathEscape(username), nil, &inspector.User{})
}
func (a socketAccounts) Close() {}

// call sends body (if any) to path on the admin socket and decodes the
// answer into out; an application error comes back as an *inspector.Error.
func (a socketAccounts) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://favad"+path, rd)
	if err != nil {
		return err
	}
	resp, err := adminDo(a.sock, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e accountError
		if json.NewDecoder(resp.Body).Decode(&e) != nil || e.Code == "" {
			return fmt.Errorf("the server answered %s", resp.Status)
		}
		return &inspector.Error{Code: e.Code, Message: e.Message, Fields: e.Fields}
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
