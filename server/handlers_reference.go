package server

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

func (s *Server) listAgencies(c echo.Context) error {
	deleted, err := queryBool(c, "include_deleted")
	if err != nil {
		return err
	}
	as, err := s.store.Agencies(deleted)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listWire[agencyWire]{Items: mapSlice(as, toAgencyWire)})
}

func (s *Server) getAgency(c echo.Context) error {
	a, err := s.store.Agency(c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAgencyWire(a))
}

func (s *Server) createAgency(c echo.Context) error {
	var req agencyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	a, err := s.store.CreateAgency(actor(c), req.toDomain())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/agencies/"+a.Code)
	return c.JSON(http.StatusCreated, toAgencyWire(a))
}

func (s *Server) putAgency(c echo.Context) error {
	var req agencyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := pathMatchesBody(c.Param("code"), &req.Code); err != nil {
		return err
	}
	a, created, err := s.store.PutAgency(actor(c), req.toDomain())
	if err != nil {
		return err
	}
	if created {
		c.Response().Header().Set(echo.HeaderLocation, "/v1/agencies/"+a.Code)
	}
	return c.JSON(createdOrOK(created), toAgencyWire(a))
}

func (s *Server) deleteAgency(c echo.Context) error {
	if err := s.store.DeleteAgency(actor(c), c.Param("code")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listOffices(c echo.Context) error {
	deleted, err := queryBool(c, "include_deleted")
	if err != nil {
		return err
	}
	os, err := s.store.Offices(favsync.OfficeFilter{AgencyCode: c.QueryParam("agency"), Province: c.QueryParam("province"),
		City: c.QueryParam("city"), Query: c.QueryParam("q"), IncludeDeleted: deleted})
	if err != nil {
		return err
	}
	if !seesLiaisons(principal(c).User.Role) {
		return c.JSON(http.StatusOK, listWire[officeWire]{Items: mapSlice(os, toOfficeWire)})
	}
	liaisons, err := s.liaisons()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listWire[officeWire]{Items: mapSlice(os, liaisons.officeWire)})
}

// seesLiaisons: whether an office has a liaison is dispatch's to know (before
// referring), and its overseers'; not an inspector's or an office's.
func seesLiaisons(r inspector.Role) bool { return seesAllEvidence(r) }

// liaisonAccounts are the office accounts that are not disabled.
type liaisonAccounts []inspector.User

func (s *Server) liaisons() (liaisonAccounts, error) {
	us, err := s.store.Users(inspector.RoleOffice)
	var out liaisonAccounts
	for _, u := range us {
		if !u.Disabled {
			out = append(out, u)
		}
	}
	return out, err
}

// officeWire is o with whether an office account answers for it: dispatch
// sees, before referring, that nobody would read the referral.
func (l liaisonAccounts) officeWire(o inspector.Office) officeWire {
	w := toOfficeWire(o)
	covered := false
	for _, u := range l {
		if u.Covers(o) {
			covered = true
			break
		}
	}
	w.Liaison = &covered
	return w
}

func (s *Server) getOffice(c echo.Context) error {
	o, err := s.store.Office(c.Param("code"))
	if err != nil {
		return err
	}
	if !seesLiaisons(principal(c).User.Role) {
		return c.JSON(http.StatusOK, toOfficeWire(o))
	}
	liaisons, err := s.liaisons()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, liaisons.officeWire(o))
}

func (s *Server) createOffice(c echo.Context) error {
	var req officeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	o, err := s.store.CreateOffice(actor(c), req.toDomain())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/offices/"+o.Code)
	return c.JSON(http.StatusCreated, toOfficeWire(o))
}

func (s *Server) putOffice(c echo.Context) error {
	var req officeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := pathMatchesBody(c.Param("code"), &req.Code); err != nil {
		return err
	}
	o, created, err := s.store.PutOffice(actor(c), req.toDomain())
	if err != nil {
		return err
	}
	if created {
		c.Response().Header().Set(echo.HeaderLocation, "/v1/offices/"+o.Code)
	}
	return c.JSON(createdOrOK(created), toOfficeWire(o))
}

func (s *Server) deleteOffice(c echo.Context) error {
	if err := s.store.DeleteOffice(actor(c), c.Param("code")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// importOffices takes a CSV file in the demo data's format and applies it
// all or nothing.
func (s *Server) importOffices(c echo.Context) error {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != "text/csv" {
		return inspector.Errorf(codeUnsupportedMedia, "send the offices as text/csv")
	}
	body, err := io.ReadAll(c.Request().Body)
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return inspector.Errorf(codeTooLarge, "the file is larger than %d bytes", maxErr.Limit)
	}
	if err != nil {
		return err
	}
	rows, err := inspector.ParseOfficeCSV(bytes.NewReader(body), c.QueryParam("province"))
	if err != nil {
		return err
	}
	res, err := s.store.ImportOffices(actor(c), rows)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func pathMatchesBody(path string, body *string) error {
	if *body == "" {
		*body = path
		return nil
	}
	if !strings.EqualFold(*body, path) {
		return (&inspector.Problems{{Field: "code", Code: "mismatch", Message: "the code in the body differs from the one in the path"}}).Err()
	}
	return nil
}

func createdOrOK(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}
