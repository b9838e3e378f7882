package client_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/favad/favad/sync/client"
)

// BenchmarkEnqueue measures one durable (fsynced) enqueue.
func BenchmarkEnqueue(b *testing.B) {
	d, err := client.Open(filepath.Join(b.TempDir(), "phone.db"), client.Config{BaseURL: "http://127.0.0.1:1", Username: "field"})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	n := client.Note{ComplaintID: client.NewID(), Text: "یادداشت", WrittenAt: time.Now()}
	for b.Loop() {
		if _, _, err := d.AddNote(client.NewID(), n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSyncPush100 measures a Sync that pushes 100 notes to a real server
// and pulls them back.
func BenchmarkSyncPush100(b *testing.B) {
	e := newEnv(b)
	c := e.complaint("field")
	d := e.device("field")
	if _, err := d.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		for range 100 {
			if _, _, err := d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "یادداشت", WrittenAt: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		rep, err := d.Sync(ctx)
		if err != nil || rep.Applied != 100 {
			b.Fatalf("%+v %v", rep, err)
		}
	}
}
