package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	stdsync "sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

// Evidence bytes arrive over the tus 1.0 resumable upload protocol (tusd v2
// as a library), mounted at /v1/uploads behind the same authentication. The
// upload's metadata names the evidence id, the device's SHA-256 and the
// content type; a pre-create hook refuses what is out of scope or over the
// limits before a byte is stored; the data store (uploadStore) hashes the
// bytes as they arrive, and a pre-finish hook checks that hash, sniffs their
// type and moves them into the content-addressed blob store.

type principalKey struct{}

// newUploads builds the tus handler.
func (s *Server) newUploads() (http.Handler, error) {
	if err := os.MkdirAll(s.cfg.UploadDir, 0o700); err != nil {
		return nil, fmt.Errorf("upload directory: %w", err)
	}
	area := newUploadArea(s.cfg.Blobs, s.cfg.UploadDir)
	if _, onDisk := area.(*diskArea); onDisk {
		// In a bucket, uploadStore's data store reopens such uploads as
		// it loads them (s3blob's UploadStore).
		reopenCompleted(s.cfg.UploadDir, s.cfg.Logger)
	}
	composer := tusd.NewStoreComposer()
	// Only the core: termination, concatenation and downloads are off, and a
	// deferred length is refused in uploads.
	store := newUploadStore(area)
	composer.UseCore(spaceAwareStore{store})
	s.tusFiles = store
	memorylocker.New().UseIn(composer)
	h, err := tusd.NewHandler(tusd.Config{
		BasePath:      "/v1/uploads/",
		StoreComposer: composer,
		// No MaxSize: beforeUpload refuses an over-size length
		// with a problem document, and tusd bounds each PATCH by the declared length.
		DisableDownload:           true, // evidence is read at /v1/evidence/{id}/content, with its record's authorization
		DisableTermination:        true,
		DisableConcatenation:      true, // each part would be checked against the whole file's hash
		Logger:                    tusLogger(s.cfg.Logger),
		RespectForwardedHeaders:   len(s.cfg.TrustedProxies) > 0,
		PreUploadCreateCallback:   s.beforeUpload,
		PreFinishResponseCallback: s.finishUpload,
		Cors:                      &tusd.CorsConfig{Disable: true}, // Echo's CORS middleware, if configured, answers
		// A stalled PATCH is cut off as any stalled body is (bodyDeadline).
		NetworkTimeout: s.cfg.BodyIdleTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("tus handler: %w", err)
	}
	return http.StripPrefix("/v1/uploads", h), nil
}

// uploads hands an authenticated request to tusd, with the caller in its
// context. An upload belongs to the inspector who created it: anyone else is
// told it does not exist.
func (s *Server) uploads(c echo.Context) error {
	req := c.Request()
	req.Header.Del("X-HTTP-Method-Override") // the method checked here is the one tusd serves
	if req.Method == http.MethodPost {
		// Only tusd's core is registered, so it would not refuse these
		// itself: without creation-defer-length it answers 501, and without
		// concatenation it ignores Upload-Concat and stores a plain upload.
		switch {
		case req.Header.Get("Upload-Length") == "" && req.Header.Get("Upload-Defer-Length") != "":
			// A phone knows its photo's size, and the size is checked before any byte.
			return &inspector.Error{Code: codeMalformed, Message: "declare the file's size (Upload-Length)",
				Fields: []inspector.FieldError{{Field: "Upload-Length", Code: "required", Message: "declare the file's size; Upload-Defer-Length is not supported"}}}
		case req.Header.Get("Upload-Concat") != "":
			return &inspector.Error{Code: codeMalformed, Message: "upload the file whole: concatenation is not supported",
				Fields: []inspector.FieldError{{Field: "Upload-Concat", Code: "unsupported", Message: "each part would be checked against the whole file's hash; send one upload"}}}
		}
		if req.Header.Get("Content-Type") == tusChunkType && s.bytesHeld(req) {
			// creation-with-upload for bytes the server holds: the upload is
			// created finished (beforeUpload) and the data is not read.
			req.Header.Del("Content-Type")
		}
	}
	id := ""
	if c.Param("id") != "" {
		// The id exactly as tusd will read it, from the decoded path; anything
		// but a plain upload id, or an upload that is not the caller's, does not exist.
		id = strings.Trim(strings.TrimPrefix(req.URL.Path, "/v1/uploads"), "/")
		notYours := inspector.Errorf(inspector.CodeNotFound, "no upload %q of yours", id)
		if req.URL.RawPath != "" || !uploadIDPattern.MatchString(id) {
			return notYours
		}
		info, err := s.tusFiles.peekInfo(req.Context(), id)
		switch {
		case errors.Is(err, tusd.ErrNotFound):
			return notYours
		case err != nil:
			// Not "gone": a 404 would have the phone start over from byte 0.
			return blobUnavailable(s.log(c), "read an upload's info", err)
		case info.MetaData[ownerKey] != principal(c).User.ID:
			return notYours
		}
		if isHeld(info) {
			c.Response().Header().Set(headerEvidenceStatus, string(s.heldStatus(info.MetaData["evidence_id"])))
		}
	}
	// tusd's own log lines take the request id from the request; the hooks
	// log through the request's logger, which carries it too.
	requestID, log := c.Response().Header().Get(echo.HeaderXRequestID), s.log(c)
	req.Header.Set(echo.HeaderXRequestID, requestID)
	patchStarted := func() {}
	if id != "" {
		var patchDone func()
		patchStarted, patchDone = s.patches.enter(req.Context(), id, req.Method == http.MethodPatch)
		defer patchDone()
	}
	body := &watchedBody{ReadCloser: req.Body, onRead: patchStarted}
	req.Body = body
	ctx := context.WithValue(req.Context(), principalKey{}, principal(c))
	ctx = context.WithValue(ctx, requestKey{}, &tusRequest{body: body})
	req = req.WithContext(context.WithValue(ctx, loggerKey{}, log))
	answer := &hideInternal{ResponseWriter: c.Response(), log: log, requestID: requestID, body: body}
	s.tus.ServeHTTP(answer, req)
	answer.finish()
	if answer.interrupted {
		// tusd cut this PATCH's body for another request of the upload (a
		// HEAD or PATCH of the same phone after a timeout, or of another
		// device): what arrived is kept, and this client resumes.
		log.Info("upload taken over by another request mid-PATCH", "received", body.received(), "upload", path.Base(req.URL.Path))
	} else if how := body.clientGone(); how != "" {
		// A phone losing its link mid-chunk is everyday on a field network:
		// what arrived is kept for the resume, and nothing failed here.
		log.Warn("upload interrupted: the client went away mid-PATCH", "how", how, "received", body.received(),
			"upload", path.Base(req.URL.Path))
		c.Response().Status = statusClientClosedRequest // for the request log and metrics
	} else if req.Context().Err() != nil {
		// The body arrived whole and was kept (a last chunk is finished
		// even so), but the client left before the answer: a phone on a
		// bad network learns the offset, or that the upload is complete,
		// from HEAD when it comes back.
		log.Info("upload answered after the client went away", "received", body.received(), "upload", path.Base(req.URL.Path))
		c.Response().Status = statusClientClosedRequest
	}
	return nil
}

// statusClientClosedRequest is what the request log and metrics record for
// a request whose client went away before sending all of its body (nginx's
// 499): not a server error.
const statusClientClosedRequest = 499

type requestKey struct{}

// tusRequest is what the data store and the hooks of one request share.
type tusRequest struct {
	body *watchedBody
	// sum is the SHA-256 of the upload's size bytes when this request's
	// chunk completed them and the bytes before were hashed as they came.
	sum  string
	size int64
}

func requestOf(ctx context.Context) *tusRequest {
	rq, _ := ctx.Value(requestKey{}).(*tusRequest)
	return rq
}

// watchedBody is a request body that remembers how many bytes were read from
// it and why reading it failed.
type watchedBody struct {
	io.ReadCloser
	onRead func() // called at every read: the PATCH has started reading (patchGate)
	mu     stdsync.Mutex
	n      int64
	err    error
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.onRead()
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
	return n, err
}

func (b *watchedBody) received() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// clientGone says how the body stopped arriving before its end because of
// the client ("reset", "closed", "stalled", "lost"), or "" when it did not
// (read whole, or closed by the server itself: tusd stops a PATCH that
// another request for the same upload interrupts).
func (b *watchedBody) clientGone() string {
	b.mu.Lock()
	err := b.err
	b.mu.Unlock()
	var netErr net.Error
	switch {
	case err == nil || errors.Is(err, http.ErrBodyReadAfterClose):
		return ""
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "stalled"
	}
	return "lost"
}

// tusChunkType is the content type of tus chunks.
const tusChunkType = "application/offset+octet-stream"

// headerEvidenceStatus tells, on the answer that completes an upload (and on
// HEAD of a finished one), what became of the evidence.
const headerEvidenceStatus = "Favad-Evidence-Status"

// bytesHeld reports whether a creation request names evidence whose declared
// bytes the server already holds.
func (s *Server) bytesHeld(req *http.Request) bool {
	meta := tusd.ParseMetadataHeader(req.Header.Get("Upload-Metadata"))
	size, err := strconv.ParseInt(req.Header.Get("Upload-Length"), 10, 64)
	if err != nil || meta["evidence_id"] == "" {
		return false
	}
	held, err := s.store.BytesHeld(meta["evidence_id"], strings.ToLower(meta["sha256"]), size)
	return err == nil && held != ""
}

// heldStatus is the status of evidence whose bytes the server holds: its
// record's, or awaiting_upload while the record has not come.
func (s *Server) heldStatus(evidenceID string) inspector.EvidenceStatus {
	e, err := s.store.Evidence(evidenceID)
	if err != nil {
		return inspector.EvidenceAwaitingUpload
	}
	return e.Status
}

// uploadDiscovery answers tus protocol discovery (OPTIONS): the version, the
// extensions offered and the largest file. It needs no token and tells
// nothing about any upload.
func (s *Server) uploadDiscovery(c echo.Context) error {
	c.Response().Header().Set("Tus-Max-Size", strconv.FormatInt(s.store.EvidenceMaxSize(), 10))
	s.tus.ServeHTTP(c.Response(), c.Request())
	return nil
}

// hideInternal stops tusd's own 5xx answers, which carry err.Error() in plain
// text, from reaching the client: it logs them and sends a generic problem.
type hideInternal struct {
	http.ResponseWriter
	log         *slog.Logger
	requestID   string
	body        *watchedBody
	hiding      bool // a tusd error is being rewritten
	written     bool
	status      int
	interrupted bool // tusd cut the request for another of the same upload
}

// WriteHeader turns tusd's own plain-text errors into problem documents: a
// 5xx says nothing of its cause (it is logged), a 4xx keeps tusd's message.
// The status is sent with the body (Write, or finish without one), for
// tusd's code in the body may change it.
func (h *hideInternal) WriteHeader(status int) {
	if status < 400 || strings.Contains(h.Header().Get("Content-Type"), "problem+json") {
		h.ResponseWriter.WriteHeader(status)
		return
	}
	h.hiding, h.status = true, status
	h.Header().Set("Content-Type", "application/problem+json")
	h.Header().Del("Content-Length")
}

// finish sends a rewritten error that tusd sent no body for.
func (h *hideInternal) finish() {
	if h.hiding && !h.written {
		_, _ = h.Write(nil)
	}
}

// tusCodes names tusd's own refusals.
var tusCodes = map[int]inspector.Code{
	http.StatusBadRequest: codeMalformed, http.StatusPreconditionFailed: codeMalformed,
	http.StatusNotFound: inspector.CodeNotFound, http.StatusGone: inspector.CodeNotFound,
	http.StatusConflict: inspector.CodeConflict, http.StatusRequestEntityTooLarge: codeTooLarge,
	http.StatusUnsupportedMediaType: codeUnsupportedMedia, http.StatusMethodNotAllowed: codeMethodNotAllowed,
	460: codeChecksumMismatch,
}

func (h *hideInternal) Write(b []byte) (int, error) {
	if !h.hiding {
		return h.ResponseWriter.Write(b)
	}
	if h.written {
		return len(b), nil
	}
	h.written = true
	detail := strings.TrimSpace(string(b))
	code, ok := tusCodes[h.status]
	if strings.HasPrefix(detail, tusd.ErrUploadInterrupted.ErrorCode+":") {
		// tusd's 400 is final to a tus client, which would give the upload
		// up; a 409 has it ask HEAD for the offset and go on.
		h.interrupted, h.status, code, ok = true, http.StatusConflict, inspector.CodeConflict, true
		detail = "another request for this upload took it over; what arrived is kept: ask HEAD for the offset and resume"
	} else if h.status >= 500 && h.body != nil && h.body.clientGone() != "" {
		// tusd answers 500 so that clients retry; uploads() logs it.
		code, detail = inspector.CodeInternal, "the request's body stopped arriving before its end; ask HEAD for the offset and resume"
	} else if h.status >= 500 {
		// tusd's own 5xx is its data store failing: the disk, or object
		// storage not answering. The upload is kept: retry after the pause.
		h.log.Error("tus upload failed", "status", h.status, "detail", detail)
		h.status, code = http.StatusServiceUnavailable, codeBlobUnavailable
		detail = "the upload store failed; nothing that was acknowledged is lost: ask HEAD for the offset and resume after Retry-After"
		h.Header().Set("Retry-After", strconv.Itoa(blobRetryAfterSeconds))
	} else if !ok {
		h.log.Error("tus upload failed", "status", h.status, "detail", detail)
		code, detail = inspector.CodeInternal, "something went wrong on the server; the error is logged with this request's id"
	} else if _, msg, found := strings.Cut(detail, ": "); found {
		detail = msg // tusd writes "ERR_CODE: message"
	}
	body, _ := json.Marshal(newProblem(h.status, code, detail, nil, h.requestID))
	h.ResponseWriter.WriteHeader(h.status)
	if _, err := h.ResponseWriter.Write(body); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Unwrap lets tusd reach the connection (read deadlines, flushing).
func (h *hideInternal) Unwrap() http.ResponseWriter { return h.ResponseWriter }

type loggerKey struct{}

// hookLogger is the logger of the request a hook runs in.
func (s *Server) hookLogger(ev tusd.HookEvent) *slog.Logger {
	if l, ok := ev.Context.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return s.cfg.Logger
}

func hookPrincipal(ev tusd.HookEvent) *Principal {
	p, _ := ev.Context.Value(principalKey{}).(*Principal)
	if p == nil {
		return &Principal{}
	}
	return p
}

// tusError turns a refusal into a tus error response carrying problem+json.
func tusError(status int, code inspector.Code, field, message string) error {
	var fields []inspector.FieldError
	if field != "" {
		fields = []inspector.FieldError{{Field: field, Code: "invalid", Message: message}}
	}
	return tusProblem(status, code, message, fields)
}

// tusProblem is a problem+json answer to a tus request, as tusd sends it.
func tusProblem(status int, code inspector.Code, message string, fields []inspector.FieldError) error {
	body, _ := json.Marshal(newProblem(status, code, message, fields, ""))
	return tusd.Error{ErrorCode: string(code), Message: message, HTTPResponse: tusd.HTTPResponse{
		StatusCode: status, Body: string(body), Header: tusd.HTTPHeader{"Content-Type": "application/problem+json"}}}
}

// tusBlobUnavailable answers an upload whose bytes the evidence store
// failed to take (logged by the caller): 503 with Retry-After, which tus
// clients retry.
func tusBlobUnavailable(message string) error {
	err := tusProblem(http.StatusServiceUnavailable, codeBlobUnavailable, message, nil).(tusd.Error)
	err.HTTPResponse.Header["Retry-After"] = strconv.Itoa(blobRetryAfterSeconds)
	return err
}

func tusFromApp(err error) error {
	var e *inspector.Error
	if !errors.As(err, &e) {
		return tusError(http.StatusInternalServerError, inspector.CodeInternal, "", "something went wrong on the server")
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return tusProblem(status, e.Code, e.Message, e.Fields) // each field with its own code and message
}

// beforeUpload refuses, before any byte is stored: missing metadata, an
// evidence id outside the caller's scope, a size over the limit or unknown,
// a type outside the allow-list.
func (s *Server) beforeUpload(ev tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	p := hookPrincipal(ev)
	meta := ev.Upload.MetaData
	id, sha, ctype := meta["evidence_id"], strings.ToLower(meta["sha256"]), strings.ToLower(meta["filetype"])
	none := tusd.FileInfoChanges{}
	switch {
	case id == "" || sha == "" || ctype == "":
		return tusd.HTTPResponse{}, none, tusError(http.StatusBadRequest, codeMalformed, "Upload-Metadata",
			"Upload-Metadata must carry evidence_id, sha256 and filetype")
	case !canonicalUUID(id):
		return tusd.HTTPResponse{}, none, tusError(http.StatusBadRequest, codeMalformed, "evidence_id",
			"evidence_id must be the record's UUID, in lower-case canonical form")
	case !inspector.ValidSHA256(sha):
		return tusd.HTTPResponse{}, none, tusError(http.StatusBadRequest, codeMalformed, "sha256", "sha256 must be 64 hex digits")
	case ev.Upload.Size > s.store.EvidenceMaxSize():
		return tusd.HTTPResponse{}, none, tusError(http.StatusRequestEntityTooLarge, codeTooLarge, "Upload-Length",
			fmt.Sprintf("evidence files are at most %d bytes", s.store.EvidenceMaxSize()))
	case !inspector.AllowedEvidenceTypes[ctype]:
		return tusd.HTTPResponse{}, none, tusError(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "filetype",
			"evidence is a JPEG, PNG, HEIC or WebP image, or a PDF")
	}
	held, err := s.store.ClaimUpload(p.User, id, sha, ev.Upload.Size, ctype)
	if err != nil {
		return tusd.HTTPResponse{}, none, tusFromApp(err)
	}
	owned := maps.Clone(meta)
	owned[ownerKey] = p.User.ID // set by the server, whatever the client sent
	if held == "" {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{MetaData: owned}, nil
	}
	// The bytes are here already (a phone that lost the answer to its final
	// PATCH, and its upload's URL): a finished upload, as tus tells it.
	if ev.HTTPRequest.Header.Get("Content-Type") == tusChunkType {
		// They were stored since uploads() looked: a retry is created finished.
		return tusd.HTTPResponse{}, none, tusError(http.StatusConflict, inspector.CodeConflict, "",
			"the bytes of this evidence were stored meanwhile; create the upload again")
	}
	return tusd.HTTPResponse{Header: tusd.HTTPHeader{"Upload-Offset": strconv.FormatInt(ev.Upload.Size, 10), headerEvidenceStatus: string(held)}},
		tusd.FileInfoChanges{MetaData: owned, Storage: map[string]string{storageHeld: "true"}}, nil
}

// uploadIDPattern is the form of upload ids: filestore's, and s3store's
// object ids (s3blob's UploadStore shows no more of them).
var uploadIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ownerKey is the upload metadata the server sets to the uploader's id.
const ownerKey = "favad_owner"

// finishUpload verifies the complete bytes and stores them: it checks the
// server's own hash of them (tus has no checksum the server can trust; the
// data store hashed them as they came, else the file is hashed here), sniffs
// their real type, reads a photo's EXIF, and moves them into the blob store.
func (s *Server) finishUpload(ev tusd.HookEvent) (tusd.HTTPResponse, error) {
	p := hookPrincipal(ev)
	log := s.hookLogger(ev).With("upload", ev.Upload.ID, "user", p.User.ID)
	if ev.Upload.MetaData[ownerKey] != p.User.ID {
		return tusd.HTTPResponse{}, tusError(http.StatusNotFound, inspector.CodeNotFound, "", "no upload of yours with this id")
	}
	id, declared := ev.Upload.MetaData["evidence_id"], strings.ToLower(ev.Upload.MetaData["sha256"])
	if isHeld(ev.Upload) {
		return tusd.HTTPResponse{Header: tusd.HTTPHeader{headerEvidenceStatus: string(s.heldStatus(id))}}, nil
	}
	// Finishing outlives the phone's going away (tusd cancels the request's
	// work 10 s after), so that the HEAD of a phone that lost this answer
	// finds the upload finished; a store that stalls is given up on.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ev.Context), finishTimeout(ev.Upload.Size))
	defer cancel()
	up := s.tusFiles.area.finished(ctx, ev.Upload)
	if overran(ev) {
		// A chunked body longer than the upload: tusd stored the bytes up to
		// the length, and answers 413. The answer and what is kept agree
		// only if nothing is.
		log.Info("upload refused: the request carried more bytes than its Upload-Length", "evidence", id)
		up.discard()
		return tusd.HTTPResponse{}, tusError(http.StatusRequestEntityTooLarge, codeTooLarge, "Upload-Length",
			"the request carried more bytes than the upload's length; nothing was kept: upload the file again")
	}
	// On the disk, flush the file while its head is read (and, if its hash
	// was not kept as the bytes came, while it is hashed): the two together
	// cost about what either costs alone.
	synced, storedAs := make(chan error, 1), "object" // streamed from the bucket
	if d, ok := up.(*diskFinished); ok {
		storedAs = "file"
		go func() { synced <- blob.SyncFile(d.path) }()
	} else {
		synced <- nil
	}
	hashFrom, sum := "arrival", ""
	if rq := requestOf(ev.Context); rq != nil && rq.size == ev.Upload.Size {
		sum = rq.sum
	}
	head, err := up.head()
	if err == nil && sum == "" {
		hashFrom = storedAs
		sum, err = up.hash()
	}
	if serr := <-synced; err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		log.Error("hash upload", "error", err)
		up.discard() // a retry must start over, not find the upload "complete" with nothing stored
		if favsync.IsNoSpace(err) {
			return tusd.HTTPResponse{}, tusFromApp(favsync.StorageFull(err))
		}
		return tusd.HTTPResponse{}, tusBlobUnavailable("the upload could not be read back from the evidence store; upload the file again after Retry-After")
	}
	if sum != declared {
		up.discard()
		reason := fmt.Sprintf("the bytes hash to %s, not the declared %s", sum, declared)
		if err := s.store.RejectUpload(p.User, p.DeviceID, id, reason); err != nil {
			log.Error("reject upload", "error", err)
		}
		return tusd.HTTPResponse{}, tusError(460, codeChecksumMismatch, "sha256", reason+"; upload the file again")
	}
	sniffed := inspector.SniffType(head)
	if sniffed == "" {
		up.discard()
		reason := "the file is not a JPEG, PNG, HEIC, WebP or PDF"
		if err := s.store.RejectUpload(p.User, p.DeviceID, id, reason); err != nil {
			log.Error("reject upload", "error", err)
		}
		return tusd.HTTPResponse{}, tusError(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "filetype", reason)
	}
	var photo *inspector.PhotoMeta
	if s.cfg.ReadPhotoMeta != nil && strings.HasPrefix(sniffed, "image/") {
		if photo, err = up.photo(s.cfg.ReadPhotoMeta); err != nil {
			log.Warn("unreadable EXIF; stored without it", "error", err)
			photo = nil
		}
	}
	if err := up.adopt(sum); err != nil {
		log.Error("store blob", "error", err)
		up.discard()
		if favsync.IsNoSpace(err) { // nothing recorded: the evidence stays awaiting its bytes
			return tusd.HTTPResponse{}, tusFromApp(favsync.StorageFull(err))
		}
		return tusd.HTTPResponse{}, tusBlobUnavailable("the evidence store did not take the upload; upload the file again after Retry-After")
	}
	e, err := s.store.AttachUpload(p.User, p.DeviceID, favsync.Upload{EvidenceID: id, SHA256: sum, Size: ev.Upload.Size, SniffedType: sniffed, Photo: photo})
	if err != nil {
		up.forget()
		return tusd.HTTPResponse{}, tusFromApp(err)
	}
	// HEAD on this upload now shows it complete, for a phone that did not
	// hear this answer.
	if err := up.markHeld(); err != nil {
		log.Error("mark the upload finished", "error", err)
		up.forget()
	}
	log.Info("evidence bytes stored", "evidence", id, "sha256", sum, "status", e.Status, "hashed_from", hashFrom)
	return tusd.HTTPResponse{Header: tusd.HTTPHeader{headerEvidenceStatus: string(e.Status)}}, nil
}

// finishTimeout bounds the finish of an upload of size bytes: reading it
// back from a bucket and copying it there take time in proportion.
func finishTimeout(size int64) time.Duration {
	return 2*time.Minute + time.Duration(size>>20)*time.Second
}

const codeChecksumMismatch inspector.Code = "checksum_mismatch"

func canonicalUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// overran reports whether the request that completed an upload carried more
// bytes than the upload had left (tusd reads one byte past the end to know).
func overran(ev tusd.HookEvent) bool {
	rq := requestOf(ev.Context)
	if rq == nil {
		return false
	}
	var start int64 // a POST with data starts the file
	if ev.HTTPRequest.Method == http.MethodPatch {
		var err error
		if start, err = strconv.ParseInt(ev.HTTPRequest.Header.Get("Upload-Offset"), 10, 64); err != nil {
			return false
		}
	}
	return rq.body.received() > ev.Upload.Size-start
}

// readHead reads the first bytes of a file, enough to sniff its type.
func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return head[:n], nil
}

// reopenCompleted runs at start, before any request: an upload whose bytes
// are all on disk but which is neither stored nor refused was cut off by the
// end of the process, between its last chunk and its finish hook. HEAD would
// show it complete and the phone would stop; shortened by its last byte, it
// is resumed and finished like any other.
func reopenCompleted(dir string, log *slog.Logger) {
	infos, _ := filepath.Glob(filepath.Join(dir, "*.info"))
	for _, p := range infos {
		b, err := os.ReadFile(p)
		var info tusd.FileInfo
		if err != nil || json.Unmarshal(b, &info) != nil || info.SizeIsDeferred || info.Size <= 0 {
			continue
		}
		bin := strings.TrimSuffix(p, ".info")
		if st, err := os.Stat(bin); err != nil || st.Size() != info.Size {
			continue
		}
		os.Remove(bin + hashStateSuffix) // it covers less than the file: the hook hashes the file
		if err := os.Truncate(bin, info.Size-1); err != nil {
			log.Error("reopen an upload cut off before its finish", "upload", info.ID, "error", err)
			continue
		}
		log.Warn("reopened an upload cut off before its finish; its phone resends the last byte", "upload", info.ID)
	}
}

// RunUploadJanitor removes incomplete uploads untouched for maxAge, every
// interval, until ctx ends.
func (s *Server) RunUploadJanitor(ctx context.Context, maxAge, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.sweepUploads(maxAge)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneAbandonedBytes drops verified bytes whose evidence record never came.
func (s *Server) pruneAbandonedBytes() {
	orphans, err := s.store.PrunePendingUploads(s.cfg.UnclaimedUploadRetention)
	if err != nil {
		s.cfg.Logger.Error("prune abandoned uploads", "error", err)
		return
	}
	rm, ok := s.cfg.Blobs.(blob.Remover)
	for _, sha := range orphans {
		if !ok {
			break
		}
		if err := rm.Remove(sha); err != nil {
			s.cfg.Logger.Error("remove an abandoned blob", "sha256", sha, "error", err)
			continue
		}
		s.cfg.Logger.Info("removed bytes whose evidence record never came", "sha256", sha)
	}
}

func (s *Server) sweepUploads(maxAge time.Duration) {
	s.pruneAbandonedBytes()
	// Shutdown does not stop a sweep half-way; a bucket that stalls is
	// given up on after sweepTimeout.
	ctx, cancel := context.WithTimeout(context.Background(), sweepTimeout)
	defer cancel()
	s.tusFiles.area.sweep(ctx, time.Now().Add(-maxAge), s.cfg.Logger)
}

// sweepTimeout bounds one sweep of the uploads in a bucket.
const sweepTimeout = time.Minute
