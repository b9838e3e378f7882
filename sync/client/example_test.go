package client_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/favad/favad/sync/client"
)

// An inspector's phone works offline: each change is queued durably, in
// device order, until the next Sync sends it.
func ExampleClient_Enqueue() {
	dir, _ := os.MkdirTemp("", "favad-device")
	defer os.RemoveAll(dir)
	at := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	d, err := client.Open(filepath.Join(dir, "phone.db"), client.Config{
		BaseURL: "https://favad.example", Username: "field", Password: "secret",
		Now: func() time.Time { return at },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	visit := client.NewID()
	d.CheckIn(visit, "QZ-SSO-01", nil, client.Geo{DeviceTime: at, Lat: 36.279, Lng: 50.004, AccuracyM: 8})
	d.AddNote(client.NewID(), client.Note{VisitID: visit, Text: "شعبه شلوغ است", WrittenAt: at})

	queue, _ := d.Queue()
	for _, m := range queue {
		fmt.Println(m.DeviceSeq, m.Kind, m.HLC.Logical, string(m.Payload[:12]))
	}
	// Output:
	// 1 visit.upsert 0 {"office_cod
	// 2 note.create 1 {"visit_id":
}
