package sync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/favad/favad/internal/strictjson"
)

// mutationHash identifies a mutation's content, so that a replay can be told
// from a different mutation reusing a key: the SHA-256 of the canonical JSON
// that mutationHashSlow builds (payload keys sorted, numbers as float64).
// Stored answers keep that digest, so it may never change. canonicalContent
// writes the same bytes in one pass over the payload for the JSON phones
// send (plain strings, whole numbers); for anything else it declines, and
// the digest comes from mutationHashSlow.
func mutationHash(m Mutation) string {
	hash, _ := hashContent(m)
	return hash
}

// hashContent is mutationHash(m), and whether the one pass read m's
// payload as JSON whole (then it is valid JSON).
func hashContent(m Mutation) (hash string, payloadRead bool) {
	buf := make([]byte, 0, 96+len(m.Kind)+len(m.RecordID)+len(m.Payload))
	canon, ok, read := canonicalContent(buf, m)
	if !ok {
		return mutationHashSlow(m), false
	}
	h := sha256.Sum256(canon)
	return hex.EncodeToString(h[:]), read
}

// mutationHashSlow is the digest's definition: the payload decoded into
// maps and encoded again by encoding/json.
func mutationHashSlow(m Mutation) string {
	var payload any
	_ = json.Unmarshal(m.Payload, &payload)
	canon, _ := json.Marshal(struct {
		Kind, Record string
		Base         uint64
		Payload      any
	}{m.Kind, m.RecordID, m.BaseVersion, payload})
	h := sha256.Sum256(canon)
	return hex.EncodeToString(h[:])
}

// canonicalContent appends to dst what json.Marshal writes for
// mutationHashSlow's struct, or says it cannot (ok false); read says the
// payload was read whole as JSON, so it is valid JSON.
func canonicalContent(dst []byte, m Mutation) (out []byte, ok, read bool) {
	if !plainString(m.Kind) || !plainString(m.RecordID) {
		return nil, false, false
	}
	dst = append(dst, `{"Kind":"`...)
	dst = append(dst, m.Kind...)
	dst = append(dst, `","Record":"`...)
	dst = append(dst, m.RecordID...)
	dst = append(dst, `","Base":`...)
	dst = strconv.AppendUint(dst, m.BaseVersion, 10)
	dst = append(dst, `,"Payload":`...)
	c := canonWriter{src: m.Payload, out: dst}
	if c.value(0) {
		c.skipSpace()
		if c.pos == len(c.src) {
			return append(c.out, '}'), true, true
		}
	}
	if !json.Valid(m.Payload) {
		// Unmarshal refuses it whole (an empty payload too): null.
		return append(dst, "null}"...), true, false
	}
	return nil, false, false
}

// maxCanonDepth is how deep canonWriter goes before it leaves the payload
// to encoding/json; phones' payloads are two or three levels deep.
const maxCanonDepth = 32

// canonWriter re-encodes a valid JSON value the way encoding/json encodes
// it after decoding into any, when that is a plain copy: strings with no
// escape and nothing Marshal would escape, integers of at most 15 digits
// (exact in a float64, printed as they came), objects without a key given
// twice. Anything else makes it decline.
type canonWriter struct {
	src []byte
	pos int
	out []byte
}

func (c *canonWriter) skipSpace() { c.pos = strictjson.SkipSpace(c.src, c.pos) }

// value copies the value at pos; it declines anything that is not JSON.
func (c *canonWriter) value(depth int) bool {
	if depth > maxCanonDepth {
		return false
	}
	c.skipSpace()
	if c.pos >= len(c.src) {
		return false
	}
	switch b := c.src[c.pos]; {
	case b == '"':
		s, ok := c.str()
		c.out = append(c.out, '"')
		c.out = append(c.out, s...)
		c.out = append(c.out, '"')
		return ok
	case b == '{':
		return c.object(depth)
	case b == '[':
		return c.array(depth)
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	default:
		return c.number()
	}
}

func (c *canonWriter) literal(word string) bool {
	if !bytes.HasPrefix(c.src[c.pos:], []byte(word)) {
		return false
	}
	c.pos += len(word)
	c.out = append(c.out, word...)
	return true
}

// str reads the string at pos and returns its bytes between the quotes,
// if they are a plain copy (plainBytes).
func (c *canonWriter) str() ([]byte, bool) {
	if c.pos >= len(c.src) || c.src[c.pos] != '"' {
		return nil, false
	}
	start := c.pos + 1
	end := bytes.IndexByte(c.src[start:], '"')
	if end < 0 {
		return nil, false
	}
	s := c.src[start : start+end]
	c.pos = start + end + 1
	return s, plainBytes(s)
}

// number copies an integer of at most 15 digits; a fraction, an exponent
// or more digits change on their way through a float64.
func (c *canonWriter) number() bool {
	start := c.pos
	if c.pos < len(c.src) && c.src[c.pos] == '-' {
		c.pos++
	}
	digits := 0
	for c.pos < len(c.src) && c.src[c.pos] >= '0' && c.src[c.pos] <= '9' {
		c.pos++
		digits++
	}
	if digits == 0 || digits > 15 || digits > 1 && c.src[c.pos-digits] == '0' {
		return false // no number, too long, or a leading zero (not JSON)
	}
	if c.pos < len(c.src) {
		switch c.src[c.pos] {
		case '.', 'e', 'E':
			return false
		}
	}
	c.out = append(c.out, c.src[start:c.pos]...)
	return true
}

// next returns the byte after any space at pos and moves past it; 0 at the
// end of the input.
func (c *canonWriter) next() byte {
	c.skipSpace()
	if c.pos >= len(c.src) {
		return 0
	}
	c.pos++
	return c.src[c.pos-1]
}

func (c *canonWriter) array(depth int) bool {
	c.pos++ // [
	c.out = append(c.out, '[')
	c.skipSpace()
	if c.pos < len(c.src) && c.src[c.pos] == ']' {
		c.pos++
		c.out = append(c.out, ']')
		return true
	}
	for {
		if !c.value(depth + 1) {
			return false
		}
		switch c.next() {
		case ']':
			c.out = append(c.out, ']')
			return true
		case ',':
			c.out = append(c.out, ',')
		default:
			return false
		}
	}
}

// object writes an object's members ordered by key, as Marshal writes a
// map. They are written as they come; when their keys were not in order
// (phones' JSON mostly has them in order), they are put in order after.
func (c *canonWriter) object(depth int) bool {
	c.pos++ // {
	c.out = append(c.out, '{')
	c.skipSpace()
	if c.pos < len(c.src) && c.src[c.pos] == '}' {
		c.pos++
		c.out = append(c.out, '}')
		return true
	}
	type member struct {
		key        []byte
		start, end int // the member's encoding in out
	}
	var stack [8]member
	members, inOrder := stack[:0], true
	base := len(c.out)
	for {
		c.skipSpace()
		key, ok := c.str()
		if !ok || c.next() != ':' {
			return false
		}
		if n := len(members); n > 0 {
			c.out = append(c.out, ',')
			inOrder = inOrder && bytes.Compare(members[n-1].key, key) < 0
		}
		start := len(c.out)
		c.out = append(c.out, '"')
		c.out = append(c.out, key...)
		c.out = append(c.out, `":`...)
		if !c.value(depth + 1) {
			return false
		}
		members = append(members, member{key: key, start: start, end: len(c.out)})
		b := c.next()
		if b == '}' {
			break
		}
		if b != ',' {
			return false
		}
	}
	if !inOrder {
		slices.SortFunc(members, func(a, b member) int { return bytes.Compare(a.key, b.key) })
		for i := 1; i < len(members); i++ {
			if bytes.Equal(members[i-1].key, members[i].key) {
				return false // a map keeps the last of two equal keys: leave it to encoding/json
			}
		}
		sorted := make([]byte, 0, len(c.out)-base)
		for i, m := range members {
			if i > 0 {
				sorted = append(sorted, ',')
			}
			sorted = append(sorted, c.out[m.start:m.end]...)
		}
		c.out = append(c.out[:base], sorted...)
	}
	c.out = append(c.out, '}')
	return true
}

// plainString reports whether encoding/json writes s between quotes as it
// is (plainBytes).
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			return false
		}
	}
	return utf8.ValidString(s) && !hasLineSeparators(s)
}

// plainBytes reports whether s, a JSON string's text between its quotes, is
// what json.Marshal writes for the string it stands for: no escape, no
// character Marshal escapes (<, >, &, U+2028, U+2029), valid UTF-8.
func plainBytes(s []byte) bool {
	for _, b := range s {
		if !plainByte(b) {
			return false
		}
	}
	return utf8.Valid(s) && !hasLineSeparators(string(s))
}

func plainByte(b byte) bool { return !marshalEscapes[b] }

// marshalEscapes marks the bytes a plain string may not hold: control
// characters, the quote and backslash, and what Marshal escapes for HTML.
var marshalEscapes = func() (t [256]bool) {
	for b := range 0x20 {
		t[b] = true
	}
	for _, b := range []byte{'\\', '"', '<', '>', '&'} {
		t[b] = true
	}
	return t
}()

// hasLineSeparators reports U+2028 or U+2029 (E2 80 A8, E2 80 A9), which
// Marshal escapes for JavaScript's sake.
func hasLineSeparators(s string) bool {
	for {
		i := strings.IndexByte(s, 0xE2)
		if i < 0 || i+2 >= len(s) {
			return false
		}
		if s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
			return true
		}
		s = s[i+1:]
	}
}
