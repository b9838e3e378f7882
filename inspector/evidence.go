package inspector

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// EvidenceKind is what an evidence item is.
type EvidenceKind string

// Evidence kinds.
const (
	EvidencePhoto     EvidenceKind = "photo"
	EvidenceDocument  EvidenceKind = "document"
	EvidenceStatement EvidenceKind = "statement" // a signed statement, photographed or scanned
)

// EvidenceStatus is where an evidence item's bytes stand.
type EvidenceStatus string

// Evidence statuses. The record (synced) and the bytes (uploaded) may arrive
// in either order; the record waits for its bytes.
const (
	EvidenceAwaitingUpload EvidenceStatus = "awaiting_upload"
	EvidenceStored         EvidenceStatus = "stored"
	EvidenceRejected       EvidenceStatus = "rejected"
)

// AllowedEvidenceTypes are the content types an upload may have.
var AllowedEvidenceTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/heic": true, "image/webp": true, "application/pdf": true,
}

// PhotoMeta is what a photo's EXIF says, beside the device's own claims.
type PhotoMeta struct {
	CapturedAt *time.Time `json:"captured_at,omitempty"`
	Lat        *float64   `json:"lat,omitempty"`
	Lng        *float64   `json:"lng,omitempty"`
	Make       string     `json:"make,omitempty"`
	Model      string     `json:"model,omitempty"`
}

// Evidence flags: mismatches between the evidence and the visit it belongs
// to. Evidence is flagged, never dropped.
const (
	FlagCapturedOutsideVisit = "captured_outside_visit"
	FlagFarFromOffice        = "far_from_office"
	FlagTypeMismatch         = "declared_type_differs"
	FlagNoCaptureTime        = "no_capture_time"
)

// Evidence is an immutable item attached to a complaint and perhaps a visit:
// a photo, a document, a statement. Its bytes are content-addressed by SHA-256.
type Evidence struct {
	ID          string         `json:"id"`
	ComplaintID string         `json:"complaint_id"`
	VisitID     string         `json:"visit_id,omitempty"`
	InspectorID string         `json:"inspector_id"` // the uploader
	DeviceID    string         `json:"device_id"`
	Kind        EvidenceKind   `json:"kind"`
	ContentType string         `json:"content_type"` // declared by the device
	Size        int64          `json:"size"`
	SHA256      string         `json:"sha256"`             // declared by the device, verified on upload
	CapturedAt  time.Time      `json:"captured_at"`        // the device's claim
	Location    *Location      `json:"location,omitempty"` // the device's claim
	Note        string         `json:"note,omitempty"`
	Status      EvidenceStatus `json:"status"`
	Reason      string         `json:"reason,omitempty"` // why rejected
	SniffedType string         `json:"sniffed_type,omitempty"`
	Photo       *PhotoMeta     `json:"photo,omitempty"`
	Flags       []string       `json:"flags,omitempty"`
	Thumbnail   bool           `json:"thumbnail"`
	ReceivedAt  time.Time      `json:"received_at"` // server time the record arrived
	StoredAt    *time.Time     `json:"stored_at,omitempty"`
	ChainSeq    uint64         `json:"chain_seq"`  // position in the complaint's chain, from 1
	ChainPrev   string         `json:"chain_prev"` // the previous entry's hash ("" for the first)
	ChainHash   string         `json:"chain_hash"`
	Version     uint64         `json:"version"`
}

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidSHA256 reports whether s is a lower-case hex SHA-256.
func ValidSHA256(s string) bool { return sha256Pattern.MatchString(s) }

// Validate checks an evidence record a device sent; maxSize bounds the bytes.
func (e *Evidence) Validate(p *Problems, prefix string, maxSize int64) {
	e.SHA256 = strings.ToLower(strings.TrimSpace(e.SHA256))
	e.ContentType = strings.ToLower(strings.TrimSpace(e.ContentType))
	if e.ComplaintID == "" {
		p.Add(prefix+"complaint_id", "required", "evidence belongs to a complaint")
	}
	switch e.Kind {
	case EvidencePhoto, EvidenceDocument, EvidenceStatement:
	default:
		p.Add(prefix+"kind", "invalid", "photo, document or statement")
	}
	if !AllowedEvidenceTypes[e.ContentType] {
		p.Add(prefix+"content_type", "not_allowed", "image/jpeg, image/png, image/heic, image/webp or application/pdf")
	}
	if e.Size <= 0 || e.Size > maxSize {
		p.Add(prefix+"size", "out_of_range", fmt.Sprintf("1 to %d bytes", maxSize))
	}
	if !ValidSHA256(e.SHA256) {
		p.Add(prefix+"sha256", "invalid", "the file's SHA-256, 64 hex digits")
	}
	if e.CapturedAt.IsZero() {
		p.Add(prefix+"captured_at", "required", "when the device captured it")
	}
	if l := e.Location; l != nil {
		checkCoordinates(p, prefix+"location.", l.Lat, l.Lng)
	}
	if len([]rune(e.Note)) > MaxNote {
		p.Add(prefix+"note", "too_long", "at most 2000 characters")
	}
}

// ChainEntryHash is the hash of one entry of a complaint's evidence chain: it
// covers the previous entry's hash, so changing or removing any item breaks
// every hash after it.
func ChainEntryHash(prev string, e Evidence) string {
	h := sha256.New()
	fmt.Fprintf(h, "favad-evidence-chain-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%d\n%s\n",
		prev, e.ID, e.ComplaintID, e.SHA256, e.InspectorID, e.DeviceID,
		e.CapturedAt.UTC().Format(time.RFC3339Nano), e.Size, e.ReceivedAt.UTC().Format(time.RFC3339Nano))
	return hex.EncodeToString(h.Sum(nil))
}

// SniffType names the real type of a file from its first bytes, for the
// allowed types; "" if it is none of them.
func SniffType(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "image/webp"
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return "application/pdf"
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		switch string(head[8:12]) {
		case "heic", "heix", "hevc", "hevx", "mif1", "msf1", "heim", "heis":
			return "image/heic"
		}
	}
	return ""
}

// EvidenceLimits are the thresholds for flagging evidence.
type EvidenceLimits struct {
	// CaptureSlack widens the visit's check-in/check-out window.
	CaptureSlack time.Duration
	// MaxDistanceM is how far from the office a photo may be taken.
	MaxDistanceM float64
}

// DefaultEvidenceLimits are the pilot's thresholds.
func DefaultEvidenceLimits() EvidenceLimits {
	return EvidenceLimits{CaptureSlack: 30 * time.Minute, MaxDistanceM: 500}
}

// EvidenceFlags compares evidence with its visit and office: a capture time
// (from EXIF, else the device's claim) outside the visit's window, a position
// far from the office. visit and office may be nil when unknown.
func EvidenceFlags(e Evidence, visit *Visit, office *Office, lim EvidenceLimits) []string {
	var flags []string
	captured := e.CapturedAt
	if e.Photo != nil && e.Photo.CapturedAt != nil {
		captured = *e.Photo.CapturedAt
	} else if e.Kind == EvidencePhoto && e.SniffedType != "" {
		flags = append(flags, FlagNoCaptureTime)
	}
	if visit != nil && visit.CheckIn != nil {
		from := visit.CheckIn.DeviceTime.Add(-lim.CaptureSlack)
		to := time.Time{}
		if visit.CheckOut != nil {
			to = visit.CheckOut.DeviceTime.Add(lim.CaptureSlack)
		}
		if captured.Before(from) || (!to.IsZero() && captured.After(to)) {
			flags = append(flags, FlagCapturedOutsideVisit)
		}
	}
	if office != nil && office.Location != nil {
		var lat, lng *float64
		if e.Photo != nil && e.Photo.Lat != nil && e.Photo.Lng != nil {
			lat, lng = e.Photo.Lat, e.Photo.Lng
		} else if e.Location != nil {
			lat, lng = &e.Location.Lat, &e.Location.Lng
		}
		if lat != nil && DistanceM(*lat, *lng, office.Location.Lat, office.Location.Lng) > lim.MaxDistanceM {
			flags = append(flags, FlagFarFromOffice)
		}
	}
	if e.SniffedType != "" && e.SniffedType != e.ContentType {
		flags = append(flags, FlagTypeMismatch)
	}
	return flags
}

// DistanceM is the great-circle distance in metres between two points.
func DistanceM(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6371000.0
	rad := math.Pi / 180
	dLat, dLng := (lat2-lat1)*rad, (lng2-lng1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}
