package push

// The test kit: a real store on a temporary bbolt file with a settable clock,
// Qazvin's reference data, inspectors with devices that registered tokens,
// and a notifier running in the background.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	stdsync "sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

const (
	callerName  = "مریم احمدی"
	callerPhone = "09121234567"
	callerText  = "کارمند باجه در محل کار نیست و مراجعین منتظرند"
	officeQZ    = "QZ-SSO-01"
	officeQZFa  = "شعبه یک تامین اجتماعی قزوین"
	officeTK    = "TK-SSO-01"
	officeTKFa  = "شعبه تامین اجتماعی تاکستان"
	province    = "قزوین"
)

type clock struct {
	mu stdsync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	tb    testing.TB
	path  string
	clock *clock
	store *favsync.Store
	disp  favsync.Actor
	calls int
}

// newFixture opens a store with the reference data of Qazvin. realClock
// makes the store read the wall clock (benchmarks); otherwise the clock is
// settable and stands still.
func newFixture(tb testing.TB, dir string, realClock bool) *fixture {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	f := &fixture{tb: tb, path: filepath.Join(dir, "favad.db"), clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	f.open(realClock)
	tb.Cleanup(func() { f.store.Close() })
	s := f.store
	_, _, err := s.PutAgency(favsync.System, inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "Social Security Organization"})
	require.NoError(tb, err)
	for _, o := range []inspector.Office{
		{Code: officeQZ, AgencyCode: "SSO", NameFa: officeQZFa, Province: province, City: "قزوین",
			Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}}},
		{Code: officeTK, AgencyCode: "SSO", NameFa: officeTKFa, Province: province, City: "تاکستان",
			Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}}},
	} {
		_, _, err := s.PutOffice(favsync.System, o)
		require.NoError(tb, err)
	}
	d, err := s.CreateUser(favsync.System, favsync.NewUser{Username: "dispatcher", DisplayName: "دیسپچر", Role: inspector.RoleDispatcher, PasswordHash: "$argon2id$v=19$fake"})
	require.NoError(tb, err)
	f.disp = favsync.Actor{UserID: d.ID}
	return f
}

func (f *fixture) open(realClock bool) {
	f.tb.Helper()
	opts := favsync.Options{Now: f.clock.Now}
	if realClock {
		opts.Now = nil
	}
	s, err := favsync.Open(f.path, opts)
	require.NoError(f.tb, err)
	f.store = s
}

// reopen closes and reopens the store file, as a restarted process does.
func (f *fixture) reopen() {
	f.tb.Helper()
	require.NoError(f.tb, f.store.Close())
	f.open(false)
}

func (f *fixture) inspector(username string, mode inspector.Mode) inspector.User {
	f.tb.Helper()
	u, err := f.store.CreateUser(favsync.System, favsync.NewUser{Username: username, DisplayName: "بازرس " + username,
		Role: inspector.RoleInspector, Mode: mode, Region: &inspector.Region{Province: province}, PasswordHash: "$argon2id$v=19$fake"})
	require.NoError(f.tb, err)
	return u
}

// device signs u in on deviceID and, if token is set, registers it for push.
func (f *fixture) device(u inspector.User, deviceID, platform, token string) {
	f.tb.Helper()
	_, err := f.store.StartSession(u.ID, deviceID, []byte("refresh-"+deviceID), 24*time.Hour)
	require.NoError(f.tb, err)
	if token == "" {
		return
	}
	_, err = f.store.RegisterPush(favsync.Actor{UserID: u.ID, DeviceID: deviceID},
		favsync.PushRegistration{Token: token, Platform: platform, AppVersion: "1.4.0", Locale: "fa-IR"})
	require.NoError(f.tb, err)
}

func (f *fixture) devicePush(deviceID string) *favsync.PushRegistration {
	f.tb.Helper()
	ds, err := f.store.Devices()
	require.NoError(f.tb, err)
	for _, d := range ds {
		if d.ID == deviceID {
			return d.Push
		}
	}
	f.tb.Fatalf("no device %s", deviceID)
	return nil
}

// complaint enters a 128 call about office, with a caller.
func (f *fixture) complaint(office string, priority inspector.Priority) inspector.Complaint {
	f.tb.Helper()
	f.calls++
	c, created, err := f.store.CreateComplaint(f.disp, inspector.NewComplaint{
		CallID: fmt.Sprintf("CALL-%d", f.calls), Category: inspector.CategoryAbsentEmployee, Description: callerText,
		CallTime: f.clock.Now().Add(-10 * time.Minute), Caller: inspector.Caller{Name: callerName, Phone: callerPhone},
		OfficeCode: office, Priority: priority,
	})
	require.NoError(f.tb, err)
	require.True(f.tb, created)
	return c
}

func (f *fixture) assign(c inspector.Complaint, u inspector.User) {
	f.tb.Helper()
	_, err := f.store.Assign(f.disp, c.ID, inspector.Routing{InspectorID: u.ID, Mode: u.Mode})
	require.NoError(f.tb, err)
}

func (f *fixture) head() uint64 {
	f.tb.Helper()
	st, err := f.store.Stats()
	require.NoError(f.tb, err)
	return st.Seq
}

// noteMutation is a device's note.create on complaint, as the app builds it.
func noteMutation(deviceSeq uint64, complaintID, text string) favsync.Mutation {
	payload, _ := json.Marshal(map[string]any{"complaint_id": complaintID, "text": text, "written_at": time.Now().UTC().Format(time.RFC3339)})
	return favsync.Mutation{ID: uuid.Must(uuid.NewV7()).String(), DeviceSeq: deviceSeq, Kind: favsync.MutNoteCreate,
		RecordID: uuid.Must(uuid.NewV7()).String(), DeviceTime: time.Now(), Payload: payload,
		HLC: inspector.Stamp{WallMs: time.Now().UnixMilli(), Logical: uint32(deviceSeq)}}
}

// pokes records the notifier's pokes.
type pokes struct {
	mu  stdsync.Mutex
	got map[string][]uint64
}

func (p *pokes) PokeExcept(user string, seq uint64, _ string) { p.Poke(user, seq) }

func (p *pokes) Poke(user string, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got == nil {
		p.got = map[string][]uint64{}
	}
	p.got[user] = append(p.got[user], seq)
}

func (p *pokes) of(user string) []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint64(nil), p.got[user]...)
}

// running is a notifier running in the background.
type running struct {
	n      *Notifier
	cancel context.CancelFunc
	done   chan struct{}
}

// stop ends the notifier and waits for Run to return.
func (r *running) stop(tb testing.TB) {
	tb.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		tb.Fatal("the notifier did not stop")
	}
}

// start runs a notifier with short timings (Window 50ms, Poll 10ms, Backoff
// 10ms) over store, after mod adjusts it.
func start(tb testing.TB, store Store, sender Sender, mod func(*Notifier)) *running {
	tb.Helper()
	n := &Notifier{Store: store, Sender: sender, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Window: 50 * time.Millisecond, Poll: 10 * time.Millisecond, Backoff: 10 * time.Millisecond}
	if mod != nil {
		mod(n)
	}
	if n.Metrics == nil {
		n.Metrics = NewMetrics() // set before Run, so that the test may read it
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{n: n, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := n.Run(ctx); err != nil {
			tb.Errorf("notifier: %v", err)
		}
	}()
	tb.Cleanup(func() { r.stop(tb) })
	return r
}

// settle waits until the notifier has read the log to its head and holds
// nothing unsent: the saved cursor is the head.
func settle(tb testing.TB, s *favsync.Store, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.Stats()
		require.NoError(tb, err)
		cur, err := s.NotifierCursor()
		require.NoError(tb, err)
		if cur >= st.Seq {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the notifier's cursor %d did not reach the head %d in %v", cur, st.Seq, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counter reads a counter or gauge.
func counter(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
