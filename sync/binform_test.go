package sync

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/favad/favad/inspector"
)

// anID draws what the store keeps as ids: UUIDs in canonical text (most),
// in upper case, device names, numbers, empty.
func anID() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.Custom(func(t *rapid.T) string {
			return uuid.UUID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "uuid")).String()
		}),
		rapid.Custom(func(t *rapid.T) string {
			u := uuid.UUID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "uuid")).String()
			return u[:35] + "G" // not hex at the end
		}),
		rapid.SampledFrom([]string{"", "ali-phone", "1", "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE", "00000000-0000-0000-0000-00000000000g"}),
		rapid.String(),
	)
}

func aTime() *rapid.Generator[time.Time] {
	return rapid.OneOf(
		rapid.Just(time.Time{}),
		rapid.Custom(func(t *rapid.T) time.Time {
			return time.Unix(rapid.Int64Range(-62135596800, 253402300799).Draw(t, "sec"), rapid.Int64Range(0, 999999999).Draw(t, "nsec")).UTC()
		}),
	)
}

// Every change-log entry reads back from its binary form as it reads from
// the JSON form of schema 8 (which is still read).
func TestChangeBinaryFormReadsAsItsJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := Change{Seq: rapid.Uint64().Draw(t, "seq"), Kind: rapid.SampledFrom([]string{KindNote, KindComplaint, "x"}).Draw(t, "kind"),
			ID: anID().Draw(t, "id"), Action: rapid.String().Draw(t, "action"), Actor: anID().Draw(t, "actor"),
			Device: anID().Draw(t, "device"), At: aTime().Draw(t, "at")}
		if data := rapid.MapOf(rapid.String(), anID()).Draw(t, "data"); len(data) > 0 {
			c.Data = data
		}
		raw, err := json.Marshal(c)
		require.NoError(t, err)
		fromJSON, err := decodeChange(raw)
		require.NoError(t, err)
		fromBinary, err := decodeChange(encodeChange(c))
		require.NoError(t, err)
		require.Equal(t, fromJSON, fromBinary)
		require.Equal(t, c.At.UnixNano(), fromBinary.At.UnixNano())
	})
}

func TestScopeEntryBinaryFormReadsAsItsJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := scopeEntry{Kind: rapid.String().Draw(t, "kind"), ID: anID().Draw(t, "id"), Op: rapid.SampledFrom([]string{OpUpsert, OpRemove}).Draw(t, "op"),
			Reason: rapid.String().Draw(t, "reason"), Tx: rapid.Uint64().Draw(t, "tx"), At: aTime().Draw(t, "at")}
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		fromJSON, err := decodeScopeEntry(raw)
		require.NoError(t, err)
		fromBinary, err := decodeScopeEntry(encodeScopeEntry(e))
		require.NoError(t, err)
		require.Equal(t, fromJSON, fromBinary)
	})
}

// A push answer kept in binary reads back as its JSON form does; answers
// with more than the usual fields keep the JSON form.
func TestAnswerBinaryFormReadsAsItsJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := storedResult{MutationID: anID().Draw(t, "mutation"),
			Hash:    mutationHash(Mutation{Kind: rapid.String().Draw(t, "hashed")}),
			Account: anID().Draw(t, "account"), Device: anID().Draw(t, "device"), Seq: rapid.Uint64().Draw(t, "seq"),
			Result: Result{Status: rapid.SampledFrom([]string{StatusApplied, StatusRejected, StatusDeferred}).Draw(t, "status"),
				RecordKind: rapid.String().Draw(t, "kind"), RecordID: anID().Draw(t, "record"), Version: rapid.Uint64().Draw(t, "version"),
				ClockSkewS: rapid.Int64().Draw(t, "skew")}}
		if gaps := rapid.SliceOfN(rapid.Uint64(), 0, 4).Draw(t, "gaps"); len(gaps) > 0 {
			r.Result.GapBefore = gaps
		}
		if also := rapid.SliceOfN(rapid.Uint64(), 0, 4).Draw(t, "also"); len(also) > 0 {
			r.Also = also
		}
		richer := rapid.IntRange(0, 3).Draw(t, "richer")
		switch richer {
		case 1:
			r.Result.Code, r.Result.Message = inspector.CodeInvalid, "bad"
		case 2:
			r.Result.Rule, r.Result.ConflictIDs = inspector.RuleOrphaned, []string{"c1"}
		case 3:
			r.Result.WinningValue = json.RawMessage(`{"a":1}`)
		}
		bin, ok := encodeAnswer(r)
		require.Equal(t, richer == 0, ok, "only the usual answers are binary")
		id := r.MutationID
		stored := r
		stored.MutationID, stored.Result.MutationID = "", ""
		raw, err := json.Marshal(stored)
		require.NoError(t, err)
		fromJSON, err := decodeAnswer(id, raw)
		require.NoError(t, err)
		if ok {
			fromBinary, err := decodeAnswer(id, bin)
			require.NoError(t, err)
			require.Equal(t, fromJSON, fromBinary)
			assert.Less(t, len(bin), len(raw))
		}
		r.Result.MutationID = id
		require.Equal(t, r, fromJSON)
	})
}

// A binary value cut short or followed by more bytes is an error, never a
// panic or a value read wrong.
func TestBinaryFormsRefuseTruncatedValues(t *testing.T) {
	c := encodeChange(Change{Seq: 7, Kind: KindNote, ID: uuid.NewString(), Action: ActionCreated, Actor: uuid.NewString(),
		Device: "ali-phone", At: t0, Data: map[string]string{"mutation": uuid.NewString(), "device_seq": "3"}})
	e := encodeScopeEntry(scopeEntry{Kind: KindNote, ID: uuid.NewString(), Op: OpUpsert, Tx: 7, At: t0})
	a, ok := encodeAnswer(storedResult{Hash: mutationHash(Mutation{}), Account: uuid.NewString(), Device: "d", Seq: 3,
		Result: Result{Status: StatusApplied, RecordKind: KindNote, RecordID: uuid.NewString(), Version: 7}})
	require.True(t, ok)
	for name, v := range map[string][]byte{"change": c, "scope entry": e, "answer": a} {
		decode := map[string]func([]byte) error{
			"change":      func(b []byte) error { _, err := decodeChange(b); return err },
			"scope entry": func(b []byte) error { _, err := decodeScopeEntry(b); return err },
			"answer":      func(b []byte) error { _, err := decodeAnswer("m", b); return err },
		}[name]
		require.NoError(t, decode(v), name)
		for n := range len(v) {
			assert.Error(t, decode(v[:n]), "%s cut to %d bytes", name, n)
		}
		assert.Error(t, decode(append(append([]byte(nil), v...), 0)), "%s with a byte more", name)
	}
}

func TestUUIDBytesRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := anID().Draw(t, "id")
		u, ok := uuidBytes(s)
		if _, err := uuid.Parse(s); err == nil && len(s) == 36 && s == uuid.MustParse(s).String() {
			require.True(t, ok, "%q is canonical", s)
		}
		if ok {
			require.Equal(t, s, uuidText(u[:]))
		}
	})
}

// A note reads back from its binary form as from its JSON, the device's
// offset included (the spec promises device times back as sent).
func TestNoteBinaryFormReadsAsItsJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		at := time.Unix(rapid.Int64Range(0, 4102444800).Draw(t, "sec"), rapid.Int64Range(0, 999999999).Draw(t, "nsec"))
		switch rapid.IntRange(0, 2).Draw(t, "zone") {
		case 0:
			at = at.UTC()
		case 1:
			at = at.In(time.FixedZone("", rapid.IntRange(-12*3600, 14*3600).Draw(t, "offset")/60*60))
		case 2:
			at = at.In(time.FixedZone("", 12600)) // Tehran, +03:30
		}
		n := inspector.Note{ID: anID().Draw(t, "id"), ComplaintID: anID().Draw(t, "complaint"), VisitID: anID().Draw(t, "visit"),
			InspectorID: anID().Draw(t, "inspector"), Text: rapid.String().Draw(t, "text"), WrittenAt: at, Version: rapid.Uint64().Draw(t, "version")}
		raw, err := json.Marshal(n)
		require.NoError(t, err)
		fromJSON, err := decodeNote(n.ID, raw)
		require.NoError(t, err)
		bin, err := encodeNote(n)
		require.NoError(t, err)
		fromBinary, err := decodeNote(n.ID, bin)
		require.NoError(t, err)
		require.Equal(t, fromJSON, fromBinary)
		again, err := json.Marshal(fromBinary)
		require.NoError(t, err)
		require.JSONEq(t, string(raw), string(again), "the API's JSON of the note is unchanged")
	})
}

func TestBinWordsAreDistinct(t *testing.T) {
	assert.Len(t, binWordCodes, len(binWords))
	assert.Less(t, len(binWords), 256)
}
