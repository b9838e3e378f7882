package inspector_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

func TestErrorMessage(t *testing.T) {
	e := inspector.Errorf(inspector.CodeNotFound, "no complaint %d", 7)
	assert.Equal(t, "not_found: no complaint 7", e.Error())

	var p inspector.Problems
	p.Add("call_id", "required", "the call id is required")
	p.Add("priority", "invalid", "one of urgent, high, normal, low")
	err := p.Err()
	assert.Equal(t, "invalid: the request has invalid fields (call_id: the call id is required; priority: one of urgent, high, normal, low)", err.Error())
}

func TestProblemsErr(t *testing.T) {
	var p inspector.Problems
	require.NoError(t, p.Err(), "no problem, no error")

	p.Add("office_code", "required", "needed")
	err := p.Err()
	var e *inspector.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, inspector.CodeInvalid, e.Code)
	assert.Equal(t, []inspector.FieldError{{Field: "office_code", Code: "required", Message: "needed"}}, e.Fields)
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want inspector.Code
	}{
		{"application error", inspector.Errorf(inspector.CodeConflict, "x"), inspector.CodeConflict},
		{"wrapped once", fmt.Errorf("create: %w", inspector.Errorf(inspector.CodeIllegalTransition, "x")), inspector.CodeIllegalTransition},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", inspector.Errorf(inspector.CodeDeviceRevoked, "x"))), inspector.CodeDeviceRevoked},
		{"validation", (&inspector.Problems{{Field: "f", Code: "c", Message: "m"}}).Err(), inspector.CodeInvalid},
		{"plain error is internal", errors.New("bbolt: database not open"), inspector.CodeInternal},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, inspector.ErrorCode(tt.err), tt.name)
	}
}
