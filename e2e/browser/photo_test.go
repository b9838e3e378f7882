package browser

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/media"
	"github.com/favad/favad/sync/client"
)

// TestPhotoThumbnailAndFullView: a field inspector's device records a photo
// (evidence.create, then the bytes over tus); the dispatcher's complaint
// detail shows it as a thumbnail, and opens the full view.
func TestPhotoThumbnailAndFullView(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمند باجه سه از ساعت نه در محل نیست")
	e.assign(c.ID, "field")
	dev := e.device("field")
	e.sync(dev)
	visit := client.NewID()
	_, _, err := dev.CheckIn(visit, "QZ-SSO-01", []string{c.ID}, near("QZ-SSO-01"))
	require.NoError(t, err)
	_, _, err = dev.RecordFinding(client.NewID(), client.Finding{VisitID: visit, ComplaintID: c.ID, StaffExpected: 12, StaffPresent: 9,
		Absentees:      []client.Absentee{{Name: "کارمند باجه سه", Reason: "unexcused"}, {Name: "کارمند بایگانی", Reason: "leave"}, {Name: "معاون شعبه", Reason: "mission"}},
		ClientsWaiting: 23, DesksOpen: 3, ObservedAt: time.Now()})
	require.NoError(t, err)
	e.sync(dev)
	photo := officePhoto(t, time.Now(), office("QZ-SSO-01").Location)
	e.photoEvidence(dev, "field", c.ID, visit, photo)

	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/complaint/" + c.ID)
	// The thumbnail: an image the page fetched with its token, decoded.
	thumb := b.mark("the photo's thumbnail", `return $all("#main img").find((i) => i.complete && i.naturalWidth > 0);`)
	w := eval[int](b, `return document.querySelector(`+jsq(string(thumb))+`).naturalWidth;`)
	if w >= 640 {
		t.Errorf("the thumbnail is the full photo (%d px wide)", w)
	}
	b.checkA11y("complaint detail")
	b.screenshotTall("complaint")

	// The full view: the thumbnail opens it (by keyboard here: it is a
	// control, or inside one).
	b.run("opening the full view", chromedp.ScrollIntoView(thumb), chromedp.Click(thumb))
	b.wait("the full-size photo", `return $all("img").some((i) => i.complete && i.naturalWidth === 640);`)
	b.screenshot("photo")
}

// TestOfficePhoto: the photo the tests upload is a real JPEG whose EXIF
// data the server reads (camera, time, place).
func TestOfficePhoto(t *testing.T) {
	at := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	photo := officePhoto(t, at, office("QZ-SSO-01").Location)
	img, err := jpeg.Decode(bytes.NewReader(photo))
	require.NoError(t, err)
	assert.Equal(t, 640, img.Bounds().Dx())
	f := filepath.Join(t.TempDir(), "photo.jpg")
	require.NoError(t, os.WriteFile(f, photo, 0o644))
	meta, err := media.ReadPhotoMeta(f)
	require.NoError(t, err)
	require.NotNil(t, meta)
	assert.Equal(t, "Samsung", meta.Make)
	require.NotNil(t, meta.CapturedAt)
	assert.True(t, at.Equal(*meta.CapturedAt), "%v", meta.CapturedAt)
	require.NotNil(t, meta.Lat)
	assert.InDelta(t, 36.2790, *meta.Lat, 1e-4)
	assert.InDelta(t, 50.0040, *meta.Lng, 1e-4)
}

// officePhoto is a real JPEG, 640×480, of a made-up office counter, with
// EXIF data (camera, time and place) as a phone writes it.
func officePhoto(t *testing.T, at time.Time, loc *inspector.Location) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for y := range 480 {
		for x := range 640 {
			var c color.RGBA
			switch {
			case y < 300: // the wall, lit from the left
				v := uint8(220 - x/8 - y/12)
				c = color.RGBA{v, v - 6, v - 20, 255}
			default: // the counter
				v := uint8(120 - (y-300)/4)
				c = color.RGBA{v + 40, v + 10, v - 30, 255}
			}
			// Three windows of the counter, one empty chair behind each.
			for i := range 3 {
				cx := 120 + i*200
				if x > cx-60 && x < cx+60 && y > 150 && y < 290 {
					c = color.RGBA{60, 90, 120, 255}
					if math.Hypot(float64(x-cx), float64(y-250)) < 30 {
						c = color.RGBA{150, 40, 40, 255}
					}
				}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}))
	return withExif(b.Bytes(), at, loc)
}

// withExif inserts an APP1 Exif segment after the JPEG's SOI: the camera
// (Make, Model), DateTimeOriginal with its offset, and GPS coordinates.
func withExif(jpg []byte, at time.Time, loc *inspector.Location) []byte {
	tehran := time.FixedZone("IRST", 3*3600+1800)
	le := binary.LittleEndian
	type entry struct {
		tag, typ uint16
		count    uint32
		data     []byte // inline when ≤ 4 bytes
	}
	ascii := func(s string) []byte { return append([]byte(s), 0) }
	long := func(v uint32) []byte { b := make([]byte, 4); le.PutUint32(b, v); return b }
	rationals := func(vs ...[2]uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = le.AppendUint32(b, v[0])
			b = le.AppendUint32(b, v[1])
		}
		return b
	}
	dms := func(deg float64) []byte {
		d := math.Floor(deg)
		m := math.Floor((deg - d) * 60)
		s := ((deg-d)*60 - m) * 60
		return rationals([2]uint32{uint32(d), 1}, [2]uint32{uint32(m), 1}, [2]uint32{uint32(s * 100), 100})
	}
	// ifd lays out one IFD at offset off (from the TIFF header), with its
	// out-of-line values after it.
	ifd := func(off uint32, es []entry) []byte {
		head := make([]byte, 2+12*len(es)+4)
		le.PutUint16(head, uint16(len(es)))
		extra := []byte{}
		dataOff := off + uint32(len(head))
		for i, e := range es {
			p := head[2+12*i:]
			le.PutUint16(p, e.tag)
			le.PutUint16(p[2:], e.typ)
			le.PutUint32(p[4:], e.count)
			if len(e.data) <= 4 {
				copy(p[8:12], e.data)
			} else {
				le.PutUint32(p[8:], dataOff+uint32(len(extra)))
				extra = append(extra, e.data...)
				if len(extra)%2 == 1 {
					extra = append(extra, 0)
				}
			}
		}
		return append(head, extra...)
	}
	const (
		typASCII    = 2
		typLong     = 4
		typRational = 5
	)
	when := at.In(tehran)
	exifIFD := func(off uint32) []byte {
		return ifd(off, []entry{
			{0x9003, typASCII, 20, ascii(when.Format("2006:01:02 15:04:05"))},
			{0x9011, typASCII, 7, ascii("+03:30")},
		})
	}
	gpsIFD := func(off uint32) []byte {
		return ifd(off, []entry{
			{0x0001, typASCII, 2, ascii("N")},
			{0x0002, typRational, 3, dms(loc.Lat)},
			{0x0003, typASCII, 2, ascii("E")},
			{0x0004, typRational, 3, dms(loc.Lng)},
		})
	}
	make0 := ascii("Samsung")
	model := ascii("Galaxy A54")
	ifd0 := func(exifOff, gpsOff uint32) []byte {
		return ifd(8, []entry{
			{0x010f, typASCII, uint32(len(make0)), make0},
			{0x0110, typASCII, uint32(len(model)), model},
			{0x8769, typLong, 1, long(exifOff)},
			{0x8825, typLong, 1, long(gpsOff)},
		})
	}
	first := ifd0(0, 0)
	exifOff := 8 + uint32(len(first))
	ex := exifIFD(exifOff)
	gpsOff := exifOff + uint32(len(ex))
	tiff := append([]byte("II*\x00\x08\x00\x00\x00"), ifd0(exifOff, gpsOff)...)
	tiff = append(tiff, ex...)
	tiff = append(tiff, gpsIFD(gpsOff)...)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}
