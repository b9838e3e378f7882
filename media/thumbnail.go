package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

const (
	// DefaultMaxSide is the longer side of a thumbnail, in pixels, when
	// Thumbnail is given none.
	DefaultMaxSide = 320
	// MaxPixels is the most pixels an image may claim to have; larger ones
	// are refused before they are decoded (a decompression bomb: a few KiB
	// of PNG can claim gigabytes of pixels).
	MaxPixels = 50_000_000
	// MaxDecodedBytes bounds the memory one decoded image may take: a
	// 16-bit image takes 8 bytes a pixel, so pixels alone are not enough.
	MaxDecodedBytes = 256 << 20
	// maxHeaderBytes bounds what is read and kept before an image's
	// dimensions are known (JPEG APP segments come first).
	maxHeaderBytes = 16 << 20
	// jpegQuality is the quality thumbnails are encoded at.
	jpegQuality = 80
)

// Sentinel errors of Thumbnail.
var (
	// ErrUnsupported is returned by Thumbnail for a type it cannot decode
	// (HEIC, PDF, anything but JPEG, PNG and WebP).
	ErrUnsupported = errors.New("media: no thumbnail for this type")
	// ErrTooLarge is returned by Thumbnail for an image that claims more
	// than MaxPixels pixels.
	ErrTooLarge = errors.New("media: image too large to thumbnail")
)

// codec decodes one image type.
type codec struct {
	name   string
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var codecs = map[string]codec{
	"image/jpeg": {"JPEG", jpeg.DecodeConfig, jpeg.Decode},
	"image/png":  {"PNG", png.DecodeConfig, png.Decode},
	"image/webp": {"WebP", webp.DecodeConfig, webp.Decode},
}

// Thumbnail decodes the image r of contentType (image/jpeg, image/png or
// image/webp: pass the type sniffed from the bytes, not the one declared)
// and returns it as a JPEG whose longer side is maxSide pixels, or
// DefaultMaxSide if maxSide <= 0. A smaller image keeps its size. A JPEG is
// turned upright by its EXIF orientation; transparency becomes white.
//
// It returns ErrUnsupported for other types and ErrTooLarge for an image
// whose header claims more than MaxPixels, found before any pixel is
// decoded. An image that cannot be decoded gives an error wrapping
// ErrMalformed (a decoder that panics on hostile bytes too); an error reading
// r is returned wrapped as it is.
func Thumbnail(r io.Reader, contentType string, maxSide int) (thumb []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			thumb, err = nil, fmt.Errorf("%w: decoder panicked: %v", ErrMalformed, p)
		}
	}()
	if maxSide <= 0 {
		maxSide = DefaultMaxSide
	}
	ct, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(contentType)), ";")
	c, ok := codecs[strings.TrimSpace(ct)]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, contentType)
	}
	rr := &recordingReader{r: r, recording: true}
	cfg, err := c.config(rr)
	switch {
	case rr.err != nil:
		return nil, fmt.Errorf("media: read image: %w", rr.err)
	case rr.tooLong:
		return nil, fmt.Errorf("%w: %s: no image size in the first %d bytes", ErrMalformed, c.name, maxHeaderBytes)
	case err != nil:
		return nil, fmt.Errorf("%w: %s header: %v", ErrMalformed, c.name, err)
	case cfg.Width <= 0 || cfg.Height <= 0:
		return nil, fmt.Errorf("%w: %s: %d×%d pixels", ErrMalformed, c.name, cfg.Width, cfg.Height)
	case int64(cfg.Width)*int64(cfg.Height) > MaxPixels:
		return nil, fmt.Errorf("%w: %d×%d pixels, at most %d", ErrTooLarge, cfg.Width, cfg.Height, MaxPixels)
	case int64(cfg.Width)*int64(cfg.Height)*bytesPerPixel(cfg.ColorModel) > MaxDecodedBytes:
		return nil, fmt.Errorf("%w: %d×%d pixels at %d bytes each, at most %d bytes decoded", ErrTooLarge,
			cfg.Width, cfg.Height, bytesPerPixel(cfg.ColorModel), MaxDecodedBytes)
	}
	orientation := 1
	if c.name == "JPEG" {
		orientation = jpegOrientation(rr.buf)
	}
	head := rr.buf
	rr.recording, rr.buf = false, nil
	img, err := c.decode(io.MultiReader(bytes.NewReader(head), rr))
	switch {
	case rr.err != nil:
		return nil, fmt.Errorf("media: read image: %w", rr.err)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, c.name, err)
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, orient(scale(img, maxSide), orientation), &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("media: encode thumbnail: %w", err)
	}
	return out.Bytes(), nil
}

// recordingReader keeps what is read while recording (the header, to be read
// again by the decoder) and remembers the first error of the reader beneath,
// so that a failed read is not mistaken for a corrupt image.
type recordingReader struct {
	r         io.Reader
	recording bool
	buf       []byte
	tooLong   bool
	err       error
}

var errHeaderTooLong = errors.New("media: image header too long")

func (rr *recordingReader) Read(p []byte) (int, error) {
	if rr.recording && len(rr.buf)+len(p) > maxHeaderBytes {
		if p = p[:max(0, maxHeaderBytes-len(rr.buf))]; len(p) == 0 {
			rr.tooLong = true
			return 0, errHeaderTooLong
		}
	}
	n, err := rr.r.Read(p)
	if rr.recording {
		rr.buf = append(rr.buf, p[:n]...)
	}
	if err != nil && err != io.EOF && rr.err == nil {
		rr.err = err
	}
	return n, err
}

// jpegOrientation reads the EXIF orientation (1 to 8) from the start of a
// JPEG; 1 (upright) if it has none or it cannot be read.
func jpegOrientation(head []byte) (o int) {
	defer func() {
		if recover() != nil {
			o = 1
		}
	}()
	block, err := jpegExif(bytes.NewReader(head), int64(len(head)))
	if err != nil || block == nil {
		return 1
	}
	x, err := parseExif(block)
	if err != nil || x.orientation == 0 {
		return 1
	}
	return x.orientation
}

// scale returns src on a white background, scaled with Catmull-Rom so that
// its longer side is at most maxSide; it is never enlarged.
func scale(src image.Image, maxSide int) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > maxSide || h > maxSide {
		if w >= h {
			w, h = maxSide, max(1, int(math.Round(float64(h)*float64(maxSide)/float64(w))))
		} else {
			w, h = max(1, int(math.Round(float64(w)*float64(maxSide)/float64(h)))), maxSide
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	op := draw.Src
	if o, ok := src.(interface{ Opaque() bool }); !ok || !o.Opaque() {
		draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
		op = draw.Over
	}
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), src, b.Min, op)
	} else {
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, op, nil)
	}
	return dst
}

// orient turns an image as its EXIF orientation says: 2 mirrored, 3 upside
// down, 4 flipped, 5 transposed, 6 rotated a quarter turn clockwise to be
// upright, 7 transversed, 8 rotated a quarter turn anticlockwise.
func orient(img *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return img
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range h {
		for x := range w {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = w-1-x, y
			case 3:
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8:
				dx, dy = y, w-1-x
			}
			out.SetRGBA(dx, dy, img.RGBAAt(x+img.Rect.Min.X, y+img.Rect.Min.Y))
		}
	}
	return out
}

// bytesPerPixel is what a decoder allocates per pixel for a color model.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	return 4 // RGBA, NRGBA, YCbCr (less), paletted (less): a safe bound
}
