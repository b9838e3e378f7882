package server

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/console"
)

// consoleCSP is the console's Content-Security-Policy: its own scripts,
// styles, fonts and API only, no inline script, never framed. Images from
// blob: are the photos the console fetches with its token.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; font-src 'self'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; manifest-src 'self'"

// consoleFiles is the embedded console rooted at its static directory.
var consoleFiles = func() fs.FS {
	sub, err := fs.Sub(console.Files, "static")
	if err != nil {
		panic(err) // the embed directive names the directory: it exists
	}
	return sub
}()

// registerConsole serves the console: the page at / and its assets under
// /assets/. Every answer carries the console's security headers; the page
// is no-store, since the screens it runs show callers.
func (s *Server) registerConsole(e *echo.Echo) {
	assets := http.StripPrefix("/assets/", http.FileServer(http.FS(consoleFiles)))
	e.GET("/", func(c echo.Context) error {
		page, err := fs.ReadFile(consoleFiles, "index.html")
		if err != nil {
			return err
		}
		consoleHeaders(c.Response().Header())
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.HTMLBlob(http.StatusOK, page)
	})
	e.GET("/assets/*", func(c echo.Context) error {
		name := path.Clean(c.Param("*"))
		if name == "index.html" || strings.HasPrefix(name, "..") {
			return echo.ErrNotFound
		}
		if _, err := fs.Stat(consoleFiles, name); err != nil {
			return inspector.Errorf(codeRouteNotFound, "no such file")
		}
		consoleHeaders(c.Response().Header())
		// Assets change only with the binary; revalidate so that an upgrade shows at once.
		c.Response().Header().Set("Cache-Control", "no-cache")
		assets.ServeHTTP(c.Response(), c.Request())
		return nil
	})
}

func consoleHeaders(h http.Header) {
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}
