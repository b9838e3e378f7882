package push

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	favsync "github.com/favad/favad/sync"
)

// Store is what the notifier needs of the store. *sync.Store satisfies it.
type Store interface {
	Changes(after uint64, limit int) ([]favsync.Change, error)
	NotifierCursor() (uint64, error)
	SaveNotifierCursor(seq uint64) error
	PushTargets(userIDs []string, staleAfter time.Duration) ([]favsync.PushTarget, error)
	DropPushToken(deviceID, token, reason string) error
	PrunePushTokens(removeAfter time.Duration) (int, error)
	InspectorsOf(province string) ([]string, error)
	Brief(complaintID string) (favsync.ComplaintBrief, error)
	Stats() (favsync.Stats, error)
}

var _ Store = (*favsync.Store)(nil)

// Poker wakes a user's open live streams (server-sent events), but those of
// the device that made the change.
type Poker interface {
	PokeExcept(userID string, seq uint64, exceptDevice string)
}

// Notifier turns changes into messages. The zero value is not usable; set
// Store, Sender and Logger, and call Run.
type Notifier struct {
	Store  Store
	Sender Sender
	Poker  Poker // may be nil
	Logger *slog.Logger

	// Window coalesces a burst: changes for a device within it make one message. Default 2s.
	Window time.Duration
	// Poll is how often the log is read when idle. Default 250ms.
	Poll time.Duration
	// StaleAfter and RemoveAfter are the token ages (defaults 30 and 270 days).
	StaleAfter, RemoveAfter time.Duration
	// Retries bounds the attempts of a transiently failing message; 0 means
	// no bound but RetryFor.
	Retries int
	// RetryFor is how long a transiently failing message is retried, from its
	// first attempt. Default 1h (a sync message's TTL).
	RetryFor time.Duration
	// Backoff is the first retry's delay, doubled each time with full jitter
	// up to MaxBackoff. Defaults 1s and 5m. FCM's Retry-After, when longer, wins.
	Backoff, MaxBackoff time.Duration

	Metrics *Metrics
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	after   func(time.Duration) <-chan time.Time // when a retry is due
	savedAt atomic.Uint64                        // the saved cursor: changes up to it are notified
}

// pending is what a user is owed since the window opened.
type pending struct {
	kind     Kind
	seq      uint64
	assigned []string // complaints newly assigned to them
	// author is the device that made the user's first owed change, if they
	// made it; others is set once any change came from elsewhere. Only a
	// device whose own changes are all there is to tell is skipped.
	author string
	others bool
}

func (n *Notifier) defaults() {
	if n.Window <= 0 {
		n.Window = 2 * time.Second
	}
	if n.Poll <= 0 {
		n.Poll = 250 * time.Millisecond
	}
	if n.StaleAfter <= 0 {
		n.StaleAfter = favsync.DefaultTokenStaleAfter
	}
	if n.RemoveAfter <= 0 {
		n.RemoveAfter = favsync.DefaultTokenRemoveAfter
	}
	if n.RetryFor <= 0 {
		n.RetryFor = time.Hour
	}
	if n.Backoff <= 0 {
		n.Backoff = time.Second
	}
	if n.MaxBackoff <= 0 {
		n.MaxBackoff = 5 * time.Minute
	}
	if n.after == nil {
		n.after = time.After
	}
	if n.Metrics == nil {
		n.Metrics = NewMetrics()
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.sleep == nil {
		n.sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
}

// window is what a flush owes, and the cursor to save once it is sent.
type window struct {
	owed   map[string]*pending
	cursor uint64
}

// Run tails the change log until ctx ends. Reading (and poking live
// streams) and sending run apart, so that a slow or backing-off FCM never
// delays a poke; the cursor is saved only after a window's messages went
// out, so a restart repeats at most one window. Run returns when ctx is done.
func (n *Notifier) Run(ctx context.Context) error {
	n.defaults()
	cursor, err := n.Store.NotifierCursor()
	if err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	// Settle the starting point at once: on a first start it is the head, and
	// a crash before the first flush must not move it past unsent changes.
	if err := n.Store.SaveNotifierCursor(cursor); err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	n.savedAt.Store(cursor)
	windows := make(chan window)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		n.send(ctx, windows)
	}()
	defer func() {
		close(windows)
		<-sent
	}()

	owed := map[string]*pending{}
	var windowOpened time.Time
	saved := cursor
	lastPrune := time.Time{}
	for ctx.Err() == nil {
		if n.now().Sub(lastPrune) > time.Hour {
			if pruned, err := n.Store.PrunePushTokens(n.RemoveAfter); err != nil {
				n.Logger.Error("prune push tokens", "error", err)
			} else if pruned > 0 {
				n.Metrics.TokensRemoved.WithLabelValues("stale").Add(float64(pruned))
			}
			lastPrune = n.now()
		}
		changes, err := n.Store.Changes(cursor, 1000)
		if err != nil {
			n.Logger.Error("notifier: read the change log", "error", err)
			changes = nil
		}
		read := 0
		for _, ch := range changes {
			if err := n.concern(ch, owed); err != nil {
				// Stop before this change: it is read again next round, and
				// nobody it concerns is skipped.
				n.Logger.Error("notifier: who is concerned; retrying", "seq", ch.Seq, "error", err)
				break
			}
			cursor = ch.Seq
			read++
		}
		if read > 0 {
			n.Metrics.LagSeconds.Set(n.now().Sub(changes[read-1].At).Seconds())
			if len(owed) > 0 && windowOpened.IsZero() {
				windowOpened = n.now()
			}
		}
		// Lag counts from what is durably sent (the saved cursor), not from
		// what was read: a message being retried, or a window not yet
		// handed over, is still owed.
		if st, err := n.Store.Stats(); err == nil {
			n.Metrics.LagSeqs.Set(float64(st.Seq - min(n.savedAt.Load(), st.Seq)))
		}
		due := (len(owed) > 0 && n.now().Sub(windowOpened) >= n.Window) || (len(owed) == 0 && cursor != saved)
		if due {
			select {
			case windows <- window{owed: owed, cursor: cursor}:
				owed, windowOpened, saved = map[string]*pending{}, time.Time{}, cursor
			default: // the sender is busy with the previous window: keep gathering
			}
		}
		if len(changes) < 1000 || read < len(changes) { // caught up, or stopped at a change to retry
			if n.sleep(ctx, n.Poll) != nil {
				break
			}
		}
	}
	return nil
}

// send delivers each window's messages. A message that fails transiently is
// retried later, with backoff, while later windows go out meanwhile: one
// device's quota or an FCM hiccup delays nobody else. The cursor is saved up
// to the newest window that has nothing left to retry and no older window
// that does, so a restart sends again what was still being retried (one
// message per device: the restart gathers it all in one window). A window
// cut short by shutdown is not saved either.
func (n *Notifier) send(ctx context.Context, windows <-chan window) {
	var (
		open    []*sentWindow // windows whose cursor is not saved yet, oldest first
		retries []retry
	)
	for {
		var due <-chan time.Time
		if len(retries) > 0 {
			due = n.after(max(0, earliestDue(retries).Sub(n.now())))
		}
		select {
		case w, ok := <-windows:
			if !ok {
				return // shutdown: what is open is sent again at the next start
			}
			sw := &sentWindow{cursor: w.cursor}
			open = append(open, sw)
			for len(w.owed) > 0 {
				msgs, err := n.messages(w.owed)
				if err == nil {
					now := n.now()
					items := make([]retry, len(msgs))
					for i, m := range msgs {
						items[i] = retry{msg: m, w: sw, first: now}
					}
					retries = append(retries, n.deliver(ctx, items)...)
					break
				}
				n.Logger.Error("notifier: read push targets; retrying", "error", err)
				if n.sleep(ctx, n.Poll) != nil {
					break
				}
			}
		case <-due:
			// The timer was set for the earliest retry: take everything due by
			// now, and that one even if the timer fired a little early.
			cutoff := n.now()
			if e := earliestDue(retries); e.After(cutoff) {
				cutoff = e
			}
			var ready []retry
			waiting := retries[:0:0]
			for _, r := range retries {
				if r.due.After(cutoff) {
					waiting = append(waiting, r)
				} else {
					ready = append(ready, r)
				}
			}
			retries = append(waiting, n.deliver(ctx, ready)...)
		}
		if ctx.Err() != nil {
			continue // save nothing more; drain until windows closes
		}
		done := 0
		for done < len(open) && open[done].pending == 0 {
			done++
		}
		if done > 0 {
			if err := n.Store.SaveNotifierCursor(open[done-1].cursor); err != nil {
				n.Logger.Error("notifier: save cursor", "error", err)
			} else {
				n.savedAt.Store(open[done-1].cursor)
				open = open[done:]
			}
		}
	}
}

func earliestDue(rs []retry) time.Time {
	e := rs[0].due
	for _, r := range rs[1:] {
		if r.due.Before(e) {
			e = r.due
		}
	}
	return e
}

// sentWindow is a window whose messages went out; pending counts those
// still being retried.
type sentWindow struct {
	cursor  uint64
	pending int
}

// retry is a message to send: its first attempt, or one waiting to be sent again.
type retry struct {
	msg      Message
	w        *sentWindow
	attempts int       // made so far
	first    time.Time // of the first attempt
	due      time.Time
}

// deliver sends items (first attempts, or retries that are due) in batches
// of MaxBatch and returns those to try again later.
func (n *Notifier) deliver(ctx context.Context, items []retry) []retry {
	var again []retry
	for start := 0; start < len(items); start += MaxBatch {
		batch := items[start:min(start+MaxBatch, len(items))]
		msgs := make([]Message, len(batch))
		for i, it := range batch {
			msgs[i] = it.msg
			if it.attempts > 0 {
				it.w.pending-- // settled now, one way or another
				n.Metrics.Retries.Inc()
			}
		}
		results := n.sendBatch(ctx, msgs)
		for i, it := range batch {
			if res := results[i]; res.Outcome == Transient {
				if next, ok := n.reschedule(it, res.RetryAfter); ok {
					again = append(again, next)
				}
			}
		}
	}
	return again
}

// reschedule plans the next attempt at an item whose attempt failed, or
// gives up when the bounds are reached.
func (n *Notifier) reschedule(it retry, retryAfter time.Duration) (retry, bool) {
	it.attempts++
	backoff := n.Backoff
	for i := 1; i < it.attempts && backoff < n.MaxBackoff; i++ {
		backoff *= 2 // doubling stops at the cap, so it cannot overflow
	}
	backoff = min(backoff, n.MaxBackoff)
	backoff = time.Duration(rand.Int64N(int64(backoff) + 1)) // full jitter
	it.due = n.now().Add(max(retryAfter, backoff))
	if (n.Retries > 0 && it.attempts >= n.Retries) || it.due.Sub(it.first) > n.RetryFor {
		n.Metrics.GaveUp.Inc()
		n.Logger.Warn("push: giving up; the device will sync on its own schedule", "device", it.msg.DeviceID, "attempts", it.attempts)
		return retry{}, false
	}
	it.w.pending++
	return it, true
}

// concern records who is owed a message for ch, and pokes their streams. Its
// error is for a store that could not say who is concerned.
func (n *Notifier) concern(ch favsync.Change, owed map[string]*pending) error {
	add := func(user string, kind Kind, complaint string) {
		if user == "" {
			return
		}
		by := ""
		if user == ch.Actor {
			by = ch.Device
		}
		p := owed[user]
		if p == nil {
			p = &pending{author: by}
			owed[user] = p
		} else if p.author != by {
			p.others = true
		}
		if by == "" {
			p.others = true
		}
		p.seq = ch.Seq
		if kind == KindAssignment {
			p.kind = KindAssignment
			if !slices.Contains(p.assigned, complaint) {
				p.assigned = append(p.assigned, complaint)
			}
		}
		if n.Poker != nil {
			n.Poker.PokeExcept(user, ch.Seq, by)
		}
	}
	d := ch.Data
	switch ch.Kind {
	case favsync.KindComplaint:
		if ch.Action == favsync.ActionAssigned || ch.Action == favsync.ActionReassigned {
			add(d["inspector"], KindAssignment, ch.ID)
		} else if d["inspector"] != "" {
			add(d["inspector"], KindSync, "")
		}
		add(d["previous_inspector"], KindSync, "")
		add(d["assignee"], KindSync, "")
		if ch.Device != "" { // an inspector's own change: their other devices sync
			add(ch.Actor, KindSync, "")
		}
	case favsync.KindConflict, favsync.KindVisit:
		add(d["inspector"], KindSync, "")
		if ch.Device != "" {
			add(ch.Actor, KindSync, "")
		}
	case favsync.KindFinding, favsync.KindCall, favsync.KindNote, favsync.KindEvidence:
		add(ch.Actor, KindSync, "")
	case favsync.KindOffice, favsync.KindAgency:
		for _, province := range []string{d["province"], d["previous_province"]} {
			if ch.Kind == favsync.KindOffice && province == "" {
				continue
			}
			users, err := n.Store.InspectorsOf(province)
			if err != nil {
				return fmt.Errorf("inspectors of %q: %w", province, err)
			}
			for _, u := range users {
				add(u, KindSync, "")
			}
			if ch.Kind == favsync.KindAgency {
				break // agencies concern every inspector
			}
		}
	}
	return nil
}

// messages makes one message per device of every user owed one.
func (n *Notifier) messages(owed map[string]*pending) ([]Message, error) {
	users := make([]string, 0, len(owed))
	for u := range owed {
		users = append(users, u)
	}
	slices.Sort(users)
	targets, err := n.Store.PushTargets(users, n.StaleAfter)
	if err != nil {
		return nil, fmt.Errorf("push targets: %w", err)
	}
	// Say only what is still true: an assignment withdrawn or reassigned
	// within the window is not announced.
	type text struct{ title, body string }
	texts := map[string]text{}
	for _, u := range users {
		if p := owed[u]; p.kind == KindAssignment {
			var t text
			t.title, t.body = n.assignmentText(u, p.assigned)
			texts[u] = t
		}
	}
	var msgs []Message
	for _, t := range targets {
		p := owed[t.UserID]
		if p.kind == KindSync && !p.others && p.author == t.DeviceID {
			continue // the device made every change it would be told of
		}
		m := Message{DeviceID: t.DeviceID, Token: t.Token, Platform: t.Platform, Kind: p.kind, Seq: p.seq}
		if p.kind == KindAssignment {
			m.Title, m.Body = texts[t.UserID].title, texts[t.UserID].body
			if m.Title == "" { // everything assigned in the window was taken back: just sync
				m.Kind = KindSync
			}
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// assignmentText names the office, never the caller, of the complaints that
// are still user's to work; both are "" when none is.
func (n *Notifier) assignmentText(user string, complaints []string) (title, body string) {
	var briefs []favsync.ComplaintBrief
	for _, id := range complaints {
		b, err := n.Store.Brief(id)
		if err != nil {
			n.Logger.Warn("notifier: complaint brief", "complaint", id, "error", err)
			continue
		}
		if b.InScopeOf == user {
			briefs = append(briefs, b)
		}
	}
	switch {
	case len(briefs) == 0:
		return "", ""
	case len(briefs) > 1:
		return "ماموریت جدید بازرسی", fmt.Sprintf("%s شکایت تازه به شما ارجاع شد", persianDigits(len(briefs)))
	}
	b := briefs[0]
	title = "ماموریت جدید بازرسی"
	if b.Priority == "urgent" {
		title = "ماموریت فوری بازرسی"
	}
	return title, fmt.Sprintf("شکایت شماره %s — %s", persianDigits(int(b.Number)), b.OfficeName)
}

// persianDigits writes n with Persian digits, as Persian text is read.
func persianDigits(n int) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '۰' + (r - '0')
		}
		return r
	}, strconv.Itoa(n))
}

// sendBatch makes one attempt at msgs (at most MaxBatch) and acts on each
// result but Transient, which the caller retries.
func (n *Notifier) sendBatch(ctx context.Context, msgs []Message) []Result {
	results, err := n.Sender.Send(ctx, msgs)
	if err != nil {
		results = make([]Result, len(msgs))
		for i := range results {
			results[i] = Result{Outcome: Transient, Code: "BATCH", Err: err}
		}
	}
	for i, r := range results {
		m := msgs[i]
		switch r.Outcome {
		case Sent:
			n.Metrics.Sent.WithLabelValues(m.Kind.String()).Inc()
		case BadToken:
			n.Metrics.Failed.WithLabelValues(r.Code).Inc()
			if err := n.Store.DropPushToken(m.DeviceID, m.Token, r.Code); err != nil {
				n.Logger.Error("drop push token", "device", m.DeviceID, "error", err)
			} else {
				n.Metrics.TokensRemoved.WithLabelValues(r.Code).Inc()
			}
		case ConfigError:
			n.Metrics.Failed.WithLabelValues(r.Code).Inc()
			n.Metrics.ConfigErrors.Inc()
			n.Logger.Error("FCM refused the server's configuration; check the Firebase project and credentials",
				"code", r.Code, "device", m.DeviceID, "error", r.Err)
		case Transient:
			n.Metrics.Failed.WithLabelValues(r.Code).Inc()
		default:
			n.Metrics.Failed.WithLabelValues(r.Code).Inc()
			n.Logger.Warn("push failed", "code", r.Code, "device", m.DeviceID, "error", r.Err)
		}
	}
	return results
}

// Metrics are the notifier's Prometheus collectors.
type Metrics struct {
	Sent          *prometheus.CounterVec
	Failed        *prometheus.CounterVec
	TokensRemoved *prometheus.CounterVec
	Retries       prometheus.Counter
	GaveUp        prometheus.Counter
	ConfigErrors  prometheus.Counter
	LagSeqs       prometheus.Gauge
	LagSeconds    prometheus.Gauge
}

// NewMetrics makes the collectors; register them with Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "favad_push_sent_total", Help: "Push messages FCM accepted, by kind."}, []string{"kind"}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "favad_push_failed_total", Help: "Push messages FCM refused, by FCM error code."},
			[]string{"code"}),
		TokensRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "favad_push_tokens_removed_total", Help: "Device tokens removed, by reason."},
			[]string{"reason"}),
		Retries:      prometheus.NewCounter(prometheus.CounterOpts{Name: "favad_push_retries_total", Help: "Messages retried after a transient FCM error."}),
		GaveUp:       prometheus.NewCounter(prometheus.CounterOpts{Name: "favad_push_gave_up_total", Help: "Messages dropped after their retries ran out (the device syncs on its own schedule)."}),
		ConfigErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "favad_push_config_errors_total", Help: "FCM answers that blame the server's configuration."}),
		LagSeqs:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "favad_notifier_lag_changes", Help: "Changes in the log after the last one whose notifications are sent."}),
		LagSeconds:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "favad_notifier_lag_seconds", Help: "Age of the last change the notifier read, when it read it."}),
	}
}

// Collectors lists the collectors, for a registry.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Sent, m.Failed, m.TokensRemoved, m.Retries, m.GaveUp, m.ConfigErrors, m.LagSeqs, m.LagSeconds}
}
