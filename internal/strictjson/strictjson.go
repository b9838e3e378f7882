// Package strictjson decodes the JSON that clients send, strictly: one value
// and nothing after it, no field the target does not take, no key given
// twice at any depth, field names in their exact letter case (encoding/json
// alone matches "USERNAME" to "username" and keeps the last of two equal
// keys), and text that is valid UTF-8 without control characters.
//
// Decode first walks the tokens, guided by the target's type, and reports
// the first such fault as an *Error naming where it is; then it decodes with
// encoding/json, whose own errors (syntax, wrong type) it returns unchanged.
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
	w := walker{raw: raw, dec: json.NewDecoder(bytes.NewReader(raw))}
	w.dec.UseNumber()
	err := w.value(t, "")
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// errSyntax stops a walk over JSON that does not parse.
var errSyntax = errors.New("syntax")

type walker struct {
	raw []byte
	dec *json.Decoder
}

// token reads the next token and the raw bytes it came from.
func (w *walker) token() (json.Token, []byte, error) {
	before := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, nil, errSyntax
	}
	return tok, w.raw[before:w.dec.InputOffset()], nil
}

func (w *walker) value(t reflect.Type, path string) error {
	tok, src, err := w.token()
	if err != nil {
		return err
	}
	return w.valueFrom(tok, src, t, path)
}

func (w *walker) valueFrom(tok json.Token, src []byte, t reflect.Type, path string) error {
	shape := shapeOf(t)
	if shape.kind == kindDeferred {
		return w.skip(tok)
	}
	switch x := tok.(type) {
	case json.Delim:
		if x == '{' {
			return w.object(shape, path)
		}
		if x == '[' {
			return w.array(shape, path)
		}
		return errSyntax
	case string:
		return checkText(x, src, path)
	}
	return nil
}

func (w *walker) object(shape *shape, path string) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, src, err := w.token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errSyntax
		}
		at := join(path, key)
		if err := checkText(key, src, at); err != nil {
			return err
		}
		if seen[key] {
			return &Error{Kind: DuplicateKey, Path: at}
		}
		seen[key] = true
		var elem reflect.Type
		switch shape.kind {
		case kindStruct:
			f, ok := shape.fields[key]
			if !ok {
				e := &Error{Kind: UnknownField, Path: at}
				for name := range shape.fields {
					if strings.EqualFold(name, key) {
						e.Want = name
					}
				}
				return e
			}
			elem = f
		case kindMap:
			elem = shape.elem
		}
		if err := w.value(elem, at); err != nil {
			return err
		}
	}
	_, _, err := w.token() // '}'
	return err
}

func (w *walker) array(shape *shape, path string) error {
	var elem reflect.Type
	if shape.kind == kindSlice {
		elem = shape.elem
	}
	for i := 0; w.dec.More(); i++ {
		if err := w.value(elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	_, _, err := w.token() // ']'
	return err
}

// skip passes over the rest of a value that began with tok.
func (w *walker) skip(tok json.Token) error {
	depth := 0
	for {
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, _, err = w.token(); err != nil {
			return err
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// checkText checks a string token: src holds its literal as sent (after
// any separator), s its decoded value.
func checkText(s string, src []byte, path string) error {
	lit := src[bytes.IndexByte(src, '"')+1 : len(src)-1]
	if !utf8.Valid(lit) || loneSurrogate(lit) {
		return &Error{Kind: InvalidUTF8, Path: path}
	}
	if r, bad := inspector.ControlRune(s); bad {
		return &Error{Kind: ControlCharacter, Path: path, Rune: r}
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
		name, _, _ := strings.Cut(tag, ",")
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
