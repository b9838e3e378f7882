package server

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
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
	out, err := s.officeWires(c, os)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listWire[officeWire]{Items: out})
}

// officeWires converts offices for the caller: dispatch and its overseers
// also learn whether an office account that is not disabled answers for
// each (before referring, that somebody will read the referral); inspectors
// and offices do not.
func (s *Server) officeWires(c echo.Context, os []inspector.Office) ([]officeWire, error) {
	if !slices.Contains(overseer, principal(c).User.Role) {
		return mapSlice(os, toOfficeWire), nil
	}
	liaisons, err := s.store.Users(inspector.RoleOffice)
	if err != nil {
		return nil, err
	}
	return mapSlice(os, func(o inspector.Office) officeWire {
		w := toOfficeWire(o)
		covered := slices.ContainsFunc(liaisons, func(u inspector.User) bool { return !u.Disabled && u.Covers(o) })
		w.Liaison = &covered
		return w
	}), nil
}

func (s *Server) getOffice(c echo.Context) error {
	o, err := s.store.Office(c.Param("code"))
	if err != nil {
		return err
	}
	out, err := s.officeWires(c, []inspector.Office{o})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out[0])
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
