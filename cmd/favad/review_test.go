package main

// Review tests: each one names a defect and fails while it is present.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// TestStalledBackupClientFreezesTheStore: GET /backup on the admin socket
// streams the store from inside one bbolt read transaction, with no write
// deadline. A client that stops reading (a backup piped to a stalled disk or
// network, a Ctrl-Z'd `favad backup`) keeps that transaction open for ever,
// and the first commit that needs to grow the file waits for it: every push,
// intake and login then hangs.
func TestStalledBackupClientFreezesTheStore(t *testing.T) {
	dir := t.TempDir()
	store, err := favsync.Open(storeFile(dir), favsync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, _, err := store.PutAgency(favsync.System, inspector.Agency{Code: "SSO", NameFa: "تامین اجتماعی", NameEn: "SSO"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.PutOffice(favsync.System, inspector.Office{Code: "QZ-1", AgencyCode: "SSO", NameFa: "شعبه", Province: "قزوین", City: "قزوین",
		Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat"}}}); err != nil {
		t.Fatal(err)
	}
	desc := strings.Repeat("کارمند غایب است ", 240)
	n := 0
	grow := func(count int) error {
		for range count {
			n++
			if _, _, err := store.CreateComplaint(favsync.System, inspector.NewComplaint{CallID: fmt.Sprintf("C-%d", n), Category: "absent_employee",
				Description: desc, CallTime: time.Now().Add(-time.Minute), OfficeCode: "QZ-1", Priority: "normal"}); err != nil {
				return err
			}
		}
		return nil
	}
	began := time.Now()
	if err := grow(600); err != nil { // a few MiB: more than the socket buffers hold
		t.Fatal(err)
	}
	// Five times as many writes as these took, with a wide margin: a loaded
	// machine (the race detector, the whole suite at once) is slow, not hung.
	patience := max(10*time.Second, 5*4*time.Since(began))
	sock := filepath.Join(dir, "a.sock")
	admin, err := listenAdmin(sock, store, blobStore(dir), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.close()

	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://favad/backup", nil)
	resp, err := adminClient(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	one := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, one); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the client stalls; the server fills the socket and blocks in tx.WriteTo

	done := make(chan error, 1)
	go func() { done <- grow(3000) }() // the store must grow past its current mapping
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		resp.Body.Close() // let the writer go before the deferred Close
		<-done
		t.Fatal("writes to the store hung while a backup client stalled on the admin socket")
	}
}
