package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/sync/blob"
)

func testCLI(env map[string]string) *cli {
	return &cli{stdout: io.Discard, stderr: io.Discard,
		getenv: func(k string) string { return env[k] }, usage: map[*flag.FlagSet]func(io.Writer){},
		argOnly: map[*flag.FlagSet]map[string]bool{}}
}

func TestEnvName(t *testing.T) {
	for flagName, want := range map[string]string{"addr": "FAVAD_ADDR", "jwt-key-file": "FAVAD_JWT_KEY_FILE", "password-stdin": "FAVAD_PASSWORD_STDIN"} {
		if got := envName(flagName); got != want {
			t.Errorf("envName(%q) = %q, want %q", flagName, got, want)
		}
	}
}

func TestServeConfigFlagsWinOverEnvironment(t *testing.T) {
	c := testCLI(map[string]string{
		"FAVAD_ADDR":            "0.0.0.0:9000",
		"FAVAD_DATA":            "/var/lib/favad",
		"FAVAD_DEMO":            "true",
		"FAVAD_SLA":             "urgent=30m",
		"FAVAD_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7",
		"FAVAD_CORS_ORIGINS":    "https://a.example, https://b.example",
		"FAVAD_ACCESS_TTL":      "5m",
	})
	var cfg serveConfig
	fs := c.newFlagSet("serve", "", "")
	cfg.register(fs)
	if err := c.parseFlags(fs, []string{"--addr", "127.0.0.1:8000", "--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:8000" {
		t.Errorf("Addr = %q: the flag must win over FAVAD_ADDR", cfg.Addr)
	}
	if cfg.Data != "/var/lib/favad" || !cfg.Demo || cfg.AccessTTL != 5*time.Minute {
		t.Errorf("environment not applied: %+v", cfg)
	}
	if cfg.JWTKeyFile != filepath.Join("/var/lib/favad", "jwt-keys.json") {
		t.Errorf("JWTKeyFile = %q; want it in the data directory", cfg.JWTKeyFile)
	}
	if cfg.sla[inspector.PriorityUrgent] != 30*time.Minute || cfg.sla[inspector.PriorityLow] != inspector.DefaultSLA()[inspector.PriorityLow] {
		t.Errorf("sla = %v", cfg.sla)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
	if len(cfg.proxies) != 2 || cfg.proxies[0] != wantProxies[0] || cfg.proxies[1] != wantProxies[1] {
		t.Errorf("proxies = %v, want %v", cfg.proxies, wantProxies)
	}
	if len(cfg.origins) != 2 || cfg.origins[1] != "https://b.example" {
		t.Errorf("origins = %v", cfg.origins)
	}
}

func TestServeConfigDefaults(t *testing.T) {
	c := testCLI(nil)
	var cfg serveConfig
	fs := c.newFlagSet("serve", "", "")
	cfg.register(fs)
	if err := c.parseFlags(fs, nil); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != defaultAddr || cfg.Data != defaultData || cfg.Demo || cfg.proxies != nil || cfg.origins != nil {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestParseFlagsReportsUsageErrors(t *testing.T) {
	c := testCLI(map[string]string{"FAVAD_DEMO": "perhaps"})
	var cfg serveConfig
	fs := c.newFlagSet("serve", "", "")
	cfg.register(fs)
	err := c.parseFlags(fs, nil)
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("FAVAD_DEMO=perhaps: %v; want a usage error", err)
	}
}

func TestCommandLineOnlyFlagsIgnoreEnvironment(t *testing.T) {
	c := testCLI(map[string]string{"FAVAD_DATA": "/srv/favad", "FAVAD_USERNAME": "admin"})
	fs := c.newFlagSet("users disable", "", "")
	data := fs.String("data", defaultData, "")
	username := fs.String("username", "", "")
	c.commandLineOnly(fs, "username")
	if err := c.parseFlags(fs, nil); err != nil {
		t.Fatal(err)
	}
	if *data != "/srv/favad" {
		t.Errorf("data = %q; want it from FAVAD_DATA", *data)
	}
	if *username != "" {
		t.Errorf("username = %q; FAVAD_USERNAME must not choose the account", *username)
	}
}

func TestServeConfigEvidenceSettings(t *testing.T) {
	parse := func(env map[string]string, args ...string) (serveConfig, error) {
		c := testCLI(env)
		var cfg serveConfig
		fs := c.newFlagSet("serve", "", "")
		cfg.register(fs)
		if err := c.parseFlags(fs, args); err != nil {
			return cfg, err
		}
		return cfg, cfg.validate()
	}
	cfg, err := parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if def := inspector.DefaultEvidenceLimits(); cfg.CaptureSlack != def.CaptureSlack || cfg.MaxDistanceM != def.MaxDistanceM {
		t.Errorf("defaults: slack %s, distance %g; want %+v", cfg.CaptureSlack, cfg.MaxDistanceM, def)
	}
	if cfg.Unclaimed != 30*24*time.Hour || cfg.TokenStale != 30*24*time.Hour {
		t.Errorf("defaults: unclaimed-upload-retention %s, push-token-stale-after %s", cfg.Unclaimed, cfg.TokenStale)
	}

	cfg, err = parse(map[string]string{"FAVAD_EVIDENCE_MAX_DISTANCE": "1200"}, "--evidence-capture-slack", "2h", "--unclaimed-upload-retention", "72h")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CaptureSlack != 2*time.Hour || cfg.MaxDistanceM != 1200 || cfg.Unclaimed != 72*time.Hour {
		t.Errorf("got slack %s, distance %g, unclaimed %s", cfg.CaptureSlack, cfg.MaxDistanceM, cfg.Unclaimed)
	}

	for _, args := range [][]string{
		{"--evidence-max-distance", "NaN"},
		{"--evidence-max-distance", "-5"},
		{"--evidence-max-distance", "1e9"},
		{"--evidence-capture-slack", "-1m"},
		{"--evidence-capture-slack", "48h"},
		{"--unclaimed-upload-retention", "10m"},
		{"--push-token-stale-after", "1h"},
		{"--push-token-stale-after", "6500h"},
	} {
		var ue usageError
		if _, err := parse(nil, args...); !errors.As(err, &ue) {
			t.Errorf("%v: %v; want a usage error", args, err)
		}
	}
}

// TestBlobStoreFlags: --blob-store's default is today's directory; file://
// moves it; s3:// needs an endpoint and both halves of the credentials, and
// a mistake is a usage error before any request is made.
func TestBlobStoreFlags(t *testing.T) {
	open := func(env map[string]string, args ...string) (blob.Store, error) {
		t.Helper()
		c := testCLI(env)
		var cfg serveConfig
		fs := c.newFlagSet("serve", "", "")
		cfg.register(fs)
		if err := c.parseFlags(fs, append([]string{"--data", "/srv/favad"}, args...)); err != nil {
			t.Fatal(err)
		}
		if err := cfg.validate(); err != nil {
			t.Fatal(err)
		}
		return cfg.Blob.open(context.Background(), cfg.Data, c.getenv)
	}
	s, err := open(nil)
	if fs, ok := s.(*blob.FS); err != nil || !ok || fs.Dir != filepath.Join("/srv/favad", "blobs") {
		t.Errorf("default blob store = %v, %v; want <data>/blobs", s, err)
	}
	s, err = open(map[string]string{"FAVAD_BLOB_STORE": "file:///mnt/evidence"})
	if fs, ok := s.(*blob.FS); err != nil || !ok || fs.Dir != "/mnt/evidence" {
		t.Errorf("file:// blob store = %v, %v", s, err)
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
	}{
		{nil, []string{"--blob-store", "s3://favad-evidence/p"}}, // no endpoint
		{nil, []string{"--blob-store", "gs://favad-evidence/p", "--s3-endpoint", "s3.example"}},
		{nil, []string{"--blob-store", "s3:///p", "--s3-endpoint", "s3.example"}},
		{nil, []string{"--blob-store", "file://"}},
		{map[string]string{"FAVAD_S3_ACCESS_KEY": "only-half"}, []string{"--blob-store", "s3://b/p", "--s3-endpoint", "s3.example"}},
		{map[string]string{"AWS_SECRET_ACCESS_KEY": "only-half"}, []string{"--blob-store", "s3://b/p", "--s3-endpoint", "s3.example"}},
	} {
		_, err := open(tc.env, tc.args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v %v: err = %v; want a usage error", tc.env, tc.args, err)
		}
	}
}

// TestS3HintSaysWhatToDo: an object store's refusal, in its own words,
// comes with the flag or variable to mend; other errors are left alone.
func TestS3HintSaysWhatToDo(t *testing.T) {
	bare, keyed := testCLI(nil), testCLI(map[string]string{"FAVAD_S3_ACCESS_KEY": "k", "FAVAD_S3_SECRET_KEY": "s"})
	tests := []struct {
		c    *cli
		err  string
		hint string
	}{
		{bare, `backup: Get "https://127.0.0.1:9000/b/?location=": http: server gave HTTP response to HTTPS client`, "the S3 server speaks plain HTTP: give --s3-endpoint http://"},
		{bare, "backup: s3backup: upload favad-1.db: Access Denied.", "no S3 credentials were given: set $FAVAD_S3_ACCESS_KEY"},
		{keyed, "backup: The request signature we calculated does not match the signature you provided.", "check the S3 credentials"},
		{keyed, "backup: The specified bucket does not exist", "make the bucket first"},
		{bare, "open store: permission denied", ""},
	}
	for _, tt := range tests {
		err := tt.c.s3Hint(&exitError{code: 3, err: errors.New(tt.err)})
		if tt.hint == "" {
			if strings.Contains(err.Error(), "hint:") {
				t.Errorf("%q: a hint where none fits: %v", tt.err, err)
			}
			continue
		}
		if !strings.Contains(err.Error(), "hint: "+tt.hint) {
			t.Errorf("%q: got %q, want the hint %q", tt.err, err, tt.hint)
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 3 {
			t.Errorf("%q: the exit status is lost", tt.err)
		}
	}
}
