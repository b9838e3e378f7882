package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPasswordGate(t *testing.T) {
	g := newPasswordGate(2, time.Hour)
	r1, err := g.enter(context.Background())
	require.NoError(t, err)
	r2, err := g.enter(context.Background())
	require.NoError(t, err)

	// Full: a caller whose request ends stops waiting, answered busy.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	_, err = g.enter(ctx)
	var rl *retryAfterError
	require.True(t, errors.As(err, &rl), "%v", err)
	assert.Equal(t, codeBusy, rl.err.Code)

	// Full: after the wait, busy.
	short := newPasswordGate(1, 10*time.Millisecond)
	rs, err := short.enter(context.Background())
	require.NoError(t, err)
	_, err = short.enter(context.Background())
	require.True(t, errors.As(err, &rl), "%v", err)
	assert.Equal(t, codeBusy, rl.err.Code)
	assert.Equal(t, 1, rl.retryAfterSeconds)
	rs()

	// A slot given back is taken by the next caller.
	r1()
	r3, err := g.enter(context.Background())
	require.NoError(t, err)
	r2()
	r3()
	assert.Empty(t, g.slots)
}
