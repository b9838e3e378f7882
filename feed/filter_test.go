package feed_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/feed"
	"github.com/favad/favad/inspector"
)

func TestFilterMatch(t *testing.T) {
	e := feed.Event{Type: feed.TypeComplaintCreated, OfficeCode: "QZ-SSO-01", AgencyCode: "SSO", Province: "قزوین"}
	noPlace := feed.Event{Type: feed.TypeConflictOpened}
	tests := []struct {
		name    string
		f       feed.Filter
		e       feed.Event
		matches bool
	}{
		{"empty matches all", feed.Filter{}, e, true},
		{"empty matches no place", feed.Filter{}, noPlace, true},
		{"type", feed.Filter{Types: []string{feed.TypeComplaintCreated, feed.TypeComplaintOutcome}}, e, true},
		{"other type", feed.Filter{Types: []string{feed.TypeComplaintOutcome}}, e, false},
		{"office, any case", feed.Filter{Offices: []string{"qz-sso-01"}}, e, true},
		{"other office", feed.Filter{Offices: []string{"TK-SSO-01"}}, e, false},
		{"agency", feed.Filter{Agencies: []string{"TAMIN", "sso"}}, e, true},
		{"other agency", feed.Filter{Agencies: []string{"TAMIN"}}, e, false},
		{"province", feed.Filter{Provinces: []string{"قزوین"}}, e, true},
		{"other province", feed.Filter{Provinces: []string{"تهران"}}, e, false},
		{"place filter, no place", feed.Filter{Agencies: []string{"SSO"}}, noPlace, false},
		{"every list must match", feed.Filter{Agencies: []string{"SSO"}, Types: []string{feed.TypeComplaintOutcome}}, e, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.matches, tt.f.Match(tt.e))
		})
	}
}

func TestParseFilter(t *testing.T) {
	// Arabic yeh (ي) in the query, Persian yeh (ی) in the office: the same province.
	q := url.Values{"province": {"قزوين"}, "agency": {"SSO, TAMIN", "SSO"}, "office": {"QZ-SSO-01"},
		"types": {"complaint.created,complaint.outcome"}}
	f, err := feed.ParseFilter(q)
	require.NoError(t, err)
	assert.Equal(t, []string{"SSO", "TAMIN"}, f.Agencies)
	assert.Equal(t, []string{"complaint.created", "complaint.outcome"}, f.Types)
	assert.True(t, f.Match(feed.Event{Type: feed.TypeComplaintCreated, OfficeCode: "QZ-SSO-01", AgencyCode: "SSO", Province: "قزوین"}))

	f, err = feed.ParseFilter(url.Values{})
	require.NoError(t, err)
	assert.Equal(t, feed.Filter{}, f)

	_, err = feed.ParseFilter(url.Values{"types": {"complaint.created,complaint.eaten"}})
	var appErr *inspector.Error
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, inspector.CodeInvalid, appErr.Code)
	require.Len(t, appErr.Fields, 1)
	assert.Equal(t, "types", appErr.Fields[0].Field)
	assert.Equal(t, "unknown", appErr.Fields[0].Code)
}
