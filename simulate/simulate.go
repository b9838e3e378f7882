package simulate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/favad/favad/sync/client"
)

// Config describes one simulation run.
type Config struct {
	Server     string        // the server's root URL
	Inspectors int           // simulated inspectors, one phone each; default 5
	Duration   time.Duration // how long devices work before the final sync; default 30s

	DispatcherUser, DispatcherPassword string // default the demo dispatcher
	AdminUser, AdminPassword           string // default the demo admin, who creates the inspectors
	Province                           string // the inspectors' region; default قزوین

	Dir        string       // where device files live; default a temporary directory, removed after
	Seed       uint64       // 0 means random
	HTTPClient *http.Client // nil means a client with a 30s timeout
	Logger     *slog.Logger // nil discards
}

// Demo credentials, as created by `favad serve --demo`.
const (
	DemoPassword = "favad-demo-1405"
	DemoProvince = "قزوین"
)

// Summary is what a run did and what it found.
type Summary struct {
	Inspectors     int
	Complaints     int
	Reassigned     int
	Withdrawn      int
	Restarts       int // device processes closed and reopened mid-run
	LostResponses  int // push answers dropped after the server had applied them
	Queued         int // mutations devices made
	Acknowledged   int // mutations the server answered
	Applied        int
	Merged         int
	ResolvedByRule int
	Rejected       int
	Replayed       int
	Lost           int      // queued mutations neither applied nor on a conflict record
	LostDetail     []string // why each lost mutation counts as lost
}

// Print writes the summary; its last line is "lost: N".
func (s Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "inspectors:        %d\n", s.Inspectors)
	fmt.Fprintf(w, "complaints:        %d (reassigned %d, withdrawn %d)\n", s.Complaints, s.Reassigned, s.Withdrawn)
	fmt.Fprintf(w, "device restarts:   %d\n", s.Restarts)
	fmt.Fprintf(w, "lost responses:    %d\n", s.LostResponses)
	fmt.Fprintf(w, "mutations queued:  %d\n", s.Queued)
	fmt.Fprintf(w, "acknowledged:      %d\n", s.Acknowledged)
	fmt.Fprintf(w, "applied:           %d\n", s.Applied)
	fmt.Fprintf(w, "merged:            %d\n", s.Merged)
	fmt.Fprintf(w, "resolved by rule:  %d\n", s.ResolvedByRule)
	fmt.Fprintf(w, "rejected:          %d\n", s.Rejected)
	fmt.Fprintf(w, "replayed answers:  %d\n", s.Replayed)
	for _, d := range s.LostDetail {
		fmt.Fprintf(w, "LOST %s\n", d)
	}
	fmt.Fprintf(w, "lost: %d\n", s.Lost)
}

func (c *Config) defaults() error {
	if c.Server == "" {
		return errors.New("simulate: the server's URL is required")
	}
	if _, err := url.Parse(c.Server); err != nil {
		return fmt.Errorf("simulate: server URL: %w", err)
	}
	if c.Inspectors <= 0 {
		c.Inspectors = 5
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.DispatcherUser == "" {
		c.DispatcherUser, c.DispatcherPassword = "dispatcher", DemoPassword
	}
	if c.AdminUser == "" {
		c.AdminUser, c.AdminPassword = "admin", DemoPassword
	}
	if c.Province == "" {
		c.Province = DemoProvince
	}
	if c.Seed == 0 {
		c.Seed = mrand.Uint64()
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// inspector is one simulated inspector and their phone.
type inspector struct {
	idx      int
	id       string
	mode     string
	username string
	password string
	path     string
	net      *flakyNet
	rng      *mrand.Rand

	mu      stdsync.Mutex
	dev     *client.Client
	queued  map[string]string // mutation id → the complaint it concerns
	started map[string]bool   // complaints this device started
	done    map[string]bool   // complaints this device recorded an outcome for
}

// Run simulates cfg.Inspectors inspectors against a running server for
// cfg.Duration, then checks that nothing any device queued was lost.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	var sum Summary
	if err := cfg.defaults(); err != nil {
		return sum, err
	}
	log := cfg.Logger
	rng := mrand.New(mrand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "favad-simulate-")
		if err != nil {
			return sum, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	run := randomHex(4)
	dispatch := &api{base: cfg.Server, http: cfg.HTTPClient, device: "simulate-dispatch-" + run}
	if err := dispatch.login(ctx, cfg.DispatcherUser, cfg.DispatcherPassword); err != nil {
		return sum, err
	}
	admin := &api{base: cfg.Server, http: cfg.HTTPClient, device: "simulate-admin-" + run}
	if err := admin.login(ctx, cfg.AdminUser, cfg.AdminPassword); err != nil {
		return sum, err
	}
	var offices struct {
		Items []officeJSON `json:"items"`
	}
	if err := dispatch.do(ctx, "GET", "/v1/offices?province="+url.QueryEscape(cfg.Province), nil, &offices); err != nil {
		return sum, fmt.Errorf("list offices: %w", err)
	}
	if len(offices.Items) == 0 {
		return sum, fmt.Errorf("simulate: the server has no offices in %s; start it with --demo", cfg.Province)
	}

	inspectors := make([]*inspector, cfg.Inspectors)
	for i := range inspectors {
		in := &inspector{idx: i, mode: "field", username: fmt.Sprintf("sim-%s-%02d", run, i), password: "simulate-" + randomHex(8),
			queued: map[string]string{}, started: map[string]bool{}, done: map[string]bool{},
			rng: mrand.New(mrand.NewPCG(rng.Uint64(), rng.Uint64()))}
		if i%4 == 3 {
			in.mode = "phone"
		}
		var u struct {
			ID string `json:"id"`
		}
		body := map[string]any{"username": in.username, "display_name": fmt.Sprintf("بازرس شبیه‌سازی %d", i+1), "role": "inspector",
			"mode": in.mode, "region": map[string]any{"province": cfg.Province}, "password": in.password}
		if err := admin.do(ctx, "POST", "/v1/users", body, &u); err != nil {
			return sum, fmt.Errorf("create inspector %s: %w", in.username, err)
		}
		in.id = u.ID
		in.path = filepath.Join(cfg.Dir, in.username+".db")
		in.net = &flakyNet{base: cfg.HTTPClient.Transport, rng: mrand.New(mrand.NewPCG(rng.Uint64(), 1)), dropRate: 0.05}
		in.net.online.Store(true)
		if err := in.open(cfg); err != nil {
			return sum, err
		}
		inspectors[i] = in
	}
	sum.Inspectors = len(inspectors)
	defer func() {
		for _, in := range inspectors {
			in.close()
		}
	}()

	work, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	var wg stdsync.WaitGroup
	var restarts atomic.Int64
	for _, in := range inspectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.live(work, cfg, offices.Items, &restarts, log)
		}()
	}
	d := &dispatcher{api: dispatch, rng: mrand.New(mrand.NewPCG(rng.Uint64(), 2)), inspectors: inspectors, offices: offices.Items, run: run}
	d.live(work, log)
	wg.Wait()
	sum.Complaints, sum.Reassigned, sum.Withdrawn = len(d.complaints), d.reassigned, d.withdrawn
	sum.Restarts = int(restarts.Load())

	// Everyone comes back online and syncs until their queue is empty.
	for _, in := range inspectors {
		in.net.online.Store(true)
		in.net.setDropRate(0)
		sum.LostResponses += int(in.net.dropped.Load())
		if err := in.drain(ctx); err != nil {
			log.Warn("final sync incomplete", "inspector", in.username, "error", err)
		}
	}
	return sum, verify(ctx, dispatch, inspectors, &sum)
}

func (in *inspector) open(cfg Config) error {
	dev, err := client.Open(in.path, client.Config{BaseURL: cfg.Server, Username: in.username, Password: in.password,
		AppVersion: "favad-simulate/1", HTTPClient: &http.Client{Transport: in.net, Timeout: 20 * time.Second},
		BatchSize: 50, PullLimit: 200})
	if err != nil {
		return fmt.Errorf("open device of %s: %w", in.username, err)
	}
	in.mu.Lock()
	in.dev = dev
	in.mu.Unlock()
	return nil
}

func (in *inspector) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dev != nil {
		in.dev.Close()
		in.dev = nil
	}
}

// live is one inspector's working day: offline and online spells, field work
// on the complaints their phone holds, syncs when online, and now and then a
// crash of the app.
func (in *inspector) live(ctx context.Context, cfg Config, offices []officeJSON, restarts *atomic.Int64, log *slog.Logger) {
	nextToggle := time.Now()
	for ctx.Err() == nil {
		if time.Now().After(nextToggle) {
			online := in.rng.IntN(3) != 0
			in.net.online.Store(online)
			nextToggle = time.Now().Add(time.Duration(200+in.rng.IntN(1500)) * time.Millisecond)
		}
		if err := in.doWork(offices); err != nil {
			log.Warn("field work", "inspector", in.username, "error", err)
		}
		if in.net.online.Load() {
			in.mu.Lock()
			_, err := in.dev.Sync(ctx)
			in.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				log.Debug("sync", "inspector", in.username, "error", err)
			}
		}
		if in.rng.IntN(40) == 0 { // the app is killed and started again
			in.close()
			if err := in.open(cfg); err != nil {
				log.Error("restart device", "inspector", in.username, "error", err)
				return
			}
			restarts.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(20+in.rng.IntN(120)) * time.Millisecond):
		}
	}
}

type pulledComplaint struct {
	ID         string `json:"id"`
	OfficeCode string `json:"office_code"`
	Status     string `json:"status"`
}

// doWork records one piece of work on a complaint the phone holds.
func (in *inspector) doWork(offices []officeJSON) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	recs, err := in.dev.Records(client.RecordComplaint)
	if err != nil || len(recs) == 0 {
		return err
	}
	var c pulledComplaint
	if err := json.Unmarshal(recs[in.rng.IntN(len(recs))].Data, &c); err != nil {
		return err
	}
	if in.done[c.ID] {
		return nil
	}
	now := time.Now()
	note := func(text string) (string, uint64, error) {
		return in.dev.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: text, WrittenAt: now})
	}
	var id string
	switch r := in.rng.IntN(10); {
	case !in.started[c.ID]:
		id, _, err = in.dev.StartComplaint(c.ID)
		in.started[c.ID] = true
	case in.mode == "phone" && r < 5:
		id, _, err = in.dev.RecordCall(client.NewID(), client.Call{ComplaintID: c.ID, CalleeName: "مدیر شعبه", Number: "028-33000101",
			StartedAt: now, DurationS: 30 + in.rng.IntN(300), Outcome: "reached"})
	case in.mode == "field" && r < 3:
		visit := client.NewID()
		id, _, err = in.dev.CheckIn(visit, c.OfficeCode, []string{c.ID}, client.Geo{DeviceTime: now, Lat: 36.27, Lng: 50.0, AccuracyM: 10})
		if err == nil {
			in.queued[id] = c.ID
			id, _, err = in.dev.RecordFinding(client.NewID(), client.Finding{VisitID: visit, ComplaintID: c.ID, StaffExpected: 6,
				StaffPresent: 3 + in.rng.IntN(4), ClientsWaiting: in.rng.IntN(20), DesksOpen: 1 + in.rng.IntN(3), ObservedAt: now,
				Absentees: []client.Absentee{{Name: "کارمند باجه", Reason: "unexcused"}}})
		}
	case r < 6:
		id, _, err = note(fmt.Sprintf("یادداشت بازرس %d", in.rng.IntN(1000)))
	case r < 7:
		id, _, err = in.dev.EditComplaint(c.ID, map[string]any{"priority": "urgent"}) // dispatch owns it: resolved by rule
	default:
		outcome := []string{client.OutcomeSubstantiated, client.OutcomeNotSubstantiated, client.OutcomeResolvedOnSpot}[in.rng.IntN(3)]
		id, _, err = in.dev.RecordOutcome(c.ID, outcome, "گزارش بازرس شبیه‌سازی")
		in.done[c.ID] = true
	}
	if err == nil && id != "" {
		in.queued[id] = c.ID
	}
	return err
}

// drain syncs until the queue is empty.
func (in *inspector) drain(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	var err error
	for range 20 {
		if _, err = in.dev.Sync(ctx); err == nil {
			q, qerr := in.dev.Queue()
			if qerr != nil {
				return qerr
			}
			if len(q) == 0 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// verify compares every device's log with the server.
func verify(ctx context.Context, dispatch *api, inspectors []*inspector, sum *Summary) error {
	conflicted, err := dispatch.conflictMutations(ctx)
	if err != nil {
		return fmt.Errorf("list conflicts: %w", err)
	}
	histories := map[string]map[string]bool{} // complaint → mutation ids in its history
	started := map[string]bool{}              // complaints with a "started" change
	history := func(id string) (map[string]bool, error) {
		if h, ok := histories[id]; ok {
			return h, nil
		}
		var c complaintJSON
		if err := dispatch.do(ctx, "GET", "/v1/complaints/"+id, nil, &c); err != nil {
			return nil, fmt.Errorf("complaint %s: %w", id, err)
		}
		h := map[string]bool{}
		for _, e := range c.History {
			if m := e.Data["mutation"]; m != "" {
				h[m] = true
			}
			if e.Action == "started" {
				started[id] = true
			}
		}
		histories[id] = h
		return h, nil
	}
	for _, in := range inspectors {
		in.mu.Lock()
		ledger, err := in.dev.Ledger()
		var queue []client.Mutation
		if err == nil {
			queue, err = in.dev.Queue()
		}
		in.mu.Unlock()
		if err != nil {
			return err
		}
		sum.Queued += len(in.queued)
		acked := map[string]bool{}
		for _, e := range ledger {
			acked[e.Mutation.MutationID] = true
			sum.Acknowledged++
			switch e.Result.Status {
			case client.StatusApplied:
				sum.Applied++
			case client.StatusMerged:
				sum.Merged++
			case client.StatusResolvedByRule:
				sum.ResolvedByRule++
			case client.StatusRejected:
				sum.Rejected++
			}
			if e.Result.Replayed {
				sum.Replayed++
			}
			if conflicted[e.Mutation.MutationID] {
				continue
			}
			complaint := in.queued[e.Mutation.MutationID]
			h, err := history(complaint)
			if err != nil {
				return err
			}
			switch {
			case h[e.Mutation.MutationID]:
			case e.Mutation.Kind == client.KindComplaintStart && e.Result.Status == client.StatusApplied && started[complaint]:
				// A start on a complaint already started writes nothing.
			default:
				sum.Lost++
				sum.LostDetail = append(sum.LostDetail, fmt.Sprintf("%s %s %s: %s, but neither in the history of complaint %s nor on a conflict record",
					in.username, e.Mutation.Kind, e.Mutation.MutationID, e.Result.Status, complaint))
			}
		}
		for id := range in.queued {
			if !acked[id] {
				sum.Lost++
				waiting := slices.ContainsFunc(queue, func(m client.Mutation) bool { return m.MutationID == id })
				sum.LostDetail = append(sum.LostDetail, fmt.Sprintf("%s %s: never acknowledged (still queued: %v)", in.username, id, waiting))
			}
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// flakyNet is a phone's network: off when offline, and now and then it loses
// the answer to a request the server did receive and apply.
type flakyNet struct {
	base     http.RoundTripper
	online   atomic.Bool
	dropRate float64
	rng      *mrand.Rand
	mu       stdsync.Mutex
	dropped  atomic.Int64
}

var errOffline = errors.New("simulate: the phone is offline")

func (f *flakyNet) setDropRate(p float64) {
	f.mu.Lock()
	f.dropRate = p
	f.mu.Unlock()
}

func (f *flakyNet) RoundTrip(r *http.Request) (*http.Response, error) {
	if !f.online.Load() {
		return nil, errOffline
	}
	base := f.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	f.mu.Lock()
	drop := r.Method == http.MethodPost && f.rng.Float64() < f.dropRate
	f.mu.Unlock()
	if drop {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		f.dropped.Add(1)
		return nil, errors.New("simulate: the answer was lost on the way back")
	}
	return resp, nil
}
