package layering

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gatescan/gatescan/"

// rules: the packages under each library prefix and what they must not
// depend on, directly or through anything else.
var rules = []struct {
	lib       string
	forbidden []string
}{
	{"vision", []string{"agent", "config", "cmd", "drivers", "buffer"}},
	{"drivers", []string{"agent", "config", "cmd", "buffer"}},
	{"buffer", []string{"agent", "config", "cmd", "vision", "drivers"}},
	{"config", []string{"agent", "cmd", "buffer"}},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func listDeps(t *testing.T, pattern string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Deps", pattern)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list %s: %v\n%s", pattern, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pattern, err)
	}
	var ps []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// violations lists "pkg -> dep" for every dependency of a package under
// lib that lies under one of forbidden.
func violations(ps []pkg, lib string, forbidden []string) []string {
	var bad []string
	for _, p := range ps {
		if !under(p.ImportPath, lib) {
			continue
		}
		for _, d := range p.Deps {
			for _, f := range forbidden {
				if under(d, f) {
					bad = append(bad, p.ImportPath+" -> "+d)
				}
			}
		}
	}
	return bad
}

func under(path, dir string) bool {
	rel, ok := strings.CutPrefix(path, module)
	return ok && (rel == dir || strings.HasPrefix(rel, dir+"/"))
}

func TestLibrariesDoNotReachBack(t *testing.T) {
	for _, r := range rules {
		ps := listDeps(t, "./"+r.lib+"/...")
		if len(ps) == 0 {
			t.Fatalf("no packages under %s", r.lib)
		}
		for _, v := range violations(ps, r.lib, r.forbidden) {
			t.Errorf("%s may not depend on %s: %s", r.lib, strings.Join(r.forbidden, ", "), v)
		}
	}
}

// TestViolationsSeen checks the checker on the back-imports the layout
// once had.
func TestViolationsSeen(t *testing.T) {
	old := []pkg{
		{module + "vision", []string{module + "agent/inspection", module + "config"}},
		{module + "vision/xraysim", []string{module + "agent/declaration"}},
		{module + "vision/eval", []string{module + "agent/assess"}},
		{module + "visionary", []string{module + "agent"}},
	}
	got := violations(old, "vision", []string{"agent", "config"})
	want := []string{
		module + "vision -> " + module + "agent/inspection",
		module + "vision -> " + module + "config",
		module + "vision/xraysim -> " + module + "agent/declaration",
		module + "vision/eval -> " + module + "agent/assess",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
