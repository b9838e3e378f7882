package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxResponse bounds a response body read into memory.
const maxResponse = 64 << 20

// exchange sends one request and reads the whole answer. A non-2xx answer
// is returned as an *APIError; err is otherwise a transport failure.
func (c *Client) exchange(ctx context.Context, method, path string, body []byte, bearer string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("Favad-Protocol", strconv.Itoa(ProtocolVersion))
	req.Header.Set("Favad-App-Version", c.cfg.AppVersion)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	return nil, problemOf(resp, data)
}

// problemOf reads a non-2xx answer, from its problem document if it has one.
func problemOf(resp *http.Response, body []byte) *APIError {
	e := &APIError{}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/problem+json" || mt == "application/json" {
		_ = json.Unmarshal(body, e) // a body that is not a problem leaves the fields empty
	}
	e.Status = resp.StatusCode
	if e.Detail == "" {
		e.Detail = http.StatusText(resp.StatusCode)
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("X-Request-ID")
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(s); err == nil {
			e.RetryAfter = max(0, time.Until(t))
		}
	}
	return e
}

// call makes an authenticated request and decodes the answer into out. It
// signs in first if needed and follows the server's action on a 401: refresh
// and retry, or sign in again and retry, at most once each. A wipe or an
// upgrade is returned as ErrWiped or ErrUpgradeRequired.
func (c *Client) call(ctx context.Context, method, path string, body []byte, out any) error {
	token, err := c.accessToken(ctx)
	if err != nil {
		return err
	}
	refreshed, signedIn := false, false
	for {
		data, err := c.exchange(ctx, method, path, body, token)
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			if err != nil {
				return fmt.Errorf("%s %s: %w", method, path, err)
			}
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
			}
			return nil
		}
		if apiErr.Status == http.StatusUnauthorized {
			switch apiErr.Action {
			case ActionRefresh:
				if !refreshed && !signedIn {
					refreshed = true
					if token, err = c.renew(ctx, token, true); err != nil {
						return err
					}
					continue
				}
			case ActionWipe:
				return c.wipe(apiErr)
			default: // sign_in, or a 401 without an action
				if !signedIn {
					signedIn = true
					if token, err = c.renew(ctx, token, false); err != nil {
						return err
					}
					continue
				}
			}
		}
		return c.classify(apiErr)
	}
}

// classify obeys a wipe and wraps the refusal with its sentinel.
func (c *Client) classify(e *APIError) error {
	if e.Action == ActionWipe {
		return c.wipe(e)
	}
	return withSentinel(e)
}

// withSentinel wraps an upgrade refusal with ErrUpgradeRequired.
func withSentinel(e *APIError) error {
	if e.Status == http.StatusUpgradeRequired || e.Action == ActionUpgrade {
		return fmt.Errorf("%w: %w", ErrUpgradeRequired, e)
	}
	return e
}

// tokenAnswer is the body of a successful login or refresh.
type tokenAnswer struct {
	AccessToken  string    `json:"access_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	RefreshToken string    `json:"refresh_token"`
	User         struct {
		ID string `json:"id"`
	} `json:"user"`
}

// accessToken returns the current access token, signing in (or refreshing
// with a stored refresh token) when the device has none.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.authMu.Lock()
	token := c.access
	c.authMu.Unlock()
	if token != "" {
		return token, nil
	}
	return c.renew(ctx, "", true)
}

// renew replaces the access token stale. With tryRefresh it spends the stored
// refresh token first; if there is none or the server refuses it, it signs
// in with the configured credentials. A transport failure is returned as is.
func (c *Client) renew(ctx context.Context, stale string, tryRefresh bool) (string, error) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if c.access != "" && c.access != stale {
		return c.access, nil // another request renewed it meanwhile
	}
	c.access = ""
	if tryRefresh {
		var refresh string
		if err := c.db.View(func(tx *bolt.Tx) error {
			refresh = getString(tx.Bucket(bucketMeta), keyRefresh)
			return nil
		}); err != nil {
			return "", err
		}
		if refresh != "" {
			body, _ := json.Marshal(map[string]string{"refresh_token": refresh})
			tok, err := c.authenticate(ctx, "/v1/auth/refresh", body)
			var apiErr *APIError
			switch {
			case err == nil:
				return tok, nil
			case !errors.As(err, &apiErr):
				return "", err
			case apiErr.Action == ActionWipe:
				return "", c.wipeData(apiErr)
			case apiErr.Status != http.StatusUnauthorized:
				return "", withSentinel(apiErr) // not a verdict on the token: try again later
			}
			c.log.Info("refresh refused; signing in again", "code", apiErr.Code)
		}
	}
	body, _ := json.Marshal(map[string]string{"username": c.cfg.Username, "password": c.cfg.Password, "device_id": c.deviceID})
	tok, err := c.authenticate(ctx, "/v1/auth/login", body)
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.Action == ActionWipe:
			return "", c.wipeData(apiErr)
		case apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden:
			return "", fmt.Errorf("%w: %w", ErrSignInRefused, apiErr)
		}
		return "", withSentinel(apiErr)
	}
	return tok, err
}

// authenticate posts to a token endpoint and stores the tokens: the refresh
// token durably (it is single-use, so the one just received is the only
// one that works), the access token in memory. The caller holds authMu.
func (c *Client) authenticate(ctx context.Context, path string, body []byte) (string, error) {
	data, err := c.exchange(ctx, http.MethodPost, path, body, "")
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			return "", err
		}
		return "", fmt.Errorf("POST %s: %w", path, err)
	}
	var t tokenAnswer
	if err := json.Unmarshal(data, &t); err != nil || t.AccessToken == "" || t.RefreshToken == "" {
		return "", fmt.Errorf("POST %s: the answer carries no tokens (%v)", path, err)
	}
	err = c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyRefresh, []byte(t.RefreshToken))
	})
	if err != nil {
		return "", fmt.Errorf("store refresh token: %w", err)
	}
	c.access, c.account = t.AccessToken, t.User.ID
	c.log.Debug("authenticated", "via", path)
	return t.AccessToken, nil
}

// wipe obeys the server's wipe instruction for refusal e: it forgets the
// access token, drops the pulled records, the cursor and the refresh token,
// and the queue too when the device was revoked. The ledger is kept. It
// returns ErrWiped wrapped with e.
func (c *Client) wipe(e *APIError) error {
	c.authMu.Lock()
	c.access = ""
	c.authMu.Unlock()
	return c.wipeData(e)
}

// wipeData is wipe for a caller that holds authMu and cleared the access token.
func (c *Client) wipeData(e *APIError) error {
	revoked := e.Code == CodeDeviceRevoked
	err := c.db.Update(func(tx *bolt.Tx) error {
		if revoked {
			if err := emptyBucket(tx, bucketQueue); err != nil {
				return err
			}
		}
		return resetScope(tx)
	})
	if err != nil {
		return fmt.Errorf("wipe: %w (after %w)", err, e)
	}
	c.log.Warn("wiped on the server's instruction", "code", e.Code, "queue_dropped", revoked)
	return fmt.Errorf("%w: %w", ErrWiped, e)
}

// SignOut ends this device's session on the server and forgets the tokens and
// the pulled records; the queue stays (push it first if it should go under
// this user). Another account can then sign in on the device: the server does
// not hand a device over while someone is signed in on it.
func (c *Client) SignOut(ctx context.Context) error {
	if err := c.call(ctx, http.MethodPost, "/v1/auth/logout", nil, nil); err != nil && !errors.Is(err, ErrWiped) {
		return fmt.Errorf("sign out: %w", err)
	}
	c.authMu.Lock()
	c.access = ""
	c.authMu.Unlock()
	return c.db.Update(resetScope)
}

// AccessToken returns a bearer token for the requests an app makes outside
// the sync protocol, such as evidence uploads over tus: the one in memory,
// else one got with the stored refresh token, else by signing in with the
// configured credentials. It returns the errors of a sign-in (ErrWiped,
// ErrSignInRefused, a transport error). A request the token does not
// authorize any more (401) should ask again after Sync, which renews it.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	return c.accessToken(ctx)
}
