package main

// End-to-end tests: the favad binary is built once and run as a real process,
// the way an operator runs it. Servers listen on 127.0.0.1 only.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	stdsync "sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/demo"
	"github.com/favad/favad/internal/s3test"
	favsync "github.com/favad/favad/sync"
)

var favadBin string

func TestMain(m *testing.M) {
	if runtime.GOOS == "windows" {
		fmt.Println("skipping: the end-to-end tests use SIGTERM and unix sockets")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "favad-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	favadBin = filepath.Join(dir, "favad")
	build := exec.Command("go", "build", "-o", favadBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build favad:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	s3test.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is the test process's environment without FAVAD_* variables, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

type result struct {
	stdout, stderr string
	code           int
}

// runFavad runs one favad command to completion.
func runFavad(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, favadBin, args...)
	cmd.Env = cleanEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("favad %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errb.String(), code}
}

// mustRun runs a favad command that must succeed.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := runFavad(t, nil, stdin, args...)
	if r.code != 0 {
		t.Fatalf("favad %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu  stdsync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serverProc is a running `favad serve`.
type serverProc struct {
	cmd    *exec.Cmd
	url    string
	stdout *lockedBuffer // everything printed after the listening line
	stderr *lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, once done is closed
}

// startServer runs `favad serve --addr 127.0.0.1:0 --data dataDir extra…` and
// waits for its "FAVAD listening on" line, then half a second more for what it
// prints after it.
func startServer(t *testing.T, dataDir string, extra ...string) *serverProc {
	t.Helper()
	return startServerEnv(t, nil, dataDir, extra...)
}

// startServerEnv is startServer with env added to the server's environment.
func startServerEnv(t *testing.T, env []string, dataDir string, extra ...string) *serverProc {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--log-level", "warn"}, extra...)
	p, urls := launchFavad(t, env, args...)
	p.waitListening(t, urls, 10*time.Second)
	return p
}

// launchFavad starts favad args; the channel gets the URL of its
// "FAVAD listening on" line, if it prints one.
func launchFavad(t *testing.T, env []string, args ...string) (*serverProc, <-chan string) {
	t.Helper()
	cmd := exec.Command(favadBin, args...)
	cmd.Env = cleanEnv(env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "FAVAD listening on "); ok {
				urls <- strings.Fields(u)[0]
				continue
			}
			p.stdout.Write([]byte(line + "\n"))
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, urls
}

// waitListening waits for p's URL on urls, then half a second more for what
// it prints after it.
func (p *serverProc) waitListening(t *testing.T, urls <-chan string, timeout time.Duration) {
	t.Helper()
	select {
	case p.url = <-urls:
	case <-p.done:
		t.Fatalf("favad exited (%v) before listening; stderr:\n%s", p.err, p.stderr)
	case <-time.After(timeout):
		t.Fatalf("favad did not print its URL within %s; stderr:\n%s", timeout, p.stderr)
	}
	time.Sleep(500 * time.Millisecond)
}

// stop sends SIGTERM and requires a clean exit within the shutdown timeout.
func (p *serverProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("favad serve exited with %v after SIGTERM; stderr:\n%s", p.err, p.stderr)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("favad serve did not exit within 25s of SIGTERM")
	}
}

// login signs in and returns the HTTP status and the access token.
func login(t *testing.T, baseURL, username, password string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password, "device_id": "e2e-device-" + username})
	resp, err := http.Post(baseURL+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &tok); err != nil {
			t.Fatalf("login response: %v: %s", err, raw)
		}
	}
	return resp.StatusCode, tok.AccessToken
}

// countComplaints opens a store file read-only and counts its complaints.
func countComplaints(t *testing.T, path string) int {
	t.Helper()
	s, err := favsync.Open(path, favsync.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer s.Close()
	items, _, err := s.ListComplaints(favsync.ComplaintFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}

// TestServeBackupRestoreUsers walks an operator's day: start with demo data,
// sign in, back up while serving, stop, restore, manage accounts, restart.
func TestServeBackupRestoreUsers(t *testing.T) {
	data := t.TempDir()
	backup := filepath.Join(t.TempDir(), "favad-backup.db")

	srv := startServer(t, data, "--demo")
	for _, want := range []string{"dispatcher", "inspector.field", "inspector.phone", "supervisor", "admin", demo.Password} {
		if !strings.Contains(srv.stdout.String(), want) {
			t.Errorf("serve --demo output lacks %q:\n%s", want, srv.stdout)
		}
	}
	resp, err := http.Get(srv.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	if code, tok := login(t, srv.url, "dispatcher", demo.Password); code != http.StatusOK || tok == "" {
		t.Fatalf("demo dispatcher login: %d, token %q", code, tok)
	}
	if fi, err := os.Stat(filepath.Join(data, "admin.sock")); err != nil {
		t.Errorf("admin socket: %v", err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket mode %v; want 0600", fi.Mode().Perm())
	}

	// Hot backup, through the admin socket.
	out := mustRun(t, "", "backup", "--data", data, "--out", backup)
	if !strings.Contains(out, "streamed from the running server") || !strings.Contains(out, "sequence") {
		t.Errorf("backup output: %s", out)
	}
	if n := countComplaints(t, backup); n != 6 {
		t.Errorf("backup holds %d complaints, want the 6 demo complaints", n)
	}
	if _, err := os.Stat(backup + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("backup left its temporary file: %v", err)
	}

	// Commands that need the store refuse while the server holds it.
	for _, args := range [][]string{
		{"restore", "--data", data, "--in", backup},
	} {
		r := runFavad(t, nil, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "stop the server first") {
			t.Errorf("favad %v while serving: exit %d, stderr %q; want 1 and 'stop the server first'", args, r.code, r.stderr)
		}
	}

	srv.stop(t)
	if _, err := os.Stat(filepath.Join(data, "admin.sock")); !os.IsNotExist(err) {
		t.Errorf("admin socket left after shutdown: %v", err)
	}
	// The store is closed: a read-only open gets the lock at once.
	if s, err := favsync.Open(filepath.Join(data, "favad.db"), favsync.Options{ReadOnly: true, LockTimeout: 100 * time.Millisecond}); err != nil {
		t.Fatalf("store still locked after shutdown: %v", err)
	} else {
		s.Close()
	}

	// Cold backup reads the file directly.
	cold := filepath.Join(t.TempDir(), "cold.db")
	if out := mustRun(t, "", "backup", "--data", data, "--out", cold); !strings.Contains(out, "read directly") {
		t.Errorf("cold backup output: %s", out)
	}

	// A change after the backup, undone by the restore.
	mustRun(t, "late-account-password\n", "users", "add", "--data", data, "--username", "late.user", "--role", "supervisor", "--password-stdin")
	if _, err := os.Stat(filepath.Join(data, "reports.snapshot")); err != nil {
		t.Errorf("the server saved no reports snapshot at shutdown: %v", err)
	}
	out = mustRun(t, "", "restore", "--data", data, "--in", backup)
	if _, err := os.Stat(filepath.Join(data, "reports.snapshot")); !os.IsNotExist(err) {
		t.Errorf("restore left the reports' snapshot of the replaced history: %v", err)
	}
	if !strings.Contains(out, "before-restore-") {
		t.Errorf("restore output: %s", out)
	}
	if aside, _ := filepath.Glob(filepath.Join(data, "favad.db.before-restore-*")); len(aside) != 1 {
		t.Errorf("previous store kept as %v; want one favad.db.before-restore-* file", aside)
	}
	if n := countComplaints(t, filepath.Join(data, "favad.db")); n != 6 {
		t.Errorf("restored store holds %d complaints, want 6", n)
	}

	// users list, with the data directory from the environment.
	r := runFavad(t, []string{"FAVAD_DATA=" + data}, "", "users", "list")
	if r.code != 0 {
		t.Fatalf("users list: exit %d: %s", r.code, r.stderr)
	}
	for _, name := range []string{"dispatcher", "inspector.field", "inspector.phone", "supervisor", "admin"} {
		if !strings.Contains(r.stdout, name) {
			t.Errorf("users list lacks %s:\n%s", name, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "late.user") {
		t.Errorf("users list shows late.user, created after the backup that was restored:\n%s", r.stdout)
	}

	// A new account, then disable and enable another.
	mustRun(t, "a-brand-new-password\n", "users", "add", "--data", data, "--username", "new.dispatcher",
		"--role", "dispatcher", "--name", "پریسا نوری", "--password-stdin")
	if r := runFavad(t, nil, "short\n", "users", "add", "--data", data, "--username", "weak.user", "--role", "admin", "--password-stdin"); r.code != 1 || !strings.Contains(r.stderr, "too short") {
		t.Errorf("users add with a short password: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runFavad(t, nil, "", "users", "add", "--data", data, "--username", "no.password", "--role", "admin"); r.code != 2 || !strings.Contains(r.stderr, "--password-stdin") {
		t.Errorf("users add without a terminal or --password-stdin: exit %d, stderr %q", r.code, r.stderr)
	}
	mustRun(t, "", "users", "disable", "--data", data, "--username", "supervisor")
	mustRun(t, "reset-password-123\n", "users", "reset-password", "--data", data, "--username", "admin", "--password-stdin")

	srv = startServer(t, data)
	if strings.Contains(srv.stdout.String(), "Demo") {
		t.Errorf("serve without --demo printed demo logins:\n%s", srv.stdout)
	}
	if code, _ := login(t, srv.url, "new.dispatcher", "a-brand-new-password"); code != http.StatusOK {
		t.Errorf("login as the account added on the command line: %d", code)
	}
	if code, _ := login(t, srv.url, "supervisor", demo.Password); code == http.StatusOK {
		t.Error("a disabled account signed in")
	}
	if code, _ := login(t, srv.url, "admin", "reset-password-123"); code != http.StatusOK {
		t.Errorf("login with the reset password: %d", code)
	}
	srv.stop(t)
}

// writeSchemaVersion makes a store file that claims schema version v.
func writeSchemaVersion(t *testing.T, path string, v uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesNewerSchema(t *testing.T) {
	data := t.TempDir()
	writeSchemaVersion(t, filepath.Join(data, "favad.db"), 99)

	r := runFavad(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--data", data)
	if r.code == 0 || !strings.Contains(r.stderr, "newer version") || strings.Contains(r.stderr, "goroutine") {
		t.Fatalf("serve on a newer store: exit %d, stderr:\n%s\nwant a non-zero exit and a message naming the newer version", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "listening") {
		t.Errorf("serve on a newer store started listening: %s", r.stdout)
	}

	// restore refuses such a file as a backup, too.
	r = runFavad(t, nil, "", "restore", "--data", t.TempDir(), "--in", filepath.Join(data, "favad.db"))
	if r.code != 1 || !strings.Contains(r.stderr, "newer version") {
		t.Errorf("restore of a newer store: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDemoCommand(t *testing.T) {
	data := t.TempDir()
	out := mustRun(t, "", "demo", "--data", data)
	if !strings.Contains(out, "24 offices") || !strings.Contains(out, demo.Password) {
		t.Errorf("demo output:\n%s", out)
	}
	out = mustRun(t, "", "demo", "--data", data)
	if !strings.Contains(out, "not loaded") {
		t.Errorf("second demo output:\n%s", out)
	}
	if n := countComplaints(t, filepath.Join(data, "favad.db")); n != 6 {
		t.Errorf("complaints after two demo loads: %d, want 6", n)
	}
}

func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"unknown command", nil, []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"serve", "--no-such-flag"}, 2, "no-such-flag"},
		{"tls half", nil, []string{"serve", "--tls-cert", "c.pem"}, 2, "--tls-key"},
		{"bad sla", nil, []string{"serve", "--sla", "urgent=soon"}, 2, "--sla"},
		{"bad proxy", nil, []string{"serve", "--trusted-proxies", "10.0.0.0/99"}, 2, "--trusted-proxies"},
		{"bad log level from env", []string{"FAVAD_LOG_LEVEL=loud"}, []string{"serve"}, 2, "--log-level"},
		{"bad duration from env", []string{"FAVAD_ACCESS_TTL=soon"}, []string{"serve"}, 2, `FAVAD_ACCESS_TTL="soon": parse error; give a duration such as 90s, 15m or 2h`},
		{"bad duration flag", nil, []string{"serve", "--access-ttl", "5x"}, 2, "give a duration such as 90s, 15m or 2h"},
		{"bad boolean flag", nil, []string{"serve", "--demo=perhaps"}, 2, "give true or false"},
		{"data is a file", nil, []string{"serve", "--addr", "127.0.0.1:0", "--data", "main_test.go"}, 1, "--data main_test.go is a file, not a directory"},
		{"backup without out", nil, []string{"backup", "--data", "x"}, 2, "--out"},
		{"restore missing file", nil, []string{"restore", "--data", "x", "--in", "/nonexistent/favad.db"}, 1, "/nonexistent/favad.db"},
		{"users without action", nil, []string{"users"}, 2, "needs an action"},
		{"users list of no store", nil, []string{"users", "list", "--data", "/nonexistent"}, 1, "no store"},
		{"bad role", nil, []string{"users", "add", "--username", "x.y", "--role", "king"}, 2, "--role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runFavad(t, tt.env, "", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || !strings.HasPrefix(r.stderr, "favad: ") {
				t.Errorf("favad %v: exit %d, stderr %q; want exit %d and 'favad: …%s…'", tt.args, r.code, r.stderr, tt.code, tt.want)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	if out := mustRun(t, "", "version"); !strings.HasPrefix(out, "favad ") {
		t.Errorf("version: %q", out)
	}
	if out := mustRun(t, "", "help"); !strings.Contains(out, "backup") {
		t.Errorf("help: %q", out)
	}
	if out := mustRun(t, "", "serve", "-h"); !strings.Contains(out, "FAVAD_ADDR") || !strings.Contains(out, "FAVAD_JWT_KEY_FILE") {
		t.Errorf("serve -h does not name the environment variables:\n%s", out)
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "favad test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLS(t *testing.T) {
	data := t.TempDir()
	certFile, keyFile, pool := writeTestCert(t, t.TempDir())
	srv := startServer(t, data, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(srv.url, "https://127.0.0.1:") {
		t.Fatalf("URL %q; want https", srv.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(srv.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz over TLS: %d", resp.StatusCode)
	}
	client.CloseIdleConnections()
	srv.stop(t)
}

// TestSecondSignalExitsAtOnce holds a request open, so that the first SIGTERM
// waits for it to finish; the second must end the process at once.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	srv := startServer(t, t.TempDir())
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A login whose body never arrives: the handler waits in its read.
	fmt.Fprintf(conn, "POST /v1/auth/login HTTP/1.1\r\nHost: favad\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	time.Sleep(200 * time.Millisecond)

	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
		t.Fatalf("favad exited (%v) with a request in flight after one signal; it should wait for it", srv.err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
		ee, ok := srv.err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("exit after the second signal: %v; want status 1", srv.err)
		}
		if !strings.Contains(srv.stderr.String(), "second") {
			t.Errorf("stderr does not say why it exited:\n%s", srv.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("favad did not exit within 5s of a second SIGTERM")
	}
}

// TestServeSaysHowToMakeTheFirstAdmin: a store with no enabled admin
// account (a first start without --demo) says how to make one, in the log;
// once there is one, nothing is said.
func TestServeSaysHowToMakeTheFirstAdmin(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	srv.stop(t)
	if !strings.Contains(srv.stderr.String(), "no enabled admin account") || !strings.Contains(srv.stderr.String(), "--role admin") {
		t.Errorf("a first start says nothing of the first admin:\n%s", srv.stderr)
	}
	mustRun(t, "a-long-admin-password\n", "users", "add", "--data", data, "--username", "first.admin", "--role", "admin", "--password-stdin")
	srv = startServer(t, data)
	srv.stop(t)
	if strings.Contains(srv.stderr.String(), "no enabled admin account") {
		t.Errorf("warned with an admin account:\n%s", srv.stderr)
	}
}

// TestUsersWhileServing: `favad users` works while the server runs, through
// its admin socket: an operator lets a locked-out admin back in without
// stopping the 128 line. Each change takes effect on the running server at
// once, and a refusal (a name taken, an unknown account) reads as it does
// on a stopped store.
func TestUsersWhileServing(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "--demo")
	dispatcher := apiLogin(t, srv.url, "dispatcher")

	mustRun(t, "a-new-admin-password\n", "users", "add", "--data", data, "--username", "second.admin", "--role", "admin", "--password-stdin")
	if out := mustRun(t, "", "users", "list", "--data", data); !strings.Contains(out, "second.admin") {
		t.Errorf("users list while serving:\n%s", out)
	}
	loginAs := func(username, password string) int {
		t.Helper()
		body := strings.NewReader(`{"username":"` + username + `","password":"` + password + `","device_id":"cli-test-` + username + `"}`)
		resp, err := http.Post(srv.url+"/v1/auth/login", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := loginAs("second.admin", "a-new-admin-password"); code != http.StatusOK {
		t.Errorf("the admin made while serving signs in: %d", code)
	}

	mustRun(t, "reset-admin-password\n", "users", "reset-password", "--data", data, "--username", "admin", "--password-stdin")
	if code := loginAs("admin", demo.Password); code != http.StatusUnauthorized {
		t.Errorf("the old password after a reset while serving: %d", code)
	}
	if code := loginAs("admin", "reset-admin-password"); code != http.StatusOK {
		t.Errorf("the new password: %d", code)
	}

	mustRun(t, "", "users", "disable", "--data", data, "--username", "dispatcher")
	req, _ := http.NewRequest(http.MethodGet, srv.url+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+dispatcher)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a disabled account's token while serving: %d, want 403", resp.StatusCode)
	}

	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"another-password-1\n", []string{"users", "add", "--data", data, "--username", "second.admin", "--role", "admin", "--password-stdin"}, "taken"},
		{"", []string{"users", "enable", "--data", data, "--username", "nobody"}, `no user with id "nobody"`},
	} {
		if r := runFavad(t, nil, c.stdin, c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("favad %v while serving: exit %d, want a refusal saying %q:\n%s%s", c.args, r.code, c.want, r.stdout, r.stderr)
		}
	}
	srv.stop(t)
}
