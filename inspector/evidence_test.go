package inspector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestEvidenceFlags(t *testing.T) {
	checkIn := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	checkOut := checkIn.Add(40 * time.Minute)
	office := &Office{Code: "QZ-SSO-01", Location: &Location{Lat: 36.279, Lng: 50.004}}
	visit := &Visit{CheckIn: &GeoStamp{DeviceTime: checkIn}, CheckOut: &GeoStamp{DeviceTime: checkOut}}
	open := &Visit{CheckIn: &GeoStamp{DeviceTime: checkIn}} // not checked out yet
	lim := DefaultEvidenceLimits()                          // 30 min slack, 500 m
	ptr := func(f float64) *float64 { return &f }
	at := func(tm time.Time) *time.Time { return &tm }
	// About 300 m and 1.1 km north of the office (0.001° of latitude ≈ 111 m).
	near, far := &Location{Lat: 36.2817, Lng: 50.004}, &Location{Lat: 36.289, Lng: 50.004}
	photo := func(captured time.Time, loc *Location) Evidence {
		return Evidence{Kind: EvidencePhoto, ContentType: "image/jpeg", SniffedType: "image/jpeg",
			CapturedAt: captured, Location: loc, Photo: &PhotoMeta{CapturedAt: at(captured)}}
	}

	for _, c := range []struct {
		name   string
		e      Evidence
		visit  *Visit
		office *Office
		lim    EvidenceLimits
		want   []string
	}{
		{name: "inside the window, near the office", e: photo(checkIn.Add(10*time.Minute), near), visit: visit, office: office, lim: lim},
		{name: "within the slack before check-in", e: photo(checkIn.Add(-29*time.Minute), near), visit: visit, office: office, lim: lim},
		{name: "within the slack after check-out", e: photo(checkOut.Add(29*time.Minute), near), visit: visit, office: office, lim: lim},
		{name: "before the window", e: photo(checkIn.Add(-31*time.Minute), near), visit: visit, office: office, lim: lim,
			want: []string{FlagCapturedOutsideVisit}},
		{name: "after the window", e: photo(checkOut.Add(31*time.Minute), near), visit: visit, office: office, lim: lim,
			want: []string{FlagCapturedOutsideVisit}},
		{name: "a visit not checked out has no end", e: photo(checkIn.Add(5*time.Hour), near), visit: open, office: office, lim: lim},
		{name: "far from the office", e: photo(checkIn, far), visit: visit, office: office, lim: lim,
			want: []string{FlagFarFromOffice}},
		{name: "a wider radius takes it", e: photo(checkIn, far), visit: visit, office: office,
			lim: EvidenceLimits{CaptureSlack: 30 * time.Minute, MaxDistanceM: 1500}},
		{name: "a narrower window refuses it", e: photo(checkIn.Add(-10*time.Minute), near), visit: visit, office: office,
			lim: EvidenceLimits{CaptureSlack: 5 * time.Minute, MaxDistanceM: 500}, want: []string{FlagCapturedOutsideVisit}},
		{name: "EXIF wins over the device's claims", visit: visit, office: office, lim: lim,
			e: Evidence{Kind: EvidencePhoto, ContentType: "image/jpeg", SniffedType: "image/jpeg",
				CapturedAt: checkIn, Location: near, // the device says: in time, nearby
				Photo: &PhotoMeta{CapturedAt: at(checkIn.Add(-3 * time.Hour)), Lat: ptr(far.Lat), Lng: ptr(far.Lng)}},
			want: []string{FlagCapturedOutsideVisit, FlagFarFromOffice}},
		{name: "no EXIF time: the device's claim, and flagged", visit: visit, office: office, lim: lim,
			e:    Evidence{Kind: EvidencePhoto, ContentType: "image/jpeg", SniffedType: "image/jpeg", CapturedAt: checkIn, Location: near},
			want: []string{FlagNoCaptureTime}},
		{name: "declared type differs", visit: visit, office: office, lim: lim,
			e:    Evidence{Kind: EvidencePhoto, ContentType: "image/png", SniffedType: "image/jpeg", CapturedAt: checkIn, Photo: &PhotoMeta{CapturedAt: at(checkIn)}},
			want: []string{FlagTypeMismatch}},
		{name: "no visit and no office location: nothing to compare", e: photo(checkIn.Add(-9*time.Hour), far),
			office: &Office{Code: "X"}, lim: lim},
		{name: "bytes not here yet: no type or EXIF flags", visit: visit, office: office, lim: lim,
			e: Evidence{Kind: EvidencePhoto, ContentType: "image/jpeg", CapturedAt: checkIn, Location: near}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, EvidenceFlags(c.e, c.visit, c.office, c.lim))
		})
	}
}

func TestDistanceM(t *testing.T) {
	// Qazvin to Takestan: 0.2076° of latitude (23.1 km) and 0.309° of
	// longitude at 36.2° (27.7 km), about 36.1 km on the flat.
	assert.InDelta(t, 36_100, DistanceM(36.2797, 50.0049, 36.0721, 49.6959), 300)
	assert.Zero(t, DistanceM(36.279, 50.004, 36.279, 50.004))
	assert.InDelta(t, 111, DistanceM(36.279, 50.004, 36.280, 50.004), 1)
}
