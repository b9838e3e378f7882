package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
)

// listInspectors lets dispatch choose whom to route a complaint to.
func (s *Server) listInspectors(c echo.Context) error {
	us, err := s.store.Users(inspector.RoleInspector)
	if err != nil {
		return err
	}
	mode := inspector.Mode(c.QueryParam("mode"))
	if mode != "" && !mode.Valid() {
		return (&inspector.Problems{{Field: "mode", Code: "invalid", Message: "field or phone"}}).Err()
	}
	out := []userWire{}
	for _, u := range us {
		if !u.Disabled && (mode == "" || u.Mode == mode) {
			out = append(out, toUserWire(u))
		}
	}
	return c.JSON(http.StatusOK, listWire[userWire]{Items: out})
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
