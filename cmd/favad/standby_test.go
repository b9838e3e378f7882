package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/favad/favad/demo"
	"github.com/favad/favad/internal/s3test"
	"github.com/favad/favad/sync/client"
)

// TestStandbyTakesOverWhenThePrimaryIsKilled is the failover, end to end
// with real processes: a primary serving with scheduled backups to object
// storage (SeaweedFS) every second, under a push storm from several devices;
// a standby following the backups; the primary killed (SIGKILL) mid-storm;
// the standby promoted, serving on another address; the devices pointed at
// it reconnect and sync. Everything any device holds is then on the promoted
// server exactly once, and favad verify is clean.
func TestStandbyTakesOverWhenThePrimaryIsKilled(t *testing.T) {
	tg := s3test.New(t)
	env := []string{"FAVAD_S3_ACCESS_KEY=" + tg.AccessKey, "FAVAD_S3_SECRET_KEY=" + tg.SecretKey}
	s3flags := []string{"--s3-endpoint", "http://" + tg.Endpoint, "--s3-region", tg.Region, "--s3-path-style"}
	primaryData, standbyData := t.TempDir(), t.TempDir()
	primary := startServerEnv(t, env, primaryData, append([]string{"--demo", "--log-level", "info",
		"--backup-to", tg.URL(), "--backup-every", "1s", "--backup-keep", "3"}, s3flags...)...)
	base := primary.url

	// The standby shares the signing keys (as the README asks), so that
	// sessions survive the failover.
	standby, listening := launchFavad(t, env, append([]string{"standby", "--from", tg.URL(), "--every", "1s",
		"--data", standbyData, "--addr", "127.0.0.1:0", "--log-level", "info",
		"--jwt-key-file", filepath.Join(primaryData, "jwt-keys.json")}, s3flags...)...)

	dispatcher := apiLogin(t, base, "dispatcher")
	admin := apiLogin(t, base, "admin")
	const devices = 3
	type device struct {
		c         *client.Client
		cfg       client.Config
		path      string
		complaint string
		made      []string // every note id the device made
	}
	devs := make([]*device, devices)
	for i := range devs {
		user := fmt.Sprintf("standby.inspector%d", i)
		complaint := assignedFieldInspector(t, base, admin, dispatcher, user, fmt.Sprintf("STANDBY-%d", i))
		d := &device{path: filepath.Join(t.TempDir(), user+".db"), complaint: complaint,
			cfg: client.Config{BaseURL: base, Username: user, Password: demo.Password, HTTPClient: &http.Client{Timeout: 5 * time.Second}, BatchSize: 10}}
		var err error
		if d.c, err = client.Open(d.path, d.cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.c.Close() })
		devs[i] = d
	}

	// The standby must hold a backup with the devices' accounts before the
	// storm ends: wait for one taken after they were made.
	holds := regexp.MustCompile(`"msg":"standby holds backup"[^\n]*"seq":(\d+)`)
	waitHolds := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if len(holds.FindAllString(standby.stderr.String(), -1)) >= n {
				return
			}
		}
		t.Fatalf("the standby restored fewer than %d backups; its stderr:\n%s\nthe primary's:\n%s", n, standby.stderr, primary.stderr)
	}
	before := len(holds.FindAllString(standby.stderr.String(), -1))

	// The storm, until the primary is killed.
	var killed atomic.Bool
	storm, stop := context.WithCancel(context.Background())
	var wg stdsync.WaitGroup
	for i, d := range devs {
		wg.Go(func() {
			for n := 0; storm.Err() == nil; n++ {
				id := client.NewID()
				if _, _, err := d.c.AddNote(id, client.Note{ComplaintID: d.complaint, Text: fmt.Sprintf("یادداشت %d", n), WrittenAt: time.Now()}); err != nil {
					t.Error(err)
					return
				}
				d.made = append(d.made, id)
				if n%2 == 0 {
					if _, err := d.c.Sync(storm); err != nil && !killed.Load() && storm.Err() == nil {
						t.Errorf("device %d: sync during the storm: %v", i, err)
						return
					}
				}
			}
		})
	}
	waitHolds(before + 2) // the standby follows backups taken during the storm

	// Until promoted it answers a load balancer "not ready", and monitoring
	// the age of the backup it holds.
	health := regexp.MustCompile(`FAVAD standby answering health checks on (\S+)`).FindStringSubmatch(standby.stdout.String())
	if health == nil {
		t.Fatalf("the standby does not say where it answers health checks:\n%s", standby.stdout)
	}
	if resp, err := http.Get(health[1] + "/readyz"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"standby"`) {
			t.Errorf("the standby's /readyz: %d %s, want 503 standby", resp.StatusCode, body)
		}
	}
	if resp, err := http.Get(health[1] + "/metrics"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, name := range []string{"favad_standby_backup_taken_timestamp_seconds ", "favad_standby_backup_sequence ", "favad_standby_last_look_timestamp_seconds "} {
			if !strings.Contains(string(body), "\n"+name) {
				t.Errorf("the standby's /metrics lacks %s:\n%s", name, body)
			}
		}
	}
	time.Sleep(1500 * time.Millisecond)
	// Dispatch's console holds the feed up to here, past the backup the
	// standby will be promoted on.
	type feedPosition struct {
		Head      uint64 `json:"head"`
		NextAfter uint64 `json:"next_after"`
		History   string `json:"history"`
		Reset     bool   `json:"reset"`
	}
	var seen feedPosition
	apiDo(t, base, dispatcher, "GET", "/v1/feed/changes?limit=1", nil, &seen)
	killed.Store(true)
	if err := primary.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-primary.done
	time.Sleep(200 * time.Millisecond) // the devices keep writing while the server is gone
	stop()
	wg.Wait()

	// Promoted: it serves on its own address.
	if out := mustRun(t, "", "standby", "--promote", "--data", standbyData); !strings.Contains(out, "asked the standby") {
		t.Errorf("standby --promote: %s", out)
	}
	standby.waitListening(t, listening, 40*time.Second)
	var st standbyState
	raw, err := os.ReadFile(filepath.Join(standbyData, "standby.json"))
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err != nil || st.Backup == "" || st.Seq == 0 || st.Promoted.IsZero() {
		t.Fatalf("standby.json after the promotion: %+v (%v)", st, err)
	}
	newBase := standby.url
	if newBase == base {
		t.Fatalf("the standby serves on the primary's address %s", base)
	}

	// The devices are pointed at the new address and sync, with new work too.
	resent := 0
	for i, d := range devs {
		d.c.Close()
		d.cfg.BaseURL = newBase
		if d.c, err = client.Open(d.path, d.cfg); err != nil {
			t.Fatal(err)
		}
		id := client.NewID()
		if _, _, err := d.c.AddNote(id, client.Note{ComplaintID: d.complaint, Text: "پس از جابه‌جایی", WrittenAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		d.made = append(d.made, id)
		rep, err := d.c.Sync(context.Background())
		if err != nil {
			t.Fatalf("device %d: sync with the promoted standby: %v", i, err)
		}
		if q, _ := d.c.Queue(); len(q) != 0 {
			t.Errorf("device %d: %d mutations still queued after syncing with the promoted standby", i, len(q))
		}
		resent += rep.Resent
		t.Logf("device %d: made %d notes; re-sent %d to the promoted standby (server behind: %v)", i, len(d.made), rep.Resent, rep.ServerBehind)
	}

	if resent == 0 {
		t.Error("no device re-sent anything: the primary was killed with no acknowledged work after its last backup, and the test proves nothing")
	}

	dispatcher = apiLogin(t, newBase, "dispatcher")
	// The console resuming its feed is told to start over, even when the
	// devices' re-sends took the promoted store's head past its cursor:
	// the events it would skip are the re-sent work.
	var resumed feedPosition
	apiDo(t, newBase, dispatcher, "GET", fmt.Sprintf("/v1/feed/changes?after=%d&history=%s", seen.Head, seen.History), nil, &resumed)
	if !resumed.Reset || resumed.NextAfter != resumed.Head || resumed.History == seen.History || seen.History == "" {
		t.Errorf("dispatch's feed resuming at %d of history %q on the promoted standby: %+v; want a reset to the head in another history", seen.Head, seen.History, resumed)
	}
	t.Logf("dispatch's feed cursor %d (promoted on seq %d); the promoted store's head %d", seen.Head, st.Seq, resumed.Head)
	held := 0
	for i, d := range devs {
		onServer, n := heldNotesOnServer(t, newBase, dispatcher, i, d.c, d.complaint)
		for _, id := range d.made { // nothing pruned from these ledgers: every note made is there
			if onServer[id] != 1 {
				t.Errorf("device %d: note %s, made by the device, is on the promoted server %d times", i, id, onServer[id])
			}
		}
		if len(onServer) != len(d.made) {
			t.Errorf("device %d: made %d notes, the promoted server holds %d", i, len(d.made), len(onServer))
		}
		held += n
	}
	standby.stop(t)
	if r := runFavad(t, nil, "", "verify", "--data", standbyData); r.code != 0 || !strings.Contains(r.stdout, "problems: 0") {
		t.Errorf("favad verify after the failover: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("the standby was promoted on backup %s (seq %d); %d notes held by devices are on it exactly once", st.Backup, st.Seq, held)
}

// TestStandbyKeepsItsStoreWhenABackupIsBad: a newer backup whose bytes were
// changed in the bucket is refused, and the standby keeps the store it
// holds (no half-written store, no download left behind); promoted, it
// serves that store, and once promoted a restarted standby serves at once
// without restoring over the writes it has taken.
func TestStandbyKeepsItsStoreWhenABackupIsBad(t *testing.T) {
	tg := s3test.New(t)
	env := []string{"FAVAD_S3_ACCESS_KEY=" + tg.AccessKey, "FAVAD_S3_SECRET_KEY=" + tg.SecretKey}
	s3flags := []string{"--s3-endpoint", "http://" + tg.Endpoint, "--s3-region", tg.Region, "--s3-path-style"}
	run := func(args ...string) result {
		t.Helper()
		r := runFavad(t, env, "", append(args, s3flags...)...)
		if r.code != 0 {
			t.Fatalf("favad %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}
	report := regexp.MustCompile(`backup (favad-\S+) written to .*change log at sequence (\d+)`)
	primaryData, standbyData := t.TempDir(), t.TempDir()
	if r := runFavad(t, nil, "", "demo", "--data", primaryData); r.code != 0 {
		t.Fatalf("favad demo: exit %d\n%s", r.code, r.stderr)
	}
	good := report.FindStringSubmatch(run("backup", "--data", primaryData, "--to", tg.URL()).stdout)
	standbyArgs := append([]string{"standby", "--from", tg.URL(), "--every", "1s", "--data", standbyData,
		"--addr", "127.0.0.1:0", "--log-level", "info"}, s3flags...)
	standby, _ := launchFavad(t, env, standbyArgs...)
	waitLog := func(p *serverProc, msg string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if strings.Contains(p.stderr.String(), msg) {
				return
			}
		}
		t.Fatalf("no %s in the standby's log:\n%s", msg, p.stderr)
	}
	waitLog(standby, `"msg":"standby holds backup","component":"standby","backup":"`+good[1]+`","seq":`+good[2])
	standby.stop(t)

	// A newer backup, its bytes then changed in the bucket.
	time.Sleep(10 * time.Millisecond) // a later name
	bad := report.FindStringSubmatch(run("backup", "--data", primaryData, "--to", tg.URL()).stdout)
	junk := []byte("not a store at all")
	if _, err := tg.Client(t).PutObject(context.Background(), tg.Bucket, tg.Prefix+"/backups/"+bad[1]+".db",
		bytes.NewReader(junk), int64(len(junk)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	standby, listening := launchFavad(t, env, standbyArgs...)
	waitLog(standby, `"msg":"restoring a newer backup failed; the store held is unchanged","component":"standby","backup":"`+bad[1]+`"`)
	if strays, _ := filepath.Glob(filepath.Join(standbyData, ".standby-download-*")); len(strays) > 0 {
		t.Errorf("downloads left behind: %v", strays)
	}
	if r := runFavad(t, nil, "", "standby", "--promote", "--data", standbyData); r.code != 0 {
		t.Fatalf("favad standby --promote: exit %d\n%s", r.code, r.stderr)
	}
	standby.waitListening(t, listening, 30*time.Second)
	if !strings.Contains(standby.stderr.String(), `"msg":"standby promoted: serving","component":"standby","backup":"`+good[1]+`"`) {
		t.Errorf("the standby did not serve the good backup %s:\n%s", good[1], standby.stderr)
	}
	// Work on the promoted standby, then a restart: it serves at once, that work kept.
	token := apiLogin(t, standby.url, "dispatcher")
	apiDo(t, standby.url, token, "POST", "/v1/complaints", map[string]any{"call_id": "AFTER-PROMOTION", "category": "absent_employee",
		"description": "کارمند حاضر نیست", "call_time": time.Now().UTC().Format(time.RFC3339), "office_code": "QZ-SSO-01", "priority": "normal"}, nil)
	standby.stop(t)
	standby, listening = launchFavad(t, env, standbyArgs...)
	standby.waitListening(t, listening, 10*time.Second)
	if !strings.Contains(standby.stderr.String(), "this standby was promoted before: serving without restoring") {
		t.Errorf("a promoted standby restarted:\n%s", standby.stderr)
	}
	token = apiLogin(t, standby.url, "dispatcher")
	var page struct {
		Items []struct {
			CallID string `json:"call_id"`
		} `json:"items"`
	}
	apiDo(t, standby.url, token, "GET", "/v1/complaints?q=AFTER-PROMOTION", nil, &page)
	found := false
	for _, c := range page.Items {
		found = found || c.CallID == "AFTER-PROMOTION"
	}
	if !found {
		t.Errorf("the complaint made on the promoted standby is gone after its restart: %+v", page)
	}
	standby.stop(t)
}

// standbyFixture is a demo primary whose backups go to a SeaweedFS bucket,
// and the flags a standby following them takes.
type standbyFixture struct {
	env, s3flags             []string
	url, primary, standbyDir string
}

func newStandbyFixture(t *testing.T) *standbyFixture {
	t.Helper()
	tg := s3test.New(t)
	f := &standbyFixture{env: []string{"FAVAD_S3_ACCESS_KEY=" + tg.AccessKey, "FAVAD_S3_SECRET_KEY=" + tg.SecretKey},
		s3flags: []string{"--s3-endpoint", "http://" + tg.Endpoint, "--s3-region", tg.Region, "--s3-path-style"},
		url:     tg.URL(), primary: t.TempDir(), standbyDir: t.TempDir()}
	if r := runFavad(t, nil, "", "demo", "--data", f.primary); r.code != 0 {
		t.Fatalf("favad demo: exit %d\n%s", r.code, r.stderr)
	}
	return f
}

// backup takes a backup of the primary into the bucket.
func (f *standbyFixture) backup(t *testing.T) {
	t.Helper()
	if r := runFavad(t, f.env, "", append([]string{"backup", "--data", f.primary, "--to", f.url}, f.s3flags...)...); r.code != 0 {
		t.Fatalf("favad backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// standbyArgs are the arguments of a standby on dir.
func (f *standbyFixture) standbyArgs(dir string) []string {
	return append([]string{"standby", "--from", f.url, "--every", "1s", "--data", dir, "--addr", "127.0.0.1:0", "--log-level", "info"}, f.s3flags...)
}

// follow starts a standby on dir and waits until it holds a backup.
func (f *standbyFixture) follow(t *testing.T, dir string) (*serverProc, <-chan string) {
	t.Helper()
	standby, listening := launchFavad(t, f.env, f.standbyArgs(dir)...)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(standby.stderr.String(), "standby holds backup"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the standby restored nothing:\n%s", standby.stderr)
		}
	}
	return standby, listening
}

// TestStandbyNeverRestoresOverAStoreThatTookWrites: an operator "promotes"
// by hand — stops the standby and runs favad serve on its directory, which
// takes writes — and the standby is started again later (a reboot). It used
// to restore the next backup over those writes; now it refuses and stops,
// saying why, and the writes are there. A standby pointed at a directory
// that holds a store it did not restore refuses too. `standby --promote`
// refuses a directory that is no standby's and a standby promoted already,
// and a promotion removes its promote file.
func TestStandbyNeverRestoresOverAStoreThatTookWrites(t *testing.T) {
	f := newStandbyFixture(t)
	env, s3flags, primaryData, standbyData := f.env, f.s3flags, f.primary, f.standbyDir
	f.backup(t)
	standby, _ := f.follow(t, standbyData)
	standby.stop(t)

	// favad serve refuses a standby's directory not promoted.
	if r := runFavad(t, nil, "", "serve", "--data", standbyData, "--addr", "127.0.0.1:0"); r.code == 0 || !strings.Contains(r.stderr, "a warm standby's directory, not promoted") {
		t.Fatalf("serve on an unpromoted standby's directory: exit %d, want a refusal:\n%s%s", r.code, r.stdout, r.stderr)
	}
	// So does every command that changes accounts (the standby would stop
	// at its next look); listing them reads only.
	for _, args := range [][]string{
		{"users", "reset-password", "--data", standbyData, "--username", "supervisor", "--password-stdin"},
		{"users", "disable", "--data", standbyData, "--username", "supervisor"},
		{"users", "add", "--data", standbyData, "--username", "n.new", "--role", "dispatcher", "--name", "تازه", "--password-stdin"},
	} {
		if r := runFavad(t, nil, "a long enough password 1\n", args...); r.code == 0 || !strings.Contains(r.stderr, "a warm standby's directory, not promoted") {
			t.Fatalf("%v on an unpromoted standby's directory: exit %d, want a refusal:\n%s%s", args[:2], r.code, r.stdout, r.stderr)
		}
	}
	if r := runFavad(t, nil, "", "users", "list", "--data", standbyData); r.code != 0 {
		t.Fatalf("users list on a standby's directory: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Served by hand anyway (its standby.json moved aside meanwhile): a
	// complaint is taken.
	serveByHand := func(do func(srv *serverProc)) {
		t.Helper()
		state := filepath.Join(standbyData, "standby.json")
		if err := os.Rename(state, state+".aside"); err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, standbyData)
		do(srv)
		srv.stop(t)
		if err := os.Rename(state+".aside", state); err != nil {
			t.Fatal(err)
		}
	}
	serveByHand(func(srv *serverProc) {
		token := apiLogin(t, srv.url, "dispatcher")
		apiDo(t, srv.url, token, "POST", "/v1/complaints", map[string]any{"call_id": "SERVED-BY-HAND", "category": "absent_employee",
			"description": "کارمند حاضر نیست", "call_time": time.Now().UTC().Format(time.RFC3339), "office_code": "QZ-SSO-01", "priority": "normal"}, nil)
	})
	time.Sleep(10 * time.Millisecond) // a later name
	f.backup(t)                       // a newer backup the standby would take

	r := runFavad(t, env, "", f.standbyArgs(standbyData)...)
	if r.code == 0 || !strings.Contains(r.stderr, "a server took writes on it") {
		t.Fatalf("a standby on a store that took writes: exit %d, want a refusal:\n%s%s", r.code, r.stdout, r.stderr)
	}
	serveByHand(func(srv *serverProc) {
		token := apiLogin(t, srv.url, "dispatcher")
		var page struct {
			Items []struct {
				CallID string `json:"call_id"`
			} `json:"items"`
		}
		apiDo(t, srv.url, token, "GET", "/v1/complaints?q=SERVED-BY-HAND", nil, &page)
		if len(page.Items) != 1 {
			t.Errorf("the complaint taken on the standby's directory: %+v, want it kept", page)
		}
	})

	// A directory with a store the standby never restored.
	r = runFavad(t, env, "", append([]string{"standby", "--from", f.url, "--data", primaryData, "--addr", "127.0.0.1:0"}, s3flags...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "or it was there before") {
		t.Errorf("a standby on the primary's directory: exit %d, want a refusal:\n%s%s", r.code, r.stdout, r.stderr)
	}

	// --promote: not a standby's directory; then a real promotion, twice.
	if r := runFavad(t, nil, "", "standby", "--promote", "--data", t.TempDir()); r.code == 0 || !strings.Contains(r.stderr, "not a standby's directory") {
		t.Errorf("--promote on an empty directory: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fresh := t.TempDir()
	standby, listening := f.follow(t, fresh)
	mustRun(t, "", "standby", "--promote", "--data", fresh)
	standby.waitListening(t, listening, 40*time.Second)
	if _, err := os.Stat(filepath.Join(fresh, "promote")); !os.IsNotExist(err) {
		t.Errorf("the promote file is left after the promotion (%v)", err)
	}
	if r := runFavad(t, nil, "", "standby", "--promote", "--data", fresh); r.code == 0 || !strings.Contains(r.stderr, "promoted already") {
		t.Errorf("--promote a second time: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	standby.stop(t)
}

// TestStandbyStoppedMidRestoreTakesTheBackupInPlace: a standby stopped
// (killed) after renaming a newer backup into place but before recording
// it finds that backup in its directory at the next start and holds it,
// instead of taking it for writes of a server and stopping.
func TestStandbyStoppedMidRestoreTakesTheBackupInPlace(t *testing.T) {
	f := newStandbyFixture(t)
	primaryData, standbyData := f.primary, f.standbyDir
	f.backup(t)
	standby, _ := f.follow(t, standbyData)
	standby.stop(t)

	// What a kill between the rename and its record leaves: a newer store in
	// place, and standby.json naming it only as being restored.
	mustRun(t, "a-late-account-pw\n", "users", "add", "--data", primaryData, "--username", "late.user", "--role", "supervisor", "--password-stdin")
	newer := filepath.Join(t.TempDir(), "newer.db")
	out := mustRun(t, "", "backup", "--data", primaryData, "--out", newer)
	seq := regexp.MustCompile(`sequence (\d+)`).FindStringSubmatch(out)
	st, err := readStandbyState(standbyData)
	if err != nil || seq == nil {
		t.Fatalf("state %v, backup output %q", err, out)
	}
	var n uint64
	fmt.Sscan(seq[1], &n)
	st.Restoring = &standbyState{Backup: "favad-29991231T000000.000Z", Seq: n}
	if err := writeStandbyState(standbyData, st); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(newer, filepath.Join(standbyData, "favad.db")); err != nil {
		t.Fatal(err)
	}

	standby, _ = launchFavad(t, f.env, f.standbyArgs(standbyData)...)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(standby.stderr.String(), "is in place: held"); time.Sleep(100 * time.Millisecond) {
		exited := false
		select {
		case <-standby.done:
			exited = true
		default:
		}
		if time.Now().After(deadline) || exited {
			t.Fatalf("the standby did not take the backup in place as its own:\n%s", standby.stderr)
		}
	}
	standby.stop(t)
	if st, err := readStandbyState(standbyData); err != nil || st.Seq != n || st.Restoring != nil {
		t.Errorf("standby.json after the restart: %+v (%v), want sequence %d held", st, err, n)
	}
}

// TestPromotionIsNotHeldByAHangingBucket: a look for a newer backup in a
// bucket that takes the connection and never answers is given up as soon
// as a promotion is asked, which then takes its own bounded last look.
func TestPromotionIsNotHeldByAHangingBucket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var held []net.Conn // accepted, never answered
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	s3 := blobConfig{Endpoint: "http://" + ln.Addr().String(), Region: "us-east-1", PathStyle: true}
	bucket, err := s3Backups("s3://hanging/backups", "--from", &s3, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sb := &standbyLoop{bucket: bucket, data: dir, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan error, 1)
	go func() { done <- sb.pollUnlessPromoted(context.Background()) }()
	time.Sleep(500 * time.Millisecond) // the look is under way, and hangs
	if err := os.WriteFile(promoteFile(dir), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the look given up for the promotion: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a look at a hanging bucket still holds the promotion after 10 s")
	}
}

// TestStandbyRefusesASecondOnItsDirectoryAndItsOwnPrefix: a second standby
// on a directory one runs on stops at once, naming the cause (two would
// restore over each other's store); a standby whose --backup-to is the
// prefix it follows is refused (promoted, it would prune the old primary's
// backups). Both before anything is asked of the bucket.
func TestStandbyRefusesASecondOnItsDirectoryAndItsOwnPrefix(t *testing.T) {
	dir := t.TempDir()
	release, err := lockDir(dir, standbyLockName)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := lockDir(dir, standbyLockName); !errors.Is(err, errDirLocked) {
		t.Fatalf("a second lock on one directory: %v, want errDirLocked", err)
	}
	nowhere := []string{"--s3-endpoint", "http://127.0.0.1:1", "--s3-region", "us-east-1", "--s3-path-style"}
	r := runFavad(t, nil, "", append([]string{"standby", "--from", "s3://backups/qazvin", "--data", dir}, nowhere...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "another standby runs on") {
		t.Errorf("a second standby on one directory: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, to := range []string{"s3://backups/qazvin/", "s3://backups/qazvin/.", "s3://backups/other/../qazvin"} {
		r = runFavad(t, nil, "", append([]string{"standby", "--from", "s3://backups/qazvin", "--backup-to", to,
			"--data", t.TempDir()}, nowhere...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "is the prefix this standby follows") {
			t.Errorf("a standby backing up into the prefix it follows (%s): exit %d\n%s%s", to, r.code, r.stdout, r.stderr)
		}
	}
}
