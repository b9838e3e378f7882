package server

import (
	"strings"

	"github.com/labstack/echo/v4"
)

// securityHeaders sets the headers every response carries, before the
// handler runs, so that errors (written by handleError) carry them too:
//
//   - X-Content-Type-Options: nosniff on every response, so that a browser
//     never reads a body as another type than the one declared;
//   - Cache-Control: no-store on every /v1 response: the API's answers are
//     per caller and may name callers, so no cache, shared or the browser's,
//     may keep them. A handler that serves something cacheable sets its own
//     Cache-Control (evidence bytes: private, immutable). Paths outside /v1
//     (health, metrics, the spec, the console) set their own or none.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if p := c.Request().URL.Path; p == "/v1" || strings.HasPrefix(p, "/v1/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}
