package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/favad/favad/internal/s3test"
)

// TestBackupToS3AndRestore: `favad backup --to s3://…` streams a backup to
// object storage (SeaweedFS) while the server runs and after it stops, each
// named by time and recording the change-log sequence it holds;
// `favad restore --from s3://…` brings back the newest or a named one, and
// refuses one whose bytes were changed.
func TestBackupToS3AndRestore(t *testing.T) {
	tg := s3test.New(t)
	to := tg.URL()
	s3flags := []string{"--s3-endpoint", "http://" + tg.Endpoint, "--s3-region", tg.Region, "--s3-path-style"}
	env := []string{"FAVAD_S3_ACCESS_KEY=" + tg.AccessKey, "FAVAD_S3_SECRET_KEY=" + tg.SecretKey}
	run := func(args ...string) result {
		t.Helper()
		return runFavad(t, env, "", append(args, s3flags...)...)
	}
	report := regexp.MustCompile(`backup (favad-\S+) written to .*: (\d+) bytes, change log at sequence (\d+)`)

	data := t.TempDir()
	srv := startServer(t, data, "--demo")
	r := run("backup", "--data", data, "--to", to)
	m := report.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || !strings.Contains(r.stdout, "streamed from the running server") {
		t.Fatalf("backup --to while the server runs (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	first, firstSeq := m[1], m[3]
	// More work after the first backup: the second holds a later sequence.
	dispatcher := apiLogin(t, srv.url, "dispatcher")
	apiDo(t, srv.url, dispatcher, "POST", "/v1/complaints", map[string]any{"call_id": "S3-BACKUP-1", "category": "absent_employee",
		"description": "کارمند حاضر نیست", "call_time": time.Now().UTC().Format(time.RFC3339), "office_code": "QZ-SSO-01", "priority": "normal"}, nil)
	srv.stop(t)
	r = run("backup", "--data", data, "--to", to)
	m = report.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || !strings.Contains(r.stdout, "read directly") {
		t.Fatalf("backup --to with the server stopped (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	second, secondSeq := m[1], m[3]
	if a, b := atoi(t, firstSeq), atoi(t, secondSeq); second <= first || b <= a {
		t.Fatalf("the second backup %s (seq %s) must be newer than the first %s (seq %s)", second, secondSeq, first, firstSeq)
	}

	// The newest by default, into an empty data directory.
	fresh := t.TempDir()
	r = run("restore", "--data", fresh, "--from", to)
	if r.code != 0 || !strings.Contains(r.stdout, second) || !strings.Contains(r.stdout, "change log at sequence "+secondSeq+"\n") {
		t.Fatalf("restore --from (newest, want %s at %s) (exit %d):\n%s%s", second, secondSeq, r.code, r.stdout, r.stderr)
	}
	// A named one, over it; the server starts on it.
	r = run("restore", "--data", fresh, "--from", to, "--name", first)
	if r.code != 0 || !strings.Contains(r.stdout, first) || !strings.Contains(r.stdout, "change log at sequence "+firstSeq+"\n") {
		t.Fatalf("restore --from --name %s (exit %d):\n%s%s", first, r.code, r.stdout, r.stderr)
	}
	matches, _ := filepath.Glob(filepath.Join(fresh, ".restore-download-*"))
	if len(matches) > 0 {
		t.Errorf("downloads left behind: %v", matches)
	}
	srv = startServer(t, fresh)
	srv.stop(t)

	// Bytes changed in the bucket: the restore refuses them.
	bad := []byte("not a store")
	if _, err := tg.Client(t).PutObject(context.Background(), tg.Bucket, tg.Prefix+"/backups/"+second+".db", bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	r = run("restore", "--data", fresh, "--from", to)
	if r.code == 0 || !strings.Contains(r.stderr, "is not the backup its manifest describes") {
		t.Fatalf("restore of altered bytes must fail (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run("restore", "--data", fresh, "--from", to, "--name", "favad-20200101T000000.000Z")
	if r.code == 0 || !strings.Contains(r.stderr, "no backup") {
		t.Fatalf("restore of a missing backup must fail (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestScheduledBackupsToS3: `favad serve --backup-to s3://… --backup-every
// --backup-keep` takes backups while it serves and deletes the oldest
// beyond the number kept; the newest restores.
func TestScheduledBackupsToS3(t *testing.T) {
	tg := s3test.New(t)
	env := []string{"FAVAD_S3_ACCESS_KEY=" + tg.AccessKey, "FAVAD_S3_SECRET_KEY=" + tg.SecretKey}
	s3flags := []string{"--s3-endpoint", "http://" + tg.Endpoint, "--s3-region", tg.Region, "--s3-path-style"}
	data := t.TempDir()
	srv := startServerEnv(t, env, data, append([]string{"--demo", "--log-level", "info",
		"--backup-to", tg.URL(), "--backup-every", "1s", "--backup-keep", "2"}, s3flags...)...)
	removed := regexp.MustCompile(`"msg":"old backups removed"[^\n]*"names":\["(favad-[^"]+)"`)
	var gone string
	for deadline := time.Now().Add(90 * time.Second); gone == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if m := removed.FindStringSubmatch(srv.stderr.String()); m != nil {
			gone = m[1]
		}
	}
	if gone == "" {
		t.Fatalf("no scheduled backup was pruned; stderr:\n%s", srv.stderr)
	}
	srv.stop(t)
	var manifests []string
	for obj := range tg.Client(t).ListObjects(context.Background(), tg.Bucket, minio.ListObjectsOptions{Prefix: tg.Prefix + "/backups/"}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		if strings.Contains(obj.Key, gone) {
			t.Errorf("%s is still there after it was pruned", obj.Key)
		}
		if strings.HasSuffix(obj.Key, ".json") {
			manifests = append(manifests, obj.Key)
		}
	}
	// Two kept, and perhaps one more taken as the server stopped, before its pruning.
	if len(manifests) < 2 || len(manifests) > 3 {
		t.Errorf("backups kept: %v; want the newest 2 (3 if one came at the stop)", manifests)
	}
	r := runFavad(t, env, "", append([]string{"restore", "--data", t.TempDir(), "--from", tg.URL()}, s3flags...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "restored ") {
		t.Fatalf("restore of the newest scheduled backup (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestScheduledBackupsRunFromTheNewestNotFromTheStart: a server with no
// backup in --backup-to takes one at once; one restarted before
// --backup-every has passed since the newest takes none at start (the
// schedule runs from the newest backup, so a server restarted more often
// than the interval still backs up). /metrics says when the newest was taken.
func TestScheduledBackupsRunFromTheNewestNotFromTheStart(t *testing.T) {
	tg := s3test.New(t)
	env := []string{"FAVAD_S3_ACCESS_KEY=" + tg.AccessKey, "FAVAD_S3_SECRET_KEY=" + tg.SecretKey}
	s3flags := []string{"--s3-endpoint", "http://" + tg.Endpoint, "--s3-region", tg.Region, "--s3-path-style"}
	data := t.TempDir()
	args := append([]string{"--demo", "--log-level", "info", "--backup-to", tg.URL(), "--backup-every", "1h"}, s3flags...)
	taken := `"msg":"scheduled backup"`
	srv := startServerEnv(t, env, data, args...)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(srv.stderr.String(), taken) && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
	}
	if !strings.Contains(srv.stderr.String(), taken) {
		t.Fatalf("no backup taken at start with none in the bucket; stderr:\n%s", srv.stderr)
	}
	srv.stop(t)

	srv = startServerEnv(t, env, data, args...)
	metrics := httpGet(t, srv.url+"/metrics")
	m := regexp.MustCompile(`(?m)^favad_backup_last_success_timestamp_seconds (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		t.Fatalf("no favad_backup_last_success_timestamp_seconds in /metrics:\n%s", metrics)
	}
	if at, _ := strconv.ParseFloat(m[1], 64); time.Since(time.Unix(int64(at), 0)) > time.Minute {
		t.Errorf("newest backup at %s, want the one just taken", m[1])
	}
	if !strings.Contains(metrics, "favad_backup_failures_total 0") {
		t.Errorf("want no failed backup counted:\n%s", metrics)
	}
	time.Sleep(time.Second)
	if strings.Contains(srv.stderr.String(), taken) {
		t.Errorf("a backup at the second start, though the newest is younger than --backup-every; stderr:\n%s", srv.stderr)
	}
	srv.stop(t)
}

// TestServeRefusesABackupPlaceItCannotReach: a wrong bucket or secret in
// --backup-to stops the server at start, naming the flag, instead of
// showing first in a log line an interval later.
func TestServeRefusesABackupPlaceItCannotReach(t *testing.T) {
	tg := s3test.New(t)
	s3flags := []string{"--s3-endpoint", "http://" + tg.Endpoint, "--s3-region", tg.Region, "--s3-path-style"}
	for name, c := range map[string]struct {
		env []string
		to  string
	}{
		"no such bucket": {[]string{"FAVAD_S3_ACCESS_KEY=" + tg.AccessKey, "FAVAD_S3_SECRET_KEY=" + tg.SecretKey}, "s3://no-such-bucket-favad/x"},
		"wrong secret":   {[]string{"FAVAD_S3_ACCESS_KEY=" + tg.AccessKey, "FAVAD_S3_SECRET_KEY=wrong-" + tg.SecretKey}, tg.URL()},
	} {
		r := runFavad(t, c.env, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--backup-to", c.to}, s3flags...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "--backup-to") {
			t.Errorf("%s: exit %d, want a refusal naming --backup-to:\n%s%s", name, r.code, r.stdout, r.stderr)
		}
	}
}

// httpGet returns the body of a GET of url.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeStartsWhenTheBackupPlaceDoesNotAnswer: object storage that does
// not answer (down, unreachable) does not keep the server from starting —
// only a wrong bucket or credentials do; the failed backups are logged and
// counted, and tried again with a growing pause.
func TestServeStartsWhenTheBackupPlaceDoesNotAnswer(t *testing.T) {
	env := []string{"FAVAD_S3_ACCESS_KEY=key", "FAVAD_S3_SECRET_KEY=secret-key"}
	srv := startServerEnv(t, env, t.TempDir(), "--log-level", "info", "--backup-to", "s3://favad-backups/qazvin", "--backup-every", "10s",
		"--s3-endpoint", "http://127.0.0.1:1", "--s3-region", "us-east-1", "--s3-path-style")
	failures := regexp.MustCompile(`(?m)^favad_backup_failures_total (\d+)$`)
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if m := failures.FindStringSubmatch(httpGet(t, srv.url+"/metrics")); m != nil && m[1] != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed backup counted; stderr:\n%s", srv.stderr)
		}
	}
	if !strings.Contains(srv.stderr.String(), "does not answer now; serving anyway") {
		t.Errorf("the start does not say the backups' storage is not answering:\n%s", srv.stderr)
	}
	srv.stop(t)
}
