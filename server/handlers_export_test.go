package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/export"
	"github.com/favad/favad/inspector"
)

// TestExportCallerColumnsFollowSeesCaller: the caller's name and phone are
// columns only for a role that may see the caller, so a role allowed to
// export later does not get them by default (the inspector stands in for
// such a role here).
func TestExportCallerColumnsFollowSeesCaller(t *testing.T) {
	cp := inspector.Complaint{Number: 7, Caller: &inspector.Caller{Name: "مریم احمدی", Phone: "09121234567"}, CallID: "CALL-7"}
	for _, role := range inspector.Roles {
		var keys []string
		var values []any
		redacted := cp.Redacted(role)
		for _, col := range complaintColumns(role) {
			keys = append(keys, col.Key)
			values = append(values, col.value(&redacted, time.Now()))
		}
		if role.SeesCaller() {
			assert.Subset(t, keys, []string{"caller_name", "caller_phone"}, role)
			assert.Subset(t, values, []any{"مریم احمدی", "09121234567"}, role)
			continue
		}
		assert.NotContains(t, keys, "caller_name", role)
		assert.NotContains(t, keys, "caller_phone", role)
		assert.NotContains(t, values, "مریم احمدی", role)
		assert.NotContains(t, values, "09121234567", role)
	}
}

// failingRows yields n rows, then fails as a store would.
func failingRows(n int, err error) export.Rows {
	return func(yield func([]any) error) error {
		for i := range n {
			if e := yield([]any{i, "کارمند باجه ۳ حاضر نیست و مراجعان در صف هستند"}); e != nil {
				return e
			}
		}
		return err
	}
}

// TestSendTableFailures: a table that fails before its first byte is
// returned as an error, with no attachment headers, for the error handler to
// answer; one that fails after the response began cuts the connection
// (http.ErrAbortHandler), so that the client never takes a truncated file
// for a whole one.
func TestSendTableFailures(t *testing.T) {
	s := &Server{cfg: Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	cols := []export.Column{{Key: "n", En: "N", Type: export.Int}, {Key: "d", En: "D"}}
	boom := errors.New("store: read complaints: database not open")
	send := func(format string, rows int) (*httptest.ResponseRecorder, func() error) {
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/v1/complaints/export", nil), rec)
		return rec, func() error {
			return s.sendTable(c, format, "complaints."+format, export.Sheet{Name: "x", Columns: cols, Lang: export.English, Rows: failingRows(rows, boom)})
		}
	}
	for _, format := range []string{"csv", "xlsx"} {
		rec, run := send(format, 10)
		require.ErrorIs(t, run(), boom, format)
		assert.Empty(t, rec.Header().Get(echo.HeaderContentDisposition), "%s: an error before the first byte is not an attachment", format)
		assert.Zero(t, rec.Body.Len(), format)
	}
	// xlsx reads every row before writing, so only CSV can fail mid-file.
	rec, run := send("csv", 10_000)
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() { _ = run() })
	assert.Equal(t, `attachment; filename="complaints.csv"`, rec.Header().Get(echo.HeaderContentDisposition))
	assert.NotZero(t, rec.Body.Len(), "part of the file was out")

	rec, run = send("xlsx", 10_000)
	require.ErrorIs(t, run(), boom)
	assert.Zero(t, rec.Body.Len())
}
