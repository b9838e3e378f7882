package server

import (
	"math"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// listReferrals is GET /v1/referrals: an office account sees the complaints
// referred to its offices (never the caller); dispatch, supervisors and
// admins see every complaint with a referral.
func (s *Server) listReferrals(c echo.Context) error {
	limit, err := queryInt(c, "limit", DefaultPageSize, 1, MaxPageSize)
	if err != nil {
		return err
	}
	p := principal(c)
	f := favsync.ComplaintFilter{Referred: true, Limit: limit, Cursor: c.QueryParam("cursor"), OfficeCode: c.QueryParam("office")}
	if p.User.Role == inspector.RoleOffice {
		u := p.User
		f.ReferredTo = &u
	}
	if raw := c.QueryParam("status"); raw != "" {
		st := inspector.Status(raw)
		if !st.Valid() {
			return (&inspector.Problems{{Field: "status", Code: "invalid", Message: "a complaint status"}}).Err()
		}
		f.Status = []inspector.Status{st}
	}
	items, next, err := s.store.ListComplaints(f)
	if err != nil {
		return err
	}
	return s.sendComplaintPage(c, items, next)
}

func (s *Server) acknowledgeReferral(c echo.Context) error {
	p := principal(c)
	cp, err := s.store.AcknowledgeReferral(actor(c), p.User, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toComplaintWire(cp, p.User.Role, s.cfg.Now()))
}

func (s *Server) answerReferral(c echo.Context) error {
	var req referralAnswerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	in := favsync.ReferralAnswerInput{Action: inspector.ReferralAction(req.Action), Text: req.Text}
	for _, a := range req.Attachments {
		in.Attachments = append(in.Attachments, favsync.Attachment{ID: a.ID, Kind: inspector.EvidenceKind(a.Kind),
			ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256, Note: a.Note})
	}
	cp, err := s.store.AnswerReferral(actor(c), p.User, c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toComplaintWire(cp, p.User.Role, s.cfg.Now()))
}

// closeComplaint is dispatch's decision on an answered referral.
func (s *Server) closeComplaint(c echo.Context) error {
	var req closeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cp, err := s.store.CloseOnAnswer(actor(c), c.Param("id"), inspector.OutcomeValue(req.Outcome), req.Statement)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toComplaintWire(cp, principal(c).User.Role, s.cfg.Now()))
}

// trackWire is what a caller learns from a tracking code: the status and
// outcome in Persian, the office's name, and dates. Never the caller, never
// an employee's or inspector's name, never internal notes.
type trackWire struct {
	Number       uint64     `json:"number"`
	Status       string     `json:"status"`
	StatusFa     string     `json:"status_fa"`
	Outcome      string     `json:"outcome,omitempty"`
	OutcomeFa    string     `json:"outcome_fa,omitempty"`
	OfficeNameFa string     `json:"office_name_fa,omitempty"`
	Category     string     `json:"category"`
	ReceivedAt   time.Time  `json:"received_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
}

// track is GET /v1/track/{code}: public, rate-limited per address, so that
// codes cannot be guessed in bulk.
func (s *Server) track(c echo.Context) error {
	if ok, wait := s.trackLimiter.allow("", c.RealIP()); !ok {
		return &retryAfterError{err: inspector.Errorf(inspector.CodeRateLimited, "too many lookups; wait and try again"),
			retryAfterSeconds: int(math.Ceil(wait.Seconds()))}
	}
	cp, err := s.store.ComplaintByTracking(c.Param("code"))
	if err != nil {
		return err
	}
	w := trackWire{Number: cp.Number, Status: string(cp.Status), StatusFa: inspector.StatusTextFa[cp.Status],
		Category: string(cp.Category), ReceivedAt: cp.CreatedAt, UpdatedAt: cp.UpdatedAt}
	if cp.Status.Terminal() {
		at := cp.UpdatedAt
		w.ClosedAt = &at
		if cp.Outcome != nil {
			w.Outcome, w.OutcomeFa = string(cp.Outcome.Value), inspector.OutcomeTextFa[cp.Outcome.Value]
		}
	}
	if o, err := s.store.Office(cp.OfficeCode); err == nil {
		w.OfficeNameFa = o.NameFa
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, w)
}
