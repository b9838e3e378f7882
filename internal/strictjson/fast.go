package strictjson

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"time"
)

// The fast path.
//
// Most bodies are what a well-behaved client sends: every key known and
// given once, strings without escapes, whole numbers. decodeFast reads
// such a body in one pass straight into the target, and declines anything
// else (an escape, null, a float, a key it does not know, a type it does not
// handle), leaving it to the careful path (Check, then encoding/json), which
// gives the same value or names the fault. It accepts only what the careful
// path accepts, and reads it to the same value: a property test and a fuzz
// test hold it to that.

// maxFastDepth is how deep the fast path goes before it declines.
const maxFastDepth = 64

// decodeFast decodes raw into v (a pointer to a zero value) and reports
// whether it could; when it could not, v is untouched.
func decodeFast(raw []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	target := rv.Elem()
	p := fastPlanOf(target.Type())
	if p == nil || !target.IsZero() {
		return false // encoding/json merges into what is there: the careful path does that
	}
	fresh := reflect.New(target.Type()).Elem()
	d := fastDecoder{raw: raw}
	if !d.value(p, fresh, 0) {
		return false
	}
	d.ws()
	if d.i != len(raw) {
		return false
	}
	target.Set(fresh)
	return true
}

type fastKind int

const (
	fastString fastKind = iota
	fastBool
	fastInt
	fastUint
	fastTime
	fastDeferred
	fastStruct
	fastSlice
	fastPointer
)

// fastPlan is how the fast path reads a Go type.
type fastPlan struct {
	kind   fastKind
	fields []fastField // a struct's
	elem   *fastPlan   // a slice's or pointer's
}

type fastField struct {
	name  string
	index int
	plan  *fastPlan
}

// maxFastFields is the most fields a struct the fast path reads may have
// (it tells a key given twice by a bit each).
const maxFastFields = 64

var (
	fastPlans           stdsync.Map // reflect.Type → *fastPlan, nil when the fast path does not read it
	timeType            = reflect.TypeFor[time.Time]()
	numberType          = reflect.TypeFor[json.Number]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// fastPlanOf returns t's plan, or nil when the fast path does not read t.
func fastPlanOf(t reflect.Type) *fastPlan {
	if p, ok := fastPlans.Load(t); ok {
		return p.(*fastPlan)
	}
	p := buildFastPlan(t, map[reflect.Type]bool{})
	fastPlans.Store(t, p)
	return p
}

func buildFastPlan(t reflect.Type, building map[reflect.Type]bool) *fastPlan {
	if building[t] {
		return nil // a recursive type: the careful path
	}
	building[t] = true
	defer delete(building, t)
	switch {
	case t == timeType:
		return &fastPlan{kind: fastTime}
	case t == deferredType:
		return &fastPlan{kind: fastDeferred}
	case t == numberType:
		return nil // a string that must be a number
	case reflect.PointerTo(t).Implements(unmarshalerType), reflect.PointerTo(t).Implements(textUnmarshalerType):
		return nil // its own reading
	}
	switch t.Kind() {
	case reflect.String:
		return &fastPlan{kind: fastString}
	case reflect.Bool:
		return &fastPlan{kind: fastBool}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &fastPlan{kind: fastInt}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &fastPlan{kind: fastUint}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte is base64 to encoding/json
		}
		if elem := buildFastPlan(t.Elem(), building); elem != nil {
			return &fastPlan{kind: fastSlice, elem: elem}
		}
	case reflect.Pointer:
		if elem := buildFastPlan(t.Elem(), building); elem != nil {
			return &fastPlan{kind: fastPointer, elem: elem}
		}
	case reflect.Struct:
		return buildStructPlan(t, building)
	}
	return nil
}

func buildStructPlan(t reflect.Type, building map[reflect.Type]bool) *fastPlan {
	p := &fastPlan{kind: fastStruct}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil // embedded fields: encoding/json's rules for them are the careful path's
		}
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts := tagName(tag)
		for opt := range strings.SplitSeq(opts, ",") {
			if opt != "" && opt != "omitempty" && opt != "omitzero" {
				return nil // ",string" and the like
			}
		}
		if name == "" {
			name = f.Name
		}
		elem := buildFastPlan(f.Type, building)
		if elem == nil || slices.ContainsFunc(p.fields, func(g fastField) bool { return g.name == name }) {
			return nil
		}
		p.fields = append(p.fields, fastField{name: name, index: i, plan: elem})
	}
	if len(p.fields) > maxFastFields {
		return nil
	}
	return p
}

// fastDecoder reads raw from i.
type fastDecoder struct {
	raw []byte
	i   int
}

func (d *fastDecoder) ws() { d.i = SkipSpace(d.raw, d.i) }

// next returns the byte after any space and moves past it; 0 at the end.
func (d *fastDecoder) next() byte {
	d.ws()
	if d.i >= len(d.raw) {
		return 0
	}
	d.i++
	return d.raw[d.i-1]
}

// peek returns the byte after any space without moving past it; 0 at the end.
func (d *fastDecoder) peek() byte {
	d.ws()
	if d.i >= len(d.raw) {
		return 0
	}
	return d.raw[d.i]
}

func (d *fastDecoder) value(p *fastPlan, v reflect.Value, depth int) bool {
	if depth > maxFastDepth {
		return false
	}
	switch p.kind {
	case fastString:
		lit, ok := d.plainString()
		if ok {
			v.SetString(string(lit))
		}
		return ok
	case fastBool:
		switch {
		case d.literal("true"):
			v.SetBool(true)
		case d.literal("false"):
		default:
			return false
		}
		return true
	case fastInt, fastUint:
		lit, ok := d.integer()
		return ok && setInteger(v, lit, p.kind == fastUint)
	case fastTime:
		d.ws()
		start := d.i
		if _, ok := d.plainString(); !ok {
			return false
		}
		return v.Addr().Interface().(*time.Time).UnmarshalJSON(d.raw[start:d.i]) == nil
	case fastDeferred:
		d.ws()
		start := d.i
		if !d.skip(depth) {
			return false
		}
		v.SetBytes(slices.Clone(d.raw[start:d.i]))
		return true
	case fastStruct:
		return d.object(p, v, depth)
	case fastSlice:
		return d.array(p, v, depth)
	case fastPointer:
		if d.peek() == 'n' {
			return false // null
		}
		elem := reflect.New(v.Type().Elem())
		if !d.value(p.elem, elem.Elem(), depth+1) {
			return false
		}
		v.Set(elem)
		return true
	}
	return false
}

func (d *fastDecoder) object(p *fastPlan, v reflect.Value, depth int) bool {
	if d.next() != '{' {
		return false
	}
	if d.peek() == '}' {
		d.i++
		return true
	}
	var seen uint64
	for {
		key, ok := d.plainString()
		if !ok {
			return false
		}
		f := -1
		for j := range p.fields {
			if p.fields[j].name == string(key) {
				f = j
				break
			}
		}
		if f < 0 || seen&(1<<f) != 0 {
			return false // unknown, or given twice
		}
		seen |= 1 << f
		if d.next() != ':' {
			return false
		}
		if !d.value(p.fields[f].plan, v.Field(p.fields[f].index), depth+1) {
			return false
		}
		switch d.next() {
		case ',':
		case '}':
			return true
		default:
			return false
		}
	}
}

func (d *fastDecoder) array(p *fastPlan, v reflect.Value, depth int) bool {
	if d.next() != '[' {
		return false
	}
	out := reflect.MakeSlice(v.Type(), 0, 0) // [] is an empty slice, not nil, as encoding/json reads it
	if d.peek() == ']' {
		d.i++
		v.Set(out)
		return true
	}
	for {
		elem := reflect.New(v.Type().Elem()).Elem()
		if !d.value(p.elem, elem, depth+1) {
			return false
		}
		out = reflect.Append(out, elem)
		switch d.next() {
		case ',':
		case ']':
			v.Set(out)
			return true
		default:
			return false
		}
	}
}

// setInteger sets v to the whole number lit, as encoding/json does: what
// does not fit v's kind (or a negative number for an unsigned one) is left
// to the careful path.
func setInteger(v reflect.Value, lit []byte, unsigned bool) bool {
	if unsigned {
		n, err := strconv.ParseUint(string(lit), 10, 64)
		if err != nil || v.OverflowUint(n) {
			return false // "-0" too: ParseUint refuses a sign
		}
		v.SetUint(n)
		return true
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil || v.OverflowInt(n) {
		return false
	}
	v.SetInt(n)
	return true
}

func (d *fastDecoder) literal(word string) bool {
	d.ws()
	if !strings.HasPrefix(string(d.raw[d.i:min(d.i+len(word), len(d.raw))]), word) {
		return false
	}
	d.i += len(word)
	return true
}

// plainString reads a string without escapes whose text passes Check, and
// returns it without its quotes.
func (d *fastDecoder) plainString() ([]byte, bool) {
	if d.next() != '"' {
		return nil, false
	}
	start := d.i
	for ; d.i < len(d.raw); d.i++ {
		switch c := d.raw[d.i]; {
		case c == '"':
			lit := d.raw[start:d.i]
			d.i++
			return lit, checkLiteral(lit, false) == nil
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// integer reads a JSON number that is a whole number: -?(0|[1-9][0-9]*),
// with no fraction or exponent.
func (d *fastDecoder) integer() ([]byte, bool) {
	d.ws()
	start := d.i
	if d.i < len(d.raw) && d.raw[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.raw) && d.raw[d.i] >= '0' && d.raw[d.i] <= '9' {
		d.i++
	}
	switch n := d.i - digits; {
	case n == 0, n > 1 && d.raw[digits] == '0':
		return nil, false
	}
	if d.i < len(d.raw) && (d.raw[d.i] == '.' || d.raw[d.i] == 'e' || d.raw[d.i] == 'E') {
		return nil, false
	}
	return d.raw[start:d.i], true
}

// skip moves past one JSON value of any kind, checking its syntax exactly
// as encoding/json does (it says nothing of its text, as Check says
// nothing of a Deferred's).
func (d *fastDecoder) skip(depth int) bool {
	if depth > maxFastDepth {
		return false
	}
	switch d.peek() {
	case '{':
		d.i++
		if d.peek() == '}' {
			d.i++
			return true
		}
		for {
			if d.peek() != '"' || !d.skipString() || d.next() != ':' || !d.skip(depth+1) {
				return false
			}
			switch d.next() {
			case ',':
			case '}':
				return true
			default:
				return false
			}
		}
	case '[':
		d.i++
		if d.peek() == ']' {
			d.i++
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			switch d.next() {
			case ',':
			case ']':
				return true
			default:
				return false
			}
		}
	case '"':
		return d.skipString()
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return d.skipNumber()
}

// skipString moves past a string at i, escapes and all.
func (d *fastDecoder) skipString() bool {
	for d.i++; d.i < len(d.raw); d.i++ {
		switch c := d.raw[d.i]; {
		case c == '"':
			d.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			d.i++
			if d.i >= len(d.raw) {
				return false
			}
			switch d.raw[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if d.i+4 >= len(d.raw) {
					return false
				}
				for _, h := range d.raw[d.i+1 : d.i+5] {
					if !isHex(h) {
						return false
					}
				}
				d.i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// skipNumber moves past a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *fastDecoder) skipNumber() bool {
	digits := func() int {
		n := 0
		for d.i < len(d.raw) && d.raw[d.i] >= '0' && d.raw[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.raw) && d.raw[d.i] == '-' {
		d.i++
	}
	start := d.i
	if n := digits(); n == 0 || n > 1 && d.raw[start] == '0' {
		return false
	}
	if d.i < len(d.raw) && d.raw[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if d.i < len(d.raw) && (d.raw[d.i] == 'e' || d.raw[d.i] == 'E') {
		d.i++
		if d.i < len(d.raw) && (d.raw[d.i] == '+' || d.raw[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
