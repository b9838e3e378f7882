// Package s3test starts a real S3 server for tests: SeaweedFS's `weed
// server -s3` on loopback, with its data in a temporary directory and one
// access key. One server serves a whole test binary: the first test that asks
// starts it, and Main stops it when the tests are done. Each test gets its own
// prefix in a shared bucket, so tests do not see each other's objects.
//
// The weed binary is $FAVAD_WEED, else weed on PATH, else
// $HOME/.cache/favad/bin/weed (where .ci/run installs it). Without it the S3
// tests are skipped with a message, unless FAVAD_REQUIRE_S3 is set (as in
// CI): then they fail.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Bucket is the bucket every test's prefix lives in.
const Bucket = "favad-test"

// Target is where one test keeps its objects.
type Target struct {
	Endpoint  string // host:port, plain HTTP
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
	Prefix    string // unique to the test
}

// URL is the target as favad's --blob-store takes it: s3://bucket/prefix.
func (t Target) URL() string { return "s3://" + t.Bucket + "/" + t.Prefix }

// Client returns a minio client for the target's server, for tests that
// look at (or tamper with) objects directly.
func (t Target) Client(tb testing.TB) *minio.Client {
	tb.Helper()
	c, err := minio.New(t.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(t.AccessKey, t.SecretKey, ""),
		Region: t.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

type server struct {
	endpoint string
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	err      error // why it could not start
}

var (
	once    sync.Once
	shared  *server
	mu      sync.Mutex
	stopped bool
)

// Main runs the tests of a package that uses New, then stops the server:
// call it from TestMain as os.Exit(s3test.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the shared server, if one was started.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	stopped = true
	if shared != nil && shared.cmd != nil {
		shared.stop()
	}
	if shared != nil && shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

const (
	accessKey = "favadtestaccess"
	secretKey = "favadtestsecret0123456789"
	region    = "us-east-1"
)

// New returns a fresh prefix in the test bucket of the shared server,
// starting the server the first time. It skips the test when weed is not
// installed (fails it if FAVAD_REQUIRE_S3 is set).
func New(tb testing.TB) Target {
	tb.Helper()
	weed, err := Binary()
	if err != nil {
		msg := "no SeaweedFS to run the S3 tests against: " + err.Error() +
			"; install it with `go install github.com/seaweedfs/seaweedfs/weed@…` (see .ci/run) or set FAVAD_WEED"
		if os.Getenv("FAVAD_REQUIRE_S3") != "" {
			tb.Fatal("FAVAD_REQUIRE_S3 is set but " + msg)
		}
		tb.Skip(msg)
	}
	mu.Lock()
	if stopped {
		mu.Unlock()
		tb.Fatal("s3test: the server was stopped")
	}
	mu.Unlock()
	once.Do(func() { shared = start(weed) })
	if shared.err != nil {
		tb.Fatalf("s3test: %v", shared.err)
	}
	return Target{Endpoint: shared.endpoint, Region: region, AccessKey: accessKey, SecretKey: secretKey,
		Bucket: Bucket, Prefix: prefixFor(tb)}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func prefixFor(tb testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	name := unsafeChars.ReplaceAllString(tb.Name(), "-")
	if len(name) > 60 {
		name = name[:60]
	}
	return name + "-" + hex.EncodeToString(b[:])
}

// Binary finds the weed executable.
func Binary() (string, error) {
	if p := os.Getenv("FAVAD_WEED"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("FAVAD_WEED=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "favad", "bin", "weed")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("weed is not on PATH, in $FAVAD_WEED or in ~/.cache/favad/bin")
}

// freePorts returns n distinct ports free on loopback a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func start(weed string) *server {
	s := &server{}
	dir, err := os.MkdirTemp("", "favad-s3test-")
	if err != nil {
		s.err = err
		return s
	}
	s.dir = dir
	for attempt := 0; attempt < 3; attempt++ {
		if s.err = s.launch(weed); s.err == nil {
			return s
		}
	}
	return s
}

func (s *server) launch(weed string) error {
	p, err := freePorts(8)
	if err != nil {
		return err
	}
	conf := filepath.Join(s.dir, "s3.json")
	identities := map[string]any{"identities": []any{map[string]any{
		"name":        "favad",
		"credentials": []any{map[string]string{"accessKey": accessKey, "secretKey": secretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}
	b, _ := json.Marshal(identities)
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		return err
	}
	data := filepath.Join(s.dir, "data-"+strconv.Itoa(p[0]))
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	args := []string{"server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + data,
		"-master.port=" + strconv.Itoa(p[0]), "-master.port.grpc=" + strconv.Itoa(p[1]),
		"-volume.port=" + strconv.Itoa(p[2]), "-volume.port.grpc=" + strconv.Itoa(p[3]),
		"-filer.port=" + strconv.Itoa(p[4]), "-filer.port.grpc=" + strconv.Itoa(p[5]),
		"-s3", "-s3.port=" + strconv.Itoa(p[6]), "-s3.port.grpc=" + strconv.Itoa(p[7]),
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=" + conf,
		"-master.volumeSizeLimitMB=64", "-volume.max=0", "-master.telemetry=false",
		"-filer.localSocket=" + filepath.Join(s.dir, "filer-"+strconv.Itoa(p[4])+".sock"),
		"-s3.localSocket=" + filepath.Join(s.dir, "s3-"+strconv.Itoa(p[6])+".sock"),
	}
	logPath := filepath.Join(s.dir, "weed-"+strconv.Itoa(p[0])+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(weed, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", weed, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(s.exited) }()
	s.endpoint = "127.0.0.1:" + strconv.Itoa(p[6])
	if err := s.ready(90 * time.Second); err != nil {
		s.stop()
		log, _ := os.ReadFile(logPath)
		if len(log) > 4000 {
			log = log[len(log)-4000:]
		}
		return fmt.Errorf("weed server -s3 did not become ready: %v\n%s", err, log)
	}
	return nil
}

// ready waits until the server creates the bucket and stores and reads an
// object: the S3 port answers before the volume server has registered.
func (s *server) ready(limit time.Duration) error {
	c, err := minio.New(s.endpoint, &minio.Options{Creds: credentials.NewStaticV4(accessKey, secretKey, ""),
		Region: region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errors.New("weed exited")
		case <-time.After(250 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = probe(ctx, c)
		cancel()
		if last == nil {
			return nil
		}
	}
	return last
}

func probe(ctx context.Context, c *minio.Client) error {
	ok, err := c.BucketExists(ctx, Bucket)
	if err != nil {
		return err
	}
	if !ok {
		if err := c.MakeBucket(ctx, Bucket, minio.MakeBucketOptions{Region: region}); err != nil {
			return err
		}
	}
	if _, err := c.PutObject(ctx, Bucket, "probe", strings.NewReader("probe"), 5, minio.PutObjectOptions{}); err != nil {
		return err
	}
	return c.RemoveObject(ctx, Bucket, "probe", minio.RemoveObjectOptions{})
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	// Its data is thrown away: no need for an orderly shutdown.
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}
