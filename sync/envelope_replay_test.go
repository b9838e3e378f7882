package sync

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/favad/favad/inspector"
)

// TestMalformedResendUnderAnotherMutationsSequence: schema 7 answered
// a mutation with a malformed envelope from the store only if the answer
// stored under the sequence it came with was its own ("a replay held this
// one"). Schema 8 asks only whether the sequence is held by anything, then
// answers from the mutation's id: the same malformed resend of A is a
// replay under a sequence that B holds, a new refusal under a free one.
// The parent (d719901^) answers both with a new refusal.
func TestMalformedResendUnderAnotherMutationsSequence(t *testing.T) {
	f := newFieldFixtureAt(t, filepath.Join(t.TempDir(), "favad.db"))
	defer f.s.Close()
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	ali := f.device("ali-phone", f.ali)
	a := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "الف", t0)) // seq 1
	b := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "ب", t0))   // seq 2
	mustPush(t, f.s, ali, a, b)

	bad := a
	bad.Malformed = []inspector.FieldError{{Field: "device_time", Code: "invalid", Message: "not RFC 3339"}}
	underB := bad
	underB.DeviceSeq = 2 // held by b
	free := bad
	free.DeviceSeq = 3 // held by nothing
	r := mustPush(t, f.s, ali, underB, free)
	assert.Equal(t, r[1].Status, r[0].Status, "the same malformed resend of a, answered by whether an unrelated mutation holds its sequence: %+v / %+v", r[0], r[1])
	assert.False(t, r[0].Replayed, "schema 7: the answer under sequence 2 is b's, not a's: a new refusal")
}
