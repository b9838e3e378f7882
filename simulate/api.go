package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// api is a minimal JSON client for the dispatcher's and admin's calls.
type api struct {
	base   string
	http   *http.Client
	token  string
	device string
}

func (a *api) login(ctx context.Context, username, password string) error {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := a.do(ctx, "POST", "/v1/auth/login", map[string]string{"username": username, "password": password, "device_id": a.device}, &out); err != nil {
		return fmt.Errorf("sign in as %s: %w", username, err)
	}
	a.token = out.AccessToken
	return nil
}

// statusError is a non-2xx answer.
type statusError struct {
	Status int
	Body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

func (a *api) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &statusError{Status: resp.StatusCode, Body: string(raw)}
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type officeJSON struct {
	Code string `json:"code"`
}

type complaintJSON struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Version uint64 `json:"version"`
	History []struct {
		Action string            `json:"action"`
		Data   map[string]string `json:"data"`
	} `json:"history"`
}

type conflictJSON struct {
	ID         string `json:"id"`
	MutationID string `json:"mutation_id"`
}

// conflictMutations lists the mutation ids of every conflict record.
func (a *api) conflictMutations(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	cursor := ""
	for {
		var page struct {
			Items      []conflictJSON `json:"items"`
			NextCursor string         `json:"next_cursor"`
		}
		if err := a.do(ctx, "GET", "/v1/conflicts?limit=200&cursor="+url.QueryEscape(cursor), nil, &page); err != nil {
			return nil, err
		}
		for _, c := range page.Items {
			out[c.MutationID] = true
		}
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}
