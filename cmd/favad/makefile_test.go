package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repoRoot is where the Makefile is, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "Makefile")); err != nil {
		t.Skipf("no Makefile at %s: %v", root, err)
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	return root
}

// makeEnv is cleanEnv(extra…) without ADDR and DATA, which make would read.
func makeEnv(extra ...string) []string {
	var env []string
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "ADDR=") && !strings.HasPrefix(kv, "DATA=") && !strings.HasPrefix(kv, "MAKEFLAGS=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// makeDryRun prints what `make run args…` would run, with env added to a
// FAVAD_*-free environment.
func makeDryRun(t *testing.T, root string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-s", "-n", "run"}, args...)...)
	cmd.Dir, cmd.Env = root, makeEnv(env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	return string(out)
}

// TestMakeRunPassesFlagsOnlyWhenAsked pins issue 11 item 21: the Makefile
// always passed --addr and --data, so FAVAD_ADDR and FAVAD_DATA (which flags
// override) were ignored by `make run`. ADDR and DATA on make's command line
// still become the flags.
func TestMakeRunPassesFlagsOnlyWhenAsked(t *testing.T) {
	root := repoRoot(t)
	plain := makeDryRun(t, root, []string{"FAVAD_ADDR=127.0.0.1:9911", "FAVAD_DATA=/tmp/favad-x"})
	if strings.Contains(plain, "--addr") || strings.Contains(plain, "--data") {
		t.Errorf("make run passes flags that override FAVAD_ADDR/FAVAD_DATA:\n%s", plain)
	}
	if !strings.Contains(plain, "serve") || !strings.Contains(plain, "--demo") {
		t.Errorf("make run no longer runs the demo server:\n%s", plain)
	}
	given := makeDryRun(t, root, nil, "ADDR=127.0.0.1:9912", "DATA=/tmp/favad-y")
	if !strings.Contains(given, "--addr 127.0.0.1:9912") || !strings.Contains(given, "--data /tmp/favad-y") {
		t.Errorf("make run ADDR=… DATA=… does not pass them as flags:\n%s", given)
	}
}

// TestMakeRunHonoursFavadAddrAndData runs `make run` for real with
// FAVAD_ADDR and FAVAD_DATA set, and checks the server listens there and
// keeps its store there.
func TestMakeRunHonoursFavadAddrAndData(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and starts the server through make")
	}
	root := repoRoot(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := t.TempDir()
	if _, err := os.Stat(filepath.Join(root, "data")); os.IsNotExist(err) {
		// Were FAVAD_DATA ignored, the server would make ./data in the checkout: take it away again.
		t.Cleanup(func() { _ = os.RemoveAll(filepath.Join(root, "data")) })
	}
	cmd := exec.Command("make", "-s", "run")
	cmd.Dir = root
	cmd.Env = makeEnv("FAVAD_ADDR=127.0.0.1:"+strconv.Itoa(port), "FAVAD_DATA="+data, "FAVAD_LOG_LEVEL=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // make, go run and favad: stopped together
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "FAVAD listening on "); ok {
				urls <- strings.Fields(u)[0]
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		// Ctrl-C in the terminal: the server stops cleanly, and make says
		// nothing of an error (with `go run` it said "Error 1").
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-done:
			// make itself ends by the same interrupt; what it must not do is blame the server.
			if strings.Contains(stderr.String(), "Error") {
				t.Errorf("make run after Ctrl-C:\n%s", stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	select {
	case u := <-urls:
		if want := "127.0.0.1:" + strconv.Itoa(port); !strings.Contains(u, want) {
			t.Errorf("make run listens on %s, not on FAVAD_ADDR %s", u, want)
		}
	case <-done:
		t.Fatalf("make run exited before listening; stderr:\n%s", stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("make run did not listen within 3 minutes; stderr:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(data, "favad.db")); err != nil {
		t.Errorf("make run did not keep its store in FAVAD_DATA: %v", err)
	}
}
