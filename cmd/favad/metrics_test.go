package main

import (
	"strings"
	"testing"
	"time"
)

// TestServeExportsTheNotifierMetrics: /metrics of a running server carries
// the notifier's and the live streams' series beside the HTTP ones, and a
// push reaching a registered device is counted as sent (the log-only sender
// stands in for FCM without credentials).
func TestServeExportsTheNotifierMetrics(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--demo", "--push-window", "100ms")
	base := srv.url
	dispatcher, field := apiLogin(t, base, "dispatcher"), apiLogin(t, base, "inspector.field")
	apiDo(t, base, field, "POST", "/v1/devices", map[string]string{"token": "fcm-token-metrics", "platform": "android",
		"app_version": "1.0.0", "locale": "fa-IR"}, nil)
	var me struct{ ID string }
	apiDo(t, base, field, "GET", "/v1/me", nil, &me)
	var c struct{ ID string }
	apiDo(t, base, dispatcher, "POST", "/v1/complaints", map[string]any{"call_id": "METRICS-1", "category": "absent_employee",
		"description": "کارمند حاضر نیست", "call_time": time.Now().UTC().Format(time.RFC3339), "office_code": "QZ-SSO-01", "priority": "normal"}, &c)
	apiDo(t, base, dispatcher, "POST", "/v1/complaints/"+c.ID+"/assign", map[string]string{"inspector_id": me.ID, "mode": "field"}, nil)

	scrape := func() string { return httpGet(t, base+"/metrics") }
	deadline := time.Now().Add(10 * time.Second)
	var body string
	for {
		body = scrape()
		if strings.Contains(body, `favad_push_sent_total{kind="assignment"} 1`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		`favad_push_sent_total{kind="assignment"} 1`,
		"favad_push_retries_total 0",
		"favad_push_gave_up_total 0",
		"favad_push_config_errors_total 0",
		"favad_notifier_lag_changes",
		"favad_notifier_lag_seconds",
		"favad_streams_open",
		"favad_http_requests_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
