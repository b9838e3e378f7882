package feed_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/feed"
	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

var t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

// Distinctive values that must never reach the feed.
const (
	callerName   = "ZZCALLER-NAME"
	callerPhone  = "09990001122"
	callID       = "ZZCALL-ID-77"
	trackingCode = "ZZTRACK"
	description  = "ZZDESCRIPTION"
	absentee     = "ZZABSENTEE-NAME"
	withdrawNote = "ZZWITHDRAW-REASON"
)

func complaint() *inspector.Complaint {
	return &inspector.Complaint{ID: "c1", Number: 42, CallID: callID, TrackingCode: trackingCode, Description: description,
		Caller: &inspector.Caller{Name: callerName, Phone: callerPhone}, Category: inspector.CategoryAbsentEmployee,
		Priority: inspector.PriorityUrgent, Status: inspector.StatusAssigned, OfficeCode: "QZ-SSO-01", AgencyCode: "SSO",
		DueAt: t0.Add(time.Hour)}
}

// view is a change to complaint c1 at office QZ-SSO-01 by the field inspector.
func view(seq uint64, kind, action string, data map[string]string) favsync.ChangeView {
	return favsync.ChangeView{
		Change:      favsync.Change{Seq: seq, Kind: kind, ID: "rec", Action: action, Actor: "u-field", Device: "dev-1", At: t0, Data: data},
		ComplaintID: "c1", Complaint: complaint(),
		Office:    &inspector.Office{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک", Province: "قزوین"},
		Agency:    &inspector.Agency{Code: "SSO", NameFa: "تامین اجتماعی"},
		ActorUser: &inspector.User{ID: "u-field", DisplayName: "بازرس میدانی", Role: inspector.RoleInspector},
	}
}

func with(v favsync.ChangeView, f func(*favsync.ChangeView)) favsync.ChangeView {
	f(&v)
	return v
}

func ptr[T any](v T) *T { return &v }

// TestFromChange covers every action of the change-log contract: the type
// it becomes (or none) and its detail.
func TestFromChange(t *testing.T) {
	visit := &inspector.Visit{ID: "v1", InspectorID: "u-field", OfficeCode: "QZ-SSO-01", ComplaintIDs: []string{"c1", "c2"},
		CheckIn: &inspector.GeoStamp{DeviceTime: t0.Add(-time.Minute)}, CheckOut: &inspector.GeoStamp{DeviceTime: t0}}
	evidence := func(status inspector.EvidenceStatus, storedAt *time.Time, version uint64, flags ...string) *inspector.Evidence {
		return &inspector.Evidence{ID: "e1", ComplaintID: "c1", Kind: inspector.EvidencePhoto, ContentType: "image/jpeg",
			SniffedType: "image/jpeg", Status: status, StoredAt: storedAt, Version: version, Flags: flags, Reason: "stored reason"}
	}
	referred := with(view(1, favsync.KindComplaint, "referral_answered", map[string]string{"from": "referred_to_workplace", "to": "referral_answered", "action": "corrected"}),
		func(v *favsync.ChangeView) {
			v.Complaint.Status = inspector.StatusReferralAnswered
			v.Complaint.Referral = &inspector.Referral{DueAt: t0.Add(72 * time.Hour)}
		})
	tests := []struct {
		name  string
		view  favsync.ChangeView
		typ   string // "" means not a feed event
		check func(t *testing.T, e feed.Event)
	}{
		{"complaint created", view(1, favsync.KindComplaint, "created", map[string]string{"to": "received", "office": "QZ-SSO-01"}), feed.TypeComplaintCreated, nil},
		{"assigned", view(1, favsync.KindComplaint, "assigned", map[string]string{"inspector": "u-field", "mode": "field"}), feed.TypeComplaintRouted,
			func(t *testing.T, e feed.Event) {
				assert.Equal(t, &feed.Routing{Action: "assigned", InspectorID: "u-field", Mode: inspector.ModeField}, e.Routing)
			}},
		{"reassigned", view(1, favsync.KindComplaint, "reassigned", map[string]string{"inspector": "u-phone", "mode": "phone", "previous_inspector": "u-field", "note": withdrawNote}),
			feed.TypeComplaintRouted, func(t *testing.T, e feed.Event) {
				assert.Equal(t, &feed.Routing{Action: "reassigned", InspectorID: "u-phone", Mode: inspector.ModePhone, PreviousInspectorID: "u-field"}, e.Routing)
			}},
		{"referred", view(1, favsync.KindComplaint, "referred", map[string]string{"due_at": t0.Add(72 * time.Hour).Format(time.RFC3339), "note": withdrawNote}),
			feed.TypeComplaintRouted, func(t *testing.T, e feed.Event) {
				assert.Equal(t, &feed.Routing{Action: "referred", DueAt: ptr(t0.Add(72 * time.Hour))}, e.Routing)
			}},
		{"withdrawn", view(1, favsync.KindComplaint, "withdrawn", map[string]string{"reason": withdrawNote}), feed.TypeComplaintWithdrawn, nil},
		{"escalated", with(view(1, favsync.KindComplaint, "escalated", map[string]string{"from": "in_progress", "to": "received", "reason": withdrawNote, "previous_inspector": "u-phone", "mode": "phone"}),
			func(v *favsync.ChangeView) {
				v.Complaint.Status, v.Complaint.Assignment = inspector.StatusReceived, nil
			}),
			feed.TypeComplaintEscalated, func(t *testing.T, e feed.Event) {
				assert.Equal(t, &feed.Routing{Action: "escalated", Mode: inspector.ModePhone, PreviousInspectorID: "u-phone"}, e.Routing)
				assert.Equal(t, inspector.StatusReceived, e.Status)
			}},
		{"started", view(1, favsync.KindComplaint, "started", nil), feed.TypeComplaintStarted, nil},
		{"outcome", view(1, favsync.KindComplaint, "outcome", map[string]string{"outcome": "substantiated"}), feed.TypeComplaintOutcome,
			func(t *testing.T, e feed.Event) { assert.Equal(t, inspector.OutcomeSubstantiated, e.Outcome) }},
		{"needs review", view(1, favsync.KindComplaint, "needs_review", map[string]string{"conflict": "k1"}), feed.TypeComplaintNeedsReview,
			func(t *testing.T, e feed.Event) { assert.Equal(t, &feed.ConflictSummary{ConflictID: "k1"}, e.Conflict) }},
		{"review accept", view(1, favsync.KindComplaint, "review_accept", map[string]string{"conflict": "k1"}), feed.TypeComplaintReviewed,
			func(t *testing.T, e feed.Event) {
				assert.Equal(t, &feed.ConflictSummary{ConflictID: "k1", Resolution: "accept"}, e.Conflict)
			}},
		{"review overrule", view(1, favsync.KindComplaint, "review_overrule", map[string]string{"conflict": "k1"}), feed.TypeComplaintReviewed,
			func(t *testing.T, e feed.Event) { assert.Equal(t, "overrule", e.Conflict.Resolution) }},
		{"updated (the settled conflict tells)", view(1, favsync.KindComplaint, "updated", map[string]string{"priority": "high"}), "", nil},
		{"referral acknowledged", view(1, favsync.KindComplaint, "referral_acknowledged", map[string]string{"office": "QZ-SSO-01"}), feed.TypeReferralAcknowledged, nil},
		{"referral answered", referred, feed.TypeReferralAnswered, func(t *testing.T, e feed.Event) {
			assert.Equal(t, &feed.ReferralStep{Action: "corrected", DueAt: ptr(t0.Add(72 * time.Hour))}, e.Referral)
			assert.Equal(t, inspector.StatusReferralAnswered, e.Status)
		}},
		{"closed", view(1, favsync.KindComplaint, "closed", map[string]string{"outcome": "resolved_on_spot"}), feed.TypeComplaintClosed,
			func(t *testing.T, e feed.Event) { assert.Equal(t, inspector.OutcomeResolvedOnSpot, e.Outcome) }},
		{"sla breached", with(view(1, favsync.KindComplaint, "sla_breached", map[string]string{"due_at": t0.Format(time.RFC3339), "sla": "referral", "status": "referred_to_workplace"}),
			func(v *favsync.ChangeView) { v.Actor, v.ActorUser, v.Device = "system", nil, "" }),
			feed.TypeSLABreached, func(t *testing.T, e feed.Event) {
				assert.Equal(t, &feed.SLABreach{DueAt: t0, Kind: "referral"}, e.SLA)
				assert.Equal(t, &feed.Actor{ID: "system"}, e.Actor)
			}},
		{"sla breached without a due time", view(1, favsync.KindComplaint, "sla_breached", nil), "", nil},

		{"visit check-in", with(view(1, favsync.KindVisit, "created", map[string]string{"fields": "office_code,complaint_ids,check_in"}),
			func(v *favsync.ChangeView) { v.Visit = visit }), feed.TypeVisitCheckIn, func(t *testing.T, e feed.Event) {
			assert.Equal(t, "v1", e.Visit.VisitID)
			assert.Equal(t, t0.Add(-time.Minute), *e.Visit.CheckInAt)
			assert.Equal(t, []string{"c1", "c2"}, e.Visit.ComplaintIDs, "a visit names every complaint it covers")
		}},
		{"visit check-out", with(view(1, favsync.KindVisit, "updated", map[string]string{"fields": "check_out"}),
			func(v *favsync.ChangeView) { v.Visit = visit }), feed.TypeVisitCheckOut, func(t *testing.T, e feed.Event) {
			assert.Equal(t, t0, *e.Visit.CheckOutAt)
		}},
		{"visit summary only", with(view(1, favsync.KindVisit, "updated", map[string]string{"fields": "summary"}),
			func(v *favsync.ChangeView) { v.Visit = visit }), "", nil},
		{"visit deleted", with(view(1, favsync.KindVisit, "deleted", nil), func(v *favsync.ChangeView) { v.Visit = visit }), "", nil},

		{"finding", with(view(1, favsync.KindFinding, "created", nil), func(v *favsync.ChangeView) {
			v.Finding = &inspector.Finding{ID: "f1", VisitID: "v1", StaffExpected: 6, StaffPresent: 3, ClientsWaiting: 14, DesksOpen: 2,
				NonWork: []string{"phone", "tea"}, Absentees: []inspector.Absentee{
					{Name: absentee, Reason: inspector.AbsenceUnexcused}, {Name: absentee, Reason: inspector.AbsenceLeave}, {Name: absentee, Reason: inspector.AbsenceUnexcused}}}
			v.Visit = visit
		}), feed.TypeFindingRecorded, func(t *testing.T, e feed.Event) {
			assert.Equal(t, &feed.Attendance{FindingID: "f1", VisitID: "v1", ComplaintIDs: []string{"c1", "c2"}, StaffExpected: 6, StaffPresent: 3, NonWork: 2, ClientsWaiting: 14, DesksOpen: 2,
				Absentees: feed.AbsenceCounts{Leave: 1, Unexcused: 2}}, e.Finding, "a finding that names no complaint is about every one its visit covers")
		}},
		{"finding about one complaint of its visit", with(view(1, favsync.KindFinding, "created", nil), func(v *favsync.ChangeView) {
			v.Finding = &inspector.Finding{ID: "f2", VisitID: "v1", ComplaintID: "c2", StaffExpected: 6, StaffPresent: 6}
			v.Visit = visit
		}), feed.TypeFindingRecorded, func(t *testing.T, e feed.Event) {
			assert.Equal(t, []string{"c2"}, e.Finding.ComplaintIDs)
		}},
		{"call", with(view(1, favsync.KindCall, "created", nil), func(v *favsync.ChangeView) {
			v.Call = &inspector.CallRecord{ID: "k1", CalleeName: absentee, Number: callerPhone, Outcome: inspector.CallReached, DurationS: 95}
		}), feed.TypeCallRecorded, func(t *testing.T, e feed.Event) {
			assert.Equal(t, &feed.CallSummary{RecordID: "k1", Outcome: inspector.CallReached, DurationS: 95}, e.Call)
		}},
		{"note", view(1, favsync.KindNote, "created", nil), "", nil},

		{"evidence record awaiting bytes", with(view(5, favsync.KindEvidence, "created", nil), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceAwaitingUpload, nil, 5)
		}), "", nil},
		{"evidence record, bytes stored later", with(view(5, favsync.KindEvidence, "created", nil), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceStored, ptr(t0.Add(time.Second)), 9)
		}), "", nil},
		{"evidence record after its bytes", with(view(5, favsync.KindEvidence, "created", nil), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceStored, ptr(t0), 7) // a thumbnail came since
		}), feed.TypeEvidenceStored, nil},
		// Regression: with the status in the change, a record stored later at
		// the very same instant (a frozen clock) is not taken for stored at once.
		{"evidence record logged awaiting, stored in the same second", with(view(5, favsync.KindEvidence, "created", map[string]string{"status": "awaiting_upload"}), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceStored, ptr(t0), 9)
		}), "", nil},
		{"evidence record logged stored", with(view(5, favsync.KindEvidence, "created", map[string]string{"status": "stored"}), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceStored, ptr(t0.Add(time.Hour)), 9)
		}), feed.TypeEvidenceStored, nil},
		{"evidence record refused at once", with(view(5, favsync.KindEvidence, "created", nil), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceRejected, nil, 5)
		}), feed.TypeEvidenceRejected, func(t *testing.T, e feed.Event) { assert.Equal(t, "stored reason", e.Evidence.Reason) }},
		{"evidence stored", with(view(5, favsync.KindEvidence, "stored", nil), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceStored, ptr(t0), 5)
		}), feed.TypeEvidenceStored, func(t *testing.T, e feed.Event) {
			assert.Equal(t, &feed.EvidenceSummary{EvidenceID: "e1", Kind: inspector.EvidencePhoto, ContentType: "image/jpeg"}, e.Evidence)
		}},
		{"evidence flagged", with(view(5, favsync.KindEvidence, "stored", nil), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceStored, ptr(t0), 5, inspector.FlagFarFromOffice, inspector.FlagCapturedOutsideVisit)
		}), feed.TypeEvidenceFlagged, func(t *testing.T, e feed.Event) {
			assert.Equal(t, []string{inspector.FlagFarFromOffice, inspector.FlagCapturedOutsideVisit}, e.Evidence.Flags)
		}},
		{"evidence rejected", with(view(5, favsync.KindEvidence, "rejected", map[string]string{"reason": "the bytes hash to x"}), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceRejected, nil, 5)
		}), feed.TypeEvidenceRejected, func(t *testing.T, e feed.Event) { assert.Equal(t, "the bytes hash to x", e.Evidence.Reason) }},
		{"evidence thumbnail", with(view(5, favsync.KindEvidence, "thumbnail", nil), func(v *favsync.ChangeView) {
			v.Evidence = evidence(inspector.EvidenceStored, ptr(t0), 5)
		}), "", nil},

		{"conflict opened", with(view(1, favsync.KindConflict, "created", map[string]string{"rule": "needs_review"}), func(v *favsync.ChangeView) {
			v.Conflict = &favsync.Conflict{ID: "k1", Label: inspector.LabelConflict, Rule: inspector.RuleNeedsReview, RecordKind: "complaint", Field: "outcome"}
		}), feed.TypeConflictOpened, func(t *testing.T, e feed.Event) {
			assert.Equal(t, &feed.ConflictSummary{ConflictID: "k1", Label: inspector.LabelConflict, Rule: inspector.RuleNeedsReview, RecordKind: "complaint", Field: "outcome"}, e.Conflict)
		}},
		{"conflict merged automatically", with(view(1, favsync.KindConflict, "created", nil), func(v *favsync.ChangeView) {
			v.Conflict = &favsync.Conflict{ID: "k1", Label: inspector.LabelParallelUpdate, Rule: inspector.RuleMerge}
		}), "", nil},
		{"conflict settled", with(view(1, favsync.KindConflict, "resolved_overrule", nil), func(v *favsync.ChangeView) {
			v.Conflict = &favsync.Conflict{ID: "k1", Label: inspector.LabelConflict, Rule: inspector.RuleDispatchWins}
		}), feed.TypeConflictSettled, func(t *testing.T, e feed.Event) { assert.Equal(t, "overrule", e.Conflict.Resolution) }},
		{"conflict settled (plain action)", with(view(1, favsync.KindConflict, "resolved", nil), func(v *favsync.ChangeView) {
			v.Conflict = &favsync.Conflict{ID: "k1", Resolution: &favsync.Resolution{Action: "accept"}}
		}), feed.TypeConflictSettled, func(t *testing.T, e feed.Event) { assert.Equal(t, "accept", e.Conflict.Resolution) }},

		{"user", view(1, favsync.KindUser, "created", nil), "", nil},
		{"session", view(1, favsync.KindSession, "created", nil), "", nil},
		{"device", view(1, favsync.KindDevice, "created", nil), "", nil},
		{"office", view(1, favsync.KindOffice, "updated", nil), "", nil},
		{"agency", view(1, favsync.KindAgency, "created", nil), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := feed.FromChange(tt.view)
			if tt.typ == "" {
				assert.False(t, ok, "%+v", e)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.typ, e.Type)
			assert.Contains(t, feed.Types, e.Type)
			assert.Equal(t, tt.view.Seq, e.ID)
			assert.Equal(t, t0, e.At)
			assert.Equal(t, "c1", e.ComplaintID)
			assert.Equal(t, uint64(42), e.ComplaintNumber)
			assert.Equal(t, "QZ-SSO-01", e.OfficeCode)
			assert.Equal(t, "شعبه یک", e.OfficeName)
			assert.Equal(t, "SSO", e.AgencyCode)
			assert.Equal(t, "تامین اجتماعی", e.AgencyName)
			assert.Equal(t, "قزوین", e.Province)
			if tt.check != nil {
				tt.check(t, e)
			}
			raw, err := json.Marshal(e)
			require.NoError(t, err)
			for _, secret := range []string{callerName, callerPhone, callID, trackingCode, description, absentee, withdrawNote} {
				assert.NotContains(t, string(raw), secret)
			}
		})
	}
}

func TestFromChangeSummary(t *testing.T) {
	e, ok := feed.FromChange(view(7, favsync.KindComplaint, "started", nil))
	require.True(t, ok)
	assert.Equal(t, feed.Event{ID: 7, Type: feed.TypeComplaintStarted, At: t0, ComplaintID: "c1", ComplaintNumber: 42,
		Status: inspector.StatusAssigned, Category: inspector.CategoryAbsentEmployee, Priority: inspector.PriorityUrgent,
		DueAt: ptr(t0.Add(time.Hour)), OfficeCode: "QZ-SSO-01", OfficeName: "شعبه یک", AgencyCode: "SSO", AgencyName: "تامین اجتماعی",
		Province: "قزوین", Actor: &feed.Actor{ID: "u-field", Name: "بازرس میدانی", Role: inspector.RoleInspector}, Device: "dev-1"}, e)
}

// TestFromChangeWithoutRecords: a record removed since (a complaint is
// never removed, but a view may lack it) still gives an event, with what
// the change itself says.
func TestFromChangeWithoutRecords(t *testing.T) {
	v := favsync.ChangeView{Change: favsync.Change{Seq: 3, Kind: favsync.KindComplaint, ID: "c9", Action: "withdrawn", Actor: "u-d", At: t0}, ComplaintID: "c9"}
	e, ok := feed.FromChange(v)
	require.True(t, ok)
	assert.Equal(t, feed.Event{ID: 3, Type: feed.TypeComplaintWithdrawn, At: t0, ComplaintID: "c9", Actor: &feed.Actor{ID: "u-d"}}, e)
	_, ok = feed.FromChange(favsync.ChangeView{Change: favsync.Change{Seq: 4, Kind: favsync.KindFinding, Action: "created"}})
	assert.False(t, ok, "a finding that cannot be read is no event")
}

func ExampleFromChange() {
	v := favsync.ChangeView{
		Change:    favsync.Change{Seq: 1842, Kind: favsync.KindComplaint, ID: "c1", Action: "outcome", Actor: "u1", At: t0, Data: map[string]string{"outcome": "substantiated"}},
		Complaint: &inspector.Complaint{ID: "c1", Number: 42, Status: inspector.StatusResolved, Caller: &inspector.Caller{Name: "never shown"}},
	}
	e, _ := feed.FromChange(v)
	raw, _ := json.Marshal(e)
	fmt.Println(string(raw))
	// Output: {"id":1842,"type":"complaint.outcome","at":"2026-11-27T06:00:00Z","complaint_id":"c1","complaint_number":42,"status":"resolved","actor":{"id":"u1"},"outcome":"substantiated"}
}
