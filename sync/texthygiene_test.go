package sync

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPushRefusesBadTextAndKeepsItReadable: a note whose text is not UTF-8
// (or holds a NUL) was stored, the bytes replaced or kept as sent. Now the
// mutation is refused naming payload.text, and the conflict record that
// keeps it for dispatch holds valid UTF-8 (the bad bytes shown as U+FFFD),
// so that no answer of the API carries bytes that are not UTF-8.
func TestPushRefusesBadTextAndKeepsItReadable(t *testing.T) {
	f := newFieldFixture(t)
	d := f.device("ali-phone", f.ali)
	visit := f.devIDs.Next()
	bad := d.mut(MutNoteCreate, f.devIDs.Next(), 0, nil)
	bad.Payload = json.RawMessage(`{"visit_id":"` + visit + `","text":"یادداشت ` + "\xff\xfe" + `","written_at":"2026-11-27T09:30:00Z"}`)
	nul := d.mut(MutNoteCreate, f.devIDs.Next(), 0, nil)
	nul.Payload = json.RawMessage(`{"visit_id":"` + visit + `","text":"a\u0000b","written_at":"2026-11-27T09:30:00Z"}`)
	res := mustPush(t, f.s, d, bad, nul)
	for i, want := range []string{"invalid_utf8", "control_character"} {
		require.Equal(t, StatusRejected, res[i].Status)
		require.NotEmpty(t, res[i].Fields)
		assert.Equal(t, "payload.text", res[i].Fields[0].Field)
		assert.Equal(t, want, res[i].Fields[0].Code)
		require.Len(t, res[i].ConflictIDs, 1)
		c, err := f.s.Conflict(res[i].ConflictIDs[0])
		require.NoError(t, err)
		assert.True(t, utf8.Valid(c.DeviceValue), "kept as valid UTF-8: %q", c.DeviceValue)
		assert.True(t, json.Valid(c.DeviceValue))
	}
}
