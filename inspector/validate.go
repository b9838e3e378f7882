package inspector

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on free text, so that one call cannot bloat every device's sync.
const (
	MaxDescription = 4000
	MaxName        = 200
	MaxNote        = 2000
	MaxAddress     = 500
	MaxCallID      = 100
)

var (
	codePattern  = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,39}$`)
	phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 -]{3,20}$`)
	// callerPhonePattern is a caller's phone after NormalizePhone: digits only.
	callerPhonePattern = regexp.MustCompile(`^\+?[0-9]{4,21}$`)
	hhmmPattern        = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	weekdays           = map[string]bool{"sat": true, "sun": true, "mon": true, "tue": true, "wed": true, "thu": true, "fri": true}
)

// NewComplaint is what dispatch enters for a 128 call.
type NewComplaint struct {
	CallID      string
	Category    Category
	Description string
	CallTime    time.Time
	Caller      Caller
	OfficeCode  string
	Priority    Priority
}

// Normalize trims text and folds digits, so that the same call typed two ways
// is recognised as the same call.
func (n *NewComplaint) Normalize() {
	n.CallID = NormalizeDigits(strings.TrimSpace(n.CallID))
	n.Description = strings.TrimSpace(n.Description)
	n.Caller.Name = strings.TrimSpace(n.Caller.Name)
	n.Caller.Phone = NormalizePhone(n.Caller.Phone)
	n.OfficeCode = strings.ToUpper(strings.TrimSpace(n.OfficeCode))
	if n.Priority == "" {
		n.Priority = PriorityNormal
	}
}

// Validate checks n against the domain rules; now bounds the call time.
func (n *NewComplaint) Validate(now time.Time) error {
	var p Problems
	switch {
	case n.CallID == "":
		p.Add("call_id", "required", "the call center's call id is required")
	case utf8.RuneCountInString(n.CallID) > MaxCallID:
		p.Add("call_id", "too_long", "at most 100 characters")
	}
	if !n.Category.Valid() {
		p.Add("category", "invalid", "one of absent_employee, non_work_activity, client_crowding, other")
	}
	switch {
	case IsBlank(n.Description):
		p.Add("description", "required", "describe what the caller saw")
	case utf8.RuneCountInString(n.Description) > MaxDescription:
		p.Add("description", "too_long", "at most 4000 characters")
	}
	switch {
	case n.CallTime.IsZero():
		p.Add("call_time", "required", "the time of the call is required")
	case n.CallTime.After(now.Add(5 * time.Minute)):
		p.Add("call_time", "in_future", "the call cannot be in the future")
	}
	if utf8.RuneCountInString(n.Caller.Name) > MaxName {
		p.Add("caller.name", "too_long", "at most 200 characters")
	}
	if n.Caller.Phone != "" && !callerPhonePattern.MatchString(n.Caller.Phone) {
		p.Add("caller.phone", "invalid", "4 to 21 digits (spaces and dashes ignored) and an optional leading +")
	}
	if n.OfficeCode == "" {
		p.Add("office_code", "required", "the office the complaint is about is required")
	}
	if !n.Priority.Valid() {
		p.Add("priority", "invalid", "one of urgent, high, normal, low")
	}
	return p.Err()
}

// Normalize trims and upper-cases the agency's code.
func (a *Agency) Normalize() {
	a.Code = strings.ToUpper(strings.TrimSpace(a.Code))
	a.NameFa = PersianLetters(strings.TrimSpace(a.NameFa))
	a.NameEn = strings.TrimSpace(a.NameEn)
}

// Validate checks a against the domain rules.
func (a *Agency) Validate() error {
	var p Problems
	if !codePattern.MatchString(a.Code) {
		p.Add("code", "invalid", "1–40 of A–Z, 0–9 and -, starting with a letter or digit")
	}
	if IsBlank(a.NameFa) {
		p.Add("name_fa", "required", "the Persian name is required")
	} else if utf8.RuneCountInString(a.NameFa) > MaxName {
		p.Add("name_fa", "too_long", "at most 200 characters")
	}
	if utf8.RuneCountInString(a.NameEn) > MaxName {
		p.Add("name_en", "too_long", "at most 200 characters")
	}
	return p.Err()
}

// Normalize trims the office's text, upper-cases codes and folds digits.
func (o *Office) Normalize() {
	o.Code = strings.ToUpper(strings.TrimSpace(o.Code))
	o.AgencyCode = strings.ToUpper(strings.TrimSpace(o.AgencyCode))
	o.NameFa = PersianLetters(strings.TrimSpace(o.NameFa))
	o.Province = PersianLetters(strings.TrimSpace(o.Province))
	o.City = PersianLetters(strings.TrimSpace(o.City))
	o.Address = PersianLetters(strings.TrimSpace(o.Address))
	o.Phone = NormalizeDigits(strings.TrimSpace(o.Phone))
	o.Hours.Opens = NormalizeDigits(strings.TrimSpace(o.Hours.Opens))
	o.Hours.Closes = NormalizeDigits(strings.TrimSpace(o.Hours.Closes))
	for i, d := range o.Hours.Days {
		o.Hours.Days[i] = strings.ToLower(strings.TrimSpace(d))
	}
}

// Validate checks o against the domain rules. Whether its agency exists is
// the store's check.
func (o *Office) Validate() error {
	var p Problems
	switch {
	case !codePattern.MatchString(o.Code):
		p.Add("code", "invalid", "1–40 of A–Z, 0–9 and -, starting with a letter or digit")
	case o.Code == "IMPORT":
		p.Add("code", "reserved", "IMPORT names the import route (/v1/offices/import)")
	}
	if o.AgencyCode == "" {
		p.Add("agency_code", "required", "the agency is required")
	}
	if IsBlank(o.NameFa) {
		p.Add("name_fa", "required", "the Persian name is required")
	} else if utf8.RuneCountInString(o.NameFa) > MaxName {
		p.Add("name_fa", "too_long", "at most 200 characters")
	}
	if IsBlank(o.Province) {
		p.Add("province", "required", "the province is required")
	} else if utf8.RuneCountInString(o.Province) > MaxName {
		p.Add("province", "too_long", "at most 200 characters")
	}
	if IsBlank(o.City) {
		p.Add("city", "required", "the city is required")
	} else if utf8.RuneCountInString(o.City) > MaxName {
		p.Add("city", "too_long", "at most 200 characters")
	}
	if utf8.RuneCountInString(o.Address) > MaxAddress {
		p.Add("address", "too_long", "at most 500 characters")
	}
	if o.Phone != "" && !phonePattern.MatchString(o.Phone) {
		p.Add("phone", "invalid", "digits, spaces, dashes and an optional leading +")
	}
	if l := o.Location; l != nil {
		checkCoordinates(&p, "location.", l.Lat, l.Lng)
	}
	if !hhmmPattern.MatchString(o.Hours.Opens) {
		p.Add("hours.opens", "invalid", "a time of day as HH:MM")
	}
	if !hhmmPattern.MatchString(o.Hours.Closes) {
		p.Add("hours.closes", "invalid", "a time of day as HH:MM")
	} else if hhmmPattern.MatchString(o.Hours.Opens) && o.Hours.Closes <= o.Hours.Opens {
		p.Add("hours.closes", "before_opens", "closing must be after opening")
	}
	if len(o.Hours.Days) == 0 {
		p.Add("hours.days", "required", "at least one working day")
	}
	for _, d := range o.Hours.Days {
		if !weekdays[d] {
			p.Add("hours.days", "invalid", "days are sat, sun, mon, tue, wed, thu, fri")
			break
		}
	}
	return p.Err()
}

// ParseWeekdays reads a day range such as "Sat-Wed" or a list "sat,sun,mon"
// into the week's days in Iranian order (Saturday first).
func ParseWeekdays(s string) ([]string, bool) {
	order := []string{"sat", "sun", "mon", "tue", "wed", "thu", "fri"}
	s = strings.ToLower(strings.TrimSpace(s))
	if from, to, ok := strings.Cut(s, "-"); ok {
		i, j := indexOf(order, strings.TrimSpace(from)), indexOf(order, strings.TrimSpace(to))
		if i < 0 || j < 0 || j < i {
			return nil, false
		}
		return append([]string(nil), order[i:j+1]...), true
	}
	var days []string
	for _, d := range strings.Split(s, ",") {
		d = strings.TrimSpace(d)
		if indexOf(order, d) < 0 {
			return nil, false
		}
		days = append(days, d)
	}
	return days, len(days) > 0
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// Routing is dispatch's request to assign a complaint.
type Routing struct {
	InspectorID string
	Mode        Mode
	Note        string
}

// Validate checks the routing request's own fields; whether the inspector
// exists and may take that mode is the store's check.
func (r *Routing) Validate() error {
	var p Problems
	if strings.TrimSpace(r.InspectorID) == "" {
		p.Add("inspector_id", "required", "choose an inspector")
	}
	if !r.Mode.Valid() {
		p.Add("mode", "invalid", "field or phone")
	}
	if utf8.RuneCountInString(r.Note) > MaxNote {
		p.Add("note", "too_long", "at most 2000 characters")
	}
	return p.Err()
}
