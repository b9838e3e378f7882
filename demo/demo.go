package demo

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
)

//go:embed qazvin-demo-offices.csv
var officesCSV []byte

// Province is the pilot province the demo data belongs to.
const Province = "قزوین"

// Password is the documented password of every demo account.
const Password = "favad-demo-1405"

// Account is a demo login, returned so that the caller can print it.
type Account struct {
	Username    string
	Password    string
	DisplayName string
	Role        inspector.Role
	Mode        inspector.Mode // inspectors only
	OfficeCode  string         // office accounts only: the office they answer for
}

// Result says what Load did.
type Result struct {
	// Loaded is false when the store already held users or offices, in which
	// case Load changed nothing and the other fields are zero.
	Loaded     bool
	Agencies   int
	Offices    int
	Accounts   []Account
	Complaints int
	Assigned   int
	Referred   int
}

// Accounts are the demo logins Load creates, in a stable order.
func Accounts() []Account {
	return []Account{
		{Username: "dispatcher", DisplayName: "مریم احمدی", Role: inspector.RoleDispatcher},
		{Username: "inspector.field", DisplayName: "رضا کریمی", Role: inspector.RoleInspector, Mode: inspector.ModeField},
		{Username: "inspector.phone", DisplayName: "زهرا حسینی", Role: inspector.RoleInspector, Mode: inspector.ModePhone},
		{Username: "supervisor", DisplayName: "علی رضایی", Role: inspector.RoleSupervisor},
		{Username: "admin", DisplayName: "سارا محمدی", Role: inspector.RoleAdmin},
		{Username: "office.water", DisplayName: "رابط اداره آب محمدیه", Role: inspector.RoleOffice, OfficeCode: referredOffice},
	}
}

// referredOffice is the office the demo's office account answers for; a
// sample complaint about it is referred to it.
const referredOffice = "MH-WAT-01"

// referToOffice, as a sample's AssignTo, refers it to the workplace.
const referToOffice = "refer"

// sample is one demo complaint; Ago is how long before Load the call came in.
type sample struct {
	CallID      string
	Category    inspector.Category
	Priority    inspector.Priority
	OfficeCode  string
	Ago         time.Duration
	Description string
	Caller      inspector.Caller
	AssignTo    string // demo username, referToOffice, or "" to leave it with dispatch
}

var samples = []sample{
	{"DEMO-0001", inspector.CategoryClientCrowding, inspector.PriorityUrgent, "QZ-SSO-01", 10 * time.Minute,
		"حدود چهل نفر در صف شعبه منتظرند و فقط یک باجه باز است؛ بقیه باجه‌ها از ساعت ۸ خالی‌اند.",
		inspector.Caller{Name: "شهروند نمونه یک", Phone: "0912-000-0001"}, "inspector.field"},
	{"DEMO-0002", inspector.CategoryAbsentEmployee, inspector.PriorityHigh, "QZ-TAX-01", 40 * time.Minute,
		"کارمند باجه صدور گواهی از صبح سر کار نیامده و کسی جایگزین او نیست.",
		inspector.Caller{Name: "شهروند نمونه دو", Phone: "0912-000-0002"}, "inspector.field"},
	{"DEMO-0003", inspector.CategoryNonWork, inspector.PriorityNormal, "TK-MUN-01", 2 * time.Hour,
		"کارمند پیشخوان مشغول صحبت تلفنی شخصی است و به مراجعان پاسخ نمی‌دهد.",
		inspector.Caller{}, "inspector.phone"},
	{"DEMO-0004", inspector.CategoryClientCrowding, inspector.PriorityHigh, "MH-WAT-01", 3 * time.Hour,
		"مراجعان بیش از یک ساعت برای پرداخت قبض و ثبت درخواست انشعاب منتظرند.",
		inspector.Caller{Phone: "0912-000-0004"}, referToOffice},
	{"DEMO-0005", inspector.CategoryAbsentEmployee, inspector.PriorityNormal, "AB-NOCR-01", 26 * time.Hour,
		"مسئول صدور شناسنامه در محل حاضر نیست و گفته‌اند فردا مراجعه کنید.",
		inspector.Caller{Name: "شهروند نمونه پنج"}, ""},
	{"DEMO-0006", inspector.CategoryOther, inspector.PriorityLow, "TK-AGR-01", 30 * time.Hour,
		"ساعت کار درج‌شده روی در اداره با ساعتی که کارکنان حضور دارند یکی نیست.",
		inspector.Caller{}, ""},
}

// Load fills store with the demo data, but only if it holds no users and no
// offices; otherwise it changes nothing and returns Loaded=false. province
// names the province the offices and the inspectors' region belong to; ""
// means Province.
//
// Offices are imported as favsync.System; complaints are entered and assigned
// as the demo dispatcher. Call times are relative to the store's clock.
//
// Load is several transactions, so a process killed during the first load
// leaves part of the demo behind (offices without accounts, say). A store
// that holds nothing but demo offices, accounts and complaints is therefore
// finished, not refused: what is missing is added, and what is there is
// kept. Loaded is true when anything was added.
func Load(store *favsync.Store, province string) (Result, error) {
	if province == "" {
		province = Province
	}
	rows, err := inspector.ParseOfficeCSV(bytes.NewReader(officesCSV), province)
	if err != nil {
		return Result{}, fmt.Errorf("demo: offices: %w", err)
	}
	have, demoOnly, err := existing(store, rows)
	if err != nil || !demoOnly {
		return Result{}, err
	}

	var res Result
	if len(have.offices) < len(rows) {
		imp, err := store.ImportOffices(favsync.System, rows) // one transaction: all offices or none
		if err != nil {
			return res, fmt.Errorf("demo: import offices: %w", err)
		}
		res.Agencies, res.Offices = imp.AgenciesCreated, imp.OfficesCreated
		res.Loaded = true
	}

	hash, err := auth.HashPassword(Password)
	if err != nil {
		return res, fmt.Errorf("demo: %w", err)
	}
	ids := map[string]string{}           // username → user id
	modes := map[string]inspector.Mode{} // username → inspector mode
	for _, a := range Accounts() {
		a.Password = Password
		res.Accounts = append(res.Accounts, a)
		if u, ok := have.users[a.Username]; ok {
			ids[a.Username], modes[a.Username] = u.ID, u.Mode
			continue
		}
		n := favsync.NewUser{Username: a.Username, DisplayName: a.DisplayName, Role: a.Role, Mode: a.Mode, OfficeCode: a.OfficeCode, PasswordHash: hash}
		if a.Role == inspector.RoleInspector {
			n.Region = &inspector.Region{Province: province}
		}
		u, err := store.CreateUser(favsync.System, n)
		if err != nil {
			return res, fmt.Errorf("demo: user %s: %w", a.Username, err)
		}
		ids[a.Username], modes[a.Username] = u.ID, a.Mode
		res.Loaded = true
	}

	dispatcher := favsync.Actor{UserID: ids["dispatcher"]}
	now := store.Now()
	for _, s := range samples {
		c, ok := have.complaints[s.CallID]
		if !ok {
			created := false
			c, created, err = store.CreateComplaint(dispatcher, inspector.NewComplaint{
				CallID: s.CallID, Category: s.Category, Description: s.Description,
				CallTime: now.Add(-s.Ago).Truncate(time.Second), Caller: s.Caller,
				OfficeCode: s.OfficeCode, Priority: s.Priority,
			})
			if err != nil {
				return res, fmt.Errorf("demo: complaint %s: %w", s.CallID, err)
			}
			if created {
				res.Complaints++
				res.Loaded = true
			}
		}
		if s.AssignTo == "" || c.Status != inspector.StatusReceived {
			continue // left with dispatch, or routed already
		}
		res.Loaded = true
		if s.AssignTo == referToOffice {
			if _, err := store.Refer(dispatcher, c.ID, "نمونه: ارجاع به دستگاه برای پاسخ"); err != nil {
				return res, fmt.Errorf("demo: refer %s: %w", s.CallID, err)
			}
			res.Referred++
			continue
		}
		if _, err := store.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: ids[s.AssignTo], Mode: modes[s.AssignTo],
			Note: "نمونه: ارجاع برای آزمایش سامانه"}); err != nil {
			return res, fmt.Errorf("demo: assign %s: %w", s.CallID, err)
		}
		res.Assigned++
	}
	if !res.Loaded {
		return Result{}, nil // the demo was already whole
	}
	return res, nil
}

// held is what the store already holds of the demo.
type held struct {
	offices    map[string]bool
	users      map[string]inspector.User
	complaints map[string]inspector.Complaint // by call id
}

// existing reads what the store holds, and whether it is demo data only:
// a store with any other office, account or complaint is real and is left alone.
func existing(store *favsync.Store, rows []inspector.OfficeRow) (h held, demoOnly bool, err error) {
	h = held{offices: map[string]bool{}, users: map[string]inspector.User{}, complaints: map[string]inspector.Complaint{}}
	demoOffices := map[string]bool{}
	for _, r := range rows {
		demoOffices[strings.ToUpper(r.Office.Code)] = true
	}
	offices, err := store.Offices(favsync.OfficeFilter{IncludeDeleted: true})
	if err != nil {
		return h, false, fmt.Errorf("demo: %w", err)
	}
	for _, o := range offices {
		if !demoOffices[strings.ToUpper(o.Code)] {
			return h, false, nil
		}
		h.offices[o.Code] = true
	}
	demoUsers := map[string]bool{}
	for _, a := range Accounts() {
		demoUsers[a.Username] = true
	}
	users, err := store.Users("")
	if err != nil {
		return h, false, fmt.Errorf("demo: %w", err)
	}
	for _, u := range users {
		if !demoUsers[u.Username] {
			return h, false, nil
		}
		h.users[u.Username] = u
	}
	demoCalls := map[string]bool{}
	for _, s := range samples {
		demoCalls[s.CallID] = true
	}
	complaints, _, err := store.ListComplaints(favsync.ComplaintFilter{Limit: len(samples) + 1})
	if err != nil {
		return h, false, fmt.Errorf("demo: %w", err)
	}
	for _, c := range complaints {
		if !demoCalls[c.CallID] {
			return h, false, nil
		}
		h.complaints[c.CallID] = c
	}
	return h, true, nil
}
