package inspector

// Status is where a complaint stands in its life.
type Status string

// Statuses of the complaint state machine.
const (
	StatusReceived            Status = "received"
	StatusAssigned            Status = "assigned"
	StatusInProgress          Status = "in_progress"
	StatusResolved            Status = "resolved"
	StatusNotSubstantiated    Status = "not_substantiated"
	StatusReferredToWorkplace Status = "referred_to_workplace"
	// StatusReferralAnswered: the office answered; dispatch closes the
	// complaint or routes it to inspection.
	StatusReferralAnswered Status = "referral_answered"
	StatusNeedsReview      Status = "needs_review"
	StatusWithdrawn        Status = "withdrawn"
)

// Statuses lists every status.
var Statuses = []Status{
	StatusReceived, StatusAssigned, StatusInProgress, StatusResolved,
	StatusNotSubstantiated, StatusReferredToWorkplace, StatusReferralAnswered, StatusNeedsReview, StatusWithdrawn,
}

// transitions is the state machine, as data: from → the statuses it may move to.
// assigned → assigned is a reassignment. A finished complaint may still go to
// needs_review: an outcome recorded offline after dispatch closed it is kept
// and reviewed, never dropped.
var transitions = map[Status][]Status{
	StatusReceived:            {StatusAssigned, StatusReferredToWorkplace, StatusWithdrawn},
	StatusAssigned:            {StatusAssigned, StatusInProgress, StatusReferredToWorkplace, StatusWithdrawn, StatusNeedsReview},
	StatusInProgress:          {StatusAssigned, StatusResolved, StatusNotSubstantiated, StatusReferredToWorkplace, StatusNeedsReview, StatusWithdrawn},
	StatusNeedsReview:         {StatusAssigned, StatusResolved, StatusNotSubstantiated, StatusReferredToWorkplace, StatusReferralAnswered, StatusWithdrawn},
	StatusResolved:            {StatusNeedsReview},
	StatusNotSubstantiated:    {StatusNeedsReview},
	StatusReferredToWorkplace: {StatusAssigned, StatusReferralAnswered, StatusNeedsReview, StatusWithdrawn},
	StatusReferralAnswered:    {StatusAssigned, StatusResolved, StatusNotSubstantiated, StatusReferredToWorkplace, StatusNeedsReview, StatusWithdrawn},
	StatusWithdrawn:           {StatusNeedsReview},
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Terminal reports whether s ends the complaint's active life: no one is
// expected to work on it, and it cannot be overdue. A referral is not
// terminal: the office owes an answer, and dispatch then decides.
func (s Status) Terminal() bool {
	switch s {
	case StatusResolved, StatusNotSubstantiated, StatusWithdrawn:
		return true
	}
	return false
}

// CanTransition reports whether the state machine allows from → to.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Transition returns nil if from → to is allowed, and a CodeIllegalTransition
// *Error otherwise.
func Transition(from, to Status) error {
	if CanTransition(from, to) {
		return nil
	}
	return Errorf(CodeIllegalTransition, "a complaint that is %s cannot become %s", from, to)
}

// Escalate returns nil if inspector inspectorID may hand complaint c back to
// dispatch because it needs a field visit: c is assigned to them for a phone
// resolution and is assigned or in_progress. Escalation is the one way from
// assigned or in_progress back to received; it is kept out of the state
// machine's table so that no other path (dispatch's routing, a device's
// outcome) can take the complaint back there. Otherwise it returns a
// CodeIllegalTransition *Error.
func Escalate(c Complaint, inspectorID string) error {
	switch {
	case c.Assignment == nil || c.Assignment.InspectorID != inspectorID || (c.Status != StatusAssigned && c.Status != StatusInProgress):
		return Errorf(CodeIllegalTransition, "the complaint is no longer assigned to you for work (it is %s)", c.Status)
	case c.Assignment.Mode != ModePhone:
		return Errorf(CodeIllegalTransition, "only a complaint assigned for a phone resolution is escalated to a field visit")
	}
	return nil
}
