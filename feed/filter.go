package feed

import (
	"net/url"
	"slices"
	"strings"

	"github.com/favad/favad/inspector"
)

// Filter selects events. Each non-empty list must contain the event's
// value; empty lists match everything. Codes compare case-insensitively and
// provinces after Persian normalisation, as elsewhere in FAVAD.
type Filter struct {
	Provinces []string
	Agencies  []string
	Offices   []string
	Types     []string
}

// Match reports whether e passes f. An event with no office (a conflict on
// a record of no complaint) fails every place filter.
func (f Filter) Match(e Event) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) {
		return false
	}
	if len(f.Offices) > 0 && !containsFold(f.Offices, e.OfficeCode) {
		return false
	}
	if len(f.Agencies) > 0 && !containsFold(f.Agencies, e.AgencyCode) {
		return false
	}
	if len(f.Provinces) > 0 {
		p := inspector.NormalizeText(e.Province)
		if p == "" || !slices.Contains(f.Provinces, p) {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	if s == "" {
		return false
	}
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Query parameters of a filter.
const (
	ParamProvince = "province"
	ParamAgency   = "agency"
	ParamOffice   = "office"
	ParamTypes    = "types"
)

// ParseFilter reads a filter from query parameters province, agency, office
// and types, each comma-separated or repeated. An unknown type is a
// CodeInvalid *inspector.Error naming the field "types".
func ParseFilter(q url.Values) (Filter, error) {
	f := Filter{
		Provinces: split(q[ParamProvince]),
		Agencies:  split(q[ParamAgency]),
		Offices:   split(q[ParamOffice]),
		Types:     split(q[ParamTypes]),
	}
	for i, p := range f.Provinces {
		f.Provinces[i] = inspector.NormalizeText(p)
	}
	var problems inspector.Problems
	for _, t := range f.Types {
		if !slices.Contains(Types, t) {
			problems.Add(ParamTypes, "unknown", "not an event type: "+t+"; the types are "+strings.Join(Types, ", "))
			break
		}
	}
	return f, problems.Err()
}

func split(values []string) []string {
	var out []string
	for _, v := range values {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" && !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	return out
}
