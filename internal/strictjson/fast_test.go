package strictjson

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

type fastInner struct {
	WallMs  int64  `json:"wall_ms"`
	Logical uint32 `json:"logical"`
}

type fastOutcome string

// fastTarget has a field of every kind the fast path reads.
type fastTarget struct {
	ID       string      `json:"id"`
	Seq      uint64      `json:"seq"`
	N        int         `json:"n"`
	Small    int8        `json:"small"`
	Flag     bool        `json:"flag"`
	When     time.Time   `json:"when"`
	Inner    fastInner   `json:"inner"`
	Ptr      *fastInner  `json:"ptr"`
	List     []fastInner `json:"list"`
	Tags     []string    `json:"tags,omitempty"`
	Outcome  fastOutcome `json:"outcome,omitempty"`
	Payload  Deferred    `json:"payload"`
	Untagged string
	//lint:ignore U1000 an unexported field, which both paths leave alone
	hidden string
}

// drawFastJSON draws JSON text for a value of type t: mostly what the fast
// path reads, now and then something it must leave to the careful path
// (escapes, null, floats, big numbers, unknown or repeated keys, keys in
// another case, bad text, broken syntax).
func drawFastJSON(t *rapid.T, typ reflect.Type, label string, depth int) string {
	if rapid.IntRange(0, 24).Draw(t, label+"?") == 0 {
		return rapid.SampledFrom([]string{`null`, `1.5`, `-1`, `1e2`, `"x\"y"`, `"\u0041"`, "\"\x7f\"", "\"\xff\"", `"a\u0000"`,
			`18446744073709551616`, `300`, `"2026-13-01T00:00:00Z"`, `{}`, `[]`, `true`, `"`, `{`, `[1,]`, `01`, `-`, ``, `"\ud800"`}).Draw(t, label+"odd")
	}
	switch {
	case typ == timeType:
		return `"` + rapid.SampledFrom([]string{"2026-12-04T10:00:00Z", "2026-12-04T10:00:00+03:30", "2026-12-04T10:00:00.123456789-01:00"}).Draw(t, label) + `"`
	case typ == deferredType:
		if depth > 2 {
			return `{}`
		}
		return rapid.SampledFrom([]string{`{"a":1}`, `{"a":"\u00e9\n","a":[1,2.5e3,true,null]}`, `[]`, `"x"`, `null`, ` { "b" : { } } `, `-0.0`, `"\ud83d\ude00"`}).Draw(t, label)
	}
	switch typ.Kind() {
	case reflect.String:
		return `"` + rapid.SampledFrom([]string{"", "a", "note.create", "مدیر شعبه حاضر نبود؛ ۱۲", "0193d1c8-0000-7000-8000-000000000001", "tab\ttab", "é\U0001F600", "<&>", "\u2028"}).Draw(t, label) + `"`
	case reflect.Bool:
		return rapid.SampledFrom([]string{"true", "false"}).Draw(t, label)
	case reflect.Int, reflect.Int8, reflect.Int64, reflect.Uint32, reflect.Uint64:
		return rapid.SampledFrom([]string{"0", "1", "42", "-7", "127", "-128", "128", "4294967295", "4294967296", "9223372036854775807", "-0"}).Draw(t, label)
	case reflect.Pointer:
		return drawFastJSON(t, typ.Elem(), label+"*", depth+1)
	case reflect.Slice:
		n := rapid.IntRange(0, 3).Draw(t, label+"#")
		items := make([]string, n)
		for i := range items {
			items[i] = drawFastJSON(t, typ.Elem(), label+"["+strconv.Itoa(i)+"]", depth+1)
		}
		return "[" + strings.Join(items, rapid.SampledFrom([]string{",", " , "}).Draw(t, label+",")) + "]"
	case reflect.Struct:
		var names []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			names = append(names, name)
		}
		keys := rapid.SliceOfNDistinct(rapid.SampledFrom(names), 0, len(names), rapid.ID[string]).Draw(t, label+"keys")
		var members []string
		for _, k := range keys {
			f, _ := typ.FieldByNameFunc(func(n string) bool {
				sf, _ := typ.FieldByName(n)
				tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
				return tag == k || tag == "" && n == k
			})
			key := k
			switch rapid.IntRange(0, 30).Draw(t, label+k+"key?") {
			case 0:
				key = strings.ToUpper(k)
			case 1:
				key = "unknown"
			case 2:
				members = append(members, `"`+k+`":`+drawFastJSON(t, f.Type, label+"."+k+"'", depth+1)) // given twice
			}
			members = append(members, `"`+key+`"`+rapid.SampledFrom([]string{":", " : "}).Draw(t, label+k+":")+drawFastJSON(t, f.Type, label+"."+k, depth+1))
		}
		return rapid.SampledFrom([]string{"{", " {\n"}).Draw(t, label+"{") + strings.Join(members, ",") + "}"
	}
	panic("no JSON for " + typ.String())
}

// Whatever the fast path reads, the careful path reads to the same value;
// and it reads most of what well-behaved clients send.
func TestFastPathReadsAsTheCarefulPath(t *testing.T) {
	var fast, runs int
	rapid.Check(t, func(t *rapid.T) {
		raw := drawFastJSON(t, reflect.TypeFor[fastTarget](), "", 0)
		if rapid.IntRange(0, 20).Draw(t, "trailing?") == 0 {
			raw += rapid.SampledFrom([]string{" ", "\n", " {}", "x"}).Draw(t, "trailing")
		}
		runs++
		var got fastTarget
		if !decodeFast([]byte(raw), &got) {
			assert.Equal(t, fastTarget{}, got, "declined, and left a value behind")
			return
		}
		fast++
		var want fastTarget
		require.NoError(t, decodeCareful([]byte(raw), &want), "the fast path read %s", raw)
		assert.Equal(t, want, got, "%s", raw)
		var std fastTarget
		require.NoError(t, json.Unmarshal([]byte(raw), &std))
		assert.Equal(t, std, got, "%s", raw)
	})
	assert.Greater(t, fast, runs/10, "fast path taken %d times in %d", fast, runs)
}

// FuzzDecodeFast: the fast path never panics, and what it reads, the
// careful path reads to the same value.
func FuzzDecodeFast(f *testing.F) {
	for _, seed := range []string{
		`{"id":"a","seq":3,"n":-1,"small":127,"flag":true,"when":"2026-12-04T10:00:00+03:30","inner":{"wall_ms":5,"logical":1},` +
			`"ptr":{"logical":2},"list":[{"wall_ms":1},{}],"tags":["x","y"],"outcome":"reached","payload":{"a":[1,"\u00e9",null]},"Untagged":"u"}`,
		`{"payload":null}`, `{"list":[]}`, `{"id":"a","id":"b"}`, `{"ID":"a"}`, `{"small":128}`, `{"seq":-0}`, `{"n":-0}`, `{"payload":01}`,
		`{"payload":"\u12"}`, `{"payload":[1 2]}`, `{"when":"2026-12-04"}`, "{\"id\":\"\x7f\"}", `{"ptr":null}`, `{} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var got fastTarget
		if !decodeFast(raw, &got) {
			return
		}
		var want fastTarget
		if err := decodeCareful(raw, &want); err != nil {
			t.Fatalf("the fast path read what the careful path refuses (%v): %q", err, raw)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fast %+v, careful %+v: %q", got, want, raw)
		}
	})
}

func TestFastPathLeavesWhatItDoesNotRead(t *testing.T) {
	// A target with something in it: encoding/json merges, so the careful path reads it.
	v := fastTarget{ID: "kept"}
	require.NoError(t, Decode([]byte(`{"seq":1}`), &v))
	assert.Equal(t, fastTarget{ID: "kept", Seq: 1}, v)
	// Types the fast path does not read.
	assert.Nil(t, fastPlanOf(reflect.TypeFor[target]()), "embedded struct, map, float, RawMessage")
	assert.Nil(t, fastPlanOf(reflect.TypeFor[struct {
		N int `json:"n,string"`
	}]()))
	assert.NotNil(t, fastPlanOf(reflect.TypeFor[fastTarget]()))
}

// What the careful path refuses, the fast path leaves to it: a json.Number
// that is no number, and tag names encoding/json does not take (it reads
// such a field by its Go name). Found by review.
func TestFastPathRefusesWhatCarefulPathRefuses(t *testing.T) {
	type number struct {
		N json.Number `json:"n"`
	}
	type badTag struct {
		A string `json:"a'b"` // not a valid tag name to encoding/json: it reads the field as "A"
		B string `json:"€"`
	}
	for _, c := range []struct {
		raw string
		v   func() any
	}{
		{`{"n":"abc"}`, func() any { return new(number) }},
		{`{"n":""}`, func() any { return new(number) }},
		{`"abc"`, func() any { return new(json.Number) }},
		{`{"a'b":"x"}`, func() any { return new(badTag) }},
		{`{"€":"x"}`, func() any { return new(badTag) }},
		{`{"A":"x","B":"y"}`, func() any { return new(badTag) }},
	} {
		got, want := c.v(), c.v()
		fast := decodeFast([]byte(c.raw), got)
		err := decodeCareful([]byte(c.raw), want)
		stdErr := stdDecode([]byte(c.raw), c.v()) // encoding/json, unknown fields refused
		assert.Equal(t, stdErr == nil, err == nil, "%T %s: careful path %v, encoding/json %v", got, c.raw, err, stdErr)
		if !fast {
			continue
		}
		if assert.NoError(t, err, "%T %s: the fast path read %+v", got, c.raw, got) {
			assert.Equal(t, want, got, "%T %s", got, c.raw)
		}
	}
}
