package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// CallerNotice is a message to the citizen who called 128: the outcome of
// their complaint, in Persian.
type CallerNotice struct {
	ComplaintID  string
	Number       uint64
	Phone        string // the caller's number, as dispatch entered it
	TrackingCode string
	Text         string
}

// CallerNotifier sends a caller a notice. The default only logs; an SMS
// provider's adapter implements it. NotifyCaller's error is retried later
// unless it is (or wraps) ErrCallerUnreachable.
type CallerNotifier interface {
	NotifyCaller(ctx context.Context, n CallerNotice) error
}

// ErrCallerUnreachable is returned by a CallerNotifier for a notice that will
// never go (an invalid number); it is logged and skipped, not retried.
var ErrCallerUnreachable = errors.New("push: the caller cannot be reached at this number")

// LogCallerNotifier logs notices instead of sending them, with the number
// masked: the caller's identity does not belong in logs.
type LogCallerNotifier struct{ Logger *slog.Logger }

// NotifyCaller logs n.
func (l LogCallerNotifier) NotifyCaller(_ context.Context, n CallerNotice) error {
	l.Logger.Info("caller notice (log only: no SMS provider configured)", "complaint", n.ComplaintID,
		"number", n.Number, "phone", MaskPhone(n.Phone), "chars", utf8.RuneCountInString(n.Text))
	return nil
}

// MaskPhone keeps the last two digits of a phone number.
func MaskPhone(p string) string {
	r := []rune(p)
	if len(r) <= 2 {
		return "**"
	}
	return strings.Repeat("*", len(r)-2) + string(r[len(r)-2:])
}

// callerNoticesCursor is the name of the caller notices' cursor in the store.
const callerNoticesCursor = "caller_notices"

// callerNoticesPage is how many changes Run reads at once.
const callerNoticesPage = 200

// CallerNotices tails the change log from its own cursor and sends each
// caller the outcome of their complaint once it is closed: an inspector's
// outcome, dispatch's decision on an office's answer, or on a review. A
// restart resumes from the cursor, so a notice is sent at least once
// (a crash between sending and saving sends it again).
type CallerNotices struct {
	Store    *favsync.Store
	Notifier CallerNotifier
	Logger   *slog.Logger
	// Poll is how long to wait for new changes when Store.Changed is quiet; default 5s.
	Poll time.Duration
}

// Settle sets the starting point on a first start to the head of the log,
// so that the complaints closed before this feature existed are not
// announced now. Call it before serving requests.
func (w *CallerNotices) Settle() error {
	seq, err := w.Store.ReaderCursor(callerNoticesCursor)
	if err != nil || seq > 0 {
		return err
	}
	st, err := w.Store.Stats()
	if err != nil {
		return err
	}
	return w.Store.SaveReaderCursor(callerNoticesCursor, st.Seq)
}

// Run sends notices until ctx ends.
func (w *CallerNotices) Run(ctx context.Context) {
	if w.Poll <= 0 {
		w.Poll = 5 * time.Second
	}
	cursor, err := w.Store.ReaderCursor(callerNoticesCursor)
	if err != nil {
		w.Logger.Error("caller notices: read the cursor", "error", err)
		return
	}
	for ctx.Err() == nil {
		wake := w.Store.Changed()
		views, err := w.Store.ReadChanges(cursor, callerNoticesPage)
		if err != nil {
			w.Logger.Error("caller notices: read the change log", "error", err)
		}
		read := cursor
		for _, v := range views {
			if n, ok := NoticeFor(v); ok {
				if err := w.Notifier.NotifyCaller(ctx, n); err != nil && !errors.Is(err, ErrCallerUnreachable) {
					w.Logger.Warn("caller notice failed; retrying later", "complaint", n.ComplaintID, "error", err)
					break
				} else if err != nil {
					w.Logger.Warn("caller notice skipped", "complaint", n.ComplaintID, "error", err)
				}
			}
			read = v.Seq
		}
		if read != cursor {
			if err := w.Store.SaveReaderCursor(callerNoticesCursor, read); err != nil {
				w.Logger.Error("caller notices: save the cursor", "error", err)
			} else {
				cursor = read
			}
		}
		if len(views) == callerNoticesPage && read == views[len(views)-1].Seq {
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-time.After(w.Poll):
		}
	}
}

// NoticeFor is the notice a change calls for, if any: a complaint closed
// with an outcome, whose caller left a number.
func NoticeFor(v favsync.ChangeView) (CallerNotice, bool) {
	c := v.Complaint
	if v.Kind != favsync.KindComplaint || c == nil || c.Caller == nil || c.Caller.Phone == "" || c.Outcome == nil {
		return CallerNotice{}, false
	}
	if v.Action == "review_accept" {
		return CallerNotice{}, false // dispatch kept its own state: the caller heard of it at its closing
	}
	to := inspector.Status(v.Data["to"])
	// Still closed: as it was, or under a review that started from it (if
	// dispatch accepts, nothing changes; if it overrules, that closing tells).
	closed := c.Status == to || (c.Status == inspector.StatusNeedsReview && c.ReviewFrom == to)
	if !to.Terminal() || to == inspector.StatusWithdrawn || !closed {
		return CallerNotice{}, false // not a closing, or reopened since: the later closing tells
	}
	text := fmt.Sprintf("فواد ۱۲۸: رسیدگی به شکایت شما (کد پیگیری %s) به پایان رسید. %s", c.TrackingCode, inspector.OutcomeTextFa[c.Outcome.Value])
	return CallerNotice{ComplaintID: c.ID, Number: c.Number, Phone: c.Caller.Phone, TrackingCode: c.TrackingCode, Text: text}, true
}
