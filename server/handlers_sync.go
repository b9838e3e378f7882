package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/strictjson"
	favsync "github.com/favad/favad/sync"
)

// Sync protocol versions this server speaks. A device states its version in
// the Favad-Protocol header; an older one is told to update, and since
// nothing it sent was applied, its queue is intact.
const (
	ProtocolVersion    = 1
	MinProtocolVersion = 1
	headerProtocol     = "Favad-Protocol"
	headerAppVersion   = "Favad-App-Version"
)

const codeUpgradeRequired inspector.Code = "upgrade_required"

// checkProtocol refuses a device whose protocol this server cannot answer.
func checkProtocol(c echo.Context) error {
	c.Response().Header().Set("Upgrade", fmt.Sprintf("favad-sync/%d", ProtocolVersion)) // RFC 9110 asks it of a 426
	raw := c.Request().Header.Get(headerProtocol)
	v, err := strconv.Atoi(raw)
	switch {
	case raw == "" || err != nil:
		return inspector.Errorf(codeUpgradeRequired, "this app does not state its sync protocol; update the app — its unsent work stays on the device")
	case v < MinProtocolVersion:
		return inspector.Errorf(codeUpgradeRequired, "sync protocol %d is no longer supported; update the app — its unsent work stays on the device", v)
	case v > ProtocolVersion:
		return inspector.Errorf(codeUpgradeRequired, "this server speaks sync protocol %d, older than the app's %d; the app must use protocol %d", ProtocolVersion, v, ProtocolVersion)
	}
	if c.Request().Header.Get(headerAppVersion) == "" {
		return (&inspector.Problems{{Field: headerAppVersion, Code: "required", Message: "send the app's version"}}).Err()
	}
	return nil
}

type pullChange struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Op      string `json:"op"`
	Version uint64 `json:"version,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Record  any    `json:"record,omitempty"`
}

type pullResponse struct {
	Changes    []pullChange `json:"changes"`
	Cursor     string       `json:"cursor"`
	HasMore    bool         `json:"has_more"`
	Reset      bool         `json:"reset"`
	ServerTime time.Time    `json:"server_time"`
	// Held and OverCap describe the scope on the first page of a full sync.
	Held    int  `json:"held,omitempty"`
	OverCap bool `json:"over_cap,omitempty"`
	// LastDeviceSeq is the highest device sequence the server holds for the
	// calling device, so that a device restored from an old copy never reuses one.
	LastDeviceSeq uint64 `json:"last_device_seq"`
}

// pull sends the next page of the inspector's scope.
func (s *Server) pull(c echo.Context) error {
	if err := checkProtocol(c); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", favsync.DefaultPullLimit, 1, favsync.MaxPullLimit)
	if err != nil {
		return err
	}
	u := principal(c).User
	var opts favsync.PullOptions
	switch own := c.QueryParam("own_writes"); own {
	case "", "send":
	case "omit":
		opts.OwnDevice = principal(c).DeviceID // the device builds its own records from the push answers
	default:
		return &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields",
			Fields: []inspector.FieldError{{Field: "own_writes", Code: "invalid", Message: "send or omit"}}}
	}
	page, err := s.store.PullWith(u, c.QueryParam("cursor"), limit, opts)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	last, err := s.store.LastDeviceSeq(u.ID, principal(c).DeviceID)
	if err != nil {
		return err
	}
	out := pullResponse{Changes: make([]pullChange, 0, len(page.Records)), Cursor: page.Cursor, HasMore: page.HasMore, Reset: page.Reset,
		ServerTime: now, Held: page.Held, OverCap: page.OverCap, LastDeviceSeq: last}
	if page.OverCap {
		s.log(c).Warn("inspector scope over its cap", "user", u.ID, "held", page.Held, "cap", favsync.ScopeCap)
	}
	for _, r := range page.Records {
		ch := pullChange{Kind: r.Kind, ID: r.ID, Op: r.Op, Reason: r.Reason}
		if r.Op == favsync.OpUpsert {
			ch.Version = r.Version
		} else {
			r.Record = nil
		}
		switch rec := r.Record.(type) {
		case *inspector.Complaint:
			ch.Record = toComplaintWire(*rec, u.Role, now) // the caller is removed for inspectors
		case *inspector.Office:
			ch.Record = toOfficeWire(*rec)
		case *inspector.Agency:
			ch.Record = toAgencyWire(*rec)
		default:
			ch.Record = rec
		}
		out.Changes = append(out.Changes, ch)
	}
	return c.JSON(http.StatusOK, out)
}

type hlcWire struct {
	WallMs  int64  `json:"wall_ms"`
	Logical uint32 `json:"logical"`
}

type mutationWire struct {
	MutationID  string    `json:"mutation_id"`
	DeviceSeq   uint64    `json:"device_seq"`
	Kind        string    `json:"kind"`
	RecordID    string    `json:"record_id"`
	BaseVersion uint64    `json:"base_version"`
	DeviceTime  time.Time `json:"device_time"`
	HLC         hlcWire   `json:"hlc"`
	// Payload is decoded, strictly, by the store for the mutation's kind.
	Payload strictjson.Deferred `json:"payload"`
}

// pushRequest keeps each mutation raw, so that one the server cannot read
// is refused on its own while the rest of the push goes on.
type pushRequest struct {
	Mutations []strictjson.Deferred `json:"mutations"`
	// AckedThrough is the highest device sequence the server acknowledged
	// to the device, so that the server can tell its own loss (a restore)
	// from a device's gap.
	AckedThrough uint64 `json:"acked_through"`
}

type pushResponse struct {
	Results       []favsync.Result `json:"results"`
	LastDeviceSeq uint64           `json:"last_device_seq"`
	ServerTime    time.Time        `json:"server_time"`
	ServerBehind  bool             `json:"server_behind,omitempty"`
}

// push applies a batch of the device's mutations. The response is sent only
// after the commit is durable.
func (s *Server) push(c echo.Context) error {
	if err := checkProtocol(c); err != nil {
		return err
	}
	var req pushRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Mutations) == 0 {
		return (&inspector.Problems{{Field: "mutations", Code: "required", Message: "send at least one mutation"}}).Err()
	}
	if len(req.Mutations) > favsync.MaxPushBatch {
		// Refused before the push gate, so that it holds up nobody's push.
		return (&inspector.Problems{{Field: "mutations", Code: "too_many", Message: fmt.Sprintf("at most %d mutations in one push", favsync.MaxPushBatch)}}).Err()
	}
	p := principal(c)
	release, err := s.pushes.enter(c.Request().Context(), len(req.Mutations))
	if err != nil {
		return err
	}
	ans, err := func() (favsync.PushAnswer, error) {
		defer release() // a panic in the commit (answered 500) gives its room back too
		// Decoded inside the gate (a push turned away costs no decoding),
		// a large push on every core with the store's own work before
		// the commit.
		muts := favsync.PrepareEach(len(req.Mutations), func(i int) favsync.Mutation { return decodeMutation(req.Mutations[i]) })
		return s.store.PushAcked(p.User, p.DeviceID, req.AckedThrough, muts)
	}()
	if err != nil {
		return err
	}
	if ans.ServerBehind {
		s.log(c).Warn("a device re-sends work the server acknowledged and lost (restored from a backup?)",
			"user", p.User.ID, "device", p.DeviceID, "acked_through", req.AckedThrough, "last_device_seq", ans.LastDeviceSeq)
	}
	if n := countDeferred(ans.Results); n > 0 {
		s.log(c).Warn("push deferred: the device is at its open conflict cap", "user", p.User.ID, "device", p.DeviceID,
			"deferred", n, "cap", favsync.MaxOpenConflictsPerDevice)
	}
	return c.JSON(http.StatusOK, pushResponse{Results: ans.Results, LastDeviceSeq: ans.LastDeviceSeq, ServerTime: s.cfg.Now(), ServerBehind: ans.ServerBehind})
}

func countDeferred(results []favsync.Result) int {
	n := 0
	for _, r := range results {
		if r.Status == favsync.StatusDeferred {
			n++
		}
	}
	return n
}

// decodeMutation reads one pushed mutation. What cannot be read is named in
// Malformed, field by field, and the fields that can be read are kept, so
// that the store refuses the mutation under its own id and sequence and
// keeps it for dispatch.
func decodeMutation(raw []byte) favsync.Mutation {
	var w mutationWire
	strictErr := strictjson.Decode(raw, &w)
	if strictErr == nil {
		return favsync.Mutation{ID: w.MutationID, DeviceSeq: w.DeviceSeq, Kind: w.Kind, RecordID: w.RecordID,
			BaseVersion: w.BaseVersion, DeviceTime: w.DeviceTime, HLC: inspector.Stamp{WallMs: w.HLC.WallMs, Logical: w.HLC.Logical},
			Payload: json.RawMessage(w.Payload)}
	}
	var m favsync.Mutation
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		m.Malformed = []inspector.FieldError{{Field: "mutations[]", Code: "wrong_type", Message: "a mutation is a JSON object"}}
		return m
	}
	var hlc hlcWire
	targets := map[string]any{"mutation_id": &m.ID, "device_seq": &m.DeviceSeq, "kind": &m.Kind, "record_id": &m.RecordID,
		"base_version": &m.BaseVersion, "device_time": &m.DeviceTime, "hlc": &hlc, "payload": &m.Payload}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		target, ok := targets[name]
		if !ok {
			m.Malformed = append(m.Malformed, inspector.FieldError{Field: name, Code: "unknown_field", Message: "not a field of a mutation"})
			continue
		}
		if err := json.Unmarshal(fields[name], target); err != nil {
			fe, ok := strictjson.FieldFault(name, err) // hlc.logical, device_seq
			if !ok {
				fe = inspector.FieldError{Field: name, Code: "wrong_type", Message: "not valid JSON"}
			}
			m.Malformed = append(m.Malformed, fe)
		}
	}
	m.HLC = inspector.Stamp{WallMs: hlc.WallMs, Logical: hlc.Logical}
	var se *strictjson.Error // a duplicate key, a name in another letter case, bad text: what the reads above let through
	if errors.As(strictErr, &se) && !slices.ContainsFunc(m.Malformed, func(f inspector.FieldError) bool { return f.Field == se.Path }) {
		m.Malformed = append([]inspector.FieldError{{Field: se.Path, Code: string(se.Kind), Message: se.Message()}}, m.Malformed...)
	}
	if len(m.Malformed) == 0 { // a decoder error no field shows (it should not happen): say so
		m.Malformed = []inspector.FieldError{{Field: "mutations[]", Code: "wrong_type", Message: "the mutation could not be read"}}
	}
	return m
}

type conflictPage struct {
	Items      []favsync.Conflict `json:"items"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (s *Server) listConflicts(c echo.Context) error {
	limit, err := queryInt(c, "limit", DefaultPageSize, 1, MaxPageSize)
	if err != nil {
		return err
	}
	status := c.QueryParam("status")
	if status != "" && status != favsync.ConflictOpen && status != favsync.ConflictResolved {
		return (&inspector.Problems{{Field: "status", Code: "invalid", Message: "open or resolved"}}).Err()
	}
	items, next, err := s.store.Conflicts(favsync.ConflictFilter{Status: status, ComplaintID: c.QueryParam("complaint"), Limit: limit, Cursor: c.QueryParam("cursor")})
	if err != nil {
		return err
	}
	if items == nil {
		items = []favsync.Conflict{}
	}
	return c.JSON(http.StatusOK, conflictPage{Items: items, NextCursor: next})
}

func (s *Server) getConflict(c echo.Context) error {
	cf, err := s.store.Conflict(c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cf)
}

type resolveRequest struct {
	Action string `json:"action"`
	Note   string `json:"note"`
}

func (s *Server) resolveConflict(c echo.Context) error {
	var req resolveRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cf, err := s.store.ResolveConflict(actor(c), c.Param("id"), strings.TrimSpace(req.Action), req.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cf)
}

type settleRequest struct {
	IDs    []string `json:"ids"`
	Action string   `json:"action"`
	Note   string   `json:"note"`
}

// settleResult is the answer for one id of a bulk settlement: the resolved
// record, or the problem that resolving it alone would have answered.
type settleResult struct {
	ID       string            `json:"id"`
	Status   int               `json:"status"`
	Conflict *favsync.Conflict `json:"conflict,omitempty"`
	Problem  *Problem          `json:"problem,omitempty"`
}

type settleResponse struct {
	Results []settleResult `json:"results"`
}

// settleConflicts resolves many conflict records with one action, each on
// its own, and answers for each.
func (s *Server) settleConflicts(c echo.Context) error {
	var req settleRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	settled, err := s.store.SettleConflicts(actor(c), req.IDs, strings.TrimSpace(req.Action), req.Note)
	if err != nil {
		return err
	}
	out := settleResponse{Results: make([]settleResult, len(settled))}
	for i, r := range settled {
		res := settleResult{ID: r.ID, Status: http.StatusOK, Conflict: r.Conflict}
		if r.Err != nil {
			var appErr *inspector.Error
			if !errors.As(r.Err, &appErr) {
				s.log(c).Error("settle conflict", "conflict", r.ID, "error", r.Err)
				appErr = &inspector.Error{Code: inspector.CodeInternal, Message: "something went wrong on the server; the error is logged with this request's id"}
			}
			res.Status = http.StatusInternalServerError
			if st, ok := statusOf[appErr.Code]; ok {
				res.Status = st
			}
			p := newProblem(res.Status, appErr.Code, appErr.Message, appErr.Fields, c.Response().Header().Get(echo.HeaderXRequestID))
			res.Problem = &p
		}
		out.Results[i] = res
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteVisit(c echo.Context) error {
	if err := s.store.DeleteVisit(actor(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type fieldWorkWire struct {
	Visits   []inspector.Visit      `json:"visits"`
	Findings []inspector.Finding    `json:"findings"`
	Calls    []inspector.CallRecord `json:"calls"`
	Notes    []inspector.Note       `json:"notes"`
}

// complaintFieldWork shows dispatch what inspectors recorded for a complaint.
func (s *Server) complaintFieldWork(c echo.Context) error {
	fw, err := s.store.ComplaintFieldWork(c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, fieldWorkWire(fw))
}
