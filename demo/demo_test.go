package demo_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/favad/favad/demo"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
)

func mustOpenStore(tb testing.TB, now time.Time) *favsync.Store {
	tb.Helper()
	s, err := favsync.Open(filepath.Join(tb.TempDir(), "favad.db"), favsync.Options{Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func TestLoad(t *testing.T) {
	now := time.Date(2026, 5, 3, 7, 30, 0, 0, time.UTC)
	s := mustOpenStore(t, now)

	res, err := demo.Load(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Loaded || res.Offices != 24 || res.Complaints != 6 || res.Assigned != 3 || res.Referred != 1 || len(res.Accounts) != 6 {
		t.Fatalf("Load = %+v; want 24 offices, 6 complaints (3 assigned, 1 referred), 6 accounts", res)
	}

	offices, err := s.Offices(favsync.OfficeFilter{Province: demo.Province})
	if err != nil {
		t.Fatal(err)
	}
	if len(offices) != 24 {
		t.Errorf("offices in %s: %d, want 24", demo.Province, len(offices))
	}

	users, err := s.Users("")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]inspector.User{}
	for _, u := range users {
		byName[u.Username] = u
	}
	for _, a := range res.Accounts {
		u, ok := byName[a.Username]
		if !ok {
			t.Errorf("account %s not created", a.Username)
			continue
		}
		if u.Role != a.Role || u.Mode != a.Mode || u.DisplayName == "" {
			t.Errorf("user %s = %+v; want role %s mode %q and a name", a.Username, u, a.Role, a.Mode)
		}
		if len(a.Password) < auth.MinPasswordLength {
			t.Errorf("demo password of %s is shorter than %d", a.Username, auth.MinPasswordLength)
		}
		_, hash, err := s.Credentials(a.Username)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := auth.CheckPassword(hash, a.Password); !ok || err != nil {
			t.Errorf("password of %s does not check: %v %v", a.Username, ok, err)
		}
	}
	for _, name := range []string{"inspector.field", "inspector.phone"} {
		u := byName[name]
		if u.Region == nil || u.Region.Province != demo.Province || len(u.Region.Cities) != 0 {
			t.Errorf("%s region = %+v; want the whole province %s", name, u.Region, demo.Province)
		}
	}

	all, _, err := s.ListComplaints(favsync.ComplaintFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 {
		t.Fatalf("complaints: %d, want 6", len(all))
	}
	for _, c := range all {
		if c.CallTime.After(now) || c.Description == "" {
			t.Errorf("complaint %s: call time %v, description %q", c.CallID, c.CallTime, c.Description)
		}
	}
	for name, want := range map[string]int{"inspector.field": 2, "inspector.phone": 1} {
		got, _, err := s.ListComplaints(favsync.ComplaintFilter{InspectorID: byName[name].ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("complaints assigned to %s: %d, want %d", name, len(got), want)
		}
		for _, c := range got {
			if c.Status != inspector.StatusAssigned || c.Assignment.Mode != byName[name].Mode {
				t.Errorf("complaint %s: status %s, assignment %+v", c.CallID, c.Status, c.Assignment)
			}
		}
	}
	overdue, _, err := s.ListComplaints(favsync.ComplaintFilter{Overdue: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(overdue) == 0 {
		t.Error("no overdue complaint; the demo should show an SLA breach")
	}
}

func TestLoadTwiceDoesNothing(t *testing.T) {
	s := mustOpenStore(t, time.Now())
	if _, err := demo.Load(s, ""); err != nil {
		t.Fatal(err)
	}
	before, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	res, err := demo.Load(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded || res.Offices != 0 || res.Complaints != 0 || len(res.Accounts) != 0 {
		t.Errorf("second Load = %+v; want nothing loaded", res)
	}
	after, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.Seq != before.Seq {
		t.Errorf("second Load wrote changes: sequence %d → %d", before.Seq, after.Seq)
	}
}

func TestLoadSkipsStoreWithUsers(t *testing.T) {
	s := mustOpenStore(t, time.Now())
	hash, err := auth.HashPassword("a-real-admin-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(favsync.System, favsync.NewUser{Username: "root", DisplayName: "مدیر", Role: inspector.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	res, err := demo.Load(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded {
		t.Error("Load filled a store that already has an account")
	}
	offices, err := s.Offices(favsync.OfficeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(offices) != 0 {
		t.Errorf("offices: %d, want 0", len(offices))
	}
}

// Regression: a kill during the first `serve --demo` left offices without
// accounts (every demo login failed) and later starts refused to load ("the
// store already holds data"). A half-loaded demo is finished.
func TestLoadFinishesAHalfLoadedDemo(t *testing.T) {
	s := mustOpenStore(t, time.Now())
	// What the first start had done when it was killed: the offices, one
	// account, one complaint not yet routed.
	full := mustOpenStore(t, time.Now())
	if _, err := demo.Load(full, ""); err != nil {
		t.Fatal(err)
	}
	rows, err := full.Offices(favsync.OfficeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rows {
		a, err := full.Agency(o.AgencyCode)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutAgency(favsync.System, a); err != nil {
			t.Fatal(err)
		}
		o.Version = 0
		if _, _, err := s.PutOffice(favsync.System, o); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := auth.HashPassword(demo.Password)
	if err != nil {
		t.Fatal(err)
	}
	disp, err := s.CreateUser(favsync.System, favsync.NewUser{Username: "dispatcher", DisplayName: "مریم احمدی", Role: inspector.RoleDispatcher, PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateComplaint(favsync.Actor{UserID: disp.ID}, inspector.NewComplaint{CallID: "DEMO-0001", Category: inspector.CategoryClientCrowding,
		Description: "نیمه‌کاره", CallTime: time.Now().Add(-time.Minute).Truncate(time.Second), OfficeCode: "QZ-SSO-01", Priority: inspector.PriorityUrgent}); err != nil {
		t.Fatal(err)
	}

	res, err := demo.Load(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Loaded || res.Complaints != 5 || res.Assigned != 3 || res.Referred != 1 || len(res.Accounts) != len(demo.Accounts()) {
		t.Errorf("Load = %+v; want the demo finished: 5 more complaints, 3 assigned, 1 referred, every account listed", res)
	}
	for _, a := range demo.Accounts() {
		if _, hash, err := s.Credentials(a.Username); err != nil || hash == "" {
			t.Errorf("account %s after finishing: %v", a.Username, err)
		}
	}
	again, err := demo.Load(s, "")
	if err != nil || again.Loaded {
		t.Errorf("a third Load = %+v, %v; want nothing to do", again, err)
	}
}
