package inspector

import (
	"time"
)

// Stamp is a hybrid logical clock reading of one write: the device's wall
// clock in milliseconds (bounded by the server's clock when it arrives), a
// logical counter for writes within one millisecond, and the device id, which
// breaks every remaining tie so that the order is total.
type Stamp struct {
	WallMs    int64  `json:"wall_ms"`
	Logical   uint32 `json:"logical"`
	Device    string `json:"device"`
	DeviceSeq uint64 `json:"device_seq,omitempty"` // the device's own order, which no clock can overturn
}

// Bound clamps the stamp's wall clock to the server's time, so that a device
// whose clock runs fast cannot win every conflict for the hours it is ahead.
func (s Stamp) Bound(serverNow time.Time) Stamp {
	if limit := serverNow.UnixMilli(); s.WallMs > limit {
		s.WallMs = limit
	}
	return s
}

// Wins reports whether a write stamped a beats one stamped b. Two writes
// of one device follow its own sequence. Otherwise the later clock wins, then
// the higher counter, then the greater device id. For two different stamps
// exactly one of Wins(a,b) and Wins(b,a) is true.
func Wins(a, b Stamp) bool {
	switch {
	case a.Device == b.Device && a.DeviceSeq != b.DeviceSeq:
		return a.DeviceSeq > b.DeviceSeq
	case a.WallMs != b.WallMs:
		return a.WallMs > b.WallMs
	case a.Logical != b.Logical:
		return a.Logical > b.Logical
	}
	return a.Device > b.Device
}

// Label names an automatic resolution the way ODK Central does.
type Label string

// Labels.
const (
	// LabelParallelUpdate: the device and the server changed different fields; merged.
	LabelParallelUpdate Label = "parallel_update"
	// LabelConflict: both changed the same thing; one value was chosen by rule.
	LabelConflict Label = "conflict"
	// LabelRejected: the mutation could not be applied; it is kept for dispatch.
	LabelRejected Label = "rejected"
)

// Rule is the policy row that decided a resolution.
type Rule string

// Rules of the conflict policy (architecture, "Conflict policy").
const (
	RuleLastWriterWins Rule = "last_writer_wins" // same visit field from two devices: later HLC wins
	RuleMerge          Rule = "merge"            // different fields: both kept
	RuleDispatchWins   Rule = "dispatch_wins"    // a device edited a field dispatch owns
	RuleNeedsReview    Rule = "needs_review"     // a field outcome after reassignment or withdrawal
	RuleOrphaned       Rule = "orphaned"         // an edit to a record deleted on the server
	RuleAppendOnly     Rule = "append_only"      // the same client id with different content
	RuleInvalid        Rule = "invalid"          // the mutation failed validation
	RuleSequenceGap    Rule = "sequence_gap"     // the device skipped sequence numbers
	// RuleServerBehind: the server lost sequences it had acknowledged to the
	// device (a restore from a backup), and the device no longer holds them.
	RuleServerBehind Rule = "server_behind"
)

// DispatchOwnedFields are the complaint fields only dispatch may change. A
// device's edit to one of them loses, with a reason it can show.
var DispatchOwnedFields = map[string]bool{
	"assignee": true, "priority": true, "category": true, "office_code": true, "due_at": true,
	"status": true, "description": true,
}

// OutcomeDecision is what happens to an inspector's outcome for a complaint.
type OutcomeDecision int

// Outcome decisions.
const (
	// OutcomeApply: the complaint takes the outcome and its status.
	OutcomeApply OutcomeDecision = iota
	// OutcomeReplay: the complaint already carries this very outcome.
	OutcomeReplay
	// OutcomeReview: the outcome is kept on a conflict record and the
	// complaint goes to needs_review, because dispatch moved it meanwhile.
	OutcomeReview
)

// DecideOutcome applies the policy for an outcome an inspector recorded,
// perhaps offline, against the complaint as the server has it now. Work is
// never dropped: an outcome that cannot be applied goes to review.
func DecideOutcome(c Complaint, inspectorID string, o Outcome) OutcomeDecision {
	if c.Outcome != nil && c.Outcome.MutationID == o.MutationID {
		return OutcomeReplay
	}
	mine := c.Assignment != nil && c.Assignment.InspectorID == inspectorID
	switch {
	case !mine:
		return OutcomeReview // reassigned, or never assigned to this inspector
	case c.Status == StatusAssigned || c.Status == StatusInProgress:
		return OutcomeApply
	}
	return OutcomeReview // withdrawn, referred, already closed, or under review
}

// InScope reports whether complaint c belongs on inspector's devices: it is
// assigned to them and still being worked.
func InScope(c Complaint, inspectorID string) bool {
	return c.Assignment != nil && c.Assignment.InspectorID == inspectorID &&
		(c.Status == StatusAssigned || c.Status == StatusInProgress)
}

// ReviewSettlement is what settling one needs_review record does to its
// complaint.
type ReviewSettlement int

// Review settlements.
const (
	// ReviewStays: the record closes and the complaint stays under review,
	// because another review of it is still open.
	ReviewStays ReviewSettlement = iota
	// ReviewRestores: the record closes and dispatch's own state comes back.
	ReviewRestores
	// ReviewApplies: the record closes and its held outcome is applied.
	ReviewApplies
)

// SettleReview applies the policy for dispatch settling one of the open
// needs_review records of a complaint under review, otherOpen being how many
// other reviews of it are still open. The complaint stays under review while
// any is open, so that no held outcome is ever left unsettleable: accepting
// always succeeds, and an outcome is applied (overrule) only from the last
// open review; overruling earlier is a CodeReviewPending *Error.
func SettleReview(overrule bool, otherOpen int) (ReviewSettlement, error) {
	switch {
	case otherOpen > 0 && overrule:
		return ReviewStays, Errorf(CodeReviewPending,
			"%d other outcome(s) for this complaint are still under review; accept those you do not take, then overrule this one", otherOpen)
	case otherOpen > 0:
		return ReviewStays, nil
	case overrule:
		return ReviewApplies, nil
	}
	return ReviewRestores, nil
}
