package sync

import (
	"fmt"
	"testing"
)

func BenchmarkCreateComplaint(b *testing.B) {
	s := mustOpenStore(b)
	seedReference(b, s)
	i := 0
	for b.Loop() {
		i++
		if _, _, err := s.CreateComplaint(dispatcher, intake(fmt.Sprintf("B-%d", i), "QZ-SSO-01")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListComplaintsQuery(b *testing.B) {
	s := mustOpenStore(b)
	seedReference(b, s)
	for i := range 2000 {
		mustCreateComplaint(b, s, intake(fmt.Sprintf("B-%d", i), []string{"QZ-SSO-01", "QZ-TAX-01"}[i%2]))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.ListComplaints(ComplaintFilter{Query: "مراجعين منتظر", Limit: 50}); err != nil {
			b.Fatal(err)
		}
	}
}
