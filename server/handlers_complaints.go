package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

func (s *Server) createComplaint(c echo.Context) error {
	var req newComplaintRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cp, created, err := s.store.CreateComplaint(actor(c), req.toDomain())
	if err != nil {
		return err
	}
	status := http.StatusOK // a replayed intake: the call was already entered
	if created {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, "/v1/complaints/"+cp.ID)
	}
	return c.JSON(status, toComplaintWire(cp, principal(c).User.Role, s.cfg.Now()))
}

func (s *Server) listComplaints(c echo.Context) error {
	limit, err := queryInt(c, "limit", DefaultPageSize, 1, MaxPageSize)
	if err != nil {
		return err
	}
	var p inspector.Problems
	f := complaintFilter(c, &p)
	if err := p.Err(); err != nil {
		return err
	}
	f.Limit, f.Cursor = limit, c.QueryParam("cursor")
	items, next, err := s.store.ListComplaints(f)
	if err != nil {
		return err
	}
	return s.sendComplaintPage(c, items, next)
}

// sendComplaintPage answers a page of complaints, each redacted for the caller's role.
func (s *Server) sendComplaintPage(c echo.Context, items []inspector.Complaint, next string) error {
	role, now := principal(c).User.Role, s.cfg.Now()
	return c.JSON(http.StatusOK, complaintPage{
		Items:      mapSlice(items, func(x inspector.Complaint) complaintWire { return toComplaintWire(x, role, now) }),
		NextCursor: next,
	})
}

// complaintFilter reads the filters of GET /v1/complaints, which its export
// shares so that a list and its file always hold the same complaints. A bad
// filter is recorded in p.
func complaintFilter(c echo.Context, p *inspector.Problems) favsync.ComplaintFilter {
	f := favsync.ComplaintFilter{
		OfficeCode: c.QueryParam("office"), AgencyCode: c.QueryParam("agency"),
		Category: inspector.Category(c.QueryParam("category")), InspectorID: c.QueryParam("inspector"),
		Query: c.QueryParam("q"),
		// A caller phoning back is found by the tracking code read out to
		// them, or by their number: only by a role that sees callers.
		QueryCaller: principal(c).User.Role.SeesCaller(),
	}
	if raw := c.QueryParam("overdue"); raw != "" {
		overdue, err := strconv.ParseBool(raw)
		if err != nil {
			p.Add("overdue", "invalid", "true or false")
		}
		f.Overdue = overdue
	}
	if raw := c.QueryParam("status"); raw != "" {
		for _, st := range strings.Split(raw, ",") {
			status := inspector.Status(strings.TrimSpace(st))
			if !status.Valid() {
				p.Add("status", "invalid", "a comma-separated list of complaint statuses")
				break
			}
			f.Status = append(f.Status, status)
		}
	}
	if f.Category != "" && !f.Category.Valid() {
		p.Add("category", "invalid", "one of absent_employee, non_work_activity, client_crowding, other")
	}
	return f
}

// getComplaint shows a complaint with its history. An inspector sees only a
// complaint assigned to them, without the caller and without the history;
// others' complaints are "not found", so that ids cannot be probed.
func (s *Server) getComplaint(c echo.Context) error {
	p := principal(c)
	cp, err := s.store.Complaint(c.Param("id"))
	if err != nil {
		return err
	}
	w := toComplaintWire(cp, p.User.Role, s.cfg.Now())
	if p.User.Role == inspector.RoleOffice {
		// An office sees only what was referred to it, without the history
		// (dispatch's notes, the inspectors' work).
		if ok, err := s.store.ReferralVisible(p.User, cp); err != nil {
			return err
		} else if !ok {
			return inspector.Errorf(inspector.CodeNotFound, "no complaint with id %q", c.Param("id"))
		}
		return c.JSON(http.StatusOK, w)
	}
	if p.User.Role == inspector.RoleInspector {
		// A referral is not terminal, but it is the office's and dispatch's
		// business (under review too), not the inspector's it was taken from.
		if !cp.AssignedTo(p.User.ID) {
			return inspector.Errorf(inspector.CodeNotFound, "no complaint with id %q", c.Param("id"))
		}
		return c.JSON(http.StatusOK, w)
	}
	h, err := s.store.ComplaintHistory(cp.ID)
	if err != nil {
		return err
	}
	w.History = toHistoryWire(h)
	return c.JSON(http.StatusOK, w)
}

func (s *Server) assignComplaint(c echo.Context) error {
	var req assignRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cp, err := s.store.Assign(actor(c), c.Param("id"), inspector.Routing{InspectorID: req.InspectorID, Mode: inspector.Mode(req.Mode), Note: req.Note})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toComplaintWire(cp, principal(c).User.Role, s.cfg.Now()))
}

func (s *Server) referComplaint(c echo.Context) error {
	var req referRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cp, err := s.store.Refer(actor(c), c.Param("id"), req.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toComplaintWire(cp, principal(c).User.Role, s.cfg.Now()))
}

func (s *Server) withdrawComplaint(c echo.Context) error {
	var req withdrawRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cp, err := s.store.Withdraw(actor(c), c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toComplaintWire(cp, principal(c).User.Role, s.cfg.Now()))
}
