package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"

	"github.com/favad/favad/inspector"
)

// Sentinel errors of ReadPhotoMeta (and, for ErrMalformed, Thumbnail).
var (
	// ErrUnknownFormat is returned for a file that is none of the types
	// evidence may have (JPEG, PNG, WebP, HEIC, PDF).
	ErrUnknownFormat = errors.New("media: not a JPEG, PNG, WebP, HEIC or PDF file")
	// ErrMalformed is wrapped by the errors for a file whose structure,
	// EXIF or image data is broken or truncated. Retrying will not help.
	ErrMalformed = errors.New("media: malformed file")
)

const (
	// MaxExifBytes bounds the EXIF block read from one file. A JPEG's EXIF
	// lives in one APP1 segment, at most 64 KiB.
	MaxExifBytes = 256 << 10
	// maxSegments bounds the container segments or chunks walked to find the
	// EXIF block, so that a file of many tiny segments costs little.
	maxSegments = 1024
)

// exifTimeLayout is how EXIF writes a date and time (with no zone).
const exifTimeLayout = "2006:01:02 15:04:05"

// Tags read from IFD0, the Exif IFD and the GPS IFD.
const (
	tagMake               = 0x010f
	tagModel              = 0x0110
	tagOrientation        = 0x0112
	tagDateTime           = 0x0132
	tagDateTimeOriginal   = 0x9003
	tagOffsetTime         = 0x9010
	tagOffsetTimeOriginal = 0x9011
	tagSubSecTime         = 0x9290
	tagSubSecTimeOriginal = 0x9291
	tagGPSLatitudeRef     = 0x0001
	tagGPSLatitude        = 0x0002
	tagGPSLongitudeRef    = 0x0003
	tagGPSLongitude       = 0x0004
)

// maxText bounds the camera make and model kept, in bytes.
const maxText = 64

// tehran is the zone EXIF times are read in when the photo does not say its
// own offset: the inspectors' phones run on Iran time. Without tzdata it is
// a fixed +03:30 (Iran has kept no daylight saving time since 2022).
var tehran = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Tehran"); err == nil {
		return loc
	}
	return time.FixedZone("+0330", 3*3600+30*60)
})

// ReadPhotoMeta reads the capture time, GPS position and camera make and
// model from the EXIF of the image at path (JPEG, PNG, WebP; HEIC when its
// EXIF lies in the first MaxExifBytes). It reads at most a few hundred KiB
// of the file, however large the file is.
//
// It returns (nil, nil) for a file with no EXIF, or none of those fields:
// a PDF, a PNG or JPEG without EXIF. It returns an error wrapping
// ErrMalformed for a truncated or corrupt file or EXIF block, and
// ErrUnknownFormat for a file of another type. It never panics. Fields whose
// values are unreadable or implausible (a GPS position of exactly 0,0, a
// time of "0000:00:00") are left out rather than failing the whole read.
//
// EXIF times carry no zone: they are read in OffsetTimeOriginal (or
// OffsetTime) when the photo has it, else in Iran time (Asia/Tehran, or a
// fixed +03:30 where tzdata is missing). CapturedAt is in UTC.
func ReadPhotoMeta(path string) (*inspector.PhotoMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: read photo metadata: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("media: read photo metadata: %w", err)
	}
	return ReadPhotoMetaAt(f, st.Size())
}

// ReadPhotoMetaAt is ReadPhotoMeta for an image of size bytes read through
// r (a file, or an object in a bucket read by ranged GETs): it reads the
// same few hundred KiB at most.
func ReadPhotoMetaAt(r io.ReaderAt, size int64) (*inspector.PhotoMeta, error) {
	info, err := readExif(r, size)
	if err != nil || info == nil {
		return nil, err
	}
	return info.meta(), nil
}

// exifInfo is what this package takes from an EXIF block.
type exifInfo struct {
	capturedAt  *time.Time
	lat, lng    *float64
	make, model string
	orientation int // 1 to 8; 0 if absent
}

// meta returns the PhotoMeta of x, or nil if it holds none of its fields.
func (x *exifInfo) meta() *inspector.PhotoMeta {
	if x.capturedAt == nil && x.lat == nil && x.make == "" && x.model == "" {
		return nil
	}
	return &inspector.PhotoMeta{CapturedAt: x.capturedAt, Lat: x.lat, Lng: x.lng, Make: x.make, Model: x.model}
}

// readExif finds and parses the EXIF block of the file r of size bytes. It
// returns nil, nil if the file has none.
func readExif(r io.ReaderAt, size int64) (info *exifInfo, err error) {
	// go-exif reports many errors by panicking (and its own recover
	// re-panics on values that are not errors): nothing escapes this.
	defer func() {
		if p := recover(); p != nil {
			info, err = nil, fmt.Errorf("%w: EXIF: %v", ErrMalformed, p)
		}
	}()
	block, err := findExif(r, size)
	if err != nil || block == nil {
		return nil, err
	}
	return parseExif(block)
}

// findExif returns the EXIF block (a TIFF header and its IFDs) of the file,
// or nil if it has none.
func findExif(r io.ReaderAt, size int64) ([]byte, error) {
	head := make([]byte, 16)
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("media: read: %w", err)
	}
	switch inspector.SniffType(head[:n]) {
	case "image/jpeg":
		return jpegExif(r, size)
	case "image/png":
		return pngExif(r, size)
	case "image/webp":
		return webpExif(r, size)
	case "image/heic":
		return searchExif(r, size)
	case "application/pdf":
		return nil, nil
	}
	return nil, ErrUnknownFormat
}

// readAt reads n bytes at off of a file of size bytes; a read past the end
// is ErrMalformed (the file is truncated), another failure an I/O error.
func readAt(r io.ReaderAt, size, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > size || n > size-off {
		return nil, fmt.Errorf("%w: truncated: %d bytes at offset %d run past the end (%d bytes)", ErrMalformed, n, off, size)
	}
	b := make([]byte, n)
	k, err := r.ReadAt(b, off)
	switch {
	case k == len(b):
		return b, nil
	case err == nil || errors.Is(err, io.EOF): // the file shrank under us
		return nil, fmt.Errorf("%w: truncated at offset %d", ErrMalformed, off+int64(k))
	}
	return nil, fmt.Errorf("media: read: %w", err)
}

// jpegExif walks a JPEG's marker segments up to the image data and returns
// the payload of the first APP1 "Exif" segment.
func jpegExif(r io.ReaderAt, size int64) ([]byte, error) {
	return jpegSegments(r, size, func(marker byte, off, length int64) ([]byte, bool, error) {
		if marker != 0xE1 || length < 6+8 {
			return nil, false, nil
		}
		sig, err := readAt(r, size, off, 6)
		if err != nil || string(sig) != "Exif\x00\x00" {
			return nil, false, err
		}
		b, err := readAt(r, size, off+6, length-6)
		return b, err == nil, err
	})
}

// jpegSegments calls fn with the marker, payload offset and payload length of
// each segment of a JPEG before its image data, until fn says it is done.
func jpegSegments(r io.ReaderAt, size int64, fn func(marker byte, off, length int64) ([]byte, bool, error)) ([]byte, error) {
	off := int64(2) // after SOI
	for range maxSegments {
		m, err := readAt(r, size, off, 2)
		if err != nil {
			return nil, err
		}
		if m[0] != 0xFF {
			return nil, fmt.Errorf("%w: JPEG: no marker at offset %d", ErrMalformed, off)
		}
		switch marker := m[1]; {
		case marker == 0xFF: // fill byte
			off++
			continue
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image: no EXIF
			return nil, nil
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // no payload
			off += 2
			continue
		case marker == 0x00 || marker == 0xD8:
			return nil, fmt.Errorf("%w: JPEG: unexpected marker %#x at offset %d", ErrMalformed, marker, off)
		}
		l, err := readAt(r, size, off+2, 2)
		if err != nil {
			return nil, err
		}
		length := int64(binary.BigEndian.Uint16(l))
		if length < 2 {
			return nil, fmt.Errorf("%w: JPEG: segment length %d at offset %d", ErrMalformed, length, off)
		}
		if off+2+length > size {
			return nil, fmt.Errorf("%w: truncated: JPEG segment at offset %d runs past the end", ErrMalformed, off)
		}
		if b, done, err := fn(m[1], off+4, length-2); err != nil || done {
			return b, err
		}
		off += 2 + length
	}
	return nil, fmt.Errorf("%w: JPEG: more than %d segments before the image data", ErrMalformed, maxSegments)
}

// pngExif walks a PNG's chunks up to the image data and returns the payload
// of its eXIf chunk.
func pngExif(r io.ReaderAt, size int64) ([]byte, error) {
	off := int64(8) // after the signature
	for range maxSegments {
		h, err := readAt(r, size, off, 8)
		if err != nil {
			return nil, err
		}
		n := int64(binary.BigEndian.Uint32(h[:4]))
		switch string(h[4:8]) {
		case "eXIf":
			if n > MaxExifBytes {
				return nil, fmt.Errorf("%w: PNG: eXIf chunk of %d bytes", ErrMalformed, n)
			}
			b, err := readAt(r, size, off+8, n)
			return bytes.TrimPrefix(b, []byte("Exif\x00\x00")), err
		case "IDAT", "IEND": // eXIf must come before the image data
			return nil, nil
		}
		off += 12 + n
	}
	return nil, fmt.Errorf("%w: PNG: more than %d chunks before the image data", ErrMalformed, maxSegments)
}

// webpExif walks a WebP's RIFF chunks and returns the payload of its EXIF
// chunk, which comes after the image data: the chunk headers are read, the
// image data skipped.
func webpExif(r io.ReaderAt, size int64) ([]byte, error) {
	h, err := readAt(r, size, 0, 12)
	if err != nil {
		return nil, err
	}
	end := 8 + int64(binary.LittleEndian.Uint32(h[4:8]))
	off := int64(12)
	for range maxSegments {
		if off+8 > end {
			return nil, nil
		}
		h, err := readAt(r, size, off, 8)
		if err != nil {
			return nil, err
		}
		n := int64(binary.LittleEndian.Uint32(h[4:8]))
		if string(h[:4]) == "EXIF" {
			if n > MaxExifBytes {
				return nil, fmt.Errorf("%w: WebP: EXIF chunk of %d bytes", ErrMalformed, n)
			}
			b, err := readAt(r, size, off+8, n)
			return bytes.TrimPrefix(b, []byte("Exif\x00\x00")), err
		}
		off += 8 + n + n&1
	}
	return nil, fmt.Errorf("%w: WebP: more than %d chunks", ErrMalformed, maxSegments)
}

// searchExif looks for an "Exif" block with a TIFF header in the first
// MaxExifBytes of a file whose container this package does not walk (HEIC
// keeps EXIF as an item, usually near the start).
func searchExif(r io.ReaderAt, size int64) ([]byte, error) {
	b, err := readAt(r, size, 0, min(size, MaxExifBytes))
	if err != nil {
		return nil, err
	}
	sig := []byte("Exif\x00\x00")
	for {
		i := bytes.Index(b, sig)
		if i < 0 {
			return nil, nil
		}
		b = b[i+len(sig):]
		if bytes.HasPrefix(b, []byte("MM\x00\x2a")) || bytes.HasPrefix(b, []byte("II\x2a\x00")) {
			return b, nil
		}
	}
}

// parseExif reads the fields this package wants from an EXIF block.
func parseExif(block []byte) (*exifInfo, error) {
	block, err := cutIFDChain(block)
	if err != nil {
		return nil, err
	}
	tables, err := exifTables()
	if err != nil {
		return nil, err
	}
	_, index, err := exif.Collect(tables.mapping, tables.tags, block)
	if err != nil {
		return nil, fmt.Errorf("%w: EXIF: %v", ErrMalformed, err)
	}
	v := tagReader{limit: len(block)}
	ifd0 := index.RootIfd
	exifIFD := index.Lookup[exifcommon.IfdExifStandardIfdIdentity.String()]
	gpsIFD := index.Lookup[exifcommon.IfdGpsInfoStandardIfdIdentity.String()]

	x := &exifInfo{make: v.text(ifd0, tagMake), model: v.text(ifd0, tagModel)}
	if o, ok := v.short(ifd0, tagOrientation); ok && o >= 1 && o <= 8 {
		x.orientation = int(o)
	}
	at, ok := exifTime(v.ascii(exifIFD, tagDateTimeOriginal), v.ascii(exifIFD, tagSubSecTimeOriginal), v.ascii(exifIFD, tagOffsetTimeOriginal))
	if !ok {
		at, ok = exifTime(v.ascii(ifd0, tagDateTime), v.ascii(exifIFD, tagSubSecTime), v.ascii(exifIFD, tagOffsetTime))
	}
	if ok {
		at = at.UTC()
		x.capturedAt = &at
	}
	lat, okLat := v.coordinate(gpsIFD, tagGPSLatitudeRef, tagGPSLatitude, "N", "S", 90)
	lng, okLng := v.coordinate(gpsIFD, tagGPSLongitudeRef, tagGPSLongitude, "E", "W", 180)
	if okLat && okLng && (lat != 0 || lng != 0) { // 0,0 is a phone with no fix
		x.lat, x.lng = &lat, &lng
	}
	return x, nil
}

// exifTables are go-exif's IFD mapping and tag index, built once (the tag
// index parses YAML) and only read afterwards, so shared by every parse. The
// tag index is loaded here: left empty it would load itself lazily, racily.
var exifTables = sync.OnceValues(func() (exifParseTables, error) {
	im, err := exifcommon.NewIfdMappingWithStandard()
	if err != nil {
		return exifParseTables{}, fmt.Errorf("media: EXIF IFD mapping: %w", err)
	}
	ti := exif.NewTagIndex()
	if err := exif.LoadStandardTags(ti); err != nil {
		return exifParseTables{}, fmt.Errorf("media: EXIF tag index: %w", err)
	}
	return exifParseTables{im, ti}, nil
})

type exifParseTables struct {
	mapping *exifcommon.IfdMapping
	tags    *exif.TagIndex
}

// cutIFDChain returns a copy of an EXIF block whose first IFD links to no
// next IFD. The next one (IFD1) describes the embedded thumbnail, which
// go-exif reads eagerly, allocating the length the file claims (up to 4 GiB)
// before reading it; nothing this package wants is there.
func cutIFDChain(block []byte) ([]byte, error) {
	if len(block) < 8 {
		return nil, fmt.Errorf("%w: EXIF: %d bytes", ErrMalformed, len(block))
	}
	var order binary.ByteOrder
	switch string(block[:4]) {
	case "MM\x00\x2a":
		order = binary.BigEndian
	case "II\x2a\x00":
		order = binary.LittleEndian
	default:
		return nil, fmt.Errorf("%w: EXIF: no TIFF header", ErrMalformed)
	}
	first := uint64(order.Uint32(block[4:8]))
	if first+2 > uint64(len(block)) {
		return nil, fmt.Errorf("%w: EXIF: first IFD at %d is past the end", ErrMalformed, first)
	}
	next := first + 2 + 12*uint64(order.Uint16(block[first:]))
	if next+4 > uint64(len(block)) {
		return nil, fmt.Errorf("%w: EXIF: first IFD runs past the end", ErrMalformed)
	}
	out := bytes.Clone(block)
	order.PutUint32(out[next:], 0)
	return out, nil
}

// tagReader reads single tag values, refusing any whose claimed size is
// larger than the block (go-exif allocates the claimed size first).
type tagReader struct{ limit int }

func (v tagReader) value(ifd *exif.Ifd, id uint16, typ exifcommon.TagTypePrimitive) any {
	if ifd == nil {
		return nil
	}
	tags, err := ifd.FindTagWithId(id)
	if err != nil || len(tags) == 0 || tags[0].TagType() != typ {
		return nil
	}
	if uint64(tags[0].UnitCount())*uint64(typ.Size()) > uint64(v.limit) {
		return nil
	}
	val, err := tags[0].Value()
	if err != nil {
		return nil
	}
	return val
}

func (v tagReader) ascii(ifd *exif.Ifd, id uint16) string {
	s, _ := v.value(ifd, id, exifcommon.TypeAscii).(string)
	return strings.TrimSpace(strings.TrimRight(s, "\x00"))
}

// text is an ASCII tag made safe to show: printable, valid UTF-8, bounded.
func (v tagReader) text(ifd *exif.Ifd, id uint16) string {
	s := strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(v.ascii(ifd, id), ""))
	for len(s) > maxText {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return strings.TrimSpace(s)
}

func (v tagReader) short(ifd *exif.Ifd, id uint16) (uint16, bool) {
	s, _ := v.value(ifd, id, exifcommon.TypeShort).([]uint16)
	if len(s) == 0 {
		return 0, false
	}
	return s[0], true
}

// coordinate reads a GPS latitude or longitude in decimal degrees, negative
// for the ref neg; ok is false if it is missing, unreadable or out of range.
func (v tagReader) coordinate(ifd *exif.Ifd, refID, valueID uint16, pos, neg string, limit float64) (float64, bool) {
	ref := strings.ToUpper(v.ascii(ifd, refID))
	if ref != pos && ref != neg {
		return 0, false
	}
	parts, _ := v.value(ifd, valueID, exifcommon.TypeRational).([]exifcommon.Rational)
	if len(parts) == 0 || len(parts) > 3 {
		return 0, false
	}
	deg, unit := 0.0, 1.0
	for _, p := range parts {
		if p.Denominator == 0 {
			return 0, false
		}
		deg += float64(p.Numerator) / float64(p.Denominator) / unit
		unit *= 60
	}
	if ref == neg {
		deg = -deg
	}
	if math.IsNaN(deg) || math.Abs(deg) > limit {
		return 0, false
	}
	return deg, true
}

// exifTime reads an EXIF date and time with its optional sub-seconds and
// offset ("+03:30"); without an offset it is Tehran time.
func exifTime(dt, subsec, offset string) (time.Time, bool) {
	if len(dt) > len(exifTimeLayout) {
		dt = dt[:len(exifTimeLayout)]
	}
	loc := tehran()
	if z, ok := parseOffset(offset); ok {
		loc = z
	}
	t, err := time.ParseInLocation(exifTimeLayout, dt, loc)
	if err != nil {
		if t, err = time.ParseInLocation("2006-01-02 15:04:05", dt, loc); err != nil {
			return time.Time{}, false
		}
	}
	if subsec != "" && len(subsec) <= 9 && strings.Trim(subsec, "0123456789") == "" {
		ns := 0
		for i := range 9 {
			ns *= 10
			if i < len(subsec) {
				ns += int(subsec[i] - '0')
			}
		}
		t = t.Add(time.Duration(ns))
	}
	return t, true
}

// parseOffset reads an EXIF offset, "+03:30" or "-05:00".
func parseOffset(s string) (*time.Location, bool) {
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return nil, false
	}
	t, err := time.Parse("15:04", s[1:])
	if err != nil {
		return nil, false
	}
	secs := t.Hour()*3600 + t.Minute()*60
	if secs > 14*3600 {
		return nil, false
	}
	if s[0] == '-' {
		secs = -secs
	}
	return time.FixedZone(s, secs), true
}
