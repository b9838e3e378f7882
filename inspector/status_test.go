package inspector_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// statusOrder is the column (and row) order of expectedTransitions.
var statusOrder = []inspector.Status{
	inspector.StatusReceived,
	inspector.StatusAssigned,
	inspector.StatusInProgress,
	inspector.StatusResolved,
	inspector.StatusNotSubstantiated,
	inspector.StatusReferredToWorkplace,
	inspector.StatusReferralAnswered,
	inspector.StatusNeedsReview,
	inspector.StatusWithdrawn,
}

// expectedTransitions is the complaint state machine written out by hand, one
// row per "from" status, one column per "to" status, in statusOrder. "x" is
// allowed, "." refused. It is deliberately not derived from the package's
// own table: a change to the state machine must change this test too.
//
//   - received: dispatch assigns, refers to the workplace, or withdraws; no
//     one works on it before it is assigned.
//   - assigned: reassignment (assigned → assigned), work starts, referral,
//     withdrawal, or review of an outcome recorded offline. It cannot be
//     resolved without work having started.
//   - in_progress: any outcome, reassignment, referral, withdrawal, review.
//   - needs_review: dispatch decides: reassign, settle an outcome, refer,
//     withdraw, or (accepting its own state) return to the referral the
//     office answered meanwhile or before.
//   - resolved, not_substantiated, withdrawn: finished; only a late offline
//     outcome can reopen them, into needs_review.
//   - referred_to_workplace: the office answers (referral_answered); dispatch
//     may meanwhile route it to an inspector, send it to review, or withdraw it.
//   - referral_answered: dispatch closes it on the answer (resolved or not
//     substantiated), routes it to inspection, refers it again, or withdraws it.
var expectedTransitions = map[inspector.Status]string{
	//                                     rcv asg inp res nsb ref ans rev wdr
	inspector.StatusReceived:            " .   x   .   .   .   x   .   .   x ",
	inspector.StatusAssigned:            " .   x   x   .   .   x   .   x   x ",
	inspector.StatusInProgress:          " .   x   .   x   x   x   .   x   x ",
	inspector.StatusResolved:            " .   .   .   .   .   .   .   x   . ",
	inspector.StatusNotSubstantiated:    " .   .   .   .   .   .   .   x   . ",
	inspector.StatusReferredToWorkplace: " .   x   .   .   .   .   x   x   x ",
	inspector.StatusReferralAnswered:    " .   x   .   x   x   x   .   x   x ",
	inspector.StatusNeedsReview:         " .   x   .   x   x   x   x   .   x ",
	inspector.StatusWithdrawn:           " .   .   .   .   .   .   .   x   . ",
}

func TestStatusesListsEveryStatusOnce(t *testing.T) {
	assert.ElementsMatch(t, statusOrder, inspector.Statuses)
	for _, s := range inspector.Statuses {
		assert.True(t, s.Valid(), "%s", s)
	}
	for _, s := range []inspector.Status{"", "Received", "closed", "in-progress"} {
		assert.False(t, s.Valid(), "%q", s)
	}
}

func TestTransitionEveryPair(t *testing.T) {
	require.Len(t, expectedTransitions, len(statusOrder), "the expected table needs a row per status")
	for _, from := range statusOrder {
		row := strings.Fields(expectedTransitions[from])
		require.Len(t, row, len(statusOrder), "row %s", from)
		for i, to := range statusOrder {
			want := row[i] == "x"
			require.Contains(t, []string{"x", "."}, row[i], "row %s", from)
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				assert.Equal(t, want, inspector.CanTransition(from, to))
				err := inspector.Transition(from, to)
				if want {
					assert.NoError(t, err)
					return
				}
				var e *inspector.Error
				require.True(t, errors.As(err, &e), "Transition must return an *inspector.Error, got %T", err)
				assert.Equal(t, inspector.CodeIllegalTransition, e.Code)
				assert.Contains(t, e.Message, string(from))
				assert.Contains(t, e.Message, string(to))
			})
		}
	}
}

func TestTransitionUnknownStatusIsRefused(t *testing.T) {
	for _, s := range statusOrder {
		assert.False(t, inspector.CanTransition("bogus", s))
		assert.False(t, inspector.CanTransition(s, "bogus"))
		assert.Equal(t, inspector.CodeIllegalTransition, inspector.ErrorCode(inspector.Transition("", s)))
	}
}

// Every status must be reachable from received, or the state machine has a
// dead branch no complaint can ever enter.
func TestEveryStatusReachableFromReceived(t *testing.T) {
	seen := map[inspector.Status]bool{inspector.StatusReceived: true}
	queue := []inspector.Status{inspector.StatusReceived}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		for _, to := range inspector.Statuses {
			if inspector.CanTransition(from, to) && !seen[to] {
				seen[to] = true
				queue = append(queue, to)
			}
		}
	}
	for _, s := range inspector.Statuses {
		assert.True(t, seen[s], "%s is unreachable", s)
	}
}

// An outcome recorded offline is never dropped: from every status but
// received (nothing can have been recorded yet) and needs_review itself, a
// complaint can be sent to review.
func TestEveryWorkedStatusCanGoToReview(t *testing.T) {
	for _, s := range inspector.Statuses {
		want := s != inspector.StatusReceived && s != inspector.StatusNeedsReview
		assert.Equal(t, want, inspector.CanTransition(s, inspector.StatusNeedsReview), "%s", s)
	}
}

func TestTerminal(t *testing.T) {
	want := map[inspector.Status]bool{
		inspector.StatusReceived:            false,
		inspector.StatusAssigned:            false,
		inspector.StatusInProgress:          false,
		inspector.StatusResolved:            true,
		inspector.StatusNotSubstantiated:    true,
		inspector.StatusReferredToWorkplace: false, // the office owes an answer
		inspector.StatusReferralAnswered:    false, // dispatch owes a decision
		inspector.StatusNeedsReview:         false,
		inspector.StatusWithdrawn:           true,
	}
	require.Len(t, want, len(inspector.Statuses))
	for s, terminal := range want {
		assert.Equal(t, terminal, s.Terminal(), "%s", s)
	}
	assert.False(t, inspector.Status("bogus").Terminal())
}

// TestEscalate: a phone inspector hands back a complaint assigned to them by
// phone, assigned or in progress; nothing else, and the state machine's table
// stays closed to the way back to received.
func TestEscalate(t *testing.T) {
	phone := &inspector.Assignment{InspectorID: "sara", Mode: inspector.ModePhone}
	field := &inspector.Assignment{InspectorID: "sara", Mode: inspector.ModeField}
	for _, tc := range []struct {
		name   string
		status inspector.Status
		a      *inspector.Assignment
		who    string
		ok     bool
	}{
		{"assigned by phone", inspector.StatusAssigned, phone, "sara", true},
		{"in progress by phone", inspector.StatusInProgress, phone, "sara", true},
		{"another inspector's", inspector.StatusAssigned, phone, "ali", false},
		{"assigned for a field visit", inspector.StatusInProgress, field, "sara", false},
		{"not assigned", inspector.StatusReceived, nil, "sara", false},
		{"resolved", inspector.StatusResolved, phone, "sara", false},
		{"under review", inspector.StatusNeedsReview, phone, "sara", false},
		{"referred", inspector.StatusReferredToWorkplace, phone, "sara", false},
		{"withdrawn", inspector.StatusWithdrawn, phone, "sara", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := inspector.Escalate(inspector.Complaint{Status: tc.status, Assignment: tc.a}, tc.who)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			var e *inspector.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, inspector.CodeIllegalTransition, e.Code)
		})
	}
	for _, from := range []inspector.Status{inspector.StatusAssigned, inspector.StatusInProgress} {
		assert.False(t, inspector.CanTransition(from, inspector.StatusReceived), "%s → received is escalation's alone", from)
	}
}
