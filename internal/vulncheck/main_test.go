package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A govulncheck JSON stream: one advisory only imported (package level),
// one called (symbol level).
const stream = `{"config":{"scanner_name":"govulncheck"}}
{"osv":{"id":"GO-2099-0001","summary":"called one"}}
{"osv":{"id":"GO-2099-0002","summary":"imported only"}}
{"finding":{"osv":"GO-2099-0002","trace":[{"module":"example.com/m","package":"example.com/m/p"}]}}
{"finding":{"osv":"GO-2099-0001","trace":[{"module":"example.com/m","package":"example.com/m/p"}]}}
{"finding":{"osv":"GO-2099-0001","trace":[{"module":"example.com/m","package":"example.com/m/p","function":"F"},{"module":"github.com/favad/favad","function":"main"}]}}
`

func TestCalledVulnsKeepsOnlySymbolLevelFindings(t *testing.T) {
	called, summaries, err := calledVulns([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(called) != 1 || called[0] != "GO-2099-0001" {
		t.Fatalf("called = %v, want only GO-2099-0001 (GO-2099-0002 is imported, never called)", called)
	}
	if summaries["GO-2099-0001"] != "called one" {
		t.Errorf("summary = %q", summaries["GO-2099-0001"])
	}
}

func TestAllowNeedsAReason(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "allow.txt")
	if err := os.WriteFile(p, []byte("# comment\n\nGO-2099-0001 not reachable: we use our own limiter\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readAllow(p)
	if err != nil || got["GO-2099-0001"] != "not reachable: we use our own limiter" {
		t.Fatalf("readAllow = %v, %v", got, err)
	}
	if err := os.WriteFile(p, []byte("GO-2099-0001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readAllow(p); err == nil || !strings.Contains(err.Error(), "no reason") {
		t.Fatalf("an id without a reason is refused, got %v", err)
	}
}

// TestBuildDBWritesGovulncheckLayout checks the layout govulncheck's
// -db file:// reads: index/db.json, index/modules.json, ID/<id>.json.
func TestBuildDBWritesGovulncheckLayout(t *testing.T) {
	osv, out := t.TempDir(), filepath.Join(t.TempDir(), "db")
	entries := map[string]string{
		"GO-2099-0001": `{"id":"GO-2099-0001","modified":"2099-01-02T00:00:00Z","affected":[{"package":{"name":"example.com/a"}},{"package":{"name":"stdlib"}}]}`,
		"GO-2099-0002": `{"id":"GO-2099-0002","modified":"2099-03-04T00:00:00Z","affected":[{"package":{"name":"example.com/a"}}]}`,
	}
	for id, body := range entries {
		if err := os.WriteFile(filepath.Join(osv, id+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := buildDB(osv, out); err != nil {
		t.Fatal(err)
	}
	var meta struct{ Modified string }
	readJSON(t, filepath.Join(out, "index", "db.json"), &meta)
	if meta.Modified != "2099-03-04T00:00:00Z" {
		t.Errorf("db.json modified = %q, want the newest entry's", meta.Modified)
	}
	var mods []struct {
		Path  string
		Vulns []struct{ ID string }
	}
	readJSON(t, filepath.Join(out, "index", "modules.json"), &mods)
	if len(mods) != 2 || mods[0].Path != "example.com/a" || len(mods[0].Vulns) != 2 || mods[1].Path != "stdlib" || len(mods[1].Vulns) != 1 {
		t.Errorf("modules.json = %+v", mods)
	}
	for id, body := range entries {
		got, err := os.ReadFile(filepath.Join(out, "ID", id+".json"))
		if err != nil || string(got) != body {
			t.Errorf("ID/%s.json = %q, %v", id, got, err)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}
