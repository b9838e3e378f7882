package sync

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// TestEvidenceLimitsOption: the flags a photo gets follow the store's
// EvidenceLimits (favad serve's --evidence-capture-slack and
// --evidence-max-distance), and a flagged photo is stored all the same.
func TestEvidenceLimitsOption(t *testing.T) {
	taken := func(f *fieldFixture) time.Time { return f.clock.Now().Add(-2 * time.Hour) }
	tehranLat, tehranLng := 35.6892, 51.3890 // about 140 km from the office

	for _, c := range []struct {
		name string
		lim  inspector.EvidenceLimits
		want []string
	}{
		{"defaults: 30 min, 500 m", inspector.EvidenceLimits{}, []string{inspector.FlagCapturedOutsideVisit, inspector.FlagFarFromOffice}},
		{"3 h and 200 km", inspector.EvidenceLimits{CaptureSlack: 3 * time.Hour, MaxDistanceM: 200_000}, nil},
		{"3 h and 1 km", inspector.EvidenceLimits{CaptureSlack: 3 * time.Hour, MaxDistanceM: 1000}, []string{inspector.FlagFarFromOffice}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fieldFixture{clock: newFakeClock(), ids: newIDGen(1), devIDs: newIDGen(2)}
			f.s = mustOpenStore(t, Options{Now: f.clock.Now, NewID: f.ids.Next, EvidenceLimits: c.lim})
			f.setUp(t)
			cmp := f.complaint(t, "CALL-LIM-1", "QZ-SSO-01", &f.ali)
			d := f.device("ali-phone", f.ali)
			visitID, _ := f.visit(t, d, cmp.ID)

			id, sum := f.devIDs.Next(), "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
			r := mustPush(t, f.s, d, d.mut(MutEvidenceCreate, id, 0, map[string]any{"complaint_id": cmp.ID, "visit_id": visitID, "kind": "photo",
				"content_type": "image/jpeg", "size": 1234, "sha256": sum, "captured_at": f.clock.Now().Format(time.RFC3339)}))[0]
			require.Equal(t, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)

			at := taken(f)
			e, err := f.s.AttachUpload(f.ali, d.id, Upload{EvidenceID: id, SHA256: sum, Size: 1234, SniffedType: "image/jpeg",
				Photo: &inspector.PhotoMeta{CapturedAt: &at, Lat: &tehranLat, Lng: &tehranLng}})
			require.NoError(t, err)
			assert.Equal(t, inspector.EvidenceStored, e.Status, "flagged, never dropped")
			assert.ElementsMatch(t, c.want, e.Flags)
		})
	}
}
