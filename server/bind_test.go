package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
