package sync

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// drawJSONText draws JSON text, mostly valid, with what phones send and what
// they might: escapes, HTML characters, line separators, invalid UTF-8,
// numbers of every form, keys given twice, deep nesting, stray bytes.
func drawJSONText(t *rapid.T, depth int, label string) string {
	// Mostly what takes the one pass, so that its output is compared
	// often; now and then what it must leave to the definition.
	plain := rapid.SampledFrom([]string{"", "a", "b", "text", "complaint_id", "مدیر شعبه حاضر نبود؛", "۱۲۳", "é", "\U0001F600", "/", "A", "Z a"})
	odd := rapid.SampledFrom([]string{"x<y", "a&b", "q\\\"q", `\u0041`, `\u00e9`, "\u2028", "\u2029", "tab\\tx", `\n`, "\xff\xfe",
		`\ud83d\ude00`, `\ud800`, `\/`, "\x01", "\"", "\\"})
	strs := rapid.Custom(func(t *rapid.T) string {
		if rapid.IntRange(0, 19).Draw(t, "odd") == 0 {
			return odd.Draw(t, "s")
		}
		return plain.Draw(t, "s")
	})
	plainNums := rapid.SampledFrom([]string{"0", "-0", "1", "-1", "42", "999999999999999", "-123456789012345"})
	oddNums := rapid.SampledFrom([]string{"01", "-01", "00", "-", "9999999999999999", "12345678901234567890", "1.5", "1.0", "-2.25",
		"1e3", "1E-7", "0.000001", "1e21", "1e400", "3.0e2", "100000000000000000000000", "+1", ".5"})
	nums := rapid.Custom(func(t *rapid.T) string {
		if rapid.IntRange(0, 9).Draw(t, "odd") == 0 {
			return oddNums.Draw(t, "n")
		}
		return plainNums.Draw(t, "n")
	})
	switch k := rapid.IntRange(0, 9).Draw(t, label+"kind"); {
	case k == 0 || depth > 3 && k > 5:
		return `"` + strs.Draw(t, label+"s") + `"`
	case k == 1:
		return nums.Draw(t, label+"n")
	case k == 2:
		if rapid.IntRange(0, 9).Draw(t, label+"odd") == 0 {
			return rapid.SampledFrom([]string{"tru", "{", "]", "", " ", "nul", "truex", `"a`, "[1,]", `{"a":1,}`, `{"a" 1}`, "[1 2]"}).Draw(t, label+"bad")
		}
		return rapid.SampledFrom([]string{"true", "false", "null", " null "}).Draw(t, label+"lit")
	case k <= 5:
		n := rapid.IntRange(0, 4).Draw(t, label+"members")
		var b strings.Builder
		b.WriteString(rapid.SampledFrom([]string{"{", " { ", "{\n"}).Draw(t, label+"open"))
		for i := range n {
			if i > 0 {
				b.WriteString(rapid.SampledFrom([]string{",", " , ", ",\n\t"}).Draw(t, label+"comma"))
			}
			b.WriteString(`"` + strs.Draw(t, label+"key") + `"`)
			b.WriteString(rapid.SampledFrom([]string{":", " : "}).Draw(t, label+"colon"))
			b.WriteString(drawJSONText(t, depth+1, label+strconv.Itoa(i)))
		}
		b.WriteString(rapid.SampledFrom([]string{"}", " }"}).Draw(t, label+"close"))
		return b.String()
	default:
		n := rapid.IntRange(0, 4).Draw(t, label+"items")
		items := make([]string, n)
		for i := range items {
			items[i] = drawJSONText(t, depth+1, label+"["+strconv.Itoa(i)+"]")
		}
		return "[" + strings.Join(items, rapid.SampledFrom([]string{",", " ,\r\n"}).Draw(t, label+"sep")) + "]"
	}
}

// The one-pass digest is the definition's, for any payload and envelope.
func TestMutationHashIsTheDefinitions(t *testing.T) {
	var onePass, runs int
	rapid.Check(t, func(t *rapid.T) {
		m := Mutation{
			Kind:        rapid.SampledFrom([]string{"note.create", "visit.checkin", "", "a<b", "\u2028", "\xff"}).Draw(t, "kind"),
			RecordID:    rapid.SampledFrom([]string{"0193d1c8-0000-7000-8000-000000000001", "", `"q"`, "é"}).Draw(t, "record"),
			BaseVersion: rapid.Uint64().Draw(t, "base"),
			Payload:     json.RawMessage(drawJSONText(t, 0, "p")),
		}
		_, fast, read := canonicalContent(nil, m)
		if read {
			assert.True(t, json.Valid(m.Payload), "read %s", m.Payload)
		}
		onePass += map[bool]int{true: 1}[fast]
		runs++
		assert.Equal(t, mutationHashSlow(m), mutationHash(m), "payload %s", m.Payload)
	})
	// The comparison is worth something only if the one pass ran.
	assert.Greater(t, onePass, runs/4, "one pass in %d of %d", onePass, runs)
}

// What phones send takes the one pass; what it cannot copy is left to the
// definition.
func TestMutationHashTakesOnePassForPhonesPayloads(t *testing.T) {
	note := Mutation{Kind: MutNoteCreate, RecordID: "0193d1c8-0000-7000-8000-000000000001", Payload: json.RawMessage(
		`{"complaint_id": "0193d1c8-0000-7000-8000-000000000002", "text": "` + benchNoteText + `", "written_at": "2026-12-04T10:00:00+03:30", "attendance": {"present": false, "count": 3}, "tags": ["صف", "غیبت"]}`)}
	canon, ok, read := canonicalContent(nil, note)
	require.True(t, ok)
	require.True(t, read)
	assert.JSONEq(t, string(note.Payload), string(canon[strings.Index(string(canon), `"Payload":`)+10:len(canon)-1]))
	assert.Equal(t, mutationHashSlow(note), mutationHash(note))

	for _, payload := range []string{`{"a":1.5}`, `{"a":"x<y"}`, `{"a":1,"a":2}`, `{"a":"\u0041"}`, `{"a":12345678901234567}`} {
		m := note
		m.Payload = json.RawMessage(payload)
		_, ok, _ := canonicalContent(nil, m)
		assert.False(t, ok, payload)
		assert.Equal(t, mutationHashSlow(m), mutationHash(m), payload)
	}
}

func BenchmarkMutationHash(b *testing.B) {
	m := Mutation{Kind: MutNoteCreate, RecordID: "0193d1c8-0000-7000-8000-000000000001", Payload: json.RawMessage(
		`{"complaint_id":"0193d1c8-0000-7000-8000-000000000002","text":"` + benchNoteText + `","written_at":"2026-12-04T10:00:00+03:30"}`)}
	b.Run("one_pass", func(b *testing.B) {
		for b.Loop() {
			mutationHash(m)
		}
	})
	b.Run("definition", func(b *testing.B) {
		for b.Loop() {
			mutationHashSlow(m)
		}
	})
}
