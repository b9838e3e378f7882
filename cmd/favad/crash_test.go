package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	stdsync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/favad/favad/demo"
	"github.com/favad/favad/sync/client"
)

// TestKilledServerLosesNothingAcknowledged kills a real server process with
// SIGKILL at random moments during a push storm from several devices, and
// restarts it, several times. Afterwards every mutation a device saw
// acknowledged is on the server exactly once, and nothing queued is missing.
func TestKilledServerLosesNothingAcknowledged(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, data, "--demo", "--addr", addr)
	base := srv.url

	dispatcher := apiLogin(t, base, "dispatcher")
	admin := apiLogin(t, base, "admin")
	const devices = 4
	type device struct {
		c         *client.Client
		complaint string
		queued    []string // note ids
	}
	devs := make([]*device, devices)
	for i := range devs {
		user := fmt.Sprintf("crash.inspector%d", i)
		var u struct{ ID string }
		apiDo(t, base, admin, "POST", "/v1/users", map[string]any{"username": user, "display_name": "بازرس", "role": "inspector",
			"mode": "field", "region": map[string]string{"province": demo.Province}, "password": demo.Password}, &u)
		var c struct{ ID string }
		apiDo(t, base, dispatcher, "POST", "/v1/complaints", map[string]any{"call_id": fmt.Sprintf("CRASH-%d", i), "category": "absent_employee",
			"description": "کارمند حاضر نیست", "call_time": time.Now().UTC().Format(time.RFC3339), "office_code": "QZ-SSO-01", "priority": "normal"}, &c)
		apiDo(t, base, dispatcher, "POST", "/v1/complaints/"+c.ID+"/assign", map[string]string{"inspector_id": u.ID, "mode": "field"}, nil)
		dev, err := client.Open(filepath.Join(t.TempDir(), user+".db"), client.Config{BaseURL: base, Username: user, Password: demo.Password,
			HTTPClient: &http.Client{Timeout: 5 * time.Second}, BatchSize: 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dev.Close() })
		devs[i] = &device{c: dev, complaint: c.ID}
	}

	storm, stop := context.WithCancel(context.Background())
	var wg stdsync.WaitGroup
	for _, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; storm.Err() == nil; n++ {
				id := client.NewID()
				if _, _, err := d.c.AddNote(id, client.Note{ComplaintID: d.complaint, Text: fmt.Sprintf("یادداشت %d", n), WrittenAt: time.Now()}); err != nil {
					t.Error(err)
					return
				}
				d.queued = append(d.queued, id)
				if n%3 == 0 {
					d.c.Sync(storm) // errors are expected while the server is down
				}
			}
		}()
	}
	for kill := range 4 {
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-srv.done
		t.Logf("kill %d: server killed", kill+1)
		srv = startServer(t, data, "--addr", addr)
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()

	acked := 0
	for i, d := range devs {
		for try := 0; ; try++ {
			_, err := d.c.Sync(context.Background())
			q, qerr := d.c.Queue()
			if qerr != nil {
				t.Fatal(qerr)
			}
			if err == nil && len(q) == 0 {
				break
			}
			if try == 20 {
				t.Fatalf("device %d: queue not drained (%d left): %v", i, len(q), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		ledger, err := d.c.Ledger()
		if err != nil {
			t.Fatal(err)
		}
		var fw struct {
			Notes []struct{ ID string } `json:"notes"`
		}
		apiDo(t, base, apiLogin(t, base, "dispatcher"), "GET", "/v1/complaints/"+d.complaint+"/fieldwork", nil, &fw)
		onServer := map[string]int{}
		for _, n := range fw.Notes {
			onServer[n.ID]++
		}
		for _, e := range ledger {
			if e.Result.Status != client.StatusApplied {
				t.Errorf("device %d: note %s was %s (%s)", i, e.Mutation.RecordID, e.Result.Status, e.Result.Message)
			}
			if onServer[e.Mutation.RecordID] != 1 {
				t.Errorf("device %d: acknowledged note %s is on the server %d times", i, e.Mutation.RecordID, onServer[e.Mutation.RecordID])
			}
		}
		if len(ledger) != len(d.queued) || len(fw.Notes) != len(d.queued) {
			t.Errorf("device %d: queued %d, acknowledged %d, on the server %d", i, len(d.queued), len(ledger), len(fw.Notes))
		}
		acked += len(ledger)
	}
	t.Logf("%d notes acknowledged across 4 kills, each on the server exactly once", acked)
	srv.stop(t)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func apiLogin(t *testing.T, base, username string) string {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	apiDo(t, base, "", "POST", "/v1/auth/login", map[string]string{"username": username, "password": demo.Password,
		"device_id": "crash-test-" + username}, &out)
	return out.AccessToken
}

func apiDo(t *testing.T, base, token, method, path string, body, out any) {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, base+path, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Favad-Protocol", "1") // sync routes require it; others ignore it
	req.Header.Set("Favad-App-Version", "cmd-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var p map[string]any
		json.NewDecoder(resp.Body).Decode(&p)
		t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, p)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}
