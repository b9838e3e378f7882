package inspector

import (
	"fmt"
	"strings"
	"time"
)

// SLA maps each priority to the time dispatch has to resolve a complaint.
type SLA map[Priority]time.Duration

// DefaultSLA is the pilot's table: an urgent complaint (clients waiting now)
// must be handled within the hour, a routine one within three working days.
func DefaultSLA() SLA {
	return SLA{
		PriorityUrgent: 1 * time.Hour,
		PriorityHigh:   4 * time.Hour,
		PriorityNormal: 24 * time.Hour,
		PriorityLow:    72 * time.Hour,
	}
}

// DueAt returns when a complaint of priority p, called in at t, falls due.
func (s SLA) DueAt(p Priority, t time.Time) time.Time {
	d, ok := s[p]
	if !ok {
		d = s[PriorityNormal]
	}
	return t.Add(d)
}

// ParseSLA reads a table such as "urgent=1h,high=4h,normal=24h,low=72h". Missing
// priorities keep their default.
func ParseSLA(s string) (SLA, error) {
	sla := DefaultSLA()
	if strings.TrimSpace(s) == "" {
		return sla, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		p := Priority(strings.TrimSpace(k))
		if !ok || !p.Valid() {
			return nil, fmt.Errorf("sla: %q is not priority=duration", part)
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("sla: %q: duration must be positive, like 4h", part)
		}
		sla[p] = d
	}
	return sla, nil
}
