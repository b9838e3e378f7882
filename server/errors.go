package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// Transport error codes, beside the domain's codes in package inspector.
const (
	codeMalformed        inspector.Code = "malformed"              // the body is not the JSON the route takes
	codeTooLarge         inspector.Code = "too_large"              // the body exceeds the route's limit
	codeUnsupportedMedia inspector.Code = "unsupported_media_type" // wrong Content-Type
	codeRouteNotFound    inspector.Code = "route_not_found"        // no such path
	codeMethodNotAllowed inspector.Code = "method_not_allowed"     // path exists, method does not
	codeBusy             inspector.Code = "busy"                   // too many sign-ins or pushes at once; retry after Retry-After
	codeUnavailable      inspector.Code = "unavailable"            // a part of the API this server does not run (reports without their aggregator)
	codeBlobUnavailable  inspector.Code = "blob_store_unavailable" // the evidence store (disk or object storage) does not answer; retry after Retry-After
)

// statusOf is the one table from error code to HTTP status.
var statusOf = map[inspector.Code]int{
	inspector.CodeInvalid:           http.StatusUnprocessableEntity,
	inspector.CodeNotFound:          http.StatusNotFound,
	inspector.CodeConflict:          http.StatusConflict,
	inspector.CodeIdempotencyClash:  http.StatusConflict,
	inspector.CodeIllegalTransition: http.StatusConflict,
	inspector.CodeReviewPending:     http.StatusConflict,
	inspector.CodeUnauthorized:      http.StatusUnauthorized,
	inspector.CodeTokenExpired:      http.StatusUnauthorized,
	inspector.CodeRefreshReused:     http.StatusUnauthorized,
	inspector.CodeSessionRevoked:    http.StatusUnauthorized,
	inspector.CodeDeviceRevoked:     http.StatusUnauthorized,
	inspector.CodeAccountDisabled:   http.StatusForbidden,
	inspector.CodeForbidden:         http.StatusForbidden,
	inspector.CodeRateLimited:       http.StatusTooManyRequests,
	inspector.CodeStorageFull:       http.StatusInsufficientStorage,
	inspector.CodeInternal:          http.StatusInternalServerError,
	codeMalformed:                   http.StatusBadRequest,
	codeTooLarge:                    http.StatusRequestEntityTooLarge,
	codeUnsupportedMedia:            http.StatusUnsupportedMediaType,
	codeRouteNotFound:               http.StatusNotFound,
	codeMethodNotAllowed:            http.StatusMethodNotAllowed,
	codeBusy:                        http.StatusServiceUnavailable,
	codeUnavailable:                 http.StatusServiceUnavailable,
	codeBlobUnavailable:             http.StatusServiceUnavailable,
	codeUpgradeRequired:             http.StatusUpgradeRequired,
	inspector.CodeSignedOut:         http.StatusUnauthorized,
	inspector.CodeServerBehind:      http.StatusConflict,
}

// actionOf tells a device what to do about an authentication failure:
// refresh its token, sign in again keeping its queue, or wipe what it pulled.
var actionOf = map[inspector.Code]string{
	inspector.CodeTokenExpired:    "refresh",
	inspector.CodeUnauthorized:    "sign_in",
	inspector.CodeRefreshReused:   "sign_in",
	inspector.CodeSessionRevoked:  "sign_in",
	inspector.CodeAccountDisabled: "sign_in",
	inspector.CodeSignedOut:       "wipe",
	inspector.CodeDeviceRevoked:   "wipe",
	codeUpgradeRequired:           "upgrade",
}

// Problem is an RFC 9457 problem document with FAVAD's extensions.
type Problem struct {
	Type      string                 `json:"type"`
	Title     string                 `json:"title"`
	Status    int                    `json:"status"`
	Detail    string                 `json:"detail"`
	Code      inspector.Code         `json:"code"`
	RequestID string                 `json:"request_id,omitempty"`
	Errors    []inspector.FieldError `json:"errors,omitempty"`
	// Action tells a device what to do: refresh, sign_in, wipe or upgrade.
	Action string `json:"action,omitempty"`
	// LastDeviceSeq is, for server_behind, the highest device sequence the
	// server holds: the device re-sends what it holds above it.
	LastDeviceSeq *uint64 `json:"last_device_seq,omitempty"`
}

// newProblem is the one way a problem document is made, for Echo's errors
// and for the tus layer's alike.
func newProblem(status int, code inspector.Code, detail string, fields []inspector.FieldError, requestID string) Problem {
	title := http.StatusText(status)
	if status == 460 {
		title = "Checksum Mismatch" // tus checksum extension's status, unknown to net/http
	}
	return Problem{Type: "urn:favad:problem:" + string(code), Title: title, Status: status, Detail: detail, Code: code,
		RequestID: requestID, Errors: fields, Action: actionOf[code]}
}

// retryAfterError carries how long to wait, for the Retry-After header: a
// rate limit, a busy server, or an evidence store that does not answer.
type retryAfterError struct {
	err               *inspector.Error
	retryAfterSeconds int
}

// blobRetryAfterSeconds is the pause a client is asked for when the
// evidence store does not answer: object storage's brief outages (a
// restart, throttling) pass in seconds.
const blobRetryAfterSeconds = 10

// blobUnavailable answers a request the evidence store failed, cause being
// logged: 503 with Retry-After, so that a phone retries the same upload
// (tus clients do on a 5xx) instead of taking it for gone and starting over.
func blobUnavailable(log *slog.Logger, what string, cause error) error {
	log.Error(what, "error", cause)
	return &retryAfterError{err: inspector.Errorf(codeBlobUnavailable, "the evidence store does not answer; nothing was lost: try again after Retry-After"),
		retryAfterSeconds: blobRetryAfterSeconds}
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// handleError is Echo's HTTPErrorHandler: every error leaves as problem+json.
// Anything that is not an application error is logged and reported as a
// generic 500, so that no storage detail or path reaches the client.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		appErr  *inspector.Error
		echoErr *echo.HTTPError
		rl      *retryAfterError
	)
	switch {
	case errors.As(err, &appErr):
	case errors.As(err, &echoErr):
		appErr = fromEchoError(echoErr)
	default:
		appErr = &inspector.Error{Code: inspector.CodeInternal, Message: "something went wrong on the server; the error is logged with this request's id"}
	}
	status, ok := statusOf[appErr.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch {
	case appErr.Code == codeBusy:
		// Load shedding (a crowd of sign-ins or pushes) is the server doing
		// its job: the rate shows in the metrics, and a storm must not flood
		// the error log.
		s.log(c).Debug("busy", slog.String("error", err.Error()))
	case status >= 500:
		s.log(c).Error("request failed", slog.String("error", err.Error()))
	}
	if errors.As(err, &rl) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(rl.retryAfterSeconds))
	}
	if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="favad"`)
	}
	p := newProblem(status, appErr.Code, appErr.Message, appErr.Fields, c.Response().Header().Get(echo.HeaderXRequestID))
	if sb := (*favsync.ServerBehindError)(nil); errors.As(err, &sb) {
		p.LastDeviceSeq = &sb.LastDeviceSeq
	}
	body, _ := json.Marshal(p)
	if c.Request().Method == http.MethodHead {
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		err = c.NoContent(status)
	} else {
		err = c.Blob(status, "application/problem+json", body)
	}
	if err != nil {
		s.log(c).Warn("write error response", slog.String("error", err.Error()))
	}
}

func fromEchoError(he *echo.HTTPError) *inspector.Error {
	switch he.Code {
	case http.StatusNotFound:
		return inspector.Errorf(codeRouteNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		return inspector.Errorf(codeMethodNotAllowed, "this route does not take that method")
	case http.StatusRequestEntityTooLarge:
		return inspector.Errorf(codeTooLarge, "the request body is larger than this route accepts")
	case http.StatusUnsupportedMediaType:
		return inspector.Errorf(codeUnsupportedMedia, "unsupported content type")
	case http.StatusTooManyRequests:
		return inspector.Errorf(inspector.CodeRateLimited, "too many requests; retry later")
	case http.StatusUnauthorized:
		return inspector.Errorf(inspector.CodeUnauthorized, "authentication required")
	case http.StatusForbidden:
		return inspector.Errorf(inspector.CodeForbidden, "not allowed")
	case http.StatusBadRequest:
		return inspector.Errorf(codeMalformed, "the request is malformed")
	}
	return &inspector.Error{Code: inspector.CodeInternal, Message: "something went wrong on the server; the error is logged with this request's id"}
}
