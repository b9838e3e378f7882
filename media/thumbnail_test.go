package media_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/media"
)

func TestThumbnail(t *testing.T) {
	t.Parallel()
	webpLossy, err := os.ReadFile(filepath.Join("testdata", "blue-purple-pink.lossy.webp"))
	require.NoError(t, err)
	webpLossless, err := os.ReadFile(filepath.Join("testdata", "gopher-doc.1bpp.lossless.webp"))
	require.NoError(t, err)
	cases := []struct {
		name        string
		data        []byte
		contentType string
		maxSide     int
		w, h        int
	}{
		{"landscape JPEG", encodeJPEG(t, testImage(1200, 800)), "image/jpeg", 0, 320, 213},
		{"portrait PNG", encodePNG(t, testImage(600, 900)), "image/png", 0, 213, 320},
		{"square JPEG", encodeJPEG(t, testImage(500, 500)), "image/jpeg", 320, 320, 320},
		{"small JPEG is not enlarged", encodeJPEG(t, testImage(100, 50)), "image/jpeg", 0, 100, 50},
		{"small PNG is not enlarged", encodePNG(t, testImage(320, 10)), "image/png", 0, 320, 10},
		{"thin strip keeps a row", encodePNG(t, testImage(2000, 2)), "image/png", 0, 320, 1},
		{"lossy WebP", webpLossy, "image/webp", 64, 64, 43},
		{"lossless WebP is not enlarged", webpLossless, "image/webp", 0, 75, 100},
		{"content type with parameters", encodeJPEG(t, testImage(640, 480)), " Image/JPEG; q=1", 0, 320, 240},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			thumb, err := media.Thumbnail(bytes.NewReader(c.data), c.contentType, c.maxSide)
			require.NoError(t, err)
			requireJPEGSize(t, thumb, c.w, c.h)
		})
	}
}

func TestThumbnailLooksLikeTheImage(t *testing.T) {
	t.Parallel()
	thumb, err := media.Thumbnail(bytes.NewReader(encodeJPEG(t, testImage(1200, 800))), "image/jpeg", 0)
	require.NoError(t, err)
	img := requireJPEGSize(t, thumb, 320, 213)
	assertColor(t, color.RGBA{R: 255, A: 255}, img.At(10, 10), "the red corner")
	assertColor(t, color.RGBA{G: 127, B: 200, A: 255}, img.At(200, 106), "the gradient")
}

func TestThumbnailTransparencyIsWhite(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 400, 400)) // all transparent
	thumb, err := media.Thumbnail(bytes.NewReader(encodePNG(t, img)), "image/png", 0)
	require.NoError(t, err)
	got := requireJPEGSize(t, thumb, 320, 320)
	assertColor(t, color.White, got.At(160, 160), "a transparent pixel")
}

func TestThumbnailFollowsExifOrientation(t *testing.T) {
	t.Parallel()
	// Orientation 6: the camera was turned; the picture is shown a quarter
	// turn clockwise, so the red top-left corner ends top-right.
	p := writeFile(t, "turned.jpg", encodeJPEG(t, testImage(1200, 800)))
	exiftool(t, p, "-Orientation#=6")
	thumb, err := media.Thumbnail(bytes.NewReader(readFile(t, p)), "image/jpeg", 0)
	require.NoError(t, err)
	img := requireJPEGSize(t, thumb, 213, 320)
	assertColor(t, color.RGBA{R: 255, A: 255}, img.At(200, 10), "top right")
	assertColor(t, color.RGBA{G: 245, B: 200, A: 255}, img.At(10, 10), "top left, once bottom left")
}

func TestThumbnailOrientations(t *testing.T) {
	t.Parallel()
	// Where the red top-left corner of a 400×200 image ends, for each
	// orientation, in the 320-wide (or 320-high) thumbnail.
	for o, want := range map[int]struct {
		w, h, x, y int
	}{
		1: {320, 160, 10, 10}, 2: {320, 160, 310, 10}, 3: {320, 160, 310, 150}, 4: {320, 160, 10, 150},
		5: {160, 320, 10, 10}, 6: {160, 320, 150, 10}, 7: {160, 320, 150, 310}, 8: {160, 320, 10, 310},
	} {
		block := buildTIFF([]tiffEntry{{0x0112, 3, 1, []byte{byte(o), 0}}})
		thumb, err := media.Thumbnail(bytes.NewReader(jpegWithExif(t, testImage(400, 200), block)), "image/jpeg", 0)
		require.NoError(t, err)
		img := requireJPEGSize(t, thumb, want.w, want.h)
		assertColor(t, color.RGBA{R: 255, A: 255}, img.At(want.x, want.y), "orientation %d", o)
	}
}

func TestThumbnailUnsupported(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{"application/pdf", "image/heic", "image/gif", ""} {
		_, err := media.Thumbnail(bytes.NewReader([]byte("%PDF-1.4\n")), ct, 0)
		assert.ErrorIs(t, err, media.ErrUnsupported, ct)
	}
}

func TestThumbnailCorrupt(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, testImage(640, 480))
	for name, c := range map[string]struct {
		data        []byte
		contentType string
	}{
		"noise after the magic":  {append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{0x42}, 1000)...), "image/jpeg"},
		"JPEG cut in the pixels": {jpg[:len(jpg)/2], "image/jpeg"},
		"PNG declared JPEG":      {encodePNG(t, testImage(10, 10)), "image/jpeg"},
		"empty":                  {nil, "image/png"},
		"zero-width PNG":         {pngHeader(0, 10), "image/png"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := media.Thumbnail(bytes.NewReader(c.data), c.contentType, 0)
			require.Error(t, err)
			assert.ErrorIs(t, err, media.ErrMalformed)
		})
	}
}

func TestThumbnailReadErrorIsNotCorruption(t *testing.T) {
	t.Parallel()
	errDisk := errors.New("disk on fire")
	jpg := encodeJPEG(t, testImage(640, 480))
	for _, at := range []int{0, 100, len(jpg) / 2} {
		r := io.MultiReader(bytes.NewReader(jpg[:at]), iotest.ErrReader(errDisk))
		_, err := media.Thumbnail(r, "image/jpeg", 0)
		require.ErrorIs(t, err, errDisk, "read error at %d", at)
		assert.NotErrorIs(t, err, media.ErrMalformed)
	}
}

// pngHeader is the start of a PNG claiming w×h pixels: signature and IHDR.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	out := append([]byte("\x89PNG\r\n\x1a\n"), binary.BigEndian.AppendUint32(nil, uint32(len(ihdr)))...)
	out = append(out, chunk...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
}

func TestThumbnailRefusesDecompressionBombs(t *testing.T) {
	// A JPEG start-of-frame claiming 65535×65535 pixels, and a start of scan.
	sof := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, 0xFF, 0xFF, 0xFF, 0xFF, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
		0xFF, 0xDA, 0x00, 0x0C}
	for name, c := range map[string]struct {
		data        []byte
		contentType string
	}{
		"PNG 100000×100000": {append(pngHeader(100000, 100000), make([]byte, 1<<10)...), "image/png"},
		"PNG 10000×5001":    {pngHeader(10000, 5001), "image/png"},
		"JPEG 65535×65535":  {sof, "image/jpeg"},
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := media.Thumbnail(bytes.NewReader(c.data), c.contentType, 0)
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, media.ErrTooLarge)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")
		})
	}
}

// assertColor checks that got is within a JPEG's error of want.
func assertColor(tb testing.TB, want color.Color, got color.Color, what string, args ...any) {
	tb.Helper()
	wr, wg, wb, _ := want.RGBA()
	gr, gg, gb, _ := got.RGBA()
	near := func(a, b uint32) bool { return max(a, b)-min(a, b) < 0x1800 } // about 24 of 255
	assert.True(tb, near(wr, gr) && near(wg, gg) && near(wb, gb), "%s: want %v, got %v", fmt.Sprintf(what, args...), want, got)
}

// BenchmarkThumbnail makes the thumbnail of a 12-megapixel phone photo.
func BenchmarkThumbnail(b *testing.B) {
	photo := encodeJPEG(b, testImage(4000, 3000))
	b.SetBytes(int64(len(photo)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.Thumbnail(bytes.NewReader(photo), "image/jpeg", 0); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzThumbnail(f *testing.F) {
	img := testImage(40, 30)
	jpg := encodeJPEG(f, img)
	webp, err := os.ReadFile(filepath.Join("testdata", "gopher-doc.1bpp.lossless.webp"))
	require.NoError(f, err)
	f.Add(jpg, "image/jpeg")
	f.Add(jpg[:len(jpg)/2], "image/jpeg")
	f.Add(jpegWithExif(f, img, buildTIFF([]tiffEntry{{0x0112, 3, 1, []byte{6, 0}}})), "image/jpeg")
	f.Add(encodePNG(f, img), "image/png")
	f.Add(pngHeader(100000, 100000), "image/png")
	f.Add(webp, "image/webp")
	f.Add([]byte("%PDF-1.4"), "application/pdf")
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		thumb, err := media.Thumbnail(bytes.NewReader(data), contentType, 16)
		if err != nil {
			require.Nil(t, thumb)
			return
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumb))
		require.NoError(t, err, "a thumbnail is a JPEG")
		require.LessOrEqual(t, max(cfg.Width, cfg.Height), 16)
	})
}
