package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/sync/blob"
)

// ThumbnailSource opens the thumbnail of the blob with a hash
// (media.Thumbnailer).
type ThumbnailSource interface {
	// Open opens the thumbnail, or answers an error matching fs.ErrNotExist.
	Open(sha string) (*os.File, error)
	// Remake makes a thumbnail made before but missing now (lost with the
	// node that made it) and returns it; an error matching fs.ErrNotExist
	// says none can be made, any other is the blob store's.
	Remake(ctx context.Context, e inspector.Evidence) ([]byte, error)
}

// remakeTimeout bounds making a lost thumbnail again within a request.
const remakeTimeout = 20 * time.Second

type evidenceWire struct {
	inspector.Evidence
	// MediaMissing: the record has waited for its bytes longer than the
	// server's threshold; dispatch should ask the inspector to upload again.
	MediaMissing bool `json:"media_missing"`
}

func (s *Server) toEvidenceWire(e inspector.Evidence) evidenceWire {
	missing := e.Status == inspector.EvidenceAwaitingUpload && s.cfg.Now().Sub(e.ReceivedAt) > s.cfg.MediaMissingAfter
	return evidenceWire{Evidence: e, MediaMissing: missing}
}

// evidenceFor loads an evidence record the caller may see: dispatch,
// supervisors and admins see all; an inspector only what they uploaded.
func (s *Server) evidenceFor(c echo.Context) (inspector.Evidence, error) {
	e, err := s.store.Evidence(c.Param("id"))
	if err != nil {
		return e, err
	}
	if p := principal(c); !seesAllEvidence(p.User.Role) && e.InspectorID != p.User.ID {
		return e, inspector.Errorf(inspector.CodeNotFound, "no evidence with id %q", c.Param("id"))
	}
	return e, nil
}

// seesAllEvidence reports whether role reads every evidence item; the others
// (inspectors, offices) read only what they uploaded.
func seesAllEvidence(r inspector.Role) bool {
	return r == inspector.RoleDispatcher || r == inspector.RoleSupervisor || r == inspector.RoleAdmin
}

func (s *Server) getEvidence(c echo.Context) error {
	e, err := s.evidenceFor(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toEvidenceWire(e))
}

func (s *Server) complaintEvidence(c echo.Context) error {
	es, err := s.store.ComplaintEvidence(c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listWire[evidenceWire]{Items: mapSlice(es, s.toEvidenceWire)})
}

// evidenceContent serves the bytes, with HTTP range requests, an ETag of
// their SHA-256, and the type sniffed from them (never the device's claim).
func (s *Server) evidenceContent(c echo.Context) error {
	e, err := s.evidenceFor(c)
	if err != nil {
		return err
	}
	if e.Status != inspector.EvidenceStored {
		return inspector.Errorf(inspector.CodeNotFound, "the bytes of this evidence are not stored (%s)", e.Status)
	}
	f, _, mod, err := s.cfg.Blobs.Open(e.SHA256)
	if errors.Is(err, blob.ErrNotFound) {
		return inspector.Errorf(inspector.CodeNotFound, "the bytes of this evidence are missing from storage")
	}
	if err != nil {
		return err
	}
	defer f.Close()
	disposition := "inline" // a photo shows in the console
	if !strings.HasPrefix(e.SniffedType, "image/") {
		// A PDF (anything not an image) is downloaded, never opened at the API's origin.
		disposition = `attachment; filename="evidence-` + e.ID + evidenceExtension(e.SniffedType) + `"`
	}
	return serveImmutable(c, e.SHA256, e.SniffedType, disposition, mod, f)
}

// evidenceExtension is the file name extension for an evidence type.
func evidenceExtension(contentType string) string {
	if contentType == "application/pdf" {
		return ".pdf"
	}
	return ""
}

func (s *Server) evidenceThumbnail(c echo.Context) error {
	e, err := s.evidenceFor(c)
	if err != nil {
		return err
	}
	if !e.Thumbnail || s.cfg.Thumbnails == nil {
		return inspector.Errorf(inspector.CodeNotFound, "this evidence has no thumbnail (yet)")
	}
	f, err := s.cfg.Thumbnails.Open(e.SHA256)
	if err != nil {
		// Recorded as made, but not here: made on another node (a promoted
		// standby's directory starts empty), or removed; or the directory
		// cannot be read. Made again.
		if !errors.Is(err, fs.ErrNotExist) {
			s.log(c).Error("thumbnail directory unreadable; making the thumbnail again", "evidence", e.ID, "err", err)
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), remakeTimeout)
		defer cancel()
		jpg, err := s.cfg.Thumbnails.Remake(ctx, e)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return inspector.Errorf(inspector.CodeNotFound, "the thumbnail is missing, and cannot be made again")
		case err != nil && c.Request().Context().Err() != nil:
			return nil // the client left; the next request makes it
		case errors.Is(err, context.DeadlineExceeded):
			// Waited its turn behind others being made: the server's load, not the blob store.
			return &retryAfterError{err: inspector.Errorf(codeBusy, "the server is busy making other thumbnails; ask again in a moment"), retryAfterSeconds: 2}
		case err != nil:
			return blobUnavailable(s.log(c), "make a missing thumbnail again", err)
		}
		return serveImmutable(c, e.SHA256+"-thumb", "image/jpeg", "inline", s.cfg.Now(), bytes.NewReader(jpg))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return serveImmutable(c, e.SHA256+"-thumb", "image/jpeg", "inline", st.ModTime(), f)
}

// serveImmutable serves bytes that never change. They came from a device,
// so they are sandboxed (Content-Security-Policy: sandbox: whatever a file
// holds runs in no origin, with no script) and not sniffed.
func serveImmutable(c echo.Context, etag, contentType, disposition string, mod time.Time, f interface {
	Read([]byte) (int, error)
	Seek(int64, int) (int64, error)
}) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set("ETag", `"`+etag+`"`)
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Content-Disposition", disposition)
	if zeroSuffixOnly(c.Request().Header.Get("Range")) {
		// RFC 9110 14.1.3: a zero-length suffix (bytes=-0) is
		// unsatisfiable; net/http answers it 206 with an end before its
		// start. A range from the end says so, with the size.
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		c.Request().Header.Set("Range", "bytes="+strconv.FormatInt(size, 10)+"-")
	}
	http.ServeContent(&noCachedErrors{Response: c.Response()}, c.Request(), "", mod, f)
	return nil
}

// zeroSuffixOnly reports whether a Range header asks only for zero-length
// suffixes (bytes=-0).
func zeroSuffixOnly(header string) bool {
	spec, ok := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !ok {
		return false
	}
	for part := range strings.SplitSeq(spec, ",") {
		digits, ok := strings.CutPrefix(strings.TrimSpace(part), "-")
		if !ok || digits == "" || strings.Trim(digits, "0") != "" {
			return false
		}
	}
	return true
}

// noCachedErrors keeps the bytes' caching headers off net/http's answers
// that are not the bytes (412, 416): like every /v1 error they are no-store.
type noCachedErrors struct{ *echo.Response }

func (w *noCachedErrors) WriteHeader(status int) {
	if status >= 400 {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Del("Content-Disposition")
		if status == http.StatusPreconditionFailed {
			h.Del(echo.HeaderContentType) // no body
		}
	}
	w.Response.WriteHeader(status)
}
