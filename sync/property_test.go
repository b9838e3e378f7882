package sync

// A property test of sync as a whole. Rapid draws a plan: dispatch routing
// complaints between two field inspectors, offline work on three devices
// (ali's phone and tablet sharing visits, reza's phone), pushes of parts of
// a device's queue (in order, out of order, reversed, with the response
// lost), replays of earlier batches, and pulls with small limits. The plan
// runs twice, each time on a fresh store with the same clock and ids.
//
// At the end every device pushes what it still holds and pulls until the
// server has no more; then
//   (a) each device holds exactly its inspector's scope, computed from the
//       stored records (kind, id, version);
//   (b) replaying any batch returns the original results and writes nothing;
//   (c) every acknowledged mutation is applied or on a conflict record;
//   (d) both runs end with byte-identical stores.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/favad/favad/inspector"
)

// propStep is one drawn action; its small numbers are read by the action.
type propStep struct {
	Op, Dev, A, B, C int
}

func (s propStep) String() string {
	op := []string{"dispatch", "dispatch", "work", "work", "work", "work", "push", "push", "replay", "pull"}[s.Op]
	return fmt.Sprintf("%s(dev=%d %d/%d/%d)", op, s.Dev, s.A, s.B, s.C)
}

func drawPlan(t *rapid.T) []propStep {
	step := rapid.Custom(func(t *rapid.T) propStep {
		return propStep{
			Op:  rapid.IntRange(0, 9).Draw(t, "op"),
			Dev: rapid.IntRange(0, 2).Draw(t, "dev"),
			A:   rapid.IntRange(0, 15).Draw(t, "a"),
			B:   rapid.IntRange(0, 15).Draw(t, "b"),
			C:   rapid.IntRange(0, 15).Draw(t, "c"),
		}
	})
	return rapid.SliceOfN(step, 10, 60).Draw(t, "plan")
}

// propDevice is a device: its queue of mutations, which of them the server
// acknowledged, and its copy of the records from pulls.
type propDevice struct {
	*fieldDevice
	queue []Mutation
	acked map[uint64]bool
	rep   *replica
	made  map[string]bool // visits this device queued a creation of
}

func (d *propDevice) unacked() []Mutation {
	var out []Mutation
	for _, m := range d.queue {
		if !d.acked[m.DeviceSeq] {
			out = append(out, m)
		}
	}
	return out
}

type propAck struct {
	m   Mutation
	res Result
}

type propBatch struct {
	dev     *propDevice
	muts    []Mutation
	results []Result
}

// propRun is one execution of a plan.
type propRun struct {
	t          *rapid.T
	f          *fieldFixture
	devs       []*propDevice
	complaints []inspector.Complaint
	visits     [2][2]string // per inspector, two visit ids
	acks       map[string]propAck
	order      []string // mutation ids in the order first answered
	batches    []propBatch
}

var propOffices = []string{"QZ-SSO-01", "TK-SSO-01", "QZ-TAX-01", "AB-TAX-01"}

// newPropRun starts a run; with own, the devices build their own notes,
// findings and call records from their push answers and pull without them.
func newPropRun(t *rapid.T, dir string, own bool) *propRun {
	path, err := os.MkdirTemp(dir, "run")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(path) })
	f := openFieldFixture(t, filepath.Join(path, "favad.db"), t.Cleanup)
	f.s.db.NoSync = true // a real file; durability is not what this test is about
	r := &propRun{t: t, f: f, acks: map[string]propAck{}}
	for _, dv := range []struct {
		id   string
		u    inspector.User
		skew time.Duration
	}{{"ali-phone", f.ali, 0}, {"ali-tablet", f.ali, -1500 * time.Millisecond}, {"reza-phone", f.reza, 700 * time.Millisecond}} {
		d := f.device(dv.id, dv.u)
		d.skew = dv.skew
		rep := newReplica()
		if own {
			rep = newOwnReplica(dv.id)
		}
		r.devs = append(r.devs, &propDevice{fieldDevice: d, acked: map[uint64]bool{}, rep: rep, made: map[string]bool{}})
	}
	for i := range 4 {
		c, _, err := f.s.CreateComplaint(dispatcher, intake(fmt.Sprint("CALL-", i), propOffices[i]))
		require.NoError(t, err)
		if i < 3 { // two for ali, one for reza, one waiting
			c, err = f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: r.user(i / 2).ID, Mode: inspector.ModeField})
			require.NoError(t, err)
		}
		r.complaints = append(r.complaints, c)
	}
	for i := range 2 {
		for j := range 2 {
			r.visits[i][j] = f.devIDs.Next()
		}
	}
	return r
}

func (r *propRun) inspectorOf(d *propDevice) int {
	if d.user.ID == r.f.ali.ID {
		return 0
	}
	return 1
}

func (r *propRun) user(i int) inspector.User {
	return []inspector.User{r.f.ali, r.f.reza}[i]
}

func (r *propRun) run(plan []propStep) {
	for _, st := range plan {
		r.f.clock.Advance(time.Duration(1+st.C%3) * time.Second)
		switch st.Op {
		case 0, 1:
			r.dispatch(st)
		case 2, 3, 4, 5:
			r.work(st)
		case 6, 7:
			r.push(st)
		case 8:
			r.replay(st)
		case 9:
			d := r.devs[st.Dev]
			d.rep.pull(r.t, r.f.s, d.user, 1+st.A%4)
		}
	}
}

func (r *propRun) dispatch(st propStep) {
	t, s := r.t, r.f.s
	c := r.complaints[st.B%len(r.complaints)]
	var err error
	switch st.A % 8 {
	case 0, 1, 2, 3:
		_, err = s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: r.user(st.C % 2).ID, Mode: inspector.ModeField})
	case 4:
		_, err = s.Withdraw(dispatcher, c.ID, "تماس تکراری")
	case 5:
		_, err = s.Refer(dispatcher, c.ID, "")
	case 6:
		open, _, lerr := s.Conflicts(ConflictFilter{Status: ConflictOpen, Limit: 1000})
		require.NoError(t, lerr)
		if len(open) == 0 {
			return
		}
		action := []string{ResolveAccept, ResolveOverrule}[st.B%2]
		_, err = s.ResolveConflict(dispatcher, open[st.C%len(open)].ID, action, "")
	case 7:
		err = s.DeleteVisit(dispatcher, r.visits[st.C%2][st.B%2])
	}
	var appErr *inspector.Error
	if err != nil && !errors.As(err, &appErr) {
		require.NoError(t, err, "dispatch fails only with application errors")
	}
}

// work queues one mutation made offline on a device.
func (r *propRun) work(st propStep) {
	d := r.devs[st.Dev]
	now := r.f.clock.Now().Add(d.skew)
	c := r.complaints[st.B%len(r.complaints)]
	visits := r.visits[r.inspectorOf(d)]
	base := func(kind, id string) uint64 { return d.rep.recs[recKey{kind, id}] }
	var m Mutation
	switch st.A % 8 {
	case 0, 1, 2:
		id := visits[st.B%2]
		fields := map[string]any{}
		if st.C&1 != 0 || st.C&6 == 0 {
			fields["summary"] = fmt.Sprintf("%s/%d", d.id, d.seq+1)
		}
		if st.C&2 != 0 {
			fields["check_in"] = geo(now)
		}
		if st.C&4 != 0 {
			fields["complaint_ids"] = []string{c.ID}
		}
		if st.C&8 != 0 || (base(KindVisit, id) == 0 && !d.made[id]) {
			fields["office_code"] = propOffices[(st.B+st.C)%len(propOffices)]
			d.made[id] = true
		}
		m = d.mut(MutVisitUpsert, id, base(KindVisit, id), fields)
	case 3:
		m = d.mut(MutFindingCreate, r.f.devIDs.Next(), 0, findingPayload(visits[st.C%2], c.ID, st.C%5, now))
	case 4:
		visit := ""
		if st.C%2 == 1 {
			visit = visits[st.C/2%2]
		}
		m = d.mut(MutNoteCreate, r.f.devIDs.Next(), 0, notePayload(c.ID, visit, fmt.Sprint("یادداشت ", st.C), now))
	case 5:
		value := []inspector.OutcomeValue{inspector.OutcomeSubstantiated, inspector.OutcomeNotSubstantiated,
			inspector.OutcomeResolvedOnSpot, inspector.OutcomeDiscipline}[st.C%4]
		m = d.mut(MutComplaintOutcome, c.ID, base(KindComplaint, c.ID), outcomeOf(value, "گزارش بازرس"))
	case 6:
		m = d.mut(MutComplaintStart, c.ID, base(KindComplaint, c.ID), nil)
	case 7:
		if st.C%2 == 0 {
			m = d.mut(MutCallCreate, r.f.devIDs.Next(), 0, callPayload(c.ID, 10*st.C, now))
		} else {
			m = d.mut(MutComplaintEdit, c.ID, base(KindComplaint, c.ID), map[string]any{"priority": inspector.Priorities[st.C%4]})
		}
	}
	d.queue = append(d.queue, m)
}

// push sends part of a device's unacknowledged queue.
func (r *propRun) push(st propStep) {
	d := r.devs[st.Dev]
	todo := d.unacked()
	if len(todo) == 0 {
		return
	}
	var batch []Mutation
	lost := false
	switch st.A % 4 {
	case 0, 1: // a prefix, as a device normally sends
		batch = todo[:1+st.B%len(todo)]
	case 2: // a later part first, perhaps reversed
		off := st.B % len(todo)
		batch = slices.Clone(todo[off : off+1+st.C%(len(todo)-off)])
		if st.A&4 != 0 {
			slices.Reverse(batch)
		}
	case 3: // a prefix whose response is lost
		batch, lost = todo[:1+st.B%len(todo)], true
	}
	res := r.send(d, batch)
	if !lost {
		for _, rr := range res {
			d.acked[rr.DeviceSeq] = true
		}
		d.rep.answered(r.t, d.user, batch, res)
	}
}

// send pushes batch and checks each answer against the first answer the
// mutation ever got.
func (r *propRun) send(d *propDevice, batch []Mutation) []Result {
	t := r.t
	res := mustPush(t, r.f.s, d.fieldDevice, batch...)
	for i, m := range batch {
		got := res[i]
		if prev, ok := r.acks[m.ID]; ok {
			require.True(t, got.Replayed, "mutation %s/%d was answered before: a replay", d.id, m.DeviceSeq)
			got.Replayed = prev.res.Replayed
			require.Equal(t, prev.res, got, "a replay gets the original result")
			continue
		}
		require.False(t, got.Replayed, "mutation %s/%d is new", d.id, m.DeviceSeq)
		r.acks[m.ID] = propAck{m: m, res: got}
		r.order = append(r.order, m.ID)
	}
	r.batches = append(r.batches, propBatch{dev: d, muts: batch, results: res})
	return res
}

// replay pushes an earlier batch again: it must change nothing.
func (r *propRun) replay(st propStep) {
	if len(r.batches) == 0 {
		return
	}
	b := r.batches[st.A%len(r.batches)]
	res := r.requireReplay(b)
	for _, m := range b.muts {
		b.dev.acked[m.DeviceSeq] = true
	}
	b.dev.rep.answered(r.t, b.dev.user, b.muts, res)
}

func (r *propRun) requireReplay(b propBatch) []Result {
	t := r.t
	before, err := r.f.s.Stats()
	require.NoError(t, err)
	res := mustPush(t, r.f.s, b.dev.fieldDevice, b.muts...)
	for i, got := range res {
		require.True(t, got.Replayed, "replayed mutation %s/%d", b.dev.id, got.DeviceSeq)
		got.Replayed = b.results[i].Replayed
		require.Equal(t, b.results[i], got, "a replayed batch gets its original results")
	}
	after, err := r.f.s.Stats()
	require.NoError(t, err)
	require.Equal(t, before.Seq, after.Seq, "a replay writes nothing to the change log")
	return res
}

// finish sends every device's remaining queue, pulls everything, and checks
// convergence, replays and that nothing was lost.
func (r *propRun) finish() map[string]string {
	t, s := r.t, r.f.s
	for _, d := range r.devs {
		for round := 0; len(d.unacked()) > 0; round++ {
			require.Less(t, round, 3, "the queue of %s drains", d.id)
			batch := d.unacked()
			res := r.send(d, batch)
			for _, rr := range res {
				d.acked[rr.DeviceSeq] = true
			}
			d.rep.answered(t, d.user, batch, res)
		}
	}
	for _, d := range r.devs {
		d.rep.sync(t, s, d.user, 3)
	}
	// (a) convergence.
	for _, d := range r.devs {
		requireSameRecords(t, expectedScope(t, s, d.user), d.rep.recs, "device %s", d.id)
		d.rep.requireBuiltAsStored(t, s)
	}
	// (b) replays change nothing.
	for _, b := range r.batches {
		r.requireReplay(b)
	}
	// (c) nothing lost.
	muts := make([]Mutation, 0, len(r.order))
	results := make([]Result, 0, len(r.order))
	for _, id := range r.order {
		muts = append(muts, r.acks[id].m)
		results = append(results, r.acks[id].res)
	}
	requireNothingLost(t, s, muts, results)
	return dumpStore(t, s)
}

func TestSyncProperty(t *testing.T) { checkSyncProperty(t, false) }

// TestSyncPropertyOmittingOwnWrites is the property with devices that build
// their own notes, findings and call records from the push answers (as the
// server stores them) and pull without them (PullOptions.OwnDevice).
func TestSyncPropertyOmittingOwnWrites(t *testing.T) { checkSyncProperty(t, true) }

func checkSyncProperty(t *testing.T, own bool) {
	dir := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		plan := drawPlan(t)
		first := newPropRun(t, dir, own)
		first.run(plan)
		want := first.finish()

		// (d) determinism: the same plan on a fresh store, same clock and ids.
		second := newPropRun(t, dir, own)
		second.run(plan)
		got := second.finish()
		requireSameDump(t, want, got)
	})
}

// requireSameDump compares two store dumps and names the keys that differ.
func requireSameDump(t kitT, want, got map[string]string) {
	t.Helper()
	var diff []string
	for k, v := range want {
		if got[k] != v {
			diff = append(diff, fmt.Sprintf("%s:\n  first:  %s\n  second: %s", k, v, got[k]))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s: only in the second run: %s", k, v))
		}
	}
	sort.Strings(diff)
	if len(diff) > 5 {
		diff = append(diff[:5], fmt.Sprintf("… and %d more", len(diff)-5))
	}
	if len(diff) > 0 {
		require.Fail(t, "the same history gave different stores", "%v", diff)
	}
}
