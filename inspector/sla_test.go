package inspector_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

func TestDefaultSLA(t *testing.T) {
	want := inspector.SLA{
		inspector.PriorityUrgent: time.Hour,
		inspector.PriorityHigh:   4 * time.Hour,
		inspector.PriorityNormal: 24 * time.Hour,
		inspector.PriorityLow:    72 * time.Hour,
	}
	assert.Equal(t, want, inspector.DefaultSLA())

	// Each call returns a fresh table: changing one does not change the next.
	s := inspector.DefaultSLA()
	s[inspector.PriorityUrgent] = time.Minute
	assert.Equal(t, time.Hour, inspector.DefaultSLA()[inspector.PriorityUrgent])
}

func TestSLADueAt(t *testing.T) {
	sla := inspector.DefaultSLA()
	call := time.Date(2025, 3, 1, 9, 15, 0, 0, time.FixedZone("IRST", 3*3600+1800))
	tests := []struct {
		p    inspector.Priority
		want time.Duration
	}{
		{inspector.PriorityUrgent, time.Hour},
		{inspector.PriorityHigh, 4 * time.Hour},
		{inspector.PriorityNormal, 24 * time.Hour},
		{inspector.PriorityLow, 72 * time.Hour},
		{"", 24 * time.Hour},      // unknown priorities fall back to normal
		{"bogus", 24 * time.Hour}, // likewise
	}
	for _, tt := range tests {
		got := sla.DueAt(tt.p, call)
		assert.True(t, got.Equal(call.Add(tt.want)), "%q: got %v", tt.p, got)
		assert.Equal(t, call.Location(), got.Location(), "DueAt keeps the call's zone")
	}

	custom := inspector.SLA{inspector.PriorityUrgent: 30 * time.Minute, inspector.PriorityNormal: 2 * time.Hour}
	assert.Equal(t, call.Add(30*time.Minute), custom.DueAt(inspector.PriorityUrgent, call))
	assert.Equal(t, call.Add(2*time.Hour), custom.DueAt(inspector.PriorityLow, call), "missing priority uses normal")
}

func TestParseSLA(t *testing.T) {
	def := inspector.DefaultSLA()
	with := func(p inspector.Priority, d time.Duration) inspector.SLA {
		s := inspector.DefaultSLA()
		s[p] = d
		return s
	}
	tests := []struct {
		in   string
		want inspector.SLA // nil: refused
	}{
		{"", def},
		{"   ", def},
		{"urgent=1h,high=4h,normal=24h,low=72h", def},
		{"urgent=30m", with(inspector.PriorityUrgent, 30*time.Minute)},
		{" low = 96h ", with(inspector.PriorityLow, 96*time.Hour)},
		{"high=2h30m", with(inspector.PriorityHigh, 150*time.Minute)},
		{"urgent=1h, urgent=2h", with(inspector.PriorityUrgent, 2*time.Hour)}, // last wins
		{"urgent", nil},
		{"urgent=", nil},
		{"=1h", nil},
		{"critical=1h", nil},
		{"Urgent=1h", nil},
		{"urgent=1", nil},
		{"urgent=1x", nil},
		{"urgent=0s", nil},
		{"urgent=-1h", nil},
		{"urgent=1h,", nil},
		{"urgent=1h;high=2h", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := inspector.ParseSLA(tt.in)
			if tt.want == nil {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "sla:")
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
