package server

import (
	"encoding/json"
	"slices"
	"testing"

	favsync "github.com/favad/favad/sync"
)

// FuzzPush feeds the push decoder and the store's applier any body a device
// could send: decodeMutation reads each mutation as the handler does, and
// Store.Push applies the batch to the fuzz store (newFuzzStore: two
// complaints assigned to the field inspector, ids …0008 and …0009).
// Nothing panics; every mutation gets exactly one result, in the order
// sent, with a known status (and a code when rejected); the same batch sent
// again is answered the same, as replays; and the store still verifies.
// Seeds: testdata/fuzz/FuzzPush.
func FuzzPush(f *testing.F) {
	fz := newFuzzStore(f)
	store, field := fz.store, fz.users["field"]
	// deferred: the fuzz device's open conflict records (one store for every
	// input) reach the cap, and what would open another is deferred.
	statuses := []string{favsync.StatusApplied, favsync.StatusMerged, favsync.StatusResolvedByRule, favsync.StatusRejected, favsync.StatusDeferred}

	f.Fuzz(func(t *testing.T, body []byte) {
		var req pushRequest
		if json.Unmarshal(body, &req) != nil || len(req.Mutations) == 0 {
			return // the handler refuses such a body before the store sees it
		}
		muts := make([]favsync.Mutation, len(req.Mutations))
		for i, raw := range req.Mutations {
			muts[i] = decodeMutation(raw)
		}
		results, last, err := store.Push(field, "fuzz-phone", muts)
		if len(muts) > favsync.MaxPushBatch {
			if err == nil {
				t.Fatalf("a push of %d mutations was taken", len(muts))
			}
			return
		}
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		if len(results) != len(muts) {
			t.Fatalf("%d results for %d mutations", len(results), len(muts))
		}
		for i, r := range results {
			if r.MutationID != muts[i].ID || r.DeviceSeq != muts[i].DeviceSeq {
				t.Fatalf("result %d answers %s/%d, not the mutation sent there (%s/%d)", i, r.MutationID, r.DeviceSeq, muts[i].ID, muts[i].DeviceSeq)
			}
			if !slices.Contains(statuses, r.Status) {
				t.Fatalf("result %d has status %q", i, r.Status)
			}
			if r.Status == favsync.StatusRejected && r.Code == "" {
				t.Fatalf("result %d is rejected without a code: %+v", i, r)
			}
			if r.Status == favsync.StatusDeferred && r.Code != "too_many_conflicts" {
				t.Fatalf("result %d is deferred with code %q: %+v", i, r.Code, r)
			}
		}
		if last > favsync.MaxDeviceSeq {
			t.Fatalf("the device's last sequence %d is above %d", last, uint64(favsync.MaxDeviceSeq))
		}
		again, _, err := store.Push(field, "fuzz-phone", muts)
		if err != nil {
			t.Fatalf("push again: %v", err)
		}
		for i, r := range again {
			first := results[i]
			if r.Status != first.Status || r.Code != first.Code {
				t.Fatalf("mutation %d answered %s/%s, then %s/%s when sent again", i, first.Status, first.Code, r.Status, r.Code)
			}
			if first.Status != favsync.StatusRejected && first.Status != favsync.StatusDeferred && !r.Replayed {
				t.Fatalf("mutation %d was settled, but sending it again is not a replay: %+v", i, r)
			}
		}
		rep, err := store.Verify(fz.blobs)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if len(rep.Problems) > 0 {
			t.Fatalf("the store no longer verifies: %v", rep.Problems)
		}
	})
}
