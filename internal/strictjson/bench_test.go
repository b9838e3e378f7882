package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

type benchNote struct {
	VisitID   string    `json:"visit_id"`
	Text      string    `json:"text"`
	WrittenAt time.Time `json:"written_at"`
}

type benchMutation struct {
	MutationID string `json:"mutation_id"`
	DeviceSeq  uint64 `json:"device_seq"`
	Kind       string `json:"kind"`
	RecordID   string `json:"record_id"`
	HLC        struct {
		WallMs  int64  `json:"wall_ms"`
		Logical uint32 `json:"logical"`
	} `json:"hlc"`
	Payload Deferred `json:"payload"`
}

// benchPush is a push of 500 notes of Persian text, as a device sends it.
func benchPush() []byte {
	var b strings.Builder
	b.WriteString(`{"mutations":[`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"mutation_id":"0193%028d","device_seq":%d,"kind":"note.create","record_id":"0194%028d","hlc":{"wall_ms":1764000000000,"logical":%d},`+
			`"payload":{"visit_id":"0195%028d","text":"مدیر شعبه در جلسه بود و کارمند باجه ۳ حاضر نبود؛ مراجعان منتظر ماندند.","written_at":"2026-11-27T09:30:00+03:30"}}`, i, i+1, i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func stdDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// benchDecodePush decodes a push the way the server does: the body, then
// each mutation, then each payload.
func benchDecodePush(b *testing.B, decode func([]byte, any) error) {
	raw := benchPush()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var req struct {
			Mutations []Deferred `json:"mutations"`
		}
		if err := decode(raw, &req); err != nil {
			b.Fatal(err)
		}
		for _, m := range req.Mutations {
			var w benchMutation
			if err := decode(m, &w); err != nil {
				b.Fatal(err)
			}
			var n benchNote
			if err := decode(w.Payload, &n); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPushDecodeStdlib is the baseline: encoding/json with unknown fields refused.
func BenchmarkPushDecodeStdlib(b *testing.B) { benchDecodePush(b, stdDecode) }

// BenchmarkPushDecodeStrict is the same push through Decode.
func BenchmarkPushDecodeStrict(b *testing.B) { benchDecodePush(b, Decode) }
