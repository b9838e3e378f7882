package server

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
)

// listInspectors lets dispatch choose whom to route a complaint to: each
// inspector with their open workload and their last check-in, so that the
// console can weigh the load and the distance to the office.
func (s *Server) listInspectors(c echo.Context) error {
	us, err := s.store.Users(inspector.RoleInspector)
	if err != nil {
		return err
	}
	mode := inspector.Mode(c.QueryParam("mode"))
	if mode != "" && !mode.Valid() {
		return (&inspector.Problems{{Field: "mode", Code: "invalid", Message: "field or phone"}}).Err()
	}
	loads, err := s.store.InspectorLoads()
	if err != nil {
		return err
	}
	out := []inspectorWire{}
	for _, u := range us {
		if !u.Disabled && (mode == "" || u.Mode == mode) {
			out = append(out, toInspectorWire(u, loads[u.ID]))
		}
	}
	return c.JSON(http.StatusOK, listWire[inspectorWire]{Items: out})
}

// listPeople names every account, disabled ones too, for the screens that
// show who did what: a complaint's history names colleagues, office
// liaisons and inspectors who have since left, not their ids.
func (s *Server) listPeople(c echo.Context) error {
	us, err := s.store.Users("")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listWire[personWire]{Items: mapSlice(us, toPersonWire)})
}

func (s *Server) listDevices(c echo.Context) error {
	ds, err := s.store.Devices()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listWire[deviceWire]{Items: mapSlice(ds, toDeviceWire)})
}

func (s *Server) revokeDevice(c echo.Context) error {
	d, err := s.store.RevokeDevice(actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toDeviceWire(d))
}

type newUserRequest struct {
	Username    string      `json:"username"`
	DisplayName string      `json:"display_name"`
	Role        string      `json:"role"`
	Mode        string      `json:"mode"`
	Region      *regionWire `json:"region"`
	OfficeCode  string      `json:"office_code"`
	AgencyCode  string      `json:"agency_code"`
	Password    string      `json:"password"`
}

// createUser lets an admin add an account; the password is hashed here and
// never stored or logged.
func (s *Server) createUser(c echo.Context) error {
	var req newUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	hash, err := auth.HashPassword(req.Password)
	if errors.Is(err, auth.ErrWeakPassword) {
		return (&inspector.Problems{{Field: "password", Code: "too_short", Message: err.Error()}}).Err()
	}
	if err != nil {
		return err
	}
	n := favsync.NewUser{Username: req.Username, DisplayName: req.DisplayName, Role: inspector.Role(req.Role),
		Mode: inspector.Mode(req.Mode), OfficeCode: req.OfficeCode, AgencyCode: req.AgencyCode, PasswordHash: hash}
	if req.Region != nil {
		n.Region = &inspector.Region{Province: req.Region.Province, Cities: req.Region.Cities}
	}
	u, err := s.store.CreateUser(actor(c), n)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/users/"+u.ID)
	return c.JSON(http.StatusCreated, toUserWire(u))
}

func (s *Server) listUsers(c echo.Context) error {
	role := inspector.Role(c.QueryParam("role"))
	if role != "" && !role.Valid() {
		return (&inspector.Problems{{Field: "role", Code: "invalid", Message: "dispatcher, inspector, supervisor, admin or office"}}).Err()
	}
	us, err := s.store.Users(role)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listWire[userWire]{Items: mapSlice(us, toUserWire)})
}

type deviceRegistration struct {
	Token      string `json:"token"`
	Platform   string `json:"platform"`
	AppVersion string `json:"app_version"`
	Locale     string `json:"locale"`
}

// registerDevice records or rotates the calling device's FCM token.
func (s *Server) registerDevice(c echo.Context) error {
	var req deviceRegistration
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	d, err := s.store.RegisterPush(actor(c), favsync.PushRegistration{Token: req.Token, Platform: req.Platform, AppVersion: req.AppVersion, Locale: req.Locale})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toDeviceWire(d))
}

func (s *Server) getUser(c echo.Context) error {
	u, err := s.store.User(c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserWire(u))
}

// disableUser ends every session of an account at once and refuses its
// sign-ins, while the server runs: the answer to a stolen phone and password.
func (s *Server) disableUser(c echo.Context) error {
	if c.Param("id") == principal(c).User.ID {
		return inspector.Errorf(inspector.CodeConflict, "an admin cannot disable their own account")
	}
	return s.setDisabled(c, true)
}

func (s *Server) enableUser(c echo.Context) error { return s.setDisabled(c, false) }

func (s *Server) setDisabled(c echo.Context, disabled bool) error {
	u, err := s.store.User(c.Param("id"))
	if err != nil {
		return err
	}
	if u, err = s.store.SetUserDisabled(actor(c), u.Username, disabled); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserWire(u))
}

type passwordRequest struct {
	Password string `json:"password"`
}

// resetPassword sets a new password and ends the account's sessions.
func (s *Server) resetPassword(c echo.Context) error {
	var req passwordRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	hash, err := auth.HashPassword(req.Password)
	if errors.Is(err, auth.ErrWeakPassword) {
		return (&inspector.Problems{{Field: "password", Code: "too_short", Message: err.Error()}}).Err()
	}
	if err != nil {
		return err
	}
	u, err := s.store.User(c.Param("id"))
	if err != nil {
		return err
	}
	if u, err = s.store.SetPasswordHash(actor(c), u.Username, hash); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserWire(u))
}
