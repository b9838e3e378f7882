// Package strictjson decodes the JSON that clients send, strictly: one value
// and nothing after it, no field the target does not take, no key given
// twice at any depth, field names in their exact letter case (encoding/json
// alone matches "USERNAME" to "username" and keeps the last of two equal
// keys), and text that is valid UTF-8 without control characters.
//
// Decode reads a plain body (known keys once, strings without escapes,
// whole numbers) in one pass straight into the target (fast.go). Anything
// else takes the careful path: it scans the bytes, guided by the target's
// type, and reports the first fault as an *Error naming where it is; then
// it decodes with encoding/json, whose own errors (syntax, wrong type) it
// returns unchanged. Both paths read a body to the same value. A push of
// plain notes reads in about a quarter of encoding/json's own time
// (BenchmarkPushDecodeStrict against BenchmarkPushDecodeStdlib).
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	stdsync "sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/favad/favad/inspector"
)

// Kind says what is wrong with a body.
type Kind string

// The faults Decode finds before encoding/json sees the body.
const (
	DuplicateKey     Kind = "duplicate_key"     // a key given twice in one object
	UnknownField     Kind = "unknown_field"     // a key the target does not take (Want names the field in another letter case, if there is one)
	InvalidUTF8      Kind = "invalid_utf8"      // a string that is not valid UTF-8, or escapes a lone UTF-16 surrogate
	ControlCharacter Kind = "control_character" // a string holding a control character other than tab and line breaks
)

// Error is a fault in a body, at Path: a dotted path like "caller.phone" or
// "mutations[2].kind" ("" for the body itself).
type Error struct {
	Kind Kind
	Path string
	// Want is the exact name of the field a wrongly-cased key stands for.
	Want string
	// Rune is the control character found.
	Rune rune
}

func (e *Error) Error() string {
	return fmt.Sprintf("json: %s at %q: %s", e.Kind, e.Path, e.Message())
}

// Message says what is wrong, for a client.
func (e *Error) Message() string {
	switch e.Kind {
	case DuplicateKey:
		return "this key is given more than once"
	case UnknownField:
		if e.Want != "" {
			return fmt.Sprintf("not a field of this request; names are case-sensitive: did you mean %q?", e.Want)
		}
		return "not a field of this request"
	case InvalidUTF8:
		return "the text is not valid UTF-8"
	case ControlCharacter:
		return fmt.Sprintf("the text holds the control character %U; only tab and line breaks are allowed", e.Rune)
	}
	return string(e.Kind)
}

// ErrTrailingData is returned when something follows the one JSON value.
var ErrTrailingData = errors.New("strictjson: data after the JSON value")

// Deferred is a JSON value kept as it was sent, like json.RawMessage, that
// Decode does not look into: whoever decodes it later must use Decode. A push
// keeps each mutation Deferred so that a fault in one is answered for that
// mutation alone. A json.RawMessage, by contrast, is checked for duplicate
// keys and its text, with no type to hold its field names to.
type Deferred []byte

// UnmarshalJSON keeps a copy of data.
func (d *Deferred) UnmarshalJSON(data []byte) error {
	*d = append((*d)[:0], data...)
	return nil
}

// MarshalJSON returns d, or null if d is empty.
func (d Deferred) MarshalJSON() ([]byte, error) {
	if len(d) == 0 {
		return []byte("null"), nil
	}
	return d, nil
}

// Decode reads exactly one JSON value from raw into v, strictly (see the
// package comment). It returns an *Error for a fault it names,
// ErrTrailingData, or encoding/json's error.
func Decode(raw []byte, v any) error {
	if decodeFast(raw, v) {
		return nil
	}
	return decodeCareful(raw, v)
}

// decodeCareful is Decode without the fast path.
func decodeCareful(raw []byte, v any) error {
	if err := Check(raw, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrTrailingData
	}
	return nil
}

// Check walks raw as a value of type t (nil: any JSON) and returns the
// first *Error it finds, or nil. JSON it cannot parse is left for
// encoding/json to report.
func Check(raw []byte, t reflect.Type) error {
	w := walker{raw: raw}
	var e *Error
	if errors.As(w.value(shapeOf(t)), &e) {
		return e
	}
	return nil
}

// fail names where the walk is in err, if err is an *Error.
func (w *walker) fail(err error) error {
	if e, ok := err.(*Error); ok && e.Path == "" {
		e.Path = w.render()
	}
	return err
}

// errSyntax stops a walk over JSON that does not parse.
var errSyntax = errors.New("syntax")

// walker scans raw bytes (encoding/json's Token allocates and reflects for
// every token, which made a push three times as costly to read). It is
// lenient: anything unexpected stops it with errSyntax, and encoding/json,
// which reads the whole body after it, reports the syntax error.
type walker struct {
	raw  []byte
	i    int
	path []segment // where the walk is, rendered only for an error
}

// segment is one step of a path: a key as sent (escaped), or an index.
type segment struct {
	key     []byte
	escaped bool
	index   int
}

func (w *walker) render() string {
	var b strings.Builder
	for _, s := range w.path {
		if s.key == nil {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(keyString(s.key, s.escaped))
	}
	return b.String()
}

func keyString(lit []byte, escaped bool) string {
	if !escaped {
		return string(lit)
	}
	var k string
	if json.Unmarshal(append(append([]byte{'"'}, lit...), '"'), &k) != nil {
		return string(lit)
	}
	return k
}

func (w *walker) ws() { w.i = SkipSpace(w.raw, w.i) }

// SkipSpace returns the index of the first byte at or after i in raw that
// is not JSON white space.
func SkipSpace(raw []byte, i int) int {
	for i < len(raw) {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (w *walker) value(sh *shape) error {
	w.ws()
	if w.i >= len(w.raw) {
		return errSyntax
	}
	if sh.kind == kindDeferred {
		return w.skip()
	}
	switch c := w.raw[w.i]; {
	case c == '{':
		return w.object(sh)
	case c == '[':
		return w.array(sh)
	case c == '"':
		_, err := w.text()
		return w.fail(err)
	default:
		for w.i < len(w.raw) && bytes.IndexByte([]byte("+-.0123456789Eaeflnrstu"), w.raw[w.i]) >= 0 {
			w.i++ // a number or a literal: encoding/json checks which
		}
	}
	return nil
}

// text reads a string at w.i, checks its text, and returns its literal (as
// sent, without quotes) and whether it has escapes.
func (w *walker) text() (segment, error) {
	start, escaped := w.i+1, false
	for w.i++; w.i < len(w.raw); w.i++ {
		switch c := w.raw[w.i]; {
		case c == '"':
			lit := w.raw[start:w.i]
			w.i++
			return segment{key: lit, escaped: escaped}, checkLiteral(lit, escaped)
		case c == '\\':
			escaped = true
			w.i++
		case c < 0x20:
			return segment{}, errSyntax
		}
	}
	return segment{}, errSyntax
}

// checkLiteral checks a string literal: valid UTF-8, no lone surrogate, no
// control character (see inspector.ControlRune).
func checkLiteral(lit []byte, escaped bool) error {
	if !utf8.Valid(lit) {
		return &Error{Kind: InvalidUTF8}
	}
	if !escaped {
		for _, c := range lit {
			if c == 0x7f || c == 0xc2 { // DEL, or the lead byte of a C1 control: look closer
				return checkString(string(lit))
			}
		}
		return nil // tab, LF and CR can only be escaped
	}
	if loneSurrogate(lit) {
		return &Error{Kind: InvalidUTF8}
	}
	return checkString(keyString(lit, true))
}

func checkString(s string) error {
	if r, bad := inspector.ControlRune(s); bad {
		return &Error{Kind: ControlCharacter, Rune: r}
	}
	return nil
}

func (w *walker) object(sh *shape) error {
	w.i++             // {
	var seen [][]byte // keys so far, decoded
	depth := len(w.path)
	w.path = append(w.path, segment{})
	defer func() { w.path = w.path[:depth] }()
	for n := 0; ; n++ {
		if done, err := w.member('}', n); done || err != nil {
			return err
		}
		w.ws()
		if w.i >= len(w.raw) || w.raw[w.i] != '"' {
			return errSyntax
		}
		seg, err := w.text()
		w.path[depth] = seg
		if err != nil {
			return w.fail(err)
		}
		key := seg.key
		if seg.escaped {
			key = []byte(keyString(seg.key, true))
		}
		for _, k := range seen {
			if bytes.Equal(k, key) {
				return w.fail(&Error{Kind: DuplicateKey})
			}
		}
		seen = append(seen, key)
		elem := anyShape
		switch sh.kind {
		case kindStruct:
			f, ok := sh.fields[string(key)]
			if !ok {
				e := &Error{Kind: UnknownField}
				for name := range sh.fields {
					if strings.EqualFold(name, string(key)) {
						e.Want = name
					}
				}
				return w.fail(e)
			}
			elem = shapeOf(f)
		case kindMap:
			elem = shapeOf(sh.elem)
		}
		w.ws()
		if w.i >= len(w.raw) || w.raw[w.i] != ':' {
			return errSyntax
		}
		w.i++
		if err := w.value(elem); err != nil {
			return err
		}
	}
}

func (w *walker) array(sh *shape) error {
	w.i++ // [
	elem := anyShape
	if sh.kind == kindSlice {
		elem = shapeOf(sh.elem)
	}
	depth := len(w.path)
	w.path = append(w.path, segment{})
	defer func() { w.path = w.path[:depth] }()
	for n := 0; ; n++ {
		if done, err := w.member(']', n); done || err != nil {
			return err
		}
		w.path[depth] = segment{index: n}
		if err := w.value(elem); err != nil {
			return err
		}
	}
}

// member steps to the n-th member of an object or array: it passes the
// white space and, before any member but the first, the comma. done reports
// that the closing bracket came instead; it is passed too.
func (w *walker) member(closing byte, n int) (done bool, err error) {
	w.ws()
	if w.i >= len(w.raw) {
		return false, errSyntax
	}
	if w.raw[w.i] == closing {
		w.i++
		return true, nil
	}
	if n > 0 {
		if w.raw[w.i] != ',' {
			return false, errSyntax
		}
		w.i++
	}
	return false, nil
}

// skip passes over a value without looking into it.
func (w *walker) skip() error {
	depth := 0
	for w.i < len(w.raw) {
		switch w.raw[w.i] {
		case '"':
			for w.i++; w.i < len(w.raw) && w.raw[w.i] != '"'; w.i++ {
				if w.raw[w.i] == '\\' {
					w.i++
				}
			}
			w.i++ // the closing quote
			if depth == 0 {
				return nil
			}
		case '{', '[':
			depth++
			w.i++
		case '}', ']':
			if depth == 0 {
				return nil // the end of the enclosing value: a number or literal ended here
			}
			depth--
			w.i++
			if depth == 0 {
				return nil
			}
		case ',':
			if depth == 0 {
				return nil
			}
			w.i++
		default:
			w.i++
		}
	}
	return nil
}

// loneSurrogate reports whether a string literal escapes half a UTF-16
// surrogate pair (\ud800 alone), which encoding/json turns into U+FFFD.
func loneSurrogate(lit []byte) bool {
	hex := func(i int) rune {
		if i+4 > len(lit) {
			return -1
		}
		n, err := strconv.ParseUint(string(lit[i:i+4]), 16, 16)
		if err != nil {
			return -1
		}
		return rune(n)
	}
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' {
			continue
		}
		i++
		if i >= len(lit) || lit[i] != 'u' {
			continue
		}
		r := hex(i + 1)
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+2 >= len(lit) || lit[i+1] != '\\' || lit[i+2] != 'u' {
				return true
			}
			if lo := hex(i + 3); lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

type kind int

const (
	kindAny      kind = iota // any JSON: keys must not repeat
	kindDeferred             // not looked into
	kindStruct
	kindMap
	kindSlice
)

// shape is what a walk knows of a Go type.
type shape struct {
	kind   kind
	elem   reflect.Type            // a map's or slice's element
	fields map[string]reflect.Type // a struct's fields by exact JSON name
}

var (
	shapes          stdsync.Map // reflect.Type → *shape
	anyShape        = &shape{kind: kindAny}
	deferredType    = reflect.TypeFor[Deferred]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

func shapeOf(t reflect.Type) *shape {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return anyShape
	}
	if s, ok := shapes.Load(t); ok {
		return s.(*shape)
	}
	s := anyShape
	switch {
	case t == deferredType:
		s = &shape{kind: kindDeferred}
	case t == rawMessageType, reflect.PointerTo(t).Implements(unmarshalerType):
		// any JSON (time.Time and the like check their own content)
	case t.Kind() == reflect.Struct:
		s = &shape{kind: kindStruct, fields: map[string]reflect.Type{}}
		addFields(s.fields, t)
	case t.Kind() == reflect.Map:
		s = &shape{kind: kindMap, elem: t.Elem()}
	case t.Kind() == reflect.Slice, t.Kind() == reflect.Array:
		s = &shape{kind: kindSlice, elem: t.Elem()}
	}
	shapes.Store(t, s)
	return s
}

// addFields adds the JSON names of t's fields, as encoding/json sees them
// (embedded structs without a name are flattened).
func addFields(into map[string]reflect.Type, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _ := tagName(tag)
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(into, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
}

// tagName splits a json struct tag into its name and options; a name that
// encoding/json does not take as one (see isValidTag) is "", so that the
// field goes by its Go name, as it does there.
func tagName(tag string) (name, opts string) {
	name, opts, _ = strings.Cut(tag, ",")
	if !isValidTag(name) {
		name = ""
	}
	return name, opts
}

// isValidTag is encoding/json's rule for a tag's name: letters, digits and
// the punctuation below, not empty.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
			// Backslash and quote are reserved; other punctuation is allowed.
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// FieldFault names, in an API's words, the field at fault in err, an error
// of decoding a value found at path ("" at the top): a value of the wrong
// type or out of range (TypeFault, on the field encoding/json names under
// path) or a time not in RFC 3339 (on path). It is false for anything else.
func FieldFault(path string, err error) (inspector.FieldError, bool) {
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &typeErr):
		field := path
		if typeErr.Field != "" {
			field = strings.TrimPrefix(path+"."+typeErr.Field, ".")
		}
		code, message := TypeFault(typeErr)
		return inspector.FieldError{Field: field, Code: code, Message: message}, true
	case errors.As(err, &timeErr):
		return inspector.FieldError{Field: path, Code: "wrong_type", Message: fmt.Sprintf("%q is not an RFC 3339 time", timeErr.Value)}, true
	}
	return inspector.FieldError{}, false
}

// TypeFault says what encoding/json could not put in a field, in an API's
// words rather than its message (which names Go types and struct fields):
// a number that is not whole, or outside the field's range, is
// "not_an_integer" or "out_of_range" with the range; anything else is
// "wrong_type" with the JSON type the field takes.
func TypeFault(e *json.UnmarshalTypeError) (code, message string) {
	kind := e.Type.Kind()
	var lo, hi string
	switch kind {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := e.Type.Bits()
		lo, hi = strconv.FormatInt(-1<<(bits-1), 10), strconv.FormatInt(1<<(bits-1)-1, 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		lo, hi = "0", strconv.FormatUint(1<<e.Type.Bits()-1, 10)
	case reflect.Float32, reflect.Float64:
		if strings.HasPrefix(e.Value, "number ") { // a number too large for any float
			return "out_of_range", "a number within the field's range"
		}
	}
	if lit, ok := strings.CutPrefix(e.Value, "number "); ok && hi != "" {
		if strings.ContainsAny(lit, ".eE") {
			return "not_an_integer", "a whole number, written without a decimal point or exponent"
		}
		if lo != "0" {
			return "out_of_range", fmt.Sprintf("a whole number from %s to %s", lo, hi)
		}
		if strings.HasPrefix(lit, "-") { // unsigned: the API's own bound, if lower, is checked later
			return "out_of_range", "a whole number, at least 0"
		}
		return "out_of_range", "a whole number, at most " + hi
	}
	return "wrong_type", "expected " + jsonType(kind)
}

func jsonType(kind reflect.Kind) string {
	switch kind {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	}
	return kind.String()
}
