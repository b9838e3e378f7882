package sync_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// A 128 call entered twice (a double click, a retried request) is one complaint.
func ExampleStore_CreateComplaint() {
	dir, err := os.MkdirTemp("", "favad-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	s, err := favsync.Open(filepath.Join(dir, "favad.db"), favsync.Options{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	admin := favsync.Actor{UserID: "admin"}
	if _, _, err := s.PutAgency(admin, inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی"}); err != nil {
		panic(err)
	}
	if _, _, err := s.PutOffice(admin, inspector.Office{
		Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین",
		Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}},
	}); err != nil {
		panic(err)
	}

	call := inspector.NewComplaint{
		CallID: "CC-1", Category: inspector.CategoryAbsentEmployee, Description: "کارمند باجه حاضر نیست",
		CallTime: now.Add(-5 * time.Minute), OfficeCode: "qz-sso-01", Priority: inspector.PriorityUrgent,
	}
	dispatcher := favsync.Actor{UserID: "dispatcher"}
	c, created, _ := s.CreateComplaint(dispatcher, call)
	fmt.Println(c.Number, created, c.Status, c.DueAt.Format(time.Kitchen))
	again, created, _ := s.CreateComplaint(dispatcher, call)
	fmt.Println(again.Number, created, again.Version == c.Version)

	call.Description = "something else"
	_, _, err = s.CreateComplaint(dispatcher, call)
	fmt.Println(inspector.ErrorCode(err))
	// Output:
	// 1 true received 8:55AM
	// 1 false true
	// idempotency_clash
}
