package server

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFieldHolding(t *testing.T) {
	for _, c := range []struct{ body, value, want string }{
		{`{"call_id":"X","call_time":"yesterday"}`, "yesterday", "call_time"},
		{`{"check_in":{"device_time":"soon","lat":1}}`, "soon", "check_in.device_time"},
		{`{"mutations":[{"device_time":"2026"},{"device_time":"later"}]}`, "later", "mutations[1].device_time"},
		{`{"a":"x","b":"x"}`, "x", "a"}, // the same answer every time
		{`{"call_time":"2026-11-27"}`, "not there", "(time)"},
		{`not json`, "x", "(time)"},
		{`"x"`, "x", "(time)"}, // the body itself: no field to name
	} {
		assert.Equal(t, c.want, fieldHolding([]byte(c.body), c.value), c.body)
	}
}

// TestEveryErrorCodeIsDocumented: each code the server answers with is named
// in the spec's Problem.code and in the README's list.
func TestEveryErrorCodeIsDocumented(t *testing.T) {
	spec, err := os.ReadFile("../api-spec/openapi.yaml")
	require.NoError(t, err)
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	codes := []string{string(codeChecksumMismatch)}
	for c := range statusOf {
		codes = append(codes, string(c))
	}
	for _, c := range codes {
		assert.Contains(t, string(spec), "`"+c+"`", "the spec does not name %s", c)
		assert.Contains(t, string(readme), "`"+c+"`", "the README does not name %s", c)
	}
}
