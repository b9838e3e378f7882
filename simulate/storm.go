package simulate

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/favad/favad/demo"
	domain "github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/client"
)

// StormConfig describes one reconnect storm: Devices phones that signed in
// and pulled their assignments, then went offline while the server was down
// and queued Mutations field records and Photos photos each, all reconnect
// at once to a freshly started server.
type StormConfig struct {
	// Serve is the command that runs the server, e.g. {"/usr/bin/favad",
	// "serve"}; Storm adds --addr, --data, --trusted-proxies and
	// --log-level. Required.
	Serve             []string
	Devices           int // default 5,000
	DevicesPerAccount int // phones signed in to one inspector account; default 1
	Mutations         int // field records each device queues (a check-in, 4 findings, notes); default 50, at least 5
	Photos            int // photos each device takes, one evidence.create and one tus upload each; default 2
	PhotoSize         int // bytes in a photo: a real JPEG, then padding; default 100 KiB
	// SetupConcurrency bounds the devices signing in at once during setup
	// (each sign-in is an argon2id check on the server); default 32.
	SetupConcurrency int
	// BaselineWindow is how long the raw group-commit baseline writes;
	// default 3s.
	BaselineWindow time.Duration
	// Dir holds the server's data, the device files and the baselines'
	// files; default a temporary directory, removed after.
	Dir      string
	Logger   *slog.Logger // nil discards
	Progress io.Writer    // one line per phase; nil discards
}

// StormReport is what a storm measured.
type StormReport struct {
	Devices, Accounts     int
	Mutations, Photos     int           // sent in all, during the storm
	PhotoBytes            int64         // the photos' bytes
	Applied, Rejected     int           // push results
	Drain                 time.Duration // storm start to the last device synced with its photos stored
	PushDrain             time.Duration // storm start to the last device's sync (push, then pull) done, before its uploads
	Pushes                int           // POST /v1/sync/push answered, busy answers apart
	PushP50, PushP99      time.Duration // one POST /v1/sync/push answered (not busy)
	PushMax               time.Duration
	PushesOver30s         int     // answered pushes that took longer than a phone's 30 s HTTP timeout
	Busy                  int     // pushes answered 503 busy (the server's push gate), sent again after Retry-After
	MutationsPerSec       float64 // Mutations ÷ PushDrain
	PhotoMBPerSec         float64 // photo bytes ÷ (Drain − the first upload's start), in MB (10^6)
	RSSPeakMiB, RSSEndMiB float64 // the server's VmHWM, and its VmRSS at the end
	RSSStartMiB           float64 // VmRSS before the storm
	ConnsPeak             int     // the server's open sockets, sampled every 100 ms
	NotifierLagMax        float64 // favad_notifier_lag_seconds, largest sample
	NotifierLagP50        float64
	NotifierChangesMax    float64       // favad_notifier_lag_changes, largest sample
	ServerCPU             time.Duration // the server's user+system CPU time during the drain
	Errors                int           // failed syncs or uploads retried during the storm
	ErrorKinds            []string      // the commonest of them, with their counts
	SetupErrors           int           // failed sign-ins and pulls retried before the storm
	PhotosStored          int           // evidence records stored with their hash, checked in the store after
	SetupTime             time.Duration

	// Baselines, measured in the same run after the storm.
	RawWritesPerSec float64 // sync.RawWriteRate with Devices writers
	RawCopyMBPerSec float64 // the same photos PUT to a handler that copies them to a file and fsyncs, Devices at once
}

// PushRatio is the storm's push rate over the raw group-commit write rate.
func (r StormReport) PushRatio() float64 { return r.MutationsPerSec / r.RawWritesPerSec }

// PhotoRatio is the storm's photo throughput over the raw loopback copy.
func (r StormReport) PhotoRatio() float64 { return r.PhotoMBPerSec / r.RawCopyMBPerSec }

// IdealDrain is how long the baselines would take for the same work: the
// mutations at the raw write rate, then the photo bytes at the raw copy rate.
func (r StormReport) IdealDrain() time.Duration {
	s := float64(r.Mutations)/r.RawWritesPerSec + float64(r.PhotoBytes)/1e6/r.RawCopyMBPerSec
	return time.Duration(s * float64(time.Second))
}

// Print writes the report.
func (r StormReport) Print(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "devices:               %d (%d accounts)\n", r.Devices, r.Accounts)
	fmt.Fprintf(w, "setup:                 %s (seed, sign-ins, offline work; untimed)\n", r.SetupTime.Round(time.Second))
	fmt.Fprintf(w, "mutations:             %d (applied %d, rejected %d)\n", r.Mutations, r.Applied, r.Rejected)
	fmt.Fprintf(w, "photos:                %d sent, %d stored\n", r.Photos, r.PhotosStored)
	fmt.Fprintf(w, "drain:                 %.2f s (pushes answered by %.2f s)\n", r.Drain.Seconds(), r.PushDrain.Seconds())
	fmt.Fprintf(w, "push latency:          p50 %s, p99 %s, max %s (%d pushes; %d over 30 s)\n", ms(r.PushP50), ms(r.PushP99), ms(r.PushMax), r.Pushes, r.PushesOver30s)
	fmt.Fprintf(w, "busy answers:          %d (503 busy, sent again after Retry-After)\n", r.Busy)
	fmt.Fprintf(w, "push rate:             %.0f mutations/s; raw group commit %.0f writes/s; ratio %.3f\n", r.MutationsPerSec, r.RawWritesPerSec, r.PushRatio())
	fmt.Fprintf(w, "photo rate:            %.1f MB/s from the first upload; raw loopback copy %.1f MB/s; ratio %.3f\n", r.PhotoMBPerSec, r.RawCopyMBPerSec, r.PhotoRatio())
	fmt.Fprintf(w, "drain vs baselines:    %.2f s at the raw rates; ratio %.3f\n", r.IdealDrain().Seconds(), r.IdealDrain().Seconds()/r.Drain.Seconds())
	fmt.Fprintf(w, "server RSS:            %.0f MiB before, peak %.0f MiB (VmHWM), %.0f MiB at the end\n", r.RSSStartMiB, r.RSSPeakMiB, r.RSSEndMiB)
	fmt.Fprintf(w, "server CPU:            %.1f s during the drain (%.2f cores of the machine's)\n", r.ServerCPU.Seconds(), r.ServerCPU.Seconds()/r.Drain.Seconds())
	fmt.Fprintf(w, "open connections:      peak %d\n", r.ConnsPeak)
	fmt.Fprintf(w, "notifier lag:          p50 %.2f s, max %.2f s; changes behind max %.0f\n", r.NotifierLagP50, r.NotifierLagMax, r.NotifierChangesMax)
	fmt.Fprintf(w, "retried errors:        %d (setup %d)\n", r.Errors, r.SetupErrors)
	for _, k := range r.ErrorKinds {
		fmt.Fprintf(w, "  %s\n", k)
	}
}

func (c *StormConfig) defaults() error {
	if len(c.Serve) == 0 {
		return errors.New("storm: the server command is required")
	}
	if c.Devices <= 0 {
		c.Devices = 5000
	}
	if c.DevicesPerAccount <= 0 {
		c.DevicesPerAccount = 1
	}
	if c.Mutations == 0 {
		c.Mutations = 50
	}
	if c.Mutations < 5 {
		return errors.New("storm: at least 5 mutations a device (a check-in and 4 findings)")
	}
	if c.Photos < 0 {
		return errors.New("storm: photos cannot be negative")
	}
	if c.Photos == 0 {
		c.Photos = 2
	}
	if c.PhotoSize <= 0 {
		c.PhotoSize = 100 << 10
	}
	if c.SetupConcurrency <= 0 {
		c.SetupConcurrency = 32
	}
	if c.BaselineWindow <= 0 {
		c.BaselineWindow = 3 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}

// stormDevice is one phone of the storm.
type stormDevice struct {
	idx       int
	username  string
	path      string
	complaint string
	addr      string // its X-Forwarded-For address
	photos    []stormPhoto
	http      *http.Client
}

type stormPhoto struct {
	id, sum string
	tag     uint64
}

// Storm runs one reconnect storm against a server it starts twice as a child
// process: once for the devices to sign in and pull, and again, fresh, for
// the storm itself, so that the RSS and connections it measures are the
// storm's. The server is started with --trusted-proxies 127.0.0.1/32 and
// every device sends its own X-Forwarded-For address, as phones behind a
// load balancer do, so that the per-address sign-in and connection limits
// apply to each phone and not to the load program as a whole.
func Storm(ctx context.Context, cfg StormConfig) (StormReport, error) {
	var rep StormReport
	if err := cfg.defaults(); err != nil {
		return rep, err
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "favad-storm-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(cfg.Progress, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
	}
	setupStart := time.Now()
	data := filepath.Join(cfg.Dir, "data")
	devDir := filepath.Join(cfg.Dir, "devices")
	for _, d := range []string{data, devDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return rep, err
		}
	}
	progress("seeding %d devices' accounts and assignments", cfg.Devices)
	devs, office, password, err := stormSeed(filepath.Join(data, "favad.db"), devDir, cfg)
	if err != nil {
		return rep, err
	}
	rep.Devices, rep.Accounts = len(devs), (len(devs)+cfg.DevicesPerAccount-1)/cfg.DevicesPerAccount
	head := stormJPEG()
	padding := make([]byte, cfg.PhotoSize)
	if _, err := crand.Read(padding); err != nil {
		return rep, err
	}
	body := func(tag uint64) []byte { // every photo's bytes are its own
		b := make([]byte, 0, cfg.PhotoSize)
		b = append(b, head...)
		b = binary.BigEndian.AppendUint64(b, tag)
		return append(b, padding[:cfg.PhotoSize-len(b)]...)
	}
	var lat latencies
	for _, d := range devs {
		d.http = &http.Client{Timeout: 5 * time.Minute, Transport: &stormTransport{
			base: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}, addr: d.addr, lat: &lat}}
	}
	openOffline := func(d *stormDevice) (*client.Client, error) { // the server is down: nothing is sent
		return client.Open(d.path, client.Config{BaseURL: "http://127.0.0.1:1", Username: d.username, Password: password,
			AppVersion: "favad-storm/1", HTTPClient: d.http, BatchSize: 100, PullLimit: 200, Logger: cfg.Logger})
	}

	// Setup: every device signs in and pulls its assignment.
	srv, err := startServe(ctx, cfg.Serve, data)
	if err != nil {
		return rep, err
	}
	defer srv.kill()
	progress("server 1 (pid %d) at %s; %d devices sign in and pull, %d at a time", srv.pid(), srv.url, len(devs), cfg.SetupConcurrency)
	var errs errTally
	err = forEach(ctx, devs, cfg.SetupConcurrency, func(d *stormDevice) error {
		dev, err := client.Open(d.path, client.Config{BaseURL: srv.url, Username: d.username, Password: password,
			AppVersion: "favad-storm/1", HTTPClient: d.http, Logger: cfg.Logger})
		if err != nil {
			return err
		}
		defer dev.Close()
		return retry(ctx, &errs, func() error {
			_, err := dev.Sync(ctx)
			return err
		})
	})
	if err != nil {
		return rep, fmt.Errorf("storm setup: %w", err)
	}
	if err := srv.stop(); err != nil {
		return rep, fmt.Errorf("storm: stop server 1: %w", err)
	}

	// Offline: the server is down; every device queues its work.
	progress("server down; devices queue %d records and %d photos each", cfg.Mutations, cfg.Photos)
	var tags atomic.Uint64
	err = forEach(ctx, devs, cfg.SetupConcurrency, func(d *stormDevice) error {
		dev, err := openOffline(d)
		if err != nil {
			return err
		}
		defer dev.Close()
		return stormQueue(dev, d, office, cfg, func() stormPhoto {
			tag := tags.Add(1)
			sum := sha256.Sum256(body(tag))
			return stormPhoto{id: client.NewID(), sum: hex.EncodeToString(sum[:]), tag: tag}
		})
	})
	if err != nil {
		return rep, fmt.Errorf("storm offline work: %w", err)
	}
	rep.SetupTime = time.Since(setupStart)

	// The storm: a fresh server, every device at once.
	srv, err = startServe(ctx, cfg.Serve, data)
	if err != nil {
		return rep, err
	}
	defer srv.kill()
	rep.RSSStartMiB, _ = procStatusMiB(srv.pid(), "VmRSS")
	progress("server 2 (pid %d) at %s, %.0f MiB; the storm begins", srv.pid(), srv.url, rep.RSSStartMiB)
	cpu0 := procCPU(srv.pid())
	samp := startSampler(srv)
	lat.on.Store(true)
	rep.SetupErrors, _ = errs.take()
	start := time.Now()
	var lastPush, firstUpload atomic.Int64
	firstUpload.Store(1 << 62)
	var mutations, applied, rejected, photos, photoBytes atomic.Int64
	var wg stdsync.WaitGroup
	failures := make(chan error, len(devs))
	for _, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stormReconnect(ctx, d, srv.url, password, cfg, body, &errs, &lastPush, &firstUpload, start,
				&mutations, &applied, &rejected, &photos, &photoBytes); err != nil {
				failures <- fmt.Errorf("%s: %w", d.username, err)
			}
		}()
	}
	wg.Wait()
	rep.Drain = time.Since(start)
	rep.ServerCPU = procCPU(srv.pid()) - cpu0
	lat.on.Store(false)
	close(failures)
	for err := range failures {
		return rep, fmt.Errorf("storm: %w", err)
	}
	// A last notifier sample after the drain, so that its catching up counts.
	time.Sleep(500 * time.Millisecond)
	samp.stop(&rep)
	rep.RSSPeakMiB, _ = procStatusMiB(srv.pid(), "VmHWM")
	rep.RSSEndMiB, _ = procStatusMiB(srv.pid(), "VmRSS")
	if err := srv.stop(); err != nil {
		return rep, fmt.Errorf("storm: stop server 2: %w", err)
	}
	for _, d := range devs {
		d.http.CloseIdleConnections()
	}
	rep.PushDrain = time.Duration(lastPush.Load())
	rep.Mutations, rep.Applied, rep.Rejected = int(mutations.Load()), int(applied.Load()), int(rejected.Load())
	rep.Photos = int(photos.Load())
	rep.Errors, rep.ErrorKinds = errs.take()
	rep.Pushes, rep.PushP50, rep.PushP99, rep.PushMax = lat.summary()
	rep.PushesOver30s, rep.Busy = lat.over(30*time.Second), int(lat.busy.Load())
	rep.MutationsPerSec = float64(rep.Mutations) / rep.PushDrain.Seconds()
	rep.PhotoBytes = photoBytes.Load()
	rep.PhotoMBPerSec = float64(rep.PhotoBytes) / 1e6 / (rep.Drain - time.Duration(firstUpload.Load())).Seconds()
	if rep.PhotosStored, err = stormStored(filepath.Join(data, "favad.db"), devs); err != nil {
		return rep, err
	}
	progress("drained in %.2f s; baselines", rep.Drain.Seconds())

	// Baselines of the same run.
	if rep.RawWritesPerSec, err = favsync.RawWriteRate(filepath.Join(cfg.Dir, "raw.db"), len(devs), cfg.BaselineWindow); err != nil {
		return rep, err
	}
	if rep.RawCopyMBPerSec, err = rawCopyRate(ctx, filepath.Join(cfg.Dir, "rawcopy"), devs, body); err != nil {
		return rep, err
	}
	return rep, nil
}

// stormSeed writes, into a new store at path, the accounts, one assigned
// complaint per account, and the demo's offices and dispatcher; the devices'
// files go in devDir. Every account has the same
// password, hashed once (a hash per account would be thousands of argon2id
// runs before the storm).
func stormSeed(path, devDir string, cfg StormConfig) (devs []*stormDevice, office domain.Office, password string, err error) {
	store, err := favsync.Open(path, favsync.Options{})
	if err != nil {
		return nil, office, "", err
	}
	defer store.Close()
	if _, err := demo.Load(store, demo.Province); err != nil {
		return nil, office, "", err
	}
	offices, err := store.Offices(favsync.OfficeFilter{})
	if err != nil || len(offices) == 0 {
		return nil, office, "", fmt.Errorf("storm: no offices (%v)", err)
	}
	dispatchers, err := store.Users(domain.RoleDispatcher)
	if err != nil || len(dispatchers) == 0 {
		return nil, office, "", fmt.Errorf("storm: no dispatcher (%v)", err)
	}
	dispatcher := dispatchers[0]
	password = "storm-" + randomHex(8)
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, office, "", err
	}
	accounts := (cfg.Devices + cfg.DevicesPerAccount - 1) / cfg.DevicesPerAccount
	complaints := make([]string, accounts)
	names := make([]string, accounts)
	for a := range accounts {
		o := offices[a%len(offices)]
		names[a] = fmt.Sprintf("storm-%05d", a)
		u, err := store.CreateUser(favsync.System, favsync.NewUser{Username: names[a], DisplayName: fmt.Sprintf("بازرس طوفان %d", a+1),
			Role: domain.RoleInspector, Mode: domain.ModeField, Region: &domain.Region{Province: demo.Province}, PasswordHash: hash})
		if err != nil {
			return nil, office, "", err
		}
		c, _, err := store.CreateComplaint(favsync.Actor{UserID: dispatcher.ID}, domain.NewComplaint{
			CallID: "STORM-" + strconv.Itoa(a), Category: domain.CategoryAbsentEmployee, Description: "کارمند باجه در محل کار نیست",
			CallTime: time.Now().Add(-time.Hour).Truncate(time.Second), Caller: domain.Caller{Name: "شهروند", Phone: "09120000000"},
			OfficeCode: o.Code, Priority: domain.PriorityNormal})
		if err != nil {
			return nil, office, "", err
		}
		if _, err := store.Assign(favsync.Actor{UserID: dispatcher.ID}, c.ID, domain.Routing{InspectorID: u.ID, Mode: domain.ModeField}); err != nil {
			return nil, office, "", err
		}
		complaints[a] = c.ID
	}
	for i := range cfg.Devices {
		a := i / cfg.DevicesPerAccount
		devs = append(devs, &stormDevice{idx: i, username: names[a], complaint: complaints[a],
			path: filepath.Join(devDir, fmt.Sprintf("device-%05d.db", i)),
			addr: fmt.Sprintf("10.%d.%d.%d", 1+i>>16, (i>>8)&255, i&255)})
	}
	return devs, offices[0], password, nil
}

// stormQueue queues a device's offline work: a check-in at the office, 4
// findings, notes up to cfg.Mutations, and a photo's evidence record each.
func stormQueue(dev *client.Client, d *stormDevice, office domain.Office, cfg StormConfig, photo func() stormPhoto) error {
	now := time.Now()
	geo := client.Geo{DeviceTime: now, Lat: 36.279, Lng: 50.004, AccuracyM: 10}
	if office.Location != nil {
		geo.Lat, geo.Lng = office.Location.Lat, office.Location.Lng
	}
	visit := client.NewID()
	if _, _, err := dev.CheckIn(visit, office.Code, []string{d.complaint}, geo); err != nil {
		return err
	}
	for i := range cfg.Mutations - 1 {
		var err error
		if i < 4 {
			_, _, err = dev.RecordFinding(client.NewID(), client.Finding{VisitID: visit, ComplaintID: d.complaint, StaffExpected: 6,
				StaffPresent: 3 + i%3, ClientsWaiting: 12, DesksOpen: 2, ObservedAt: now})
		} else {
			_, _, err = dev.AddNote(client.NewID(), client.Note{ComplaintID: d.complaint, Text: fmt.Sprintf("یادداشت %d: مراجعین منتظر ماندند", i), WrittenAt: now})
		}
		if err != nil {
			return err
		}
	}
	for range cfg.Photos {
		p := photo()
		if _, _, err := dev.Enqueue("evidence.create", p.id, 0, map[string]any{"complaint_id": d.complaint, "visit_id": visit,
			"kind": "photo", "content_type": "image/jpeg", "size": cfg.PhotoSize, "sha256": p.sum,
			"captured_at": now.Add(-time.Minute).UTC().Format(time.RFC3339)}); err != nil {
			return err
		}
		d.photos = append(d.photos, p)
	}
	return nil
}

// stormReconnect is one device coming back: the app starts (a new Client on
// its file, so the token comes from the refresh token), syncs until its
// queue is empty, then uploads its photos over tus.
func stormReconnect(ctx context.Context, d *stormDevice, url, password string, cfg StormConfig, body func(uint64) []byte,
	errs *errTally, lastPush, firstUpload *atomic.Int64, start time.Time, mutations, applied, rejected, photos, photoBytes *atomic.Int64) error {
	dev, err := client.Open(d.path, client.Config{BaseURL: url, Username: d.username, Password: password,
		AppVersion: "favad-storm/1", HTTPClient: d.http, BatchSize: 100, PullLimit: 200, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	defer dev.Close()
	err = retry(ctx, errs, func() error {
		rep, err := dev.Sync(ctx)
		mutations.Add(int64(rep.Applied + rep.Merged + rep.ResolvedByRule + rep.Rejected))
		applied.Add(int64(rep.Applied))
		rejected.Add(int64(rep.Rejected))
		if err != nil {
			return err
		}
		if q, err := dev.Queue(); err != nil || len(q) > 0 {
			return fmt.Errorf("queue not drained (%d left, %v)", len(q), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := int64(time.Since(start))
	keep(lastPush, now, func(v, old int64) bool { return v > old })
	keep(firstUpload, now, func(v, old int64) bool { return v < old })
	for _, p := range d.photos {
		up := &tusUpload{hc: d.http, base: url, p: p, data: body(p.tag)}
		err := retry(ctx, errs, func() error {
			token, err := dev.AccessToken(ctx)
			if err != nil {
				return err
			}
			return up.send(ctx, token)
		})
		if err != nil {
			return err
		}
		photos.Add(1)
		photoBytes.Add(int64(cfg.PhotoSize))
	}
	return nil
}

// tusUpload is one photo's upload as a tus client makes it: a POST that
// creates the upload, then a PATCH with the bytes, whose answer says the
// evidence is stored. After a failure it resumes: HEAD on the upload for the
// server's offset, then PATCH from there.
type tusUpload struct {
	hc        *http.Client
	base, loc string
	p         stormPhoto
	data      []byte
}

// send makes one attempt; done reports the evidence stored.
func (u *tusUpload) send(ctx context.Context, token string) error {
	auth := http.Header{"Authorization": {"Bearer " + token}, "Tus-Resumable": {"1.0.0"}}
	do := func(method, url string, h http.Header, body []byte) (*http.Response, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return nil, err
		}
		req.Header = h
		resp, err := u.hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("tus %s: %w", method, err)
		}
		drain(resp)
		return resp, nil
	}
	offset := 0
	if u.loc != "" { // resume where the server is
		resp, err := do(http.MethodHead, u.loc, auth.Clone(), nil)
		if err != nil {
			return err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			offset, err = strconv.Atoi(resp.Header.Get("Upload-Offset"))
			if err != nil {
				return fmt.Errorf("tus HEAD: Upload-Offset %q", resp.Header.Get("Upload-Offset"))
			}
		case http.StatusNotFound, http.StatusGone:
			u.loc = "" // finished and gone, or removed: a new POST says which
		default:
			return fmt.Errorf("tus HEAD: %s", resp.Status)
		}
	}
	if u.loc == "" {
		h := auth.Clone()
		h.Set("Upload-Length", strconv.Itoa(len(u.data)))
		h.Set("Upload-Metadata", fmt.Sprintf("evidence_id %s,filetype %s,sha256 %s", b64(u.p.id), b64("image/jpeg"), b64(u.p.sum)))
		resp, err := do(http.MethodPost, u.base+"/v1/uploads", h, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusConflict {
			return nil // the bytes of this evidence are already stored (checked in the store after)
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusCreated || loc == "" {
			return fmt.Errorf("tus POST: %s", resp.Status)
		}
		if strings.HasPrefix(loc, "/") {
			loc = u.base + loc
		}
		u.loc, offset = loc, 0
	}
	h := auth.Clone()
	h.Set("Upload-Offset", strconv.Itoa(offset))
	h.Set("Content-Type", "application/offset+octet-stream")
	resp, err := do(http.MethodPatch, u.loc, h, u.data[offset:])
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Favad-Evidence-Status") != "stored" {
		return fmt.Errorf("tus PATCH: %s, evidence %q", resp.Status, resp.Header.Get("Favad-Evidence-Status"))
	}
	return nil
}

// keep stores v in a when better(v, the value a holds).
func keep(a *atomic.Int64, v int64, better func(v, old int64) bool) {
	for {
		old := a.Load()
		if !better(v, old) || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// stormStored counts the photos stored with their hash, in the store the
// server left.
func stormStored(path string, devs []*stormDevice) (int, error) {
	store, err := favsync.Open(path, favsync.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	n := 0
	for _, d := range devs {
		for _, p := range d.photos {
			e, err := store.Evidence(p.id)
			if err == nil && e.Status == domain.EvidenceStored && e.SHA256 == p.sum {
				n++
			}
		}
	}
	return n, nil
}

// rawCopyRate is the photos' baseline: the same bytes PUT over loopback to a
// handler that copies each body to a new file and fsyncs it, every device at
// once on its own connection. It returns MB/s.
func rawCopyRate(ctx context.Context, dir string, devs []*stormDevice, body func(uint64) []byte) (float64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.CreateTemp(dir, "put-*")
		if err == nil {
			_, err = io.Copy(f, r.Body)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/"
	var sent atomic.Int64
	var wg stdsync.WaitGroup
	failed := make(chan error, len(devs))
	start := time.Now()
	for _, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}
			defer hc.CloseIdleConnections()
			for _, p := range d.photos {
				data := body(p.tag)
				req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(data))
				if err != nil {
					failed <- err
					return
				}
				resp, err := hc.Do(req)
				if err != nil {
					failed <- err
					return
				}
				drain(resp)
				if resp.StatusCode != http.StatusNoContent {
					failed <- fmt.Errorf("raw PUT: %s", resp.Status)
					return
				}
				sent.Add(int64(len(data)))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(failed)
	for err := range failed {
		return 0, err
	}
	return float64(sent.Load()) / 1e6 / elapsed.Seconds(), nil
}

// forEach runs fn for every device, n at a time, and returns the first error.
func forEach(ctx context.Context, devs []*stormDevice, n int, fn func(*stormDevice) error) error {
	sem := make(chan struct{}, n)
	var wg stdsync.WaitGroup
	var first atomic.Value
	for _, d := range devs {
		if ctx.Err() != nil || first.Load() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(d); err != nil {
				first.CompareAndSwap(nil, fmt.Errorf("%s: %w", d.username, err))
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

// retry runs fn until it succeeds, at most 20 failures, waiting a growing
// while between tries; it counts the failures in errs. A refused sign-in is
// not retried. A busy answer (503 with Retry-After) is no failure: it is
// tried again after Retry-After and a random part of it more, as a phone
// app does, so that the phones told to wait do not all come back at once.
func retry(ctx context.Context, errs *errTally, fn func() error) error {
	var err error
	for failures := 0; failures < 20; {
		if err = fn(); err == nil || errors.Is(err, client.ErrSignInRefused) {
			return err
		}
		wait := time.Duration(100*(failures+1)) * time.Millisecond
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusServiceUnavailable && apiErr.RetryAfter > 0 {
			wait = apiErr.RetryAfter + time.Duration(mrand.Int64N(int64(apiErr.RetryAfter)))
		} else {
			errs.add(err)
			failures++
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return err
}

// errTally counts the errors retried, by message.
type errTally struct {
	mu stdsync.Mutex
	n  map[string]int
}

func (t *errTally) add(err error) {
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
	}
	t.n[msg]++
}

// take returns the count and the commonest messages, and resets the tally.
func (t *errTally) take() (int, []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	total := 0
	var msgs []string
	for m, n := range t.n {
		total += n
		msgs = append(msgs, fmt.Sprintf("%d× %s", n, m))
	}
	slices.SortFunc(msgs, func(a, b string) int {
		na, _ := strconv.Atoi(a[:strings.Index(a, "×")])
		nb, _ := strconv.Atoi(b[:strings.Index(b, "×")])
		return nb - na
	})
	t.n = nil
	return total, msgs[:min(len(msgs), 5)]
}

// stormTransport is a phone's network: its own connections, its own
// X-Forwarded-For address, and the time each push takes.
type stormTransport struct {
	base *http.Transport
	addr string
	lat  *latencies
}

func (t *stormTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", t.addr)
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	if r.Method == http.MethodPost && r.URL.Path == "/v1/sync/push" && err == nil {
		if resp.StatusCode == http.StatusServiceUnavailable {
			if t.lat.on.Load() {
				t.lat.busy.Add(1)
			}
		} else {
			t.lat.add(time.Since(start))
		}
	}
	return resp, err
}

func (t *stormTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// latencies collects push times while on, and counts busy answers.
type latencies struct {
	on   atomic.Bool
	busy atomic.Int64
	mu   stdsync.Mutex
	d    []time.Duration
}

// over counts the pushes that took longer than limit.
func (l *latencies) over(limit time.Duration) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, d := range l.d {
		if d > limit {
			n++
		}
	}
	return n
}

func (l *latencies) add(d time.Duration) {
	if !l.on.Load() {
		return
	}
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) summary() (n int, p50, p99, maxd time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(l.d)
	at := func(q float64) time.Duration { return l.d[min(len(l.d)-1, int(q*float64(len(l.d))))] }
	return len(l.d), at(0.50), at(0.99), l.d[len(l.d)-1]
}

// serveProc is a `favad serve` child process.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

func (p *serveProc) pid() int { return p.cmd.Process.Pid }

// startServe starts the server on data, on a free loopback port, with
// loopback as its trusted proxy, and waits for its "FAVAD listening on" line.
func startServe(ctx context.Context, serve []string, data string) (*serveProc, error) {
	args := append(slices.Clone(serve[1:]), "--addr", "127.0.0.1:0", "--data", data, "--trusted-proxies", "127.0.0.1/32", "--log-level", "warn")
	cmd := exec.Command(serve[0], args...)
	for _, kv := range os.Environ() { // the flags above are the whole configuration
		if !strings.HasPrefix(kv, "FAVAD_") && !strings.HasPrefix(kv, "GOOGLE_APPLICATION_CREDENTIALS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", serve[0], err)
	}
	p := &serveProc{cmd: cmd, done: make(chan error, 1)}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "FAVAD listening on "); ok {
				urls <- strings.Fields(u)[0]
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case p.url = <-urls:
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("the server exited before listening (%v): %s", err, stderr.String())
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, errors.New("the server did not listen within 60s")
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
}

// stop asks the server to shut down and waits for it.
func (p *serveProc) stop() error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(60 * time.Second):
		p.kill()
		return errors.New("the server did not stop within 60s")
	}
}

// kill ends the server if it still runs.
func (p *serveProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
	}
}

// procStatusMiB reads a size field (VmRSS, VmHWM) of /proc/<pid>/status.
func procStatusMiB(pid int, field string) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			kb, err := strconv.ParseFloat(f[0], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procCPU is a process's user and system CPU time so far, from
// /proc/<pid>/stat (in clock ticks of 1/100 s, Linux's USER_HZ), or 0.
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it start at ") ".
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// sampler watches the server during the storm: its open sockets every
// 100 ms, the notifier's gauges on /metrics every 250 ms.
type sampler struct {
	quit    chan struct{}
	done    chan struct{}
	conns   int
	lag     []float64
	changes float64
}

func startSampler(p *serveProc) *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			s.conns = max(s.conns, countSockets(p.pid()))
			if i%5 == 0 {
				if lag, changes, ok := scrapeNotifier(hc, p.url); ok {
					s.lag = append(s.lag, lag)
					s.changes = max(s.changes, changes)
				}
			}
			select {
			case <-s.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop(rep *StormReport) {
	close(s.quit)
	<-s.done
	rep.ConnsPeak = s.conns
	rep.NotifierChangesMax = s.changes
	if len(s.lag) > 0 {
		slices.Sort(s.lag)
		rep.NotifierLagP50 = s.lag[len(s.lag)/2]
		rep.NotifierLagMax = s.lag[len(s.lag)-1]
	}
}

// countSockets counts the sockets among a process's open files.
func countSockets(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// scrapeNotifier reads favad_notifier_lag_seconds and
// favad_notifier_lag_changes from the server's /metrics.
func scrapeNotifier(hc *http.Client, base string) (lag, changes float64, ok bool) {
	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		return 0, 0, false
	}
	defer drain(resp)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	seen := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "favad_notifier_lag_seconds":
			lag, seen = v, seen+1
		case "favad_notifier_lag_changes":
			changes, seen = v, seen+1
		}
	}
	return lag, changes, seen == 2
}

// stormJPEG is a small real JPEG of noise, which the photos start with.
func stormJPEG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	crand.Read(img.Pix)
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}
