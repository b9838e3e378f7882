package client

// tick advances the clock for a local event at physical time nowMs: the wall
// part never goes backwards, and the counter orders events that share it.
func (h HLC) tick(nowMs int64) HLC {
	if nowMs > h.WallMs {
		return HLC{WallMs: nowMs}
	}
	return HLC{WallMs: h.WallMs, Logical: h.Logical + 1}
}

// observe advances the clock on receiving a message stamped remoteMs (the
// server's time, whose counter is taken as 0) at physical time nowMs, so that
// later local events order after what the device has seen.
func (h HLC) observe(remoteMs, nowMs int64) HLC {
	wall := max(h.WallMs, remoteMs, nowMs)
	switch {
	case wall == h.WallMs:
		return HLC{WallMs: wall, Logical: h.Logical + 1}
	case wall == remoteMs:
		return HLC{WallMs: wall, Logical: 1}
	}
	return HLC{WallMs: wall}
}

// Less reports whether h is earlier than o.
func (h HLC) Less(o HLC) bool {
	if h.WallMs != o.WallMs {
		return h.WallMs < o.WallMs
	}
	return h.Logical < o.Logical
}
