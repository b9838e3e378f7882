package strictjson

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inner struct {
	Lat  float64   `json:"lat"`
	When time.Time `json:"when"`
}

type base struct {
	ID string `json:"id"`
}

type target struct {
	base
	Username string            `json:"username"`
	Note     string            `json:"note,omitempty"`
	Where    *inner            `json:"where"`
	List     []inner           `json:"list"`
	Tags     map[string]string `json:"tags"`
	Raw      json.RawMessage   `json:"raw"`
	Later    []Deferred        `json:"later"`
	Skipped  string            `json:"-"`
	Untagged int
}

func TestDecodeRefusesWhatEncodingJSONLetsThrough(t *testing.T) {
	cases := []struct {
		name, body string
		want       Error
	}{
		{"duplicate key", `{"username":"a","username":"b"}`, Error{Kind: DuplicateKey, Path: "username"}},
		{"duplicate key nested", `{"where":{"lat":1,"lat":2}}`, Error{Kind: DuplicateKey, Path: "where.lat"}},
		{"duplicate key in array element", `{"list":[{"lat":1},{"lat":1,"lat":2}]}`, Error{Kind: DuplicateKey, Path: "list[1].lat"}},
		{"duplicate key in map", `{"tags":{"a":"1","a":"2"}}`, Error{Kind: DuplicateKey, Path: "tags.a"}},
		{"duplicate key in raw message", `{"raw":{"x":{"y":1,"y":1}}}`, Error{Kind: DuplicateKey, Path: "raw.x.y"}},
		{"other case", `{"USERNAME":"a"}`, Error{Kind: UnknownField, Path: "USERNAME", Want: "username"}},
		{"other case nested", `{"where":{"Lat":1}}`, Error{Kind: UnknownField, Path: "where.Lat", Want: "lat"}},
		{"other case, embedded", `{"Id":"x"}`, Error{Kind: UnknownField, Path: "Id", Want: "id"}},
		{"both cases", `{"username":"a","Username":"b"}`, Error{Kind: UnknownField, Path: "Username", Want: "username"}},
		{"unknown", `{"where":{"lng":1}}`, Error{Kind: UnknownField, Path: "where.lng"}},
		{"tagged out", `{"Skipped":"x"}`, Error{Kind: UnknownField, Path: "Skipped"}},
		{"NUL", `{"note":"a\u0000b"}`, Error{Kind: ControlCharacter, Path: "note", Rune: 0}},
		{"escape", `{"tags":{"k":"\u001b[31m"}}`, Error{Kind: ControlCharacter, Path: "tags.k", Rune: 0x1b}},
		{"lone CR", `{"note":"a\rb"}`, Error{Kind: ControlCharacter, Path: "note", Rune: '\r'}},
		{"control in key", `{"tags":{"a\u0007":"x"}}`, Error{Kind: ControlCharacter, Path: "tags.a\a", Rune: 7}},
		{"invalid UTF-8", "{\"note\":\"a\xffb\"}", Error{Kind: InvalidUTF8, Path: "note"}},
		{"invalid UTF-8 in array", "{\"list\":[{\"when\":\"\xc3\"}]}", Error{Kind: InvalidUTF8, Path: "list[0].when"}},
		{"lone high surrogate", `{"note":"a\ud800b"}`, Error{Kind: InvalidUTF8, Path: "note"}},
		{"lone low surrogate", `{"note":"\udc00"}`, Error{Kind: InvalidUTF8, Path: "note"}},
		{"high surrogate then not low", `{"note":"\ud800\u0041"}`, Error{Kind: InvalidUTF8, Path: "note"}},
		{"high surrogate at end", `{"note":"\ud83d"}`, Error{Kind: InvalidUTF8, Path: "note"}},
		{"escaped duplicate", `{"user\u006eame":"a","username":"b"}`, Error{Kind: DuplicateKey, Path: "username"}},
		{"escaped other case", `{"\u0055SERNAME":"a"}`, Error{Kind: UnknownField, Path: "USERNAME", Want: "username"}},
		{"C1 control", `{"note":"a` + "\u0085" + `b"}`, Error{Kind: ControlCharacter, Path: "note", Rune: 0x85}},
		{"DEL", "{\"note\":\"a\x7fb\"}", Error{Kind: ControlCharacter, Path: "note", Rune: 0x7f}},
		{"after a deferred value", ` { "later" : [ {"a":"}]\"{["} , 1 , "x" , null , [[]] ] , "note" : "\u0000" } `, Error{Kind: ControlCharacter, Path: "note", Rune: 0}},
		{"deep path", `{"list":[{},{"when":"x","when":"y"}]}`, Error{Kind: DuplicateKey, Path: "list[1].when"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v target
			err := Decode([]byte(tc.body), &v)
			var e *Error
			require.True(t, errors.As(err, &e), "got %v", err)
			assert.Equal(t, tc.want, *e)
			assert.NotEmpty(t, e.Message())
		})
	}
}

func TestDecodeAcceptsStrictJSON(t *testing.T) {
	body := `{"id":"1","username":"می‌خواهم","note":"line one\nline two\r\n\tand a tab \\u0000 \ud83d\ude00 \"q\"",` +
		`"where":{"lat":35.7,"when":"2026-11-27T09:30:00+03:30"},"list":[{"lat":1},{"lat":1}],` +
		`"tags":{"A":"x","a":"y"},"raw":{"k":[1,{"k":2}]},"later":[{"x":1,"x":2,"X":"\u0000"}],"Untagged":3}`
	var v target
	require.NoError(t, Decode([]byte(body), &v))
	assert.Equal(t, "می‌خواهم", v.Username, "the zero-width non-joiner is kept")
	assert.Equal(t, "line one\nline two\r\n\tand a tab \\u0000 😀 \"q\"", v.Note)
	assert.Equal(t, 3, v.Untagged)
	require.Len(t, v.Later, 1)
	assert.JSONEq(t, `{"x":1,"x":2,"X":"\u0000"}`, string(v.Later[0]), "a deferred value is kept as sent, for its own decoder")
}

func TestDecodeLeavesOtherErrorsToEncodingJSON(t *testing.T) {
	var v target
	var e *Error
	assert.False(t, errors.As(Decode([]byte(`{"username":`), &v), &e), "a syntax error is encoding/json's to report")
	var syn *json.SyntaxError
	assert.True(t, errors.As(Decode([]byte(`{"username" "a"}`), &v), &syn))
	var typ *json.UnmarshalTypeError
	assert.True(t, errors.As(Decode([]byte(`{"username":1}`), &v), &typ))
	assert.ErrorIs(t, Decode([]byte(`{} {}`), &v), ErrTrailingData)
	assert.Error(t, Decode([]byte(``), &v))
	assert.Error(t, Decode([]byte(`{"username":"a"`), &v))
}

func TestDecodeUntypedTarget(t *testing.T) {
	var m map[string]any
	assert.NoError(t, Decode([]byte(`{"A":1,"a":2}`), &m), "map keys keep their case")
	var e *Error
	require.ErrorAs(t, Decode([]byte(`{"a":[{"b":1,"b":1}]}`), &m), &e)
	assert.Equal(t, Error{Kind: DuplicateKey, Path: "a[0].b"}, *e)
}
