package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Report counts what one Sync did. After an error it counts what was done
// before the error.
type Report struct {
	// Pushed is the number of mutations the server answered.
	Pushed         int
	Applied        int
	Merged         int
	ResolvedByRule int
	Rejected       int
	// Deferred counts mutations the server neither applied nor kept because
	// the device has too many open conflict records (code
	// too_many_conflicts). They stay queued and go again on the next Sync.
	Deferred int
	// Replayed counts answers to mutations the server had already settled
	// (a resend after a lost answer); they are also counted by status.
	Replayed int
	// Pulled counts upserts received, Removed removals received.
	Pulled  int
	Removed int
	// Pages is the number of pull pages; Reset is set if the server made the
	// device drop its records (a full resync).
	Pages int
	Reset bool
	// Results are the answers received, in device order.
	Results []Result
	// Removals are the records the server took off the device, with reasons.
	Removals []Removal
	// ServerBehind is set when the server held less of this device's work
	// than it had acknowledged (it was restored from a backup); Resent
	// counts the acknowledged mutations the client then sent again from its
	// ledger. They are not counted in Pushed or by status.
	ServerBehind bool
	Resent       int

	// resendFrom is set by a pull page whose last_device_seq is below
	// what was acknowledged: the ledger is re-sent from there.
	resendFrom *uint64
}

// Removal is a record the server removed from the device's scope.
type Removal struct {
	Kind   string
	ID     string
	Reason string // reassigned, withdrawn, closed, deleted, …
}

// Sync pushes the queue and then pulls the device's scope until it is up to
// date. It returns on the first error, with the queue and the local records
// as they were after the last step that completed. Concurrent calls run one
// after the other.
func (c *Client) Sync(ctx context.Context) (Report, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	var rep Report
	if err := c.push(ctx, &rep); err != nil {
		return rep, fmt.Errorf("sync: push: %w", err)
	}
	if err := c.pull(ctx, &rep); err != nil {
		return rep, fmt.Errorf("sync: pull: %w", err)
	}
	if rep.resendFrom != nil {
		if err := c.resend(ctx, *rep.resendFrom, &rep); err != nil {
			return rep, fmt.Errorf("sync: re-send: %w", err)
		}
	}
	c.log.Debug("synced", "pushed", rep.Pushed, "rejected", rep.Rejected, "pulled", rep.Pulled, "removed", rep.Removed)
	return rep, nil
}

// Push sends the queue without pulling.
func (c *Client) Push(ctx context.Context) (Report, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	var rep Report
	err := c.push(ctx, &rep)
	if err != nil {
		err = fmt.Errorf("sync: push: %w", err)
	}
	return rep, err
}

// Pull fetches the device's scope without pushing.
func (c *Client) Pull(ctx context.Context) (Report, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	var rep Report
	err := c.pull(ctx, &rep)
	if err != nil {
		err = fmt.Errorf("sync: pull: %w", err)
	}
	return rep, err
}

type pushRequest struct {
	Mutations    []json.RawMessage `json:"mutations"`
	AckedThrough uint64            `json:"acked_through,omitempty"`
}

type pushAnswer struct {
	Results       []Result  `json:"results"`
	LastDeviceSeq uint64    `json:"last_device_seq"`
	ServerTime    time.Time `json:"server_time"`
	ServerBehind  bool      `json:"server_behind,omitempty"`
	local         bool      // answered on the device, never by the server
}

// push sends the queue in device order, in batches, up to the last mutation
// queued when it began (so that a steady stream of Enqueues cannot keep it
// going forever). A batch's answered mutations leave the queue and enter the
// ledger in one local transaction.
//
// Every push says acked_through. A server restored from a backup since
// refuses new work with server_behind and its last_device_seq: the client
// then re-sends what its ledger holds above that (resend) and goes on.
func (c *Client) push(ctx context.Context, rep *Report) error {
	until, err := c.LastSeq()
	if err != nil {
		return err
	}
	size := c.cfg.BatchSize
	var after uint64
	resent := false
	for {
		batch, raws, err := c.nextBatch(after, until, size)
		if err != nil || len(batch) == 0 {
			return err
		}
		acked, err := c.AckedThrough()
		if err != nil {
			return err
		}
		body, err := json.Marshal(pushRequest{Mutations: raws, AckedThrough: acked})
		if err != nil {
			return err
		}
		var ans pushAnswer
		err = c.call(ctx, http.MethodPost, "/v1/sync/push", body, &ans)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Code == CodeServerBehind && apiErr.LastDeviceSeq != nil && !resent {
			resent = true
			if err := c.resend(ctx, *apiErr.LastDeviceSeq, rep); err != nil {
				return err
			}
			continue // the same batch again, after the ledger
		}
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusRequestEntityTooLarge {
			if len(batch) > 1 {
				size = max(1, len(batch)/2)
				c.log.Info("push too large; halving the batch", "size", size)
				continue
			}
			if len(raws[0]) < LoneRefusalSize {
				// An ordinary mutation refused alone: the server's limit is
				// wrong for now (a proxy, a setting); keep it queued.
				return err
			}
			// One mutation larger than the server takes can never go. It
			// moves to the ledger, refused here and kept on the device, so
			// that the work queued after it still goes (the server will
			// note the skipped sequence for dispatch).
			m := batch[0]
			c.log.Error("a queued mutation is larger than the server accepts; kept in the ledger, not sent", "seq", m.DeviceSeq, "mutation", m.MutationID)
			refused := pushAnswer{Results: []Result{{MutationID: m.MutationID, DeviceSeq: m.DeviceSeq, Status: StatusRejected,
				Code: CodeTooLarge, Message: "larger than the server accepts; kept on this device only"}}, local: true}
			if _, err := c.settle(batch, refused, rep); err != nil {
				return err
			}
			after, size = m.DeviceSeq, c.cfg.BatchSize
			continue
		}
		if err != nil {
			return err
		}
		settled, err := c.settle(batch, ans, rep)
		if err != nil {
			return err
		}
		if settled < len(batch) {
			return fmt.Errorf("%w: %d of %d answered", ErrIncompleteAnswer, settled, len(batch))
		}
		after = batch[len(batch)-1].DeviceSeq
	}
}

// resend sends again, in device order and in batches, the acknowledged
// mutations the ledger holds for the current account above from (the
// server's last_device_seq) and up to acked_through, exactly as they were
// first sent (same ids and sequences): the server lost them (it was
// restored from a backup). What the server still holds is a replay there;
// each is applied once. Each entry takes the new answer.
func (c *Client) resend(ctx context.Context, from uint64, rep *Report) error {
	acked, err := c.AckedThrough()
	if err != nil || from >= acked {
		return err
	}
	rep.ServerBehind = true
	c.log.Warn("the server lost work it had acknowledged (restored from a backup?); re-sending the ledger", "server", from, "acked", acked)
	size, after, sent := c.cfg.BatchSize, from, 0
	for {
		batch, raws, err := c.ledgerBatch(after, acked, size)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		body, err := json.Marshal(pushRequest{Mutations: raws, AckedThrough: acked})
		if err != nil {
			return err
		}
		var ans pushAnswer
		err = c.call(ctx, http.MethodPost, "/v1/sync/push", body, &ans)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusRequestEntityTooLarge && len(batch) > 1 {
			size = max(1, len(batch)/2)
			continue
		}
		if err != nil {
			return err
		}
		n, err := c.resettle(batch, ans)
		if err != nil {
			return err
		}
		if n < len(batch) {
			return fmt.Errorf("%w: %d of %d re-sent answered", ErrIncompleteAnswer, n, len(batch))
		}
		rep.Resent += n
		sent += n
		after = batch[len(batch)-1].DeviceSeq
	}
	if sent == 0 {
		// Nothing above the server's position is held any more: that work
		// is lost, and claiming it would refuse every push. Take the
		// server's position as what was acknowledged.
		c.log.Error("the server lost acknowledged work this device no longer holds", "from", from+1, "through", acked)
		return c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyAcked, itob(from)) })
	}
	return nil
}

// ledgerBatch reads up to size ledger entries of the current account with
// after < seq ≤ until that the server answered (not those answered on the
// device), with their mutations encoded for sending.
func (c *Client) ledgerBatch(after, until uint64, size int) ([]Mutation, []json.RawMessage, error) {
	var (
		batch []Mutation
		raws  []json.RawMessage
	)
	err := c.db.View(func(tx *bolt.Tx) error {
		prefix := ledgerSeqKey(c.cfg.Username, 0)
		prefix = prefix[:len(prefix)-8]
		ledger := tx.Bucket(bucketLedger)
		cur := tx.Bucket(bucketLedgerSeq).Cursor()
		for k, v := cur.Seek(ledgerSeqKey(c.cfg.Username, after+1)); k != nil && bytes.HasPrefix(k, prefix) && len(batch) < size; k, v = cur.Next() {
			if btoi(k[len(prefix):]) > until {
				break
			}
			_, id := splitLedgerSeqValue(v)
			var e Entry
			if ok, err := getJSON(ledger, []byte(id), &e); err != nil || !ok {
				return err
			}
			if e.Result.Code == CodeTooLarge {
				continue // never reached the server
			}
			raw, err := json.Marshal(e.Mutation)
			if err != nil {
				return err
			}
			batch = append(batch, e.Mutation)
			raws = append(raws, raw)
		}
		return nil
	})
	return batch, raws, err
}

// resettle stores the answers to re-sent mutations on their ledger entries.
func (c *Client) resettle(batch []Mutation, ans pushAnswer) (int, error) {
	bySeq := make(map[uint64]Mutation, len(batch))
	for _, m := range batch {
		bySeq[m.DeviceSeq] = m
	}
	now := c.cfg.Now().UTC()
	account := c.accountID()
	n := 0
	err := c.db.Update(func(tx *bolt.Tx) error {
		n = 0
		ledger := tx.Bucket(bucketLedger)
		for _, r := range ans.Results {
			m, ok := bySeq[r.DeviceSeq]
			if !ok || m.MutationID != r.MutationID {
				continue
			}
			delete(bySeq, r.DeviceSeq)
			var e Entry
			if _, err := getJSON(ledger, []byte(m.MutationID), &e); err != nil {
				return err
			}
			e.Mutation, e.Result, e.ResentAt = m, r, &now
			if err := putJSON(ledger, []byte(m.MutationID), e); err != nil {
				return err
			}
			if err := c.buildOwn(tx, account, m, r); err != nil {
				return err
			}
			if r.Status == StatusRejected {
				c.log.Warn("re-sent mutation rejected", "seq", r.DeviceSeq, "mutation", r.MutationID, "code", r.Code, "message", r.Message)
			}
			n++
		}
		return c.observeServerTime(tx.Bucket(bucketMeta), ans.ServerTime, now)
	})
	if err != nil {
		return 0, fmt.Errorf("record re-sent answers: %w", err)
	}
	return n, nil
}

// pruneLedger drops the current account's oldest ledger entries beyond
// Config.LedgerKeep or acknowledged before Config.LedgerMaxAge, never the
// one at acked_through (a server restored from a backup is found out by it).
func (c *Client) pruneLedger(tx *bolt.Tx, now time.Time) error {
	prefix := ledgerSeqKey(c.cfg.Username, 0)
	prefix = prefix[:len(prefix)-8]
	idx, ledger := tx.Bucket(bucketLedgerSeq), tx.Bucket(bucketLedger)
	acked := btoi(tx.Bucket(bucketMeta).Get(keyAcked))
	n := 0
	cur := idx.Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		n++
	}
	cutoff := now.Add(-c.cfg.LedgerMaxAge)
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Seek(prefix) {
		at, id := splitLedgerSeqValue(v)
		if (n <= c.cfg.LedgerKeep && !at.Before(cutoff)) || btoi(k[len(prefix):]) == acked {
			return nil
		}
		if err := ledger.Delete([]byte(id)); err != nil {
			return err
		}
		if err := cur.Delete(); err != nil {
			return err
		}
		n--
	}
	return nil
}

// nextBatch reads up to size queued mutations with after < seq ≤ until, both
// decoded and as stored (the stored bytes are what is sent, so that a resend
// is byte-for-byte the same mutation).
func (c *Client) nextBatch(after, until uint64, size int) ([]Mutation, []json.RawMessage, error) {
	var (
		batch []Mutation
		raws  []json.RawMessage
	)
	err := c.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketQueue).Cursor()
		for k, v := cur.Seek(itob(after + 1)); k != nil && len(batch) < size; k, v = cur.Next() {
			if btoi(k) > until {
				break
			}
			var m Mutation
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode queued mutation %d: %w", btoi(k), err)
			}
			batch = append(batch, m)
			raws = append(raws, append(json.RawMessage(nil), v...))
		}
		return nil
	})
	return batch, raws, err
}

// settle records the answers to a batch: each answered mutation moves from
// the queue to the ledger, except a deferred one, which stays queued to be
// sent again, unchanged, on a later Sync. It returns how many mutations of
// the batch were answered.
func (c *Client) settle(batch []Mutation, ans pushAnswer, rep *Report) (int, error) {
	bySeq := make(map[uint64]Mutation, len(batch))
	for _, m := range batch {
		bySeq[m.DeviceSeq] = m
	}
	now := c.cfg.Now()
	account := c.accountID()
	var got []Result
	err := c.db.Update(func(tx *bolt.Tx) error {
		got = got[:0] // Update does not retry, but keep the closure self-contained
		queue, ledger, meta, index := tx.Bucket(bucketQueue), tx.Bucket(bucketLedger), tx.Bucket(bucketMeta), tx.Bucket(bucketLedgerSeq)
		rolledBack := false
		for _, r := range ans.Results {
			m, ok := bySeq[r.DeviceSeq]
			if !ok || m.MutationID != r.MutationID {
				c.log.Warn("push answer names a mutation not sent", "seq", r.DeviceSeq, "mutation", r.MutationID)
				continue
			}
			delete(bySeq, r.DeviceSeq)
			got = append(got, r)
			if r.Status == StatusDeferred {
				continue // not taken: it stays queued
			}
			if err := putJSON(ledger, []byte(m.MutationID), Entry{Mutation: m, Result: r, AckedAt: now.UTC()}); err != nil {
				return err
			}
			if err := index.Put(ledgerSeqKey(c.cfg.Username, m.DeviceSeq), ledgerSeqValue(now, m.MutationID)); err != nil {
				return err
			}
			if err := queue.Delete(itob(m.DeviceSeq)); err != nil {
				return err
			}
			if err := c.buildOwn(tx, account, m, r); err != nil {
				return err
			}
			rolledBack = rolledBack || reusedSeq(r)
			if !ans.local && m.DeviceSeq > btoi(meta.Get(keyAcked)) {
				if err := meta.Put(keyAcked, itob(m.DeviceSeq)); err != nil {
					return err
				}
			}
		}
		if err := c.pruneLedger(tx, now); err != nil {
			return err
		}
		// A server that holds higher sequences than this file ever assigned
		// means the file was restored from an old copy: continue after the
		// server's, so that new mutations do not reuse sequence numbers.
		if last := btoi(meta.Get(keyLastSeq)); ans.LastDeviceSeq > last {
			c.log.Warn("the server knows later device sequences than this file; skipping ahead", "local", last, "server", ans.LastDeviceSeq)
			if err := meta.Put(keyLastSeq, itob(ans.LastDeviceSeq)); err != nil {
				return err
			}
			rolledBack = true
		}
		if rolledBack {
			if err := c.forgetOwnWrites(meta); err != nil {
				return err
			}
		}
		return c.observeServerTime(meta, ans.ServerTime, now)
	})
	if err != nil {
		return 0, fmt.Errorf("record push answers: %w", err)
	}
	deferred := 0
	for _, r := range got {
		rep.Pushed++
		rep.Results = append(rep.Results, r)
		switch r.Status {
		case StatusDeferred:
			rep.Deferred++
			deferred++
		case StatusApplied:
			rep.Applied++
		case StatusMerged:
			rep.Merged++
		case StatusResolvedByRule:
			rep.ResolvedByRule++
		case StatusRejected:
			rep.Rejected++
			c.log.Warn("mutation rejected", "seq", r.DeviceSeq, "mutation", r.MutationID, "code", r.Code, "message", r.Message)
		}
		if r.Replayed {
			rep.Replayed++
		}
		if len(r.GapBefore) > 0 {
			c.log.Warn("the server reports missing device sequences", "before", r.DeviceSeq, "missing", r.GapBefore)
		}
	}
	if deferred > 0 {
		c.log.Warn("the server deferred mutations: this device has too many conflicts waiting for dispatch; they stay queued", "deferred", deferred)
	}
	return len(got), nil
}

// observeServerTime advances the stored clock past the server's time.
func (c *Client) observeServerTime(meta *bolt.Bucket, serverTime, now time.Time) error {
	if serverTime.IsZero() {
		return nil
	}
	var h HLC
	if _, err := getJSON(meta, keyHLC, &h); err != nil {
		return err
	}
	return putJSON(meta, keyHLC, h.observe(serverTime.UnixMilli(), now.UnixMilli()))
}

type pullChange struct {
	Kind    string          `json:"kind"`
	ID      string          `json:"id"`
	Op      string          `json:"op"`
	Version uint64          `json:"version"`
	Reason  string          `json:"reason"`
	Record  json.RawMessage `json:"record"`
}

type pullAnswer struct {
	Changes       []pullChange `json:"changes"`
	Cursor        string       `json:"cursor"`
	HasMore       bool         `json:"has_more"`
	Reset         bool         `json:"reset"`
	ServerTime    time.Time    `json:"server_time"`
	LastDeviceSeq uint64       `json:"last_device_seq"`
}

// Pull operations.
const (
	OpUpsert = "upsert"
	OpRemove = "remove"
)

// pull fetches pages until the server has no more. Each page's records and
// the cursor after it are stored in one local transaction, so that a pull
// interrupted at any point resumes from the last page stored.
func (c *Client) pull(ctx context.Context, rep *Report) error {
	cursor, err := c.Cursor()
	if err != nil {
		return err
	}
	for {
		q := url.Values{}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if c.cfg.PullLimit > 0 {
			q.Set("limit", strconv.Itoa(c.cfg.PullLimit))
		}
		if !c.cfg.PullOwnWrites {
			q.Set("own_writes", "omit") // built from the push answers (buildOwn)
		}
		path := "/v1/sync/pull"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		var page pullAnswer
		if err := c.call(ctx, http.MethodGet, path, nil, &page); err != nil {
			return err
		}
		if page.Cursor == "" {
			return errors.New("the server sent a page without a cursor")
		}
		resync, err := c.applyPage(page, rep)
		if err != nil {
			return err
		}
		if resync {
			cursor = "" // a full sync, at once
			continue
		}
		if !page.HasMore {
			return nil
		}
		if page.Cursor == cursor && len(page.Changes) == 0 && !page.Reset {
			return errors.New("the server says there is more but does not move the cursor")
		}
		cursor = page.Cursor
	}
}

// applyPage stores a page and its cursor. resync reports that the page
// showed this file restored from an older copy while the pull left out the
// device's own writes: the cursor is dropped, for a full sync.
func (c *Client) applyPage(page pullAnswer, rep *Report) (resync bool, err error) {
	now := c.cfg.Now()
	var pulled, removed int
	var removals []Removal
	var behind *uint64
	err = c.db.Update(func(tx *bolt.Tx) error {
		pulled, removed, removals, behind, resync = 0, 0, nil, nil, false
		if page.Reset {
			if err := emptyBucket(tx, bucketRecords); err != nil {
				return err
			}
		}
		recs := tx.Bucket(bucketRecords)
		for _, ch := range page.Changes {
			key := recordKey(ch.Kind, ch.ID)
			switch ch.Op {
			case OpUpsert:
				pulled++
				var have Record
				ok, err := getJSON(recs, key, &have)
				if err != nil {
					return err
				}
				if ok && ch.Version < have.Version {
					continue // older than what the device holds
				}
				if err := putJSON(recs, key, Record{Kind: ch.Kind, ID: ch.ID, Version: ch.Version, Data: ch.Record}); err != nil {
					return err
				}
			case OpRemove:
				removed++
				removals = append(removals, Removal{Kind: ch.Kind, ID: ch.ID, Reason: ch.Reason})
				if err := recs.Delete(key); err != nil {
					return err
				}
			default:
				c.log.Warn("pull: unknown operation; skipped", "op", ch.Op, "kind", ch.Kind, "id", ch.ID)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyCursor, []byte(page.Cursor)); err != nil {
			return err
		}
		// A server below what it acknowledged lost it (a restore from a
		// backup): the ledger is re-sent after the pull.
		if acked := btoi(meta.Get(keyAcked)); page.LastDeviceSeq < acked {
			from := page.LastDeviceSeq
			behind = &from
		}
		// A file restored from an old copy, with nothing queued, learns here
		// which sequences the server already holds, so that new work never reuses one.
		if last := btoi(meta.Get(keyLastSeq)); page.LastDeviceSeq > last {
			c.log.Warn("the server knows later device sequences than this file; skipping ahead", "local", last, "server", page.LastDeviceSeq)
			if err := meta.Put(keyLastSeq, itob(page.LastDeviceSeq)); err != nil {
				return err
			}
			if !c.cfg.PullOwnWrites && !page.Reset {
				resync = true
				if err := c.forgetOwnWrites(meta); err != nil {
					return err
				}
			}
		}
		return c.observeServerTime(meta, page.ServerTime, now)
	})
	if err != nil {
		return false, fmt.Errorf("store pulled page: %w", err)
	}
	rep.Pages++
	rep.Reset = rep.Reset || page.Reset
	rep.Pulled += pulled
	rep.Removed += removed
	rep.Removals = append(rep.Removals, removals...)
	if behind != nil {
		rep.resendFrom = behind
	}
	return resync, nil
}

// ownRecordKinds are the records a device builds from its own push answers
// (pulls ask own_writes=omit): the append-only ones, by mutation kind.
var ownRecordKinds = map[string]string{KindNoteCreate: RecordNote, KindFindingCreate: RecordFinding, KindCallCreate: RecordCall}

// buildOwn stores the device's copy of the note, finding or call record an
// applied mutation m created, as the server stores it: the payload with id,
// inspector_id (account) and version from the answer r, a call's number
// with ASCII digits. It does so with PullOwnWrites too, so that changing
// the setting never leaves a record out. A copy it cannot build comes from
// a full sync, which it starts by dropping the cursor.
func (c *Client) buildOwn(tx *bolt.Tx, account string, m Mutation, r Result) error {
	kind := ownRecordKinds[m.Kind]
	if kind == "" || r.Status != StatusApplied || r.RecordKind != kind || r.RecordID != m.RecordID {
		return nil
	}
	var rec map[string]any
	dec := json.NewDecoder(bytes.NewReader(m.Payload))
	dec.UseNumber()
	if err := dec.Decode(&rec); err != nil || rec == nil || account == "" || r.Version == 0 {
		c.log.Error("cannot build the device's copy of its own record; a full sync brings it", "kind", kind, "id", m.RecordID, "err", err)
		return c.forgetOwnWrites(tx.Bucket(bucketMeta))
	}
	rec["id"], rec["inspector_id"], rec["version"] = m.RecordID, account, r.Version
	if n, isString := rec["number"].(string); isString && kind == RecordCall {
		rec["number"] = asciiDigits(n)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	// Append-only: the answer's version is the record's, in this server's
	// history (one restored from a backup numbers it anew).
	return putJSON(tx.Bucket(bucketRecords), recordKey(kind, m.RecordID), Record{Kind: kind, ID: m.RecordID, Version: r.Version, Data: data})
}

// forgetOwnWrites drops the pull cursor when pulls leave out the device's
// own writes, so that the next pull is a full sync: the file no longer
// holds everything this device wrote (it was restored from an older copy).
func (c *Client) forgetOwnWrites(meta *bolt.Bucket) error {
	if c.cfg.PullOwnWrites {
		return nil
	}
	c.log.Warn("this file does not hold all of this device's own writes (restored from an older copy?); a full sync follows")
	return meta.Delete(keyCursor)
}

// reusedSeq reports an answer refusing a device sequence the server already
// holds for another mutation: the file was restored from an older copy.
func reusedSeq(r Result) bool {
	if r.Status != StatusRejected || r.Code != CodeIdempotencyClash {
		return false
	}
	for _, f := range r.Fields {
		if f.Field == "device_seq" && f.Code == "reused" {
			return true
		}
	}
	return false
}

// asciiDigits folds Persian and Arabic-Indic digits to ASCII, as the server
// stores a call's number.
func asciiDigits(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '۰' && r <= '۹':
			return '0' + (r - '۰')
		case r >= '٠' && r <= '٩':
			return '0' + (r - '٠')
		}
		return r
	}, s)
}

// accountID is the signed-in account's id.
func (c *Client) accountID() string {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return c.account
}
