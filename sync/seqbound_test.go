package sync

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// Regression: device_seq 18446744073709551615 was accepted and became the
// device's last sequence, so the next expected one wrapped to 0 and every
// later push reported a gap. Sequences above 2^53 are refused and kept, and
// never move the device's position.
func TestDeviceSeqAboveTwoToThe53IsRefused(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)

	huge := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	huge.DeviceSeq = math.MaxUint64
	r := mustPush(t, f.s, d, huge)[0]
	require.Equal(t, StatusRejected, r.Status)
	assert.Equal(t, inspector.CodeInvalid, r.Code)
	require.NotEmpty(t, r.Fields)
	assert.Equal(t, "device_seq", r.Fields[0].Field)
	assert.NotEmpty(t, r.ConflictIDs, "the refused mutation is kept for dispatch")
	last, err := f.s.LastDeviceSeq(d.user.ID, d.id)
	require.NoError(t, err)
	assert.Zero(t, last, "the device's position did not move")

	d.seq = 0
	ok := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت دوم", t0))
	r = mustPush(t, f.s, d, ok)[0]
	assert.Equal(t, StatusApplied, r.Status, "%s", r.Message)
	assert.Empty(t, r.GapBefore, "no false gap after the refusal")

	edge := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "لبه", t0))
	edge.DeviceSeq = MaxDeviceSeq
	r = mustPush(t, f.s, d, edge)[0]
	assert.Equal(t, StatusApplied, r.Status, "2^53 itself is accepted")
}

// Regression: a refusal for a reused key (an idempotency clash on a
// note.create naming its complaint, a complaint.* mutation, an invalid
// envelope) kept no complaint on its conflict record, so the complaint's
// conflicts and history missed it.
func TestRefusalsForReusedKeysNameTheirComplaint(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	first := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	mustPush(t, f.s, d, first)
	clash := d.again(first)
	clash.ID = first.ID // the same mutation id, other content
	clash.Payload = mustJSON(notePayload(c.ID, "", "متن دیگر", t0))
	r := mustPush(t, f.s, d, clash)[0]
	require.Equal(t, StatusRejected, r.Status)
	require.Equal(t, inspector.CodeIdempotencyClash, r.Code)

	bad := d.mut(MutComplaintOutcome, c.ID, 0, outcomeOf(inspector.OutcomeSubstantiated, "x"))
	bad.Malformed = []inspector.FieldError{{Field: "device_time", Code: "invalid", Message: "not RFC 3339"}}
	r = mustPush(t, f.s, d, bad)[0]
	require.Equal(t, StatusRejected, r.Status)

	items, _, err := f.s.Conflicts(ConflictFilter{ComplaintID: c.ID})
	require.NoError(t, err)
	assert.Len(t, items, 2, "both refusals are listed with the complaint")
	h, err := f.s.ComplaintHistory(c.ID)
	require.NoError(t, err)
	n := 0
	for _, ch := range h {
		if ch.Kind == KindConflict {
			n++
		}
	}
	assert.Equal(t, 2, n, "and are in its history")
}
