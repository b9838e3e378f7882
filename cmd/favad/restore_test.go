package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/demo"
	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/client"
)

// TestRestoreGetsDevicesWorkBack is the operator's restore, end to end with
// real processes: a hot backup taken during a push storm from several
// devices, more pushes acknowledged after it, the server stopped, the backup
// restored, the server started again. The devices reconnect and sync:
// everything any device still holds in its ledger is on the server exactly
// once, no sequence_gap is blamed on a device, and favad verify is clean.
// One device's ledger is small, so that part of its acknowledged work is
// gone for good: the server names that loss (server_behind), not the device.
func TestRestoreGetsDevicesWorkBack(t *testing.T) {
	data := t.TempDir()
	backup := filepath.Join(t.TempDir(), "favad-backup.db")
	addr := freeAddr(t)
	srv := startServer(t, data, "--demo", "--addr", addr)
	base := srv.url

	dispatcher := apiLogin(t, base, "dispatcher")
	admin := apiLogin(t, base, "admin")
	const devices = 3
	type device struct {
		c         *client.Client
		complaint string
		made      []string // every note id the device made
	}
	devs := make([]*device, devices)
	for i := range devs {
		user := fmt.Sprintf("restore.inspector%d", i)
		complaint := assignedFieldInspector(t, base, admin, dispatcher, user, fmt.Sprintf("RESTORE-%d", i))
		cfg := client.Config{BaseURL: base, Username: user, Password: demo.Password,
			HTTPClient: &http.Client{Timeout: 5 * time.Second}, BatchSize: 10}
		if i == devices-1 {
			cfg.LedgerKeep = 15 // this device prunes acknowledged work early
		}
		dev, err := client.Open(filepath.Join(t.TempDir(), user+".db"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dev.Close() })
		devs[i] = &device{c: dev, complaint: complaint}
	}

	// The storm: every device writes notes and syncs, until stopped.
	var backedUp atomic.Bool
	afterBackup := make([]int, devices) // notes made after the backup returned, per device
	storm, stop := context.WithCancel(context.Background())
	var wg stdsync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; storm.Err() == nil; n++ {
				id := client.NewID()
				if _, _, err := d.c.AddNote(id, client.Note{ComplaintID: d.complaint, Text: fmt.Sprintf("یادداشت %d", n), WrittenAt: time.Now()}); err != nil {
					t.Error(err)
					return
				}
				d.made = append(d.made, id)
				if backedUp.Load() {
					afterBackup[i]++
				}
				if n%2 == 0 {
					if _, err := d.c.Sync(storm); err != nil && storm.Err() == nil {
						t.Errorf("device %d: sync during the storm: %v", i, err)
						return
					}
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	out := mustRun(t, "", "backup", "--data", data, "--out", backup) // hot, during the storm
	backedUp.Store(true)
	if !strings.Contains(out, "streamed from the running server") {
		t.Errorf("backup output: %s", out)
	}
	time.Sleep(700 * time.Millisecond) // more pushes, acknowledged after the snapshot
	stop()
	wg.Wait()
	for i, d := range devs {
		if _, err := d.c.Sync(context.Background()); err != nil {
			t.Fatalf("device %d: final sync before the restore: %v", i, err)
		}
		if q, _ := d.c.Queue(); len(q) != 0 {
			t.Fatalf("device %d: %d mutations unacknowledged before the restore", i, len(q))
		}
		ledger, err := d.c.Ledger()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("device %d: %d notes acknowledged, %d made after the backup, ledger holds %d", i, len(d.made), afterBackup[i], len(ledger))
	}

	srv.stop(t)
	mustRun(t, "", "restore", "--data", data, "--in", backup)
	srv = startServer(t, data, "--addr", addr)

	// The devices reconnect, each with new work too.
	for i, d := range devs {
		id := client.NewID()
		if _, _, err := d.c.AddNote(id, client.Note{ComplaintID: d.complaint, Text: "پس از بازگردانی", WrittenAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		d.made = append(d.made, id)
		rep, err := d.c.Sync(context.Background())
		if err != nil {
			t.Fatalf("device %d: sync after the restore: %v", i, err)
		}
		if afterBackup[i] > 0 && (!rep.ServerBehind || rep.Resent == 0) {
			t.Errorf("device %d: the server lost %d notes but the device re-sent %d (server behind: %v)", i, afterBackup[i], rep.Resent, rep.ServerBehind)
		}
		t.Logf("device %d: re-sent %d after the restore", i, rep.Resent)
	}

	dispatcher = apiLogin(t, base, "dispatcher")
	held := 0
	for i, d := range devs {
		onServer, n := heldNotesOnServer(t, base, dispatcher, i, d.c, d.complaint)
		held += n
		if i < devices-1 && len(onServer) != len(d.made) {
			t.Errorf("device %d: made %d notes, the server holds %d", i, len(d.made), len(onServer))
		}
	}
	srv.stop(t)

	store, err := favsync.Open(filepath.Join(data, "favad.db"), favsync.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	conflicts, _, err := store.Conflicts(favsync.ConflictFilter{Limit: 200})
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, k := range conflicts {
		switch k.Rule {
		case inspector.RuleSequenceGap:
			t.Errorf("a sequence gap blamed on device %s: %s", k.DeviceID, k.Message)
		case inspector.RuleServerBehind:
			lost++
		}
	}
	if pruned := afterBackup[devices-1] > 15; pruned && lost == 0 {
		t.Error("the small-ledger device lost acknowledged work and no server_behind record names it")
	}
	if r := runFavad(t, nil, "", "verify", "--data", data); r.code != 0 || !strings.Contains(r.stdout, "problems: 0") {
		t.Errorf("favad verify after the restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("%d acknowledged notes held by devices are on the restored server exactly once; %d server_behind record(s)", held, lost)
}

// heldNotesOnServer checks that every note a device's ledger holds is on the
// server exactly once, applied, and that no note is there twice; it returns
// how many times each note of the complaint is on the server and the
// ledger's length.
func heldNotesOnServer(t *testing.T, base, token string, i int, dev *client.Client, complaint string) (onServer map[string]int, held int) {
	t.Helper()
	ledger, err := dev.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	var fw struct {
		Notes []struct{ ID string } `json:"notes"`
	}
	apiDo(t, base, token, "GET", "/v1/complaints/"+complaint+"/fieldwork", nil, &fw)
	onServer = map[string]int{}
	for _, n := range fw.Notes {
		onServer[n.ID]++
	}
	for _, e := range ledger {
		if onServer[e.Mutation.RecordID] != 1 {
			t.Errorf("device %d: note %s (seq %d), held by the device, is on the server %d times", i, e.Mutation.RecordID, e.Mutation.DeviceSeq, onServer[e.Mutation.RecordID])
		}
		if e.Result.Status != client.StatusApplied {
			t.Errorf("device %d: note %s was %s (%s)", i, e.Mutation.RecordID, e.Result.Status, e.Result.Message)
		}
	}
	for id, n := range onServer {
		if n != 1 {
			t.Errorf("device %d: note %s is on the server %d times", i, id, n)
		}
	}
	return onServer, len(ledger)
}

// assignedFieldInspector makes a field inspector of the demo province named
// user and a complaint assigned to them, and returns the complaint's id.
func assignedFieldInspector(t *testing.T, base, admin, dispatcher, user, callID string) string {
	t.Helper()
	var u struct{ ID string }
	apiDo(t, base, admin, "POST", "/v1/users", map[string]any{"username": user, "display_name": "بازرس", "role": "inspector",
		"mode": "field", "region": map[string]string{"province": demo.Province}, "password": demo.Password}, &u)
	var c struct{ ID string }
	apiDo(t, base, dispatcher, "POST", "/v1/complaints", map[string]any{"call_id": callID, "category": "absent_employee",
		"description": "کارمند حاضر نیست", "call_time": time.Now().UTC().Format(time.RFC3339), "office_code": "QZ-SSO-01", "priority": "normal"}, &c)
	apiDo(t, base, dispatcher, "POST", "/v1/complaints/"+c.ID+"/assign", map[string]string{"inspector_id": u.ID, "mode": "field"}, nil)
	return c.ID
}

// TestTwoRestoresInOneSecondKeepBothStores: the store a restore replaces is
// kept as favad.db.before-restore-<UTC second>; a second restore within the
// same second used to overwrite the first one kept — the original store.
// Each is kept now, under its own name.
func TestTwoRestoresInOneSecondKeepBothStores(t *testing.T) {
	data := t.TempDir()
	if r := runFavad(t, nil, "", "demo", "--data", data); r.code != 0 {
		t.Fatalf("favad demo: exit %d\n%s", r.code, r.stderr)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	mustRun(t, "", "backup", "--data", data, "--out", backup)
	mustRun(t, "late-account-password\n", "users", "add", "--data", data, "--username", "late.user", "--role", "supervisor", "--password-stdin")
	changed, err := os.ReadFile(filepath.Join(data, "favad.db"))
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, "", "restore", "--data", data, "--in", backup)
	historyOf := func(path string) string {
		t.Helper()
		s, err := favsync.Open(path, favsync.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return s.HistoryID()
	}
	if a, b := historyOf(backup), historyOf(filepath.Join(data, "favad.db")); a == "" || a == b {
		t.Errorf("the restored store's history id %q, the backup's %q: want its own (a feed resuming from the backup's primary resets)", b, a)
	}
	mustRun(t, "", "restore", "--data", data, "--in", backup)
	aside, _ := filepath.Glob(filepath.Join(data, "favad.db.before-restore-*"))
	if len(aside) != 2 {
		t.Fatalf("stores kept: %v, want two", aside)
	}
	kept := map[string]bool{}
	for _, f := range aside {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		kept[string(b)] = true
	}
	if !kept[string(changed)] {
		t.Error("the store the first restore replaced is gone")
	}
}

// TestRestoreRefusesABackupThatWouldNotOpen: a backup with an index entry
// waiting that can never be moved to its place (one flipped byte) opens
// read-only, but would fail the server's open and every write: restore
// refuses it, naming the entry, and the store in place stays.
func TestRestoreRefusesABackupThatWouldNotOpen(t *testing.T) {
	data := t.TempDir()
	if r := runFavad(t, nil, "", "demo", "--data", data); r.code != 0 {
		t.Fatalf("favad demo: exit %d\n%s", r.code, r.stderr)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	mustRun(t, "", "backup", "--data", data, "--out", backup)
	db, err := bolt.Open(backup, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("index_behind"))
		if _, err := b.NextSequence(); err != nil {
			return err
		}
		return b.Put([]byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte{9, 1, 'k'}) // an index that does not exist
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(data, "favad.db"))
	r := runFavad(t, nil, "", "restore", "--data", data, "--in", backup)
	if r.code == 0 || !strings.Contains(r.stderr, "would not open for serving") || !strings.Contains(r.stderr, "unknown index") {
		t.Errorf("restore of a backup that would not open: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(data, "favad.db")); string(after) != string(before) {
		t.Error("the store in place was changed")
	}
}
