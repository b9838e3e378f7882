package media_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/media"
)

// exifPhoto is a real 640×480 JPEG tagged by exiftool the way a phone tags a
// photo taken at an office in Qazvin on 27 November 2026 at 10:15 Iran time.
func exifPhoto(tb testing.TB, extra ...string) string {
	tb.Helper()
	p := writeFile(tb, "photo.jpg", encodeJPEG(tb, testImage(640, 480)))
	exiftool(tb, p, append([]string{"-DateTimeOriginal=2026:11:27 10:15:00",
		"-GPSLatitude=36.279", "-GPSLatitudeRef=N", "-GPSLongitude=50.004", "-GPSLongitudeRef=E",
		"-Make=Samsung", "-Model=SM-A515F"}, extra...)...)
	return p
}

func requireMeta(tb testing.TB, path string) *inspector.PhotoMeta {
	tb.Helper()
	m, err := media.ReadPhotoMeta(path)
	require.NoError(tb, err)
	require.NotNil(tb, m, "the photo has EXIF")
	return m
}

func TestReadPhotoMeta(t *testing.T) {
	t.Parallel()
	m := requireMeta(t, exifPhoto(t))

	require.NotNil(t, m.CapturedAt)
	assert.Equal(t, time.Date(2026, 11, 27, 6, 45, 0, 0, time.UTC), *m.CapturedAt, "10:15 in Tehran is 06:45 UTC")
	assert.Equal(t, time.UTC, m.CapturedAt.Location())
	require.NotNil(t, m.Lat)
	require.NotNil(t, m.Lng)
	assert.InDelta(t, 36.279, *m.Lat, 1e-4)
	assert.InDelta(t, 50.004, *m.Lng, 1e-4)
	assert.Equal(t, "Samsung", m.Make)
	assert.Equal(t, "SM-A515F", m.Model)
}

func TestReadPhotoMetaOffsetTimeOriginal(t *testing.T) {
	t.Parallel()
	// A phone that says its own offset is believed over Tehran time.
	m := requireMeta(t, exifPhoto(t, "-OffsetTimeOriginal=+04:00"))
	require.NotNil(t, m.CapturedAt)
	assert.Equal(t, time.Date(2026, 11, 27, 6, 15, 0, 0, time.UTC), *m.CapturedAt)
}

func TestReadPhotoMetaSubSeconds(t *testing.T) {
	t.Parallel()
	m := requireMeta(t, exifPhoto(t, "-SubSecTimeOriginal=25"))
	require.NotNil(t, m.CapturedAt)
	assert.Equal(t, time.Date(2026, 11, 27, 6, 45, 0, 250_000_000, time.UTC), *m.CapturedAt)
}

func TestReadPhotoMetaDateTimeFallback(t *testing.T) {
	t.Parallel()
	// Without DateTimeOriginal, IFD0's DateTime (exiftool's ModifyDate) is used.
	p := writeFile(t, "photo.jpg", encodeJPEG(t, testImage(64, 48)))
	exiftool(t, p, "-ModifyDate=2026:03:21 08:00:00", "-Make=Xiaomi")
	m := requireMeta(t, p)
	require.NotNil(t, m.CapturedAt)
	assert.Equal(t, time.Date(2026, 3, 21, 4, 30, 0, 0, time.UTC), *m.CapturedAt)
	assert.Nil(t, m.Lat, "no GPS")
	assert.Nil(t, m.Lng)
	assert.Equal(t, "Xiaomi", m.Make)
}

func TestReadPhotoMetaSouthWest(t *testing.T) {
	t.Parallel()
	// The sign of a coordinate comes from its ref.
	p := writeFile(t, "photo.jpg", encodeJPEG(t, testImage(64, 48)))
	exiftool(t, p, "-GPSLatitude=33.8688", "-GPSLatitudeRef=S", "-GPSLongitude=151.2093", "-GPSLongitudeRef=W")
	m := requireMeta(t, p)
	require.NotNil(t, m.Lat)
	require.NotNil(t, m.Lng)
	assert.InDelta(t, -33.8688, *m.Lat, 1e-4)
	assert.InDelta(t, -151.2093, *m.Lng, 1e-4)
	assert.Nil(t, m.CapturedAt)
}

func TestReadPhotoMetaNullIsland(t *testing.T) {
	t.Parallel()
	// A phone without a fix may write 0,0: that is no position.
	p := writeFile(t, "photo.jpg", encodeJPEG(t, testImage(64, 48)))
	exiftool(t, p, "-GPSLatitude=0", "-GPSLatitudeRef=N", "-GPSLongitude=0", "-GPSLongitudeRef=E", "-Model=SM-A515F")
	m := requireMeta(t, p)
	assert.Nil(t, m.Lat)
	assert.Nil(t, m.Lng)
}

func TestReadPhotoMetaPNGAndWebP(t *testing.T) {
	t.Parallel()
	// exiftool writes EXIF into a PNG's eXIf chunk and a WebP's EXIF chunk,
	// the latter after the image data.
	webp, err := os.ReadFile(filepath.Join("testdata", "blue-purple-pink.lossy.webp"))
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"photo.png":  encodePNG(t, testImage(64, 48)),
		"photo.webp": webp,
	} {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, name, data)
			exiftool(t, p, "-DateTimeOriginal=2026:11:27 10:15:00", "-GPSLatitude=36.279", "-GPSLatitudeRef=N",
				"-GPSLongitude=50.004", "-GPSLongitudeRef=E", "-Make=Samsung")
			m := requireMeta(t, p)
			require.NotNil(t, m.CapturedAt)
			assert.Equal(t, time.Date(2026, 11, 27, 6, 45, 0, 0, time.UTC), *m.CapturedAt)
			require.NotNil(t, m.Lat)
			assert.InDelta(t, 36.279, *m.Lat, 1e-4)
			assert.Equal(t, "Samsung", m.Make)
		})
	}
}

func TestReadPhotoMetaNoExif(t *testing.T) {
	t.Parallel()
	webp, err := os.ReadFile(filepath.Join("testdata", "gopher-doc.1bpp.lossless.webp"))
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"plain.jpg":  encodeJPEG(t, testImage(64, 48)),
		"plain.png":  encodePNG(t, testImage(64, 48)),
		"plain.webp": webp,
		"doc.pdf":    []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"),
		"photo.heic": append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 100)...),
		// EXIF with none of the fields wanted: no metadata.
		"orientation-only.jpg": jpegWithExif(t, testImage(64, 48), buildTIFF([]tiffEntry{{0x0112, 3, 1, []byte{6, 0}}})),
	} {
		t.Run(name, func(t *testing.T) {
			m, err := media.ReadPhotoMeta(writeFile(t, name, data))
			require.NoError(t, err)
			assert.Nil(t, m)
		})
	}
}

func TestReadPhotoMetaBroken(t *testing.T) {
	t.Parallel()
	photo := jpegWithExif(t, testImage(64, 48), buildTIFF([]tiffEntry{asciiEntry(0x010f, "Samsung"), asciiEntry(0x0110, "SM-A515F")}))
	m, err := media.ReadPhotoMeta(writeFile(t, "whole.jpg", photo))
	require.NoError(t, err, "the whole file is fine")
	require.NotNil(t, m)
	assert.Equal(t, "Samsung", m.Make)
	// Cut in the image data, after the header: the metadata is all there.
	m, err = media.ReadPhotoMeta(writeFile(t, "cut.jpg", photo[:len(photo)-100]))
	require.NoError(t, err)
	require.NotNil(t, m)
	assert.Equal(t, "SM-A515F", m.Model)

	cases := map[string][]byte{
		"truncated in SOI":       photo[:3],
		"truncated in APP1":      photo[:40],
		"no EXIF, cut in DQT":    encodeJPEG(t, testImage(8, 8))[:100],
		"bad marker":             []byte("\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II*\x00\x08\x00\x00\x00garbage"),
		"no TIFF header":         jpegWithExif(t, testImage(8, 8), []byte("XX\x2a\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")),
		"IFD past the end":       jpegWithExif(t, testImage(8, 8), []byte("II\x2a\x00\xff\xff\x00\x00\x00\x00")),
		"IFD runs past the end":  jpegWithExif(t, testImage(8, 8), []byte("II\x2a\x00\x08\x00\x00\x00\xff\x00\x00\x00")),
		"JPEG magic, then noise": append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{0x13, 0x37}, 500)...),
		"PNG cut short":          encodePNG(t, testImage(8, 8))[:20],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := media.ReadPhotoMeta(writeFile(t, "broken", data))
			require.Error(t, err)
			assert.ErrorIs(t, err, media.ErrMalformed)
			assert.Nil(t, m)
		})
	}

	t.Run("unknown format", func(t *testing.T) {
		_, err := media.ReadPhotoMeta(writeFile(t, "noise", bytes.Repeat([]byte("noise"), 100)))
		assert.ErrorIs(t, err, media.ErrUnknownFormat)
		_, err = media.ReadPhotoMeta(writeFile(t, "empty", nil))
		assert.ErrorIs(t, err, media.ErrUnknownFormat)
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := media.ReadPhotoMeta(filepath.Join(t.TempDir(), "nothing.jpg"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestReadPhotoMetaExiftoolTruncations(t *testing.T) {
	t.Parallel()
	// A real photo cut anywhere in its header is an error, never a panic.
	photo := readFile(t, exifPhoto(t))
	header := bytes.Index(photo, []byte{0xFF, 0xDA}) // up to the start of scan
	require.Positive(t, header)
	for cut := 1; cut < header; cut += max(1, header/100) {
		_, err := media.ReadPhotoMeta(writeFile(t, "cut.jpg", photo[:cut]))
		if err != nil && !errors.Is(err, media.ErrMalformed) && !errors.Is(err, media.ErrUnknownFormat) {
			t.Fatalf("cut at %d: unexpected error %v", cut, err)
		}
	}
}

// A forged thumbnail length in IFD1 made go-exif allocate 4 GiB before
// reading it; ReadPhotoMeta never reads IFD1. (Tests that count allocations
// are not parallel: they run alone, before the parallel ones.)
func TestReadPhotoMetaForgedThumbnailLengthAllocatesNothing(t *testing.T) {
	block := buildTIFF(
		[]tiffEntry{asciiEntry(0x010f, "Samsung")},
		[]tiffEntry{longEntry(0x0201, 8), longEntry(0x0202, 0xFFFF_FFF0)},
	)
	p := writeFile(t, "bomb.jpg", jpegWithExif(t, testImage(16, 16), block))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := media.ReadPhotoMeta(p)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.NotNil(t, m)
	assert.Equal(t, "Samsung", m.Make)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "bytes allocated")
}

// A tag claiming billions of values is skipped, not allocated.
func TestReadPhotoMetaForgedTagCount(t *testing.T) {
	block := buildTIFF([]tiffEntry{
		{0x010f, tiffASCII, 0xFFFF_FFF0, []byte{8, 0, 0, 0}}, // Make, "4 GiB long"
		asciiEntry(0x0110, "SM-A515F"),
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := media.ReadPhotoMeta(writeFile(t, "bomb.jpg", jpegWithExif(t, testImage(16, 16), block)))
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.NotNil(t, m)
	assert.Equal(t, "", m.Make)
	assert.Equal(t, "SM-A515F", m.Model)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "bytes allocated")
}

func TestReadPhotoMetaConcurrently(t *testing.T) {
	t.Parallel()
	// The parser's tables are shared; run with -race.
	p := writeFile(t, "photo.jpg", jpegWithExif(t, testImage(16, 16), buildTIFF([]tiffEntry{asciiEntry(0x010f, "Samsung")})))
	var wg stdsync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				m, err := media.ReadPhotoMeta(p)
				if assert.NoError(t, err) && assert.NotNil(t, m) {
					assert.Equal(t, "Samsung", m.Make)
				}
			}
		})
	}
	wg.Wait()
}

func TestReadPhotoMetaReadsABoundedPrefix(t *testing.T) {
	// A 25 MiB file: EXIF up front, then image data ReadPhotoMeta never reads.
	photo := jpegWithExif(t, testImage(64, 48), buildTIFF([]tiffEntry{asciiEntry(0x010f, "Samsung")}))
	big := append(photo, make([]byte, 25<<20)...)
	p := writeFile(t, "big.jpg", big)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := requireMeta(t, p)
	runtime.ReadMemStats(&after)
	assert.Equal(t, "Samsung", m.Make)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "bytes allocated")
}

func FuzzReadPhotoMeta(f *testing.F) {
	img := testImage(16, 16)
	plain := encodeJPEG(f, img)
	tagged := jpegWithExif(f, img, buildTIFF(
		[]tiffEntry{asciiEntry(0x010f, "Samsung"), asciiEntry(0x0132, "2026:11:27 10:15:00")},
		[]tiffEntry{longEntry(0x0201, 8), longEntry(0x0202, 64)},
	))
	f.Add(plain)
	f.Add(tagged)
	f.Add(tagged[:60])
	f.Add(encodePNG(f, img))
	f.Add([]byte("%PDF-1.4\n"))
	f.Add([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01"))
	f.Add([]byte("RIFF\x20\x00\x00\x00WEBPEXIF\x0e\x00\x00\x00II\x2a\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte{})
	if _, err := exec.LookPath("exiftool"); err == nil {
		f.Add(readFile(f, exifPhoto(f)))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz")
		require.NoError(t, os.WriteFile(p, data, 0o600))
		m, err := media.ReadPhotoMeta(p)
		if err != nil {
			require.Nil(t, m)
			return
		}
		if m != nil && m.Lat != nil {
			require.LessOrEqual(t, *m.Lat, 90.0)
			require.GreaterOrEqual(t, *m.Lat, -90.0)
		}
	})
}

// BenchmarkReadPhotoMeta reads the metadata of a photo tagged by exiftool.
func BenchmarkReadPhotoMeta(b *testing.B) {
	p := exifPhoto(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.ReadPhotoMeta(p); err != nil {
			b.Fatal(err)
		}
	}
}
