package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/strictjson"
)

// decodeJSON reads the request body into v, strictly: the Content-Type must
// be JSON, unknown fields are refused, and there must be exactly one value.
func decodeJSON(c echo.Context, v any) error {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEApplicationJSON {
		return inspector.Errorf(codeUnsupportedMedia, "send the body as application/json")
	}
	raw, err := readBody(c.Request())
	if err == nil {
		err = strictjson.Decode(raw, v)
	}
	if err == nil {
		return nil
	}
	var (
		maxErr    *http.MaxBytesError
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
		strictErr *strictjson.Error
	)
	switch {
	case errors.As(err, &strictErr):
		return problemOf(strictErr, "")
	case errors.Is(err, strictjson.ErrTrailingData):
		return inspector.Errorf(codeMalformed, "the body must hold one JSON value and nothing after it")
	case errors.As(err, &maxErr):
		return inspector.Errorf(codeTooLarge, "the request body is larger than %d bytes", maxErr.Limit)
	case errors.As(err, &typeErr):
		fe, _ := strictjson.FieldFault("", typeErr)
		if fe.Field == "" {
			fe.Field = "(body)"
		}
		if fe.Code != "wrong_type" { // a number, out of the field's range: the value is at fault, not the body's shape
			return &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields", Fields: []inspector.FieldError{fe}}
		}
		return &inspector.Error{Code: codeMalformed, Message: "a field has the wrong type", Fields: []inspector.FieldError{fe}}
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return inspector.Errorf(codeMalformed, "the body is not valid JSON")
	case errors.Is(err, io.EOF):
		return inspector.Errorf(codeMalformed, "the request body is empty")
	}
	if name, ok := unknownField(err); ok {
		return &inspector.Error{Code: codeMalformed, Message: "the body has a field this route does not take",
			Fields: []inspector.FieldError{{Field: name, Code: "unknown_field", Message: "not a field of this request"}}}
	}
	var timeErr *time.ParseError
	if errors.As(err, &timeErr) {
		return &inspector.Error{Code: codeMalformed, Message: "a time is not in RFC 3339 format, like 2026-11-27T09:30:00+03:30",
			Fields: []inspector.FieldError{{Field: fieldHolding(raw, timeErr.Value), Code: "wrong_type", Message: fmt.Sprintf("%q is not an RFC 3339 time", timeErr.Value)}}}
	}
	return inspector.Errorf(codeMalformed, "the body could not be read: %s", err)
}

// problemOf turns a fault the strict decoder found into a problem naming
// the field, under prefix: a duplicate key or a field not taken (in any
// letter case) is 400 malformed, like any body that is not the JSON the
// route takes; text that is not valid UTF-8 or holds a control character is
// 422 invalid.
func problemOf(e *strictjson.Error, prefix string) *inspector.Error {
	fe := []inspector.FieldError{{Field: prefix + e.Path, Code: string(e.Kind), Message: e.Message()}}
	switch e.Kind {
	case strictjson.InvalidUTF8, strictjson.ControlCharacter:
		return &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields", Fields: fe}
	case strictjson.DuplicateKey:
		return &inspector.Error{Code: codeMalformed, Message: "the body gives a key more than once", Fields: fe}
	}
	return &inspector.Error{Code: codeMalformed, Message: "the body has a field this route does not take", Fields: fe}
}

// fieldHolding names the field whose string value is value, as a dotted
// path ("check_in.device_time", "mutations[2].device_time"): encoding/json
// does not say which field a time failed to parse in. "(time)" if none is found.
func fieldHolding(body []byte, value string) string {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return "(time)"
	}
	var find func(v any, path string) (string, bool)
	find = func(v any, path string) (string, bool) {
		switch x := v.(type) {
		case string:
			return path, x == value
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys) // the same answer every time
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if got, ok := find(x[k], p); ok {
					return got, true
				}
			}
		case []any:
			for i, e := range x {
				if got, ok := find(e, fmt.Sprintf("%s[%d]", path, i)); ok {
					return got, true
				}
			}
		}
		return "", false
	}
	if p, ok := find(doc, ""); ok && p != "" {
		return p
	}
	return "(time)"
}

// unknownField extracts the field name from encoding/json's unknown-field error.
func unknownField(err error) (string, bool) {
	var name string
	if _, scanErr := fmt.Sscanf(err.Error(), "json: unknown field %q", &name); scanErr == nil {
		return name, true
	}
	return "", false
}

// queryInt reads an integer query parameter within [min, max], or def if absent.
func queryInt(c echo.Context, name string, def, minV, maxV int) (int, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(inspector.NormalizeDigits(raw))
	if err != nil || n < minV || n > maxV {
		return 0, &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields",
			Fields: []inspector.FieldError{{Field: name, Code: "out_of_range", Message: fmt.Sprintf("a whole number from %d to %d", minV, maxV)}}}
	}
	return n, nil
}

// queryBool reads a boolean query parameter.
func queryBool(c echo.Context, name string) (bool, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		return false, &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields",
			Fields: []inspector.FieldError{{Field: name, Code: "invalid", Message: "true or false"}}}
	}
	return b, nil
}

// readBody reads a request's body (bounded by its route's body limit) into
// one buffer of its declared length, instead of io.ReadAll's doubling.
func readBody(r *http.Request) ([]byte, error) {
	size := r.ContentLength // at most the route's limit (bodyLimit)
	if size <= 0 || size > 16<<20 {
		return io.ReadAll(r.Body)
	}
	buf := make([]byte, 0, size+1) // one more byte, to see the end without growing
	for {
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // more than declared: grow as ReadAll would
		}
	}
}
