package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"
)

// TestServeConfigConnectionAndBodyLimits: --body-idle-timeout,
// --max-conns-per-addr and the push gate's --push-in-flight and
// --push-queue-wait come from flags or their FAVAD_* variables; 0
// connections means no bound; nonsense is a usage error.
func TestServeConfigConnectionAndBodyLimits(t *testing.T) {
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
	if cfg.BodyIdle != 30*time.Second || cfg.conns != 256 {
		t.Errorf("defaults: body idle %s, conns %d; want 30s and 256", cfg.BodyIdle, cfg.conns)
	}
	cfg, err = parse(map[string]string{"FAVAD_BODY_IDLE_TIMEOUT": "45s", "FAVAD_MAX_CONNS_PER_ADDR": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BodyIdle != 45*time.Second || cfg.conns >= 0 {
		t.Errorf("from the environment: body idle %s, conns %d; want 45s and no bound", cfg.BodyIdle, cfg.conns)
	}
	cfg, err = parse(map[string]string{"FAVAD_MAX_CONNS_PER_ADDR": "0"}, "--max-conns-per-addr", "32")
	if err != nil || cfg.conns != 32 {
		t.Errorf("the flag wins: conns %d, err %v", cfg.conns, err)
	}
	cfg, err = parse(map[string]string{"FAVAD_PUSH_IN_FLIGHT": "8000"}, "--push-queue-wait", "5s")
	if err != nil || cfg.PushInFlight != 8000 || cfg.PushQueueWait != 5*time.Second {
		t.Errorf("push gate: %d mutations, wait %s, err %v; want 8000 and 5s", cfg.PushInFlight, cfg.PushQueueWait, err)
	}
	for _, args := range [][]string{{"--max-conns-per-addr", "-1"}, {"--body-idle-timeout", "10ms"}, {"--body-idle-timeout", "1h"},
		{"--push-in-flight", "10"}, {"--push-queue-wait", "0s"}, {"--push-queue-wait", "2m"}} {
		var u usageError
		if _, err := parse(nil, args...); !errors.As(err, &u) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

// TestServeCutsStalledBodiesAndBoundsConnections: the real `favad serve`
// closes a connection whose body stalls past --body-idle-timeout, and
// refuses a connection past --max-conns-per-addr from one address while
// serving another.
func TestServeCutsStalledBodiesAndBoundsConnections(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--body-idle-timeout", "1s", "--max-conns-per-addr", "2")
	u, err := url.Parse(srv.url)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(from string) net.Conn {
		t.Helper()
		conn, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}).Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		return conn
	}
	healthz := func(conn net.Conn) error {
		if _, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: favad\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}

	stalled := dial("127.0.0.1")
	fmt.Fprintf(stalled, "POST /v1/auth/login HTTP/1.1\r\nHost: favad\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{\"username\":")
	if _, err := io.ReadAll(stalled); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a stalled body still holds its connection after 20s")
	}

	for i := range 2 {
		if err := healthz(dial("127.0.0.2")); err != nil {
			t.Fatalf("connection %d from 127.0.0.2: %v", i+1, err)
		}
	}
	err = healthz(dial("127.0.0.2"))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection from 127.0.0.2 is closed unserved; got %v", err)
	}
	if err := healthz(dial("127.0.0.1")); err != nil {
		t.Fatalf("127.0.0.1 is not held back: %v", err)
	}
	srv.stop(t)
}
