package browser

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/e2ekit"
	"github.com/favad/favad/reports"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/client"
)

// env is one real server as `favad serve` runs it (the feed broker, the
// report aggregates and the thumbnail worker running), on a bbolt file of
// the test's own, on the real clock, seeded with offices and the testseed
// accounts (whose password is testseed.Password).
type env struct {
	*e2ekit.Server
	t     *testing.T
	store *favsync.Store
	agg   *reports.Aggregator
	ts    *httptest.Server
	users map[string]inspector.User
}

func newEnv(t *testing.T) *env {
	t.Helper()
	needBrowser(t)
	srv := e2ekit.Start(t, e2ekit.Options{})
	srv.Seed([]inspector.Agency{
		{Code: "SSO", NameFa: "سازمان تامین اجتماعی"},
		{Code: "TAX", NameFa: "سازمان امور مالیاتی"},
		{Code: "MUN", NameFa: "شهرداری قزوین"},
		{Code: "REG", NameFa: "سازمان ثبت احوال"},
	}, offices)
	return &env{Server: srv, t: t, store: srv.Store, agg: srv.Reports, ts: srv.TS, users: srv.Users}
}

// The offices of the tests: Qazvin's, with places so that distances show.
var offices = []inspector.Office{
	{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین",
		Address: "خیابان فردوسی", Phone: "028-33350101", Location: &inspector.Location{Lat: 36.2790, Lng: 50.0040}},
	{Code: "QZ-SSO-02", AgencyCode: "SSO", NameFa: "شعبه دو تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین",
		Phone: "028-33350202", Location: &inspector.Location{Lat: 36.2650, Lng: 49.9880}},
	{Code: "QZ-TAX-01", AgencyCode: "TAX", NameFa: "اداره کل امور مالیاتی قزوین", Province: "قزوین", City: "قزوین",
		Phone: "028-33220000", Location: &inspector.Location{Lat: 36.2700, Lng: 50.0100}},
	{Code: "QZ-MUN-03", AgencyCode: "MUN", NameFa: "شهرداری منطقه سه قزوین", Province: "قزوین", City: "قزوین",
		Phone: "028-33660303", Location: &inspector.Location{Lat: 36.2920, Lng: 50.0230}},
	{Code: "QZ-REG-01", AgencyCode: "REG", NameFa: "اداره ثبت احوال تاکستان", Province: "قزوین", City: "تاکستان",
		Phone: "028-35220011", Location: &inspector.Location{Lat: 36.0700, Lng: 49.6960}},
}

func (e *env) token(username string) string { return e.Token(username) }

type reply = e2ekit.Reply

func (e *env) do(method, path, token string, body any) reply { return e.Do(method, path, token, body) }

// api sends a request that must succeed, decoding the answer into out.
func (e *env) api(method, path, token string, body, out any) { e.API(method, path, token, body, out) }

type complaintJSON struct {
	ID           string    `json:"id"`
	Number       uint64    `json:"number"`
	Status       string    `json:"status"`
	TrackingCode string    `json:"tracking_code"`
	OfficeCode   string    `json:"office_code"`
	CallTime     time.Time `json:"call_time"`
	Version      uint64    `json:"version"`
}

var calls int

// complaint records a call as dispatch does, through the API.
func (e *env) complaint(office string, category inspector.Category, priority inspector.Priority, description string) complaintJSON {
	e.t.Helper()
	calls++
	var c complaintJSON
	e.api("POST", "/v1/complaints", e.token("dispatcher"), map[string]any{"call_id": fmt.Sprintf("CALL-E2E-%d-%d", time.Now().UnixNano(), calls),
		"category": category, "description": description, "call_time": time.Now().Add(-5 * time.Minute).Format(time.RFC3339),
		"caller": map[string]string{"name": "فاطمه ذوالفقاری", "phone": "09127654321"}, "office_code": office, "priority": priority}, &c)
	return c
}

func (e *env) getComplaint(id string) complaintJSON {
	e.t.Helper()
	var c complaintJSON
	e.api("GET", "/v1/complaints/"+id, e.token("dispatcher"), nil, &c)
	return c
}

func (e *env) assign(id, username string) {
	e.t.Helper()
	u := e.users[username]
	e.api("POST", "/v1/complaints/"+id+"/assign", e.token("dispatcher"), map[string]string{"inspector_id": u.ID, "mode": string(u.Mode)}, nil)
}

func (e *env) device(username string) *client.Client { return e.Device(username) }

func (e *env) sync(c *client.Client) client.Report { return e.Sync(c) }

// office returns the seeded office with code.
func office(code string) inspector.Office {
	for _, o := range offices {
		if o.Code == code {
			return o
		}
	}
	panic("no office " + code)
}

// near is a device position about 20 m from the office.
func near(code string) client.Geo {
	l := office(code).Location
	return client.Geo{DeviceTime: time.Now(), Lat: l.Lat + 0.00015, Lng: l.Lng + 0.0001, AccuracyM: 6}
}

// photoEvidence has the device record a photo of the complaint and upload
// its bytes over tus, as the phone app does.
func (e *env) photoEvidence(dev *client.Client, username, complaintID, visitID string, photo []byte) string {
	e.t.Helper()
	id := client.NewID()
	_, _, err := dev.Enqueue("evidence.create", id, 0, map[string]any{"complaint_id": complaintID, "visit_id": visitID, "kind": "photo",
		"content_type": "image/jpeg", "size": len(photo), "sha256": e2ekit.SHA256Hex(photo), "captured_at": time.Now().Add(-time.Second).Format(time.RFC3339)})
	require.NoError(e.t, err)
	e.sync(dev)
	e.TusUpload(e.token(username), id, photo)
	return id
}
