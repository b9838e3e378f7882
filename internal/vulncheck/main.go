// Command vulncheck runs govulncheck over the module offline, against the Go
// vulnerability database as published in the golang.org/x/vulndb module
// (which the Go module proxy serves), and fails on any vulnerability the
// code calls that allow.txt does not list with a reason.
//
// vuln.go.dev, govulncheck's own source, may be unreachable (it is where
// FAVAD is built); the database pinned here is, and a pinned database makes
// the check repeatable: a new advisory fails the check only when the pin is
// moved. Usage (from the module root; `make vulncheck` does this):
//
//	go run ./internal/vulncheck [-db DIR] [-allow FILE] [packages]
//
// The database is built once into the user's cache directory (about 40 MB,
// index/ and ID/ as govulncheck's -db file:// expects).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The pinned versions: govulncheck, and the vulnerability database module.
const (
	govulncheck = "golang.org/x/vuln/cmd/govulncheck@v1.9.0"
	vulndb      = "golang.org/x/vulndb"
	vulndbAt    = "v0.0.0-20261105234957-e22db6528018"
)

func main() {
	db := flag.String("db", "", "directory of the offline database (default: the user cache directory)")
	allow := flag.String("allow", filepath.Join("internal", "vulncheck", "allow.txt"), "accepted findings: one id per line, then a reason")
	flag.Parse()
	pkgs := flag.Args()
	if len(pkgs) == 0 {
		pkgs = []string{"./..."}
	}
	if err := run(*db, *allow, pkgs, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(1)
	}
}

func run(dbDir, allowPath string, pkgs []string, out io.Writer) error {
	allowed, err := readAllow(allowPath)
	if err != nil {
		return err
	}
	if dbDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return err
		}
		dbDir = filepath.Join(cache, "favad-vulndb", vulndbAt)
	}
	if err := ensureDB(dbDir); err != nil {
		return fmt.Errorf("build the offline database: %w", err)
	}
	abs, err := filepath.Abs(dbDir)
	if err != nil {
		return err
	}
	args := append([]string{"run", govulncheck, "-db", "file://" + abs, "-format", "json"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go run %s: %w", govulncheck, err)
	}
	called, summaries, err := calledVulns(raw)
	if err != nil {
		return err
	}
	var failed []string
	for _, id := range called {
		if reason, ok := allowed[id]; ok {
			fmt.Fprintf(out, "accepted  %s  %s\n          (%s)\n", id, summaries[id], reason)
			continue
		}
		fmt.Fprintf(out, "CALLED    %s  %s\n", id, summaries[id])
		failed = append(failed, id)
	}
	for id := range allowed {
		if !slices.Contains(called, id) {
			fmt.Fprintf(out, "note: %s is in %s but no longer found; remove it\n", id, allowPath)
		}
	}
	fmt.Fprintf(out, "govulncheck %s, database %s@%s: %d called, %d accepted, %d not accepted\n",
		strings.TrimPrefix(govulncheck, "golang.org/x/vuln/cmd/govulncheck@"), vulndb, vulndbAt, len(called), len(called)-len(failed), len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("%d vulnerabilities the code calls are not accepted in %s: fix them (upgrade the module or Go) or add each with its reason", len(failed), allowPath)
	}
	return nil
}

// readAllow reads lines "ID reason…"; blank lines and # comments are skipped.
// Every id needs a reason.
func readAllow(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: %s has no reason", path, n, id)
		}
		out[id] = strings.TrimSpace(reason)
	}
	return out, sc.Err()
}

// calledVulns reads govulncheck's JSON stream and returns the ids of the
// vulnerabilities with a symbol-level finding (the code calls them), sorted,
// and each one's summary.
func calledVulns(raw []byte) ([]string, map[string]string, error) {
	type frame struct {
		Function string `json:"function"`
	}
	type message struct {
		OSV *struct {
			ID      string `json:"id"`
			Summary string `json:"summary"`
		} `json:"osv"`
		Finding *struct {
			OSV   string  `json:"osv"`
			Trace []frame `json:"trace"`
		} `json:"finding"`
	}
	summaries := map[string]string{}
	var called []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("read govulncheck's output: %w", err)
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		if f := m.Finding; f != nil && len(f.Trace) > 0 && f.Trace[0].Function != "" && !slices.Contains(called, f.OSV) {
			called = append(called, f.OSV)
		}
	}
	slices.Sort(called)
	return called, summaries, nil
}

// ensureDB writes the database into dir from the vulndb module's OSV files,
// unless dir holds it already. It writes into a temporary directory first
// and renames it, so that an interrupted build is never taken for a whole one.
func ensureDB(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "index", "modules.json")); err == nil {
		return nil
	}
	cmd := exec.Command("go", "mod", "download", "-json", vulndb+"@"+vulndbAt)
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go mod download %s@%s: %w", vulndb, vulndbAt, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(raw, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s: no directory in %q", vulndb, raw)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".building-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := buildDB(filepath.Join(mod.Dir, "data", "osv"), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		if _, statErr := os.Stat(filepath.Join(dir, "index", "modules.json")); statErr == nil {
			return nil // another run built it meanwhile
		}
		return err
	}
	return nil
}

// buildDB writes govulncheck's v1 database layout from a directory of OSV
// entries: index/db.json (the newest modification), index/modules.json (for
// each module, the entries that affect it) and ID/<id>.json (the entries).
// The modules index carries no "fixed" versions: govulncheck then reads every
// entry of a module and decides from the entry's own ranges.
func buildDB(osvDir, out string) error {
	type osvEntry struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Affected []struct {
			Package struct {
				Name string `json:"name"`
			} `json:"package"`
		} `json:"affected"`
	}
	type moduleVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
	}
	type moduleMeta struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no OSV entries in %s", osvDir)
	}
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return err
		}
	}
	modules := map[string]*moduleMeta{}
	var newest time.Time
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var e osvEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if e.ID == "" {
			return fmt.Errorf("%s: no id", f)
		}
		if e.Modified.After(newest) {
			newest = e.Modified
		}
		seen := map[string]bool{}
		for _, a := range e.Affected {
			p := a.Package.Name
			if p == "" || seen[p] {
				continue
			}
			seen[p] = true
			if modules[p] == nil {
				modules[p] = &moduleMeta{Path: p}
			}
			modules[p].Vulns = append(modules[p].Vulns, moduleVuln{ID: e.ID, Modified: e.Modified})
		}
		if err := os.WriteFile(filepath.Join(out, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return err
		}
	}
	list := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		list = append(list, m)
	}
	slices.SortFunc(list, func(a, b *moduleMeta) int { return strings.Compare(a.Path, b.Path) })
	for name, v := range map[string]any{"db.json": map[string]time.Time{"modified": newest}, "modules.json": list} {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "index", name), raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}
