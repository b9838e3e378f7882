package strictjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode: Decode never panics, and whatever it accepts encoding/json
// reads to the same value (it only ever refuses more).
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"username":"a","where":{"lat":1,"when":"2026-11-27T09:30:00Z"},"list":[{"lat":2}],"tags":{"k":"v"},"raw":{"x":[1,"y"]},"later":[{"a":1}]}`,
		`{"username":"a","username":"b"}`, `{"USERNAME":"a"}`, `{"note":"a\u0000b"}`, "{\"note\":\"\xff\"}",
		`{"note":"\ud83d\ude00 \ud800"}`, `{"note":"a\\u0000"}`, `[]`, `null`, `{"later":[{"a":{"b":[1,2,{"c":3}]}}]}`, `{} {}`, `{"where":`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var got target
		err := Decode(raw, &got)
		var e *Error
		if errors.As(err, &e) && e.Message() == "" {
			t.Fatalf("a fault without a message: %+v", e)
		}
		if err != nil {
			return
		}
		var want target
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("Decode accepted what encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode read %+v, encoding/json %+v", got, want)
		}
	})
}
