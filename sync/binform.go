package sync

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// Binary forms (schema 9) of what every push writes besides its record:
// the change-log entry, the scope entry and the stored push answer. Their
// JSON repeated field names, spelled ids out in 36 characters and times
// in 30, and took a reflection walk to write inside the commit. A binary
// value starts with binFormV1; JSON starts with '{', so values written
// before schema 9 are read as they are and never rewritten (a pull
// cursor's fingerprint of a change stays valid).
//
// Strings are a length (uvarint) and their bytes; the common words
// (binWords) are one byte. An id that is a UUID in
// its canonical lower-case text is 16 bytes after a marker; any other id
// is a string after another marker, so every id comes back as it went in.

const binFormV1 = 0x01

// Markers of an id.
const (
	idText = 0x00
	idUUID = 0x10
)

// binWords are the words the binary forms write as one byte (their index
// plus one): record kinds, actions, scope operations and change-data keys
// that nearly every entry holds. Append only: a word's place is its code
// in every file written.
var binWords = []string{
	KindNote, KindFinding, KindCall, KindVisit, KindComplaint, KindEvidence, KindConflict,
	ActionCreated, "updated", OpUpsert, OpRemove,
	"mutation", "device_seq", "device_time", "clock_skew_s",
	"from", "to", "inspector", "outcome", "reason", "user", "office", "mode", "due_at", "previous_inspector", "device",
}

var binWordCodes = func() map[string]byte {
	m := make(map[string]byte, len(binWords))
	for i, w := range binWords {
		m[w] = byte(i + 1)
	}
	return m
}()

// binWriter appends a binary form.
type binWriter struct{ b []byte }

func (w *binWriter) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *binWriter) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }

func (w *binWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// word writes s as its one-byte code, or a zero byte and s.
func (w *binWriter) word(s string) {
	if c, ok := binWordCodes[s]; ok {
		w.b = append(w.b, c)
		return
	}
	w.b = append(w.b, 0)
	w.str(s)
}

func (w *binWriter) id(s string) {
	if u, ok := uuidBytes(s); ok {
		w.b = append(w.b, idUUID)
		w.b = append(w.b, u[:]...)
		return
	}
	w.b = append(w.b, idText)
	w.str(s)
}

// time writes t to the nanosecond, in UTC (a zero time as no time).
func (w *binWriter) time(t time.Time) {
	if t.IsZero() {
		w.b = append(w.b, 0)
		return
	}
	w.b = append(w.b, 1)
	w.varint(t.Unix())
	w.uvarint(uint64(t.Nanosecond()))
}

func (w *binWriter) uints(vs []uint64) {
	w.uvarint(uint64(len(vs)))
	for _, v := range vs {
		w.uvarint(v)
	}
}

// binReader reads a binary form; the first error sticks.
type binReader struct {
	b   []byte
	err error
}

var errBinForm = errors.New("truncated or malformed binary value")

func (r *binReader) fail() { r.err, r.b = errBinForm, nil }

func (r *binReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *binReader) uvarint() uint64 { return readNumber(r, binary.Uvarint) }
func (r *binReader) varint() int64   { return readNumber(r, binary.Varint) }

// readNumber reads one varint with decode (binary.Uvarint or Varint).
func readNumber[T uint64 | int64](r *binReader, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *binReader) bytes(n uint64) []byte {
	if r.err != nil || uint64(len(r.b)) < n {
		r.fail()
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *binReader) str() string { return string(r.bytes(r.uvarint())) }

func (r *binReader) word() string {
	c := r.byte()
	switch {
	case r.err != nil:
		return ""
	case c == 0:
		return r.str()
	case int(c) <= len(binWords):
		return binWords[c-1]
	}
	r.fail()
	return ""
}

func (r *binReader) id() string {
	switch r.byte() {
	case idUUID:
		return uuidText(r.bytes(16))
	case idText:
		return r.str()
	}
	r.fail()
	return ""
}

func (r *binReader) time() time.Time {
	switch r.byte() {
	case 0:
		return time.Time{}
	case 1:
		sec := r.varint()
		nsec := r.uvarint()
		if nsec >= 1e9 {
			r.fail()
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	}
	r.fail()
	return time.Time{}
}

func (r *binReader) uints() []uint64 {
	n := r.uvarint()
	if n > uint64(len(r.b)) { // each takes a byte at least
		r.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = r.uvarint()
	}
	return out
}

// end reports the first error, or bytes left over.
func (r *binReader) end() error {
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d bytes after the value", len(r.b))
	}
	return r.err
}

// uuidBytes returns the 16 bytes of s if s is a UUID in canonical
// lower-case text (8-4-4-4-12 hex digits); uuidText turns them back.
func uuidBytes(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	var bad byte // a digit's value with its high bit set marks a byte that is no lower-case hex digit
	for i, at := range uuidDigitPairs {
		hi, lo := lowerHexValue[s[at]], lowerHexValue[s[at+1]]
		bad |= hi | lo
		u[i] = hi<<4 | lo
	}
	return u, bad&0x80 == 0
}

// uuidDigitPairs are where each byte's two hex digits start in a UUID's text.
var uuidDigitPairs = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// lowerHexValue is each byte's value as a lower-case hex digit, 0xff for a
// byte that is none.
var lowerHexValue = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()

func uuidText(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// isJSONValue reports whether a stored value is in the JSON form of
// schema 8 and before.
func isJSONValue(v []byte) bool { return len(v) > 0 && v[0] == '{' }

// newBinWriter starts a binary form of about size bytes.
func newBinWriter(size int) *binWriter {
	w := &binWriter{b: make([]byte, 0, size)}
	w.b = append(w.b, binFormV1)
	return w
}

// decodeForm reads a stored value of what in either form: JSON as written
// before schema 9, or the binary form, through read.
func decodeForm[T any](what string, v []byte, read func(r *binReader) T) (T, error) {
	var out T
	if isJSONValue(v) {
		err := json.Unmarshal(v, &out)
		return out, err
	}
	if len(v) == 0 || v[0] != binFormV1 {
		return out, fmt.Errorf("decode %s: unknown form", what)
	}
	r := binReader{b: v[1:]}
	out = read(&r)
	if err := r.end(); err != nil {
		var zero T
		return zero, fmt.Errorf("decode %s: %w", what, err)
	}
	return out, nil
}

// encodeChange is c's binary form: seq, kind, id, action, actor, device,
// time, then the data's pairs in key order.
func encodeChange(c Change) []byte {
	w := newBinWriter(160)
	w.uvarint(c.Seq)
	w.word(c.Kind)
	w.id(c.ID)
	w.word(c.Action)
	w.id(c.Actor)
	w.id(c.Device)
	w.time(c.At)
	keys := make([]string, 0, len(c.Data))
	for k := range c.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.uvarint(uint64(len(keys)))
	for _, k := range keys {
		w.word(k)
		w.id(c.Data[k])
	}
	return w.b
}

// decodeChange reads a change-log entry in either form.
func decodeChange(v []byte) (Change, error) {
	return decodeForm("change", v, func(r *binReader) (c Change) {
		c.Seq = r.uvarint()
		c.Kind = r.word()
		c.ID = r.id()
		c.Action = r.word()
		c.Actor = r.id()
		c.Device = r.id()
		c.At = r.time()
		if n := r.uvarint(); n > 0 && n <= uint64(len(r.b)) {
			c.Data = make(map[string]string, n)
			for range n {
				k := r.word()
				c.Data[k] = r.id()
			}
		} else if n > 0 {
			r.fail()
		}
		return c
	})
}

// encodeScopeEntry is e's binary form: kind, id, op, reason, the
// transaction's first sequence, the time.
func encodeScopeEntry(e scopeEntry) []byte {
	w := newBinWriter(48)
	w.word(e.Kind)
	w.id(e.ID)
	w.word(e.Op)
	w.str(e.Reason)
	w.uvarint(e.Tx)
	w.time(e.At)
	return w.b
}

// decodeScopeEntry reads a scope-log entry in either form.
func decodeScopeEntry(v []byte) (scopeEntry, error) {
	return decodeForm("scope entry", v, func(r *binReader) (e scopeEntry) {
		e.Kind = r.word()
		e.ID = r.id()
		e.Op = r.word()
		e.Reason = r.str()
		e.Tx = r.uvarint()
		e.At = r.time()
		return e
	})
}

// encodeAnswer is the binary form of a push answer kept in mutations
// (without its mutation id, the key), for the answers that hold no more
// than an applied or refused mutation's usual fields: hash, status,
// record, version, clock skew, gaps, account, device, sequences. ok is
// false for the others (rules, conflicts, messages, field errors, a
// winning value), which keep the JSON form.
func encodeAnswer(r storedResult) (out []byte, ok bool) {
	a := r.Result
	if a.Rule != "" || a.WinningValue != nil || a.Code != "" || a.Message != "" || a.Fields != nil || a.ConflictIDs != nil {
		return nil, false
	}
	hash, err := hex.DecodeString(r.Hash)
	if err != nil || len(hash) != 32 {
		return nil, false
	}
	w := newBinWriter(112)
	w.b = append(w.b, hash...)
	w.str(a.Status)
	w.word(a.RecordKind)
	w.id(a.RecordID)
	w.uvarint(a.Version)
	w.varint(a.ClockSkewS)
	w.uints(a.GapBefore)
	w.id(r.Account)
	w.id(r.Device)
	w.uvarint(r.Seq)
	w.uints(r.Also)
	return w.b, true
}

// decodeBinaryAnswer reads encodeAnswer's form.
func decodeBinaryAnswer(v []byte) (storedResult, error) {
	if len(v) == 0 || v[0] != binFormV1 {
		return storedResult{}, errors.New("unknown form")
	}
	rd := binReader{b: v[1:]}
	var r storedResult
	r.Hash = hex.EncodeToString(rd.bytes(32))
	r.Result.Status = rd.str()
	r.Result.RecordKind = rd.word()
	r.Result.RecordID = rd.id()
	r.Result.Version = rd.uvarint()
	r.Result.ClockSkewS = rd.varint()
	r.Result.GapBefore = rd.uints()
	r.Account = rd.id()
	r.Device = rd.id()
	r.Seq = rd.uvarint()
	r.Also = rd.uints()
	if err := rd.end(); err != nil {
		return storedResult{}, err
	}
	return r, nil
}

// encodeNote is a note's binary form, without its id (the key): complaint,
// visit, inspector, text, the device's time as the device wrote it (RFC
// 3339 text, read back as JSON reads it: the offset kept), version.
func encodeNote(n inspector.Note) ([]byte, error) {
	at, err := n.WrittenAt.MarshalText()
	if err != nil {
		return nil, fmt.Errorf("note %s: %w", n.ID, err)
	}
	w := newBinWriter(64 + len(n.Text))
	w.id(n.ComplaintID)
	w.id(n.VisitID)
	w.id(n.InspectorID)
	w.str(n.Text)
	w.str(string(at))
	w.uvarint(n.Version)
	return w.b, nil
}

// decodeNote reads the note stored under id in either form.
func decodeNote(id string, v []byte) (inspector.Note, error) {
	return decodeForm("note "+id, v, func(r *binReader) (n inspector.Note) {
		n.ID = id
		n.ComplaintID = r.id()
		n.VisitID = r.id()
		n.InspectorID = r.id()
		n.Text = r.str()
		at := r.bytes(r.uvarint())
		n.Version = r.uvarint()
		if r.err == nil {
			if err := n.WrittenAt.UnmarshalText(at); err != nil {
				r.err, r.b = err, nil
			}
		}
		return n
	})
}

// getStored reads the record at key into v (a pointer to a record type),
// in its binary form for the kinds that have one, else JSON; it reports
// false if key is absent.
func getStored(b *bolt.Bucket, key []byte, v any) (bool, error) {
	n, isNote := v.(*inspector.Note)
	if !isNote {
		return getJSON(b, key, v)
	}
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	got, err := decodeNote(string(key), raw)
	if err != nil {
		return true, err
	}
	*n = got
	return true, nil
}

// putStored writes record v at key: a note in its binary form, the rest
// as JSON.
func putStored(b *bolt.Bucket, key []byte, v any) error {
	n, isNote := v.(*inspector.Note)
	if !isNote {
		return putJSON(b, key, v)
	}
	raw, err := encodeNote(*n)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}
