package server

import (
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
)

// checkQuery refuses a query string that does not decode: a bad percent
// escape or a semicolon. Go's query parser drops such a pair without a
// word, so a handler would see the parameter as absent: a cursor that came
// damaged would start a full resync, a damaged limit would fall back to the
// default. The answer is 422 naming the parameter, as for any value that
// does not parse.
func checkQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := queryProblem(c.Request().URL.RawQuery); err != nil {
			return err
		}
		return next(c)
	}
}

// queryProblem names the first pair of raw that does not decode, if any.
func queryProblem(raw string) error {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		name, keyErr := url.QueryUnescape(key)
		if keyErr != nil || strings.Contains(name, ";") {
			name = "query"
		}
		switch _, valueErr := url.QueryUnescape(value); {
		case keyErr != nil || valueErr != nil:
			return queryError(name, "bad_escape", "not valid percent-encoding (a % must be followed by two hex digits; a literal % is %25)")
		case strings.Contains(pair, ";"):
			return queryError(name, "semicolon", "parameters are separated by &, not ; (a literal ; is %3B)")
		}
	}
	return nil
}

func queryError(field, code, message string) error {
	return &inspector.Error{Code: inspector.CodeInvalid, Message: "the query string does not decode",
		Fields: []inspector.FieldError{{Field: field, Code: code, Message: message}}}
}
