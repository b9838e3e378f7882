package sync

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// cursorStore is a store with a few complaints assigned to an inspector, so
// that pulls and listings have pages to walk.
func cursorStore(f *testing.F) (*Store, inspector.User) {
	f.Helper()
	s := mustOpenStore(f)
	seedReference(f, s)
	u := mustCreateUser(f, s, "field", inspector.RoleInspector, inspector.ModeField)
	for i := range 5 {
		c := mustCreateComplaint(f, s, intake(fmt.Sprintf("CALL-FUZZ-%d", i), officeSSO1.Code))
		_, err := s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: u.ID, Mode: inspector.ModeField})
		require.NoError(f, err)
	}
	return s, u
}

// requireInvalidCursor fails unless err is the documented refusal of a
// cursor: an application error naming the field.
func requireInvalidCursor(t *testing.T, err error, field string) {
	t.Helper()
	var e *inspector.Error
	if !errors.As(err, &e) || e.Code != inspector.CodeInvalid || len(e.Fields) != 1 || e.Fields[0].Field != field {
		t.Fatalf("a bad %s is refused as invalid, naming it; got %T %v", field, err, err)
	}
}

// FuzzPullCursor hands Pull any cursor and page size, as a device (or
// someone forging one) may. A cursor is either refused as invalid, or it
// yields a page whose own cursor decodes, and following the cursors ends
// with the device up to date; nothing panics. Seeds: testdata/fuzz/FuzzPullCursor.
func FuzzPullCursor(f *testing.F) {
	s, u := cursorStore(f)
	f.Fuzz(func(t *testing.T, cursor string, limit int) {
		limit %= 4 // small pages, so that cursors mid-sync are made and used
		page, err := s.Pull(u, cursor, limit)
		if err != nil {
			requireInvalidCursor(t, err, "cursor")
			return
		}
		c, err := decodePullCursor(page.Cursor)
		if err != nil {
			t.Fatalf("the page's own cursor %q does not decode: %v", page.Cursor, err)
		}
		if again, err := decodePullCursor(c.encode()); err != nil || again != c {
			t.Fatalf("a cursor does not survive encoding: %+v then %+v (%v)", c, again, err)
		}
		// Following the cursors ends: the device gets up to date.
		for n := 0; page.HasMore; n++ {
			if n == 100 {
				t.Fatalf("still has_more after 100 pages from %q", cursor)
			}
			if page, err = s.Pull(u, page.Cursor, limit); err != nil {
				t.Fatalf("pulling from a page's own cursor %q: %v", page.Cursor, err)
			}
		}
	})
}

// FuzzListCursor hands the newest-first listings (complaints, conflicts)
// any cursor: refused as invalid, or a page; nothing panics. Seeds:
// testdata/fuzz/FuzzListCursor.
func FuzzListCursor(f *testing.F) {
	s, _ := cursorStore(f)
	f.Fuzz(func(t *testing.T, cursor string) {
		items, next, err := s.ListComplaints(ComplaintFilter{Limit: 2, Cursor: cursor})
		if err != nil {
			requireInvalidCursor(t, err, "cursor")
		} else if next != "" {
			if len(items) == 0 {
				t.Fatalf("an empty page has a next cursor %q", next)
			}
			if _, _, err := s.ListComplaints(ComplaintFilter{Limit: 2, Cursor: next}); err != nil {
				t.Fatalf("listing from the page's own cursor %q: %v", next, err)
			}
		}
		if _, _, err := s.Conflicts(ConflictFilter{Limit: 2, Cursor: cursor}); err != nil {
			requireInvalidCursor(t, err, "cursor")
		}
	})
}
