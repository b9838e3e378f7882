package media_test

// The test kit of package media: real image files made on the spot, EXIF
// written by exiftool, and hand-built EXIF blocks for what exiftool will not
// write (broken and hostile ones).

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireExiftool returns the path of exiftool. Without it the test is
// skipped, unless FAVAD_REQUIRE_EXIFTOOL is set (as in CI): then it fails.
func requireExiftool(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("exiftool")
	if err == nil {
		return p
	}
	if _, required := os.LookupEnv("FAVAD_REQUIRE_EXIFTOOL"); required {
		tb.Fatalf("exiftool is not on PATH and FAVAD_REQUIRE_EXIFTOOL is set: install libimage-exiftool-perl")
	}
	tb.Skip("exiftool is not on PATH: install libimage-exiftool-perl (Debian) to run this test; CI sets FAVAD_REQUIRE_EXIFTOOL to make it fail instead")
	return ""
}

// exiftool runs exiftool with args on file, in place.
func exiftool(tb testing.TB, file string, args ...string) {
	tb.Helper()
	tool := requireExiftool(tb)
	out, err := exec.Command(tool, append(append([]string{"-overwrite_original"}, args...), file)...).CombinedOutput()
	require.NoError(tb, err, "exiftool: %s", out)
}

// testImage is a w×h picture with a gradient and a red top-left corner (the
// corner shows which way a thumbnail was turned).
func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 0, G: uint8(255 * y / h), B: 200, A: 255}
			if x < w/4 && y < h/4 {
				c = color.RGBA{R: 255, A: 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func encodeJPEG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	require.NoError(tb, jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}))
	return b.Bytes()
}

func encodePNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	require.NoError(tb, png.Encode(&b, img))
	return b.Bytes()
}

// writeFile writes data to a new file named name in a temporary directory.
func writeFile(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	require.NoError(tb, os.WriteFile(p, data, 0o600))
	return p
}

// readFile reads a file the test made.
func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	require.NoError(tb, err)
	return b
}

// requireJPEGSize decodes b as a JPEG and checks its size.
func requireJPEGSize(tb testing.TB, b []byte, w, h int) image.Image {
	tb.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	require.NoError(tb, err, "a thumbnail is a JPEG")
	require.Equal(tb, image.Pt(w, h), img.Bounds().Size())
	return img
}

// tiffEntry is one tag of a hand-built IFD. Values of up to four bytes are
// stored in the entry, longer ones after the IFD.
type tiffEntry struct {
	tag, typ uint16
	count    uint32
	value    []byte
}

// TIFF field types.
const (
	tiffASCII = 2
	tiffLong  = 4
)

func asciiEntry(tag uint16, s string) tiffEntry {
	return tiffEntry{tag, tiffASCII, uint32(len(s) + 1), append([]byte(s), 0)}
}

func longEntry(tag uint16, v uint32) tiffEntry {
	return tiffEntry{tag, tiffLong, 1, binary.LittleEndian.AppendUint32(nil, v)}
}

// buildTIFF lays out a little-endian EXIF block (TIFF header and IFDs) with
// the IFDs chained in order.
func buildTIFF(ifds ...[]tiffEntry) []byte {
	le := binary.LittleEndian
	out := []byte("II\x2a\x00")
	out = le.AppendUint32(out, 8)
	for i, entries := range ifds {
		start := len(out)
		dataAt := start + 2 + 12*len(entries) + 4
		var data []byte
		out = le.AppendUint16(out, uint16(len(entries)))
		for _, e := range entries {
			out = le.AppendUint16(out, e.tag)
			out = le.AppendUint16(out, e.typ)
			out = le.AppendUint32(out, e.count)
			if len(e.value) <= 4 {
				out = append(out, append(e.value, make([]byte, 4-len(e.value))...)...)
				continue
			}
			out = le.AppendUint32(out, uint32(dataAt+len(data)))
			data = append(data, e.value...)
			if len(data)%2 == 1 {
				data = append(data, 0)
			}
		}
		next := 0
		if i < len(ifds)-1 {
			next = dataAt + len(data)
		}
		out = le.AppendUint32(out, uint32(next))
		out = append(out, data...)
	}
	return out
}

// jpegWithExif is a JPEG of img whose APP1 segment holds the EXIF block.
func jpegWithExif(tb testing.TB, img image.Image, block []byte) []byte {
	tb.Helper()
	plain := encodeJPEG(tb, img)
	seg := append([]byte("Exif\x00\x00"), block...)
	require.Less(tb, len(seg)+2, 1<<16)
	app1 := binary.BigEndian.AppendUint16([]byte{0xFF, 0xE1}, uint16(len(seg)+2))
	return append(append(append([]byte{}, plain[:2]...), append(app1, seg...)...), plain[2:]...)
}
