package server_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAgencyAndOfficeCRUD(t *testing.T) {
	e := newEnv(t)
	admin := e.token("admin")
	agency := map[string]string{"code": "tax", "name_fa": "اداره کل امور مالیاتی", "name_en": "National Tax Administration"}
	r := e.do(newCall("POST", "/v1/agencies", admin, agency))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"code":"TAX"`)
	r = e.do(newCall("POST", "/v1/agencies", admin, agency))
	require.Equal(t, http.StatusConflict, r.status)

	office := map[string]any{
		"code": "QZ-TAX-01", "agency_code": "TAX", "name_fa": "اداره امور مالیاتی شمال قزوین",
		"province": "قزوین", "city": "قزوین", "address": "", "phone": "028-33000201",
		"location": map[string]float64{"lat": 36.284, "lng": 50.012},
		"hours":    map[string]any{"opens": "07:30", "closes": "14:30", "days": []string{"sat", "sun", "mon", "tue", "wed"}},
	}
	r = e.do(newCall("POST", "/v1/offices", admin, office))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)

	office["phone"] = "028-33000299"
	r = e.do(newCall("PUT", "/v1/offices/QZ-TAX-01", admin, office))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), "028-33000299")

	// Read and change by code; every answer is checked against the spec.
	r = e.do(newCall("GET", "/v1/agencies/TAX", e.token("field"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var ag struct{ Code, NameEn string }
	r.json(t, &ag)
	assert.Equal(t, "TAX", ag.Code)
	agency["name_en"] = "Iranian National Tax Administration"
	r = e.do(newCall("PUT", "/v1/agencies/TAX", admin, agency))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), "Iranian National Tax Administration")
	r = e.do(newCall("GET", "/v1/offices/QZ-TAX-01", e.token("dispatcher"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"agency_code":"TAX"`)
	r = e.do(newCall("GET", "/v1/offices/NOPE-404", e.token("dispatcher"), nil))
	require.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "not_found", string(r.problem(t).Code))

	r = e.do(newCall("GET", "/v1/offices?agency=TAX", e.token("field"), nil))
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), "QZ-TAX-01")

	bad := map[string]any{"code": "QZ-TAX-02", "agency_code": "NOPE", "name_fa": "", "province": "قزوین", "city": "قزوین",
		"address": "", "phone": "", "hours": map[string]any{"opens": "14:30", "closes": "07:30", "days": []string{"sat"}}}
	r = e.do(newCall("POST", "/v1/offices", admin, bad))
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), "name_fa")
	assert.Contains(t, string(r.body), "hours.closes")

	// An agency with live offices cannot be deleted; the office can.
	r = e.do(newCall("DELETE", "/v1/agencies/TAX", admin, nil))
	require.Equal(t, http.StatusConflict, r.status)
	require.Equal(t, http.StatusNoContent, e.do(newCall("DELETE", "/v1/offices/QZ-TAX-01", admin, nil)).status)
	require.Equal(t, http.StatusNoContent, e.do(newCall("DELETE", "/v1/agencies/TAX", admin, nil)).status)
	require.Equal(t, http.StatusNotFound, e.do(newCall("DELETE", "/v1/agencies/TAX", admin, nil)).status)

	// A deleted office takes no new complaints.
	body := intake("CALL-DEL", e.clock.Now())
	body["office_code"] = "QZ-TAX-01"
	r = e.do(newCall("POST", "/v1/complaints", e.token("dispatcher"), body))
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
}

func TestImportDemoOffices(t *testing.T) {
	e := newEnv(t)
	admin := e.token("admin")
	csv, err := os.ReadFile("../demo/qazvin-demo-offices.csv")
	if os.IsNotExist(err) {
		csv, err = os.ReadFile("../../shared/data/qazvin-demo-offices.csv")
	}
	require.NoError(t, err)
	r := e.do(call{method: "POST", path: "/v1/offices/import?province=" + "%D9%82%D8%B2%D9%88%DB%8C%D9%86", token: admin, raw: string(csv), contentType: "text/csv"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var res map[string]int
	r.json(t, &res)
	assert.Equal(t, 22, res["offices_created"], "24 rows, two already seeded")
	assert.Equal(t, 2, res["offices_updated"]+res["unchanged"], "the two seeded offices are updated or unchanged")
	assert.GreaterOrEqual(t, res["agencies_created"], 5)

	// Importing the same file again changes nothing.
	r = e.do(call{method: "POST", path: "/v1/offices/import?province=%D9%82%D8%B2%D9%88%DB%8C%D9%86", token: admin, raw: string(csv), contentType: "text/csv"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &res)
	assert.Equal(t, 0, res["offices_created"]+res["offices_updated"]+res["agencies_created"]+res["agencies_updated"])

	// One bad line: nothing is imported, and the problem names the line and column.
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	broken := lines[0] + "\n" + strings.Replace(lines[1], "QZ-SSO-01", "NEW-OFFICE-1", 1) + "\n" +
		strings.Replace(strings.Replace(lines[2], "QZ-SSO-02", "NEW-OFFICE-2", 1), "36.2650", "north", 1) + "\n"
	r = e.do(call{method: "POST", path: "/v1/offices/import?province=%D9%82%D8%B2%D9%88%DB%8C%D9%86", token: admin, raw: broken, contentType: "text/csv"})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), "line 3: latitude")
	r = e.do(newCall("GET", "/v1/offices/NEW-OFFICE-1", admin, nil))
	assert.Equal(t, http.StatusNotFound, r.status, "all or nothing")
}

// TestOfficesSayWhetherALiaisonAnswers: dispatch sees, before referring,
// whether an office account answers for an office; a disabled one does not.
func TestOfficesSayWhetherALiaisonAnswers(t *testing.T) {
	e := newEnv(t)
	liaison := func() map[string]bool {
		r := e.do(newCall("GET", "/v1/offices", e.token("dispatcher"), nil))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var page struct {
			Items []struct {
				Code    string `json:"code"`
				Liaison *bool  `json:"liaison"`
			} `json:"items"`
		}
		r.json(t, &page)
		out := map[string]bool{}
		for _, o := range page.Items {
			require.NotNil(t, o.Liaison, o.Code)
			out[o.Code] = *o.Liaison
		}
		return out
	}
	got := liaison()
	require.Greater(t, len(got), 1)
	assert.True(t, got["QZ-SSO-01"], "the office account's own office")
	for code, has := range got {
		if code != "QZ-SSO-01" {
			assert.False(t, has, "%s has no office account", code)
		}
	}
	r := e.do(newCall("GET", "/v1/offices/QZ-SSO-01", e.token("dispatcher"), nil))
	assert.Contains(t, string(r.body), `"liaison":true`)

	for _, role := range []string{"field", "office"} {
		r = e.do(newCall("GET", "/v1/offices/QZ-SSO-01", e.token(role), nil))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.NotContains(t, string(r.body), "liaison", "%s: not theirs to know", role)
		r = e.do(newCall("GET", "/v1/offices", e.token(role), nil))
		assert.NotContains(t, string(r.body), "liaison", "%s: not theirs to know", role)
	}
	r = e.do(newCall("POST", "/v1/users/"+e.users["office"].ID+"/disable", e.token("admin"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.False(t, liaison()["QZ-SSO-01"], "a disabled account answers for nobody")
}
