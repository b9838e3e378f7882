package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// storeKit is a real store with one agency, one office, a dispatcher and
// inspectors, for the worker's tests and the push benchmark.
type storeKit struct {
	store      *favsync.Store
	inspectors []inspector.User
	dispatcher favsync.Actor
}

func openStoreKit(tb testing.TB, inspectors int) *storeKit {
	tb.Helper()
	s, err := favsync.Open(filepath.Join(tb.TempDir(), "favad.db"), favsync.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	k := &storeKit{store: s}
	_, _, err = s.PutAgency(favsync.System, inspector.Agency{Code: "SSO", NameFa: "تامین اجتماعی"})
	require.NoError(tb, err)
	_, _, err = s.PutOffice(favsync.System, inspector.Office{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک", Province: "قزوین", City: "قزوین",
		Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat"}}})
	require.NoError(tb, err)
	disp, err := s.CreateUser(favsync.System, favsync.NewUser{Username: "disp", DisplayName: "دیسپچ", Role: inspector.RoleDispatcher, PasswordHash: "$argon2id$v=19$fake"})
	require.NoError(tb, err)
	k.dispatcher = favsync.Actor{UserID: disp.ID}
	for i := range inspectors {
		u, err := s.CreateUser(favsync.System, favsync.NewUser{Username: fmt.Sprintf("insp-%03d", i), DisplayName: "بازرس", Role: inspector.RoleInspector,
			Mode: inspector.ModeField, Region: &inspector.Region{Province: "قزوین"}, PasswordHash: "$argon2id$v=19$fake"})
		require.NoError(tb, err)
		k.inspectors = append(k.inspectors, u)
	}
	return k
}

// complaint takes a call at the office and, with an inspector, assigns it.
func (k *storeKit) complaint(tb testing.TB, callID string, to *inspector.User) inspector.Complaint {
	tb.Helper()
	c, _, err := k.store.CreateComplaint(k.dispatcher, inspector.NewComplaint{CallID: callID, Category: inspector.CategoryAbsentEmployee,
		Description: "کارمند در محل کار نیست", CallTime: time.Now().Add(-10 * time.Minute), Caller: inspector.Caller{Name: "شهروند", Phone: "09120000000"},
		OfficeCode: "QZ-SSO-01", Priority: inspector.PriorityNormal})
	require.NoError(tb, err)
	if to != nil {
		c, err = k.store.Assign(k.dispatcher, c.ID, inspector.Routing{InspectorID: to.ID, Mode: inspector.ModeField})
		require.NoError(tb, err)
	}
	return c
}

// mutation is a device's mutation as the app builds it.
func mutation(seq uint64, kind, record string, base uint64, payload any, at time.Time) favsync.Mutation {
	raw, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return favsync.Mutation{ID: uuid.Must(uuid.NewV7()).String(), DeviceSeq: seq, Kind: kind, RecordID: record, BaseVersion: base,
		DeviceTime: at, HLC: inspector.Stamp{WallMs: at.UnixMilli(), Logical: uint32(seq)}, Payload: raw}
}

// Run over a real store: it wakes on the store's signal (the poll is an
// hour) and counts what devices pushed.
func TestRunTailsARealStore(t *testing.T) {
	k := openStoreKit(t, 1)
	insp := k.inspectors[0]
	a, err := New(Config{Store: k.store, Poll: time.Hour, Logger: quiet})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	caughtUp := func() bool { applied, head := a.Behind(); return applied == head }
	require.Eventually(t, caughtUp, 5*time.Second, time.Millisecond)

	c := k.complaint(t, "CALL-RUN-1", &insp)
	now := time.Now().UTC().Truncate(time.Second)
	visit := uuid.Must(uuid.NewV7()).String()
	res, _, err := k.store.Push(insp, "device-1", []favsync.Mutation{
		mutation(1, favsync.MutVisitUpsert, visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID},
			"check_in": map[string]any{"device_time": now, "lat": 36.28, "lng": 50.0, "accuracy_m": 8}}, now),
		mutation(2, favsync.MutFindingCreate, uuid.Must(uuid.NewV7()).String(), 0, map[string]any{"visit_id": visit, "complaint_id": c.ID,
			"staff_expected": 4, "staff_present": 3, "absentees": []map[string]string{{"name": "الف", "reason": "mission"}}, "non_work_activity": []string{},
			"clients_waiting": 2, "desks_open": 1, "observed_at": now}, now),
		mutation(3, favsync.MutComplaintOutcome, c.ID, c.Version, map[string]any{"outcome": "resolved_on_spot", "statement": "حل شد"}, now),
	})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, favsync.StatusApplied, r.Status, "%+v", r)
	}
	require.Eventually(t, caughtUp, 5*time.Second, time.Millisecond)
	rows := a.ByAgency(Filter{From: now.Add(-time.Hour), To: now.Add(time.Hour)})
	require.Len(t, rows, 1)
	assert.Equal(t, 1, rows[0].Complaints)
	assert.Equal(t, ChannelCounts{Field: 1}, rows[0].ByChannel)
	assert.Equal(t, OutcomeCounts{ResolvedOnSpot: 1}, rows[0].Outcomes)
	assert.Equal(t, 1, rows[0].ToFirstAction.Count)
	assert.Equal(t, AbsenteeCounts{Mission: 1}, rows[0].Attendance.Absentees)
	ins := a.ByInspector(Filter{From: now.Add(-time.Hour), To: now.Add(time.Hour)})
	require.Len(t, ins, 1)
	assert.Equal(t, insp.ID, ins[0].InspectorID)
	assert.Equal(t, 1, ins[0].Visits)
	cancel()
	require.NoError(t, <-done)
}
