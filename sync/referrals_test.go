package sync

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

func mustCreateOfficeUser(t *testing.T, s *Store, username, office, agency string) inspector.User {
	t.Helper()
	u, err := s.CreateUser(admin, NewUser{Username: username, DisplayName: "رابط " + username, Role: inspector.RoleOffice,
		OfficeCode: office, AgencyCode: agency, PasswordHash: "$argon2id$v=19$fake"})
	require.NoError(t, err)
	return u
}

func TestOfficeAccountsAreBoundToAnOfficeOrAnAgency(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	for _, tc := range []struct {
		name           string
		office, agency string
		field          string
	}{
		{"neither", "", "", "office_code"},
		{"both", "QZ-SSO-01", "SSO", "office_code"},
		{"unknown office", "NOPE", "", "office_code"},
		{"unknown agency", "", "NOPE", "agency_code"},
	} {
		_, err := s.CreateUser(admin, NewUser{Username: "liaison", DisplayName: "x", Role: inspector.RoleOffice,
			OfficeCode: tc.office, AgencyCode: tc.agency, PasswordHash: "h"})
		require.Error(t, err, tc.name)
		assertField(t, err, tc.field)
	}
	_, err := s.CreateUser(admin, NewUser{Username: "disp2", DisplayName: "x", Role: inspector.RoleDispatcher, OfficeCode: "QZ-SSO-01", PasswordHash: "h"})
	assertField(t, err, "office_code")
	u := mustCreateOfficeUser(t, s, "liaison", "QZ-SSO-01", "")
	assert.Equal(t, "QZ-SSO-01", u.OfficeCode)
	// Codes are case-insensitive, as everywhere, and kept in upper case.
	u = mustCreateOfficeUser(t, s, "liaison.lower", " qz-sso-01 ", "")
	assert.Equal(t, "QZ-SSO-01", u.OfficeCode)
	u = mustCreateOfficeUser(t, s, "liaison.agency", "", "sso")
	assert.Equal(t, "SSO", u.AgencyCode)
}

func assertField(t *testing.T, err error, field string) {
	t.Helper()
	var e *inspector.Error
	require.ErrorAs(t, err, &e)
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	assert.Contains(t, fields, field)
}

// The workplace loop: dispatch refers, the office acknowledges and answers,
// dispatch closes; only the office's own accounts may act, and they see it.
func TestReferralLoop(t *testing.T) {
	w := newWorkflow(t)
	own := mustCreateOfficeUser(t, w.s, "sso1", "QZ-SSO-01", "")
	agency := mustCreateOfficeUser(t, w.s, "sso-all", "", "SSO")
	other := mustCreateOfficeUser(t, w.s, "tax", "", "TAX")

	_, err := w.s.AcknowledgeReferral(Actor{UserID: own.ID}, own, w.c.ID)
	assert.Equal(t, inspector.CodeNotFound, inspector.ErrorCode(err), "not referred yet: the office does not see it")

	c, err := w.s.Refer(dispatcher, w.c.ID, "به مدیر شعبه")
	require.NoError(t, err)
	require.NotNil(t, c.Referral)
	assert.Equal(t, t0.Add(DefaultReferralSLA), c.Referral.DueAt)
	assert.False(t, c.Status.Terminal(), "a referral owes an answer")

	for _, u := range []inspector.User{own, agency} {
		ok, err := w.s.ReferralVisible(u, c)
		require.NoError(t, err)
		assert.True(t, ok, u.Username)
	}
	ok, err := w.s.ReferralVisible(other, c)
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = w.s.AcknowledgeReferral(Actor{UserID: other.ID}, other, c.ID)
	assert.Equal(t, inspector.CodeNotFound, inspector.ErrorCode(err), "another agency's liaison")

	w.clock.Advance(time.Hour)
	c, err = w.s.AcknowledgeReferral(Actor{UserID: own.ID}, own, c.ID)
	require.NoError(t, err)
	require.NotNil(t, c.Referral.AcknowledgedAt)
	v := c.Version
	c, err = w.s.AcknowledgeReferral(Actor{UserID: own.ID}, own, c.ID)
	require.NoError(t, err)
	assert.Equal(t, v, c.Version, "acknowledging twice changes nothing")

	_, err = w.s.AnswerReferral(Actor{UserID: own.ID}, own, c.ID, ReferralAnswerInput{Action: "bogus"})
	assertField(t, err, "action")
	_, err = w.s.CloseOnAnswer(dispatcher, c.ID, inspector.OutcomeSubstantiated, "")
	assert.Equal(t, inspector.CodeIllegalTransition, inspector.ErrorCode(err), "nothing to close on yet")

	c, err = w.s.AnswerReferral(Actor{UserID: agency.ID}, agency, c.ID, ReferralAnswerInput{Action: inspector.ReferralDisciplinary, Text: "  کارمند تذکر کتبی گرفت  "})
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusReferralAnswered, c.Status)
	assert.Equal(t, "کارمند تذکر کتبی گرفت", c.Referral.Answer.Text)
	_, err = w.s.AnswerReferral(Actor{UserID: own.ID}, own, c.ID, ReferralAnswerInput{Action: inspector.ReferralOther, Text: "x"})
	assert.Equal(t, inspector.CodeIllegalTransition, inspector.ErrorCode(err), "answered once")

	c, err = w.s.CloseOnAnswer(dispatcher, c.ID, inspector.OutcomeSubstantiated, "تایید شد")
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusResolved, c.Status)
	assert.Equal(t, dispatcher.UserID, c.Outcome.ClosedBy)

	h := w.history(t)
	var actions []string
	for _, ch := range h {
		actions = append(actions, ch.Action)
	}
	assert.Equal(t, []string{ActionCreated, ActionReferred, ActionReferralAcknowledged, ActionReferralAnswered, ActionClosed}, actions)
	assert.Equal(t, "disciplinary", h[3].Data["action"])
	assert.Equal(t, "substantiated", h[4].Data["outcome"])
}

func TestTrackingCodes(t *testing.T) {
	w := newWorkflow(t)
	require.Len(t, w.c.TrackingCode, TrackingCodeDigits)
	other := mustCreateComplaint(t, w.s, intake("CALL-2", "QZ-SSO-01"))
	assert.NotEqual(t, w.c.TrackingCode, other.TrackingCode)

	got, err := w.s.ComplaintByTracking(w.c.TrackingCode)
	require.NoError(t, err)
	assert.Equal(t, w.c.ID, got.ID)
	// As a caller may type it: Persian digits, with dashes.
	persian := []rune("۰۱۲۳۴۵۶۷۸۹")
	var typed []rune
	for i, r := range w.c.TrackingCode {
		if i > 0 && i%4 == 0 {
			typed = append(typed, '-')
		}
		typed = append(typed, persian[r-'0'])
	}
	got, err = w.s.ComplaintByTracking(string(typed))
	require.NoError(t, err)
	assert.Equal(t, w.c.ID, got.ID)
	for _, bad := range []string{"", "123", w.c.TrackingCode + "0", "000000000000"} {
		_, err := w.s.ComplaintByTracking(bad)
		assert.Equal(t, inspector.CodeNotFound, inspector.ErrorCode(err), bad)
	}
}

// The SLA watch reports a breach once per complaint per due time, finds
// breaches it missed while stopped, and a new due time (a referral) can
// breach again.
func TestBreachDue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	clock := newFakeClock()
	s := mustOpenStoreAt(t, path, Options{Now: clock.Now})
	seedReference(t, s)
	ali := mustCreateUser(t, s, "ali", inspector.RoleInspector, inspector.ModeField)
	c := mustCreateComplaint(t, s, intake("CALL-1", "QZ-SSO-01")) // normal: due 24h after the call
	done := mustCreateComplaint(t, s, intake("CALL-2", "QZ-SSO-01"))
	_, err := s.Withdraw(dispatcher, done.ID, "تکراری")
	require.NoError(t, err)
	c, err = s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)

	b, err := s.BreachDue(clock.Now(), 100)
	require.NoError(t, err)
	assert.Empty(t, b, "nothing due yet")

	clock.Advance(25 * time.Hour)
	require.NoError(t, s.Close())
	s = mustOpenStoreAt(t, path, Options{Now: clock.Now}) // the watch was down at the due time
	b, err = s.BreachDue(clock.Now(), 100)
	require.NoError(t, err)
	require.Len(t, b, 1, "the withdrawn complaint never breaches")
	assert.Equal(t, c.ID, b[0].ComplaintID)
	assert.Equal(t, "complaint", b[0].Kind)
	assert.Equal(t, c.DueAt, b[0].DueAt)
	b, err = s.BreachDue(clock.Now().Add(time.Hour), 100)
	require.NoError(t, err)
	assert.Empty(t, b, "once per due time")

	got, err := s.Complaint(c.ID)
	require.NoError(t, err)
	require.NotNil(t, got.SLABreachedDue)
	h, err := s.ComplaintHistory(c.ID)
	require.NoError(t, err)
	last := h[len(h)-1]
	assert.Equal(t, ActionSLABreached, last.Action)
	assert.Equal(t, ali.ID, last.Data["inspector"], "the assignee's devices are told")
	assert.Equal(t, System.UserID, last.Actor)

	// Referred: the office's answer is due in 72h, a new due time.
	_, err = s.Refer(dispatcher, c.ID, "")
	require.NoError(t, err)
	clock.Advance(DefaultReferralSLA - time.Minute)
	b, err = s.BreachDue(clock.Now(), 100)
	require.NoError(t, err)
	assert.Empty(t, b)
	clock.Advance(2 * time.Minute)
	b, err = s.BreachDue(clock.Now(), 100)
	require.NoError(t, err)
	require.Len(t, b, 1)
	assert.Equal(t, "referral", b[0].Kind)
}

func TestReadChangesCarriesTheRecordsConcerned(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	before, err := f.s.Stats()
	require.NoError(t, err)
	ch := f.s.Changed()
	d := f.device("ali-phone", f.ali)
	f.visit(t, d, c.ID)
	select {
	case <-ch:
	default:
		t.Fatal("Changed was not closed by a commit")
	}
	views, err := f.s.ReadChanges(before.Seq, 100)
	require.NoError(t, err)
	require.NotEmpty(t, views)
	v := views[0]
	assert.Equal(t, KindVisit, v.Kind)
	require.NotNil(t, v.Visit)
	assert.Equal(t, c.ID, v.ComplaintID)
	require.NotNil(t, v.Complaint)
	require.NotNil(t, v.Office)
	assert.Equal(t, "QZ-SSO-01", v.Office.Code)
	require.NotNil(t, v.Agency)
	assert.Equal(t, "SSO", v.Agency.Code)
	require.NotNil(t, v.ActorUser)
	assert.Equal(t, f.ali.ID, v.ActorUser.ID)

	all, err := f.s.ReadChanges(0, 1000)
	require.NoError(t, err)
	assert.Equal(t, before.Seq+uint64(len(views)), all[len(all)-1].Seq)
	none, err := f.s.ReadChanges(all[len(all)-1].Seq, 10)
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestReaderCursors(t *testing.T) {
	s := mustOpenStore(t)
	seq, err := s.ReaderCursor("reports")
	require.NoError(t, err)
	assert.Zero(t, seq)
	require.NoError(t, s.SaveReaderCursor("reports", 42))
	seq, err = s.ReaderCursor("reports")
	require.NoError(t, err)
	assert.Equal(t, uint64(42), seq)
	seq, err = s.ReaderCursor("other")
	require.NoError(t, err)
	assert.Zero(t, seq)
}

// TestBugSLAWatchBreachesTheSameDueTimeTwiceAfterAReferral: a complaint past
// its own due time is reported once; referred, its office lets the
// referral's due time pass too, and dispatch then routes it to inspection.
// Its due time is again the complaint's own, already reported — but the
// complaint remembered only the referral's breach, so the watch reported the
// same due time a second time (and the reports counted it twice).
func TestBugSLAWatchBreachesTheSameDueTimeTwiceAfterAReferral(t *testing.T) {
	w := newWorkflow(t)
	w.clock.Advance(25 * time.Hour) // past the complaint's 24h
	b, err := w.s.BreachDue(w.clock.Now(), 100)
	require.NoError(t, err)
	require.Len(t, b, 1)
	assert.Equal(t, "complaint", b[0].Kind)

	_, err = w.s.Refer(dispatcher, w.c.ID, "")
	require.NoError(t, err)
	w.clock.Advance(DefaultReferralSLA + time.Minute) // the office never answers
	b, err = w.s.BreachDue(w.clock.Now(), 100)
	require.NoError(t, err)
	require.Len(t, b, 1)
	assert.Equal(t, "referral", b[0].Kind)

	_, err = w.s.Assign(dispatcher, w.c.ID, inspector.Routing{InspectorID: w.ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	b, err = w.s.BreachDue(w.clock.Now(), 100)
	require.NoError(t, err)
	assert.Empty(t, b, "the complaint's own due time was reported already")

	var breaches []string
	for _, ch := range w.history(t) {
		if ch.Action == ActionSLABreached {
			breaches = append(breaches, ch.Data["due_at"])
		}
	}
	assert.Len(t, breaches, 2, "one breach per due time: %v", breaches)
}

// TestBugSLAWatchBreachesAComplaintResolvedInTimeWhenReviewed: reza
// resolves the complaint well within its due time. A day later ali, who had
// it before, syncs an outcome recorded offline and the complaint goes to
// review. The watch took the review for an open complaint past its due time
// and wrote a breach — for a complaint resolved in time, which the reports
// then counted both within the SLA and breached.
func TestBugSLAWatchBreachesAComplaintResolvedInTimeWhenReviewed(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	ali := f.device("ali-phone", f.ali)
	late := ali.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeNotSubstantiated, "همه حاضر بودند"))
	c, err := f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	reza := f.device("reza-phone", f.reza)
	f.clock.Advance(time.Hour)
	r := mustPush(t, f.s, reza, reza.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeSubstantiated, "غایب بود")))[0]
	require.Equal(t, StatusApplied, r.Status, r.Message)

	f.clock.Advance(24 * time.Hour) // past the complaint's due time
	r = mustPush(t, f.s, ali, late)[0]
	require.Equal(t, inspector.RuleNeedsReview, r.Rule, r.Message)
	b, err := f.s.BreachDue(f.clock.Now(), 100)
	require.NoError(t, err)
	assert.Empty(t, b, "resolved in time: a review of it is no breach")

	_, err = f.s.ResolveConflict(dispatcher, r.ConflictIDs[0], ResolveAccept, "")
	require.NoError(t, err)
	b, err = f.s.BreachDue(f.clock.Now(), 100)
	require.NoError(t, err)
	assert.Empty(t, b)
}
