package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/feed"
	"github.com/favad/favad/inspector"
)

// Feed limits callers see in the API documentation.
const (
	feedRetryAfterSeconds = 30   // a user past the bound of open feeds
	feedPageDefault       = 100  // GET /v1/feed/changes
	feedPageMax           = 1000 //
	feedWriteBatch        = 256  // live events written between two session checks
)

// feedStream is GET /v1/feed: the change log as server-sent events for
// dispatch and supervisors. A client resuming with Last-Event-ID gets what
// it missed from the log, then live events, each once: the subscription is
// taken first, the replay reads up to the subscription's start, and live
// events at or below what was replayed are skipped.
func (s *Server) feedStream(c echo.Context) error {
	f, err := feed.ParseFilter(c.QueryParams())
	if err != nil {
		return err
	}
	cursor, resume, err := lastEventID(c)
	if err != nil {
		return err
	}
	p := principal(c)
	sub, err := s.feed.Subscribe(p.User.ID, f)
	switch {
	case errors.Is(err, feed.ErrTooMany):
		return &retryAfterError{err: inspector.Errorf(inspector.CodeRateLimited, "you already hold %d live feeds open; close one", s.feed.PerUser()), retryAfterSeconds: feedRetryAfterSeconds}
	case errors.Is(err, feed.ErrClosed):
		return &retryAfterError{err: inspector.Errorf(codeBusy, "the server is shutting down; reconnect in a moment"), retryAfterSeconds: 5}
	case err != nil:
		return err
	}
	defer sub.Close()
	var head uint64 // only a resume compares its cursor with the head
	if resume {
		if head, err = s.feed.Head(); err != nil {
			return err
		}
	}
	history := s.store.HistoryID()

	w := c.Response()
	w.Header().Set(headerHistory, history)
	startSSE(w)

	// sent is the last id the client holds (its resume point); through is
	// the sequence up to which everything was sent or did not match, so
	// that live events at or below it are duplicates.
	sent, through := sub.Start(), sub.Start()
	if resume {
		if cursor > head || otherHistory(c, history) {
			// The client's cursor is not a point of this log: the store was
			// restored from a backup (the log is shorter than the cursor, or
			// has gone on past it with other changes). Its board is not to
			// be trusted.
			if writeSSE(w, "reset", head, map[string]uint64{"head": head}) != nil {
				return nil
			}
			w.Flush()
			sent, through = head, head
		} else {
			sent, through = cursor, cursor
			for through < sub.Start() {
				if s.feedStopping(c, sub) {
					endDropped(w, sub, sent)
					return nil
				}
				if !s.streamStillAllowed(c, p) {
					return nil
				}
				events, next, err := s.feed.Read(through, sub.Start(), feed.PageSize, f)
				if err != nil {
					s.log(c).Error("live feed: replay", "error", err)
					return nil // the client resumes from what it got
				}
				if next == through {
					break // the log ends before the start: nothing more to replay
				}
				for _, e := range events {
					if writeSSE(w, "", e.ID, e) != nil {
						return nil
					}
					sent = e.ID
				}
				w.Flush()
				s.feed.Sent(len(events))
				through = next
			}
			through = max(through, sub.Start())
		}
	}

	heartbeat := time.NewTicker(s.cfg.FeedHeartbeat)
	defer heartbeat.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.shutdown:
			return nil
		case <-sub.Done():
			endDropped(w, sub, sent)
			return nil
		case <-heartbeat.C:
			if !s.streamStillAllowed(c, p) {
				return nil
			}
			if _, err := fmt.Fprintf(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case e := <-sub.Events():
			// Take what else is waiting, so that one session check and one
			// flush cover a burst.
			batch := []feed.Event{e}
		more:
			for len(batch) < feedWriteBatch {
				select {
				case e := <-sub.Events():
					batch = append(batch, e)
				default:
					break more
				}
			}
			if !s.streamStillAllowed(c, p) {
				return nil
			}
			n := 0
			for _, e := range batch {
				if e.ID <= through {
					continue
				}
				if writeSSE(w, "", e.ID, e) != nil {
					return nil
				}
				sent, through, n = e.ID, e.ID, n+1
			}
			w.Flush()
			s.feed.Sent(n)
		}
	}
}

// feedStopping reports whether the stream must end now: the client left,
// the server drains, or the subscription ended.
func (s *Server) feedStopping(c echo.Context, sub *feed.Subscription) bool {
	select {
	case <-c.Request().Context().Done():
		return true
	case <-s.shutdown:
		return true
	case <-sub.Done():
		return true
	default:
		return false
	}
}

// endDropped ends a stream whose subscription fell behind (live events
// piled up, perhaps during a long replay) with where to resume, which the
// EventSource also keeps as its last event id. A subscription ended by the
// broker's closing ends quietly.
func endDropped(w *echo.Response, sub *feed.Subscription, sent uint64) {
	select {
	case <-sub.Done():
		if sub.Dropped() {
			_ = writeSSE(w, "dropped", sent, map[string]uint64{"resume_after": sent})
			w.Flush()
		}
	default:
	}
}

// writeSSE writes one event: a named one (reset, dropped) or, with name "",
// a "message" event carrying an Event.
func writeSSE(w *echo.Response, name string, id uint64, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "id: %d\n", id)
	if name != "" {
		fmt.Fprintf(&b, "event: %s\n", name)
	}
	fmt.Fprintf(&b, "data: %s\n\n", raw)
	_, err = w.Write([]byte(b.String()))
	return err
}

// lastEventID reads the resume cursor: the Last-Event-ID header, or the
// last_event_id query parameter for EventSource polyfills that cannot set
// headers. resume is false when neither is given.
func lastEventID(c echo.Context) (cursor uint64, resume bool, err error) {
	field, raw := "Last-Event-ID", strings.TrimSpace(c.Request().Header.Get("Last-Event-ID"))
	if raw == "" {
		field, raw = "last_event_id", strings.TrimSpace(c.QueryParam("last_event_id"))
	}
	if raw == "" {
		return 0, false, nil
	}
	cursor, err = strconv.ParseUint(inspector.NormalizeDigits(raw), 10, 64)
	if err != nil {
		return 0, false, (&inspector.Problems{{Field: field, Code: "invalid", Message: "the id of the last event received, a whole number"}}).Err()
	}
	return cursor, true, nil
}

// headerHistory names the store's history (sync.Store.HistoryID) on the
// live feed's answers; a client resuming sends it back as ?history=.
const headerHistory = "Favad-History"

// otherHistory reports whether the client resumes with a cursor from another
// history than this store's: it names one (?history=), and not this one.
func otherHistory(c echo.Context, history string) bool {
	h := strings.TrimSpace(c.QueryParam("history"))
	return h != "" && h != history
}

// feedPage is the answer of GET /v1/feed/changes.
type feedPage struct {
	Items     []feed.Event `json:"items"`
	NextAfter uint64       `json:"next_after"`
	Head      uint64       `json:"head"`
	History   string       `json:"history"`
	Reset     bool         `json:"reset,omitempty"`
}

// feedChanges is GET /v1/feed/changes: the feed's events after a cursor, as
// a JSON page, for clients that cannot hold a stream.
func (s *Server) feedChanges(c echo.Context) error {
	f, err := feed.ParseFilter(c.QueryParams())
	if err != nil {
		return err
	}
	var after uint64
	if raw := strings.TrimSpace(c.QueryParam("after")); raw != "" {
		if after, err = strconv.ParseUint(inspector.NormalizeDigits(raw), 10, 64); err != nil {
			return (&inspector.Problems{{Field: "after", Code: "invalid", Message: "a change-log sequence: the next_after of a previous page, or an event's id"}}).Err()
		}
	}
	limit, err := queryInt(c, "limit", feedPageDefault, 1, feedPageMax)
	if err != nil {
		return err
	}
	head, err := s.feed.Head()
	if err != nil {
		return err
	}
	history := s.store.HistoryID()
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set(headerHistory, history)
	page := feedPage{Items: []feed.Event{}, NextAfter: after, Head: head, History: history}
	if after > head || (after > 0 && otherHistory(c, history)) {
		// As on the stream: a cursor that is not a point of this log (a
		// backup was restored) restarts at the head, and the client reloads
		// its board.
		page.NextAfter, page.Reset = head, true
		return c.JSON(http.StatusOK, page)
	}
	events, next, err := s.feed.Read(after, head, limit, f)
	if err != nil {
		return err
	}
	if events != nil {
		page.Items = events
	}
	page.NextAfter = next
	s.feed.Sent(len(events))
	return c.JSON(http.StatusOK, page)
}
