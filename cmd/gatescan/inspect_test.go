package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/xraysim"
)

func TestBatchDeclarations(t *testing.T) {
	decl := func(id string) *declaration.Declaration {
		return &declaration.Declaration{DeclarationID: "D-" + id, ContainerID: id}
	}
	a, b, c := decl("MSCU1234565"), decl("TGHU7654321"), decl("CSQU3054383")
	a2 := decl("MSCU1234565") // a second declaration of a's container
	for _, tc := range []struct {
		name         string
		ids          []string
		pool, beside []*declaration.Declaration
		want         []*declaration.Declaration
	}{
		{"from the pool by number", []string{"TGHU7654321"}, []*declaration.Declaration{a, b}, nil, []*declaration.Declaration{b}},
		{"beside by number", []string{"TGHU7654321", "MSCU1234565"}, nil, []*declaration.Declaration{a, b}, []*declaration.Declaration{b, a}},
		{"the pool before the files beside", []string{"MSCU1234565"}, []*declaration.Declaration{a2}, []*declaration.Declaration{a}, []*declaration.Declaration{a2}},
		{"pool and beside, one each", []string{"MSCU1234565", "CSQU3054383"}, []*declaration.Declaration{a}, []*declaration.Declaration{c}, []*declaration.Declaration{a, c}},
		{"number read with spaces", []string{"tghu 765432 1"}, []*declaration.Declaration{b}, nil, []*declaration.Declaration{b}},
		{"no declaration for a number", []string{"CSQU3054383"}, []*declaration.Declaration{a}, []*declaration.Declaration{b}, []*declaration.Declaration{nil}},
		{"no numbers: the files beside in order", nil, []*declaration.Declaration{c}, []*declaration.Declaration{a, b}, []*declaration.Declaration{a, b}},
		{"no numbers, nothing beside", nil, []*declaration.Declaration{c}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := batchDeclarations(tc.ids, tc.pool, tc.beside); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", ids(got), ids(tc.want))
			}
		})
	}
}

func ids(ds []*declaration.Declaration) []string {
	var out []string
	for _, d := range ds {
		if d == nil {
			out = append(out, "<nil>")
		} else {
			out = append(out, d.DeclarationID)
		}
	}
	return out
}

// batchCase is one scan directory laid out as xraygen writes it.
type batchCase struct {
	dir, sidecar string
	scanID       string
	containers   []string // the declared container numbers, image order
}

// writeBatchCase renders a scenario whose chassis carries n containers,
// with coarse pixels so that it renders fast, and writes it with its
// declarations (declaration.json, declaration_2.json) into root/name.
func writeBatchCase(t *testing.T, root, name, scenario string, n int) batchCase {
	t.Helper()
	var scene xraysim.Scene
	var decls []xraysim.Declared
	for seed := int64(1); ; seed++ {
		var err error
		scene, decls, err = xraysim.Scenario(scenario, rand.New(rand.NewSource(seed)))
		if err != nil {
			t.Fatal(err)
		}
		if len(scene.Containers) == n {
			break
		}
		if seed > 200 {
			t.Fatalf("no %s scene with %d containers", scenario, n)
		}
	}
	scene.PixelMM.X, scene.PixelMM.Y = 10, 10
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bc := batchCase{dir: dir, sidecar: filepath.Join(dir, "scan.json"), scanID: "S-" + name}
	for i, d := range decls {
		b, err := d.JSON("D-" + name + "-" + string(rune('1'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, besideDeclarations[i]), b, 0o644); err != nil {
			t.Fatal(err)
		}
		bc.containers = append(bc.containers, d.ContainerID)
	}
	if _, err := xraysim.Write(dir, "scan", scene, xraysim.SidecarMeta{ScanID: bc.scanID, Lane: "L1",
		ScannedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return bc
}

// TestInspectBatch inspects, in one process, a directory of three scans
// (one of two 20 ft containers, one with a weighbridge file, one whose
// sidecar is broken) and a sidecar given by name: one JSON line per
// result in the order given, declarations from the files beside each
// sidecar, the weighbridge's gross where there is one, an error line in
// place of the broken scan, and results equal to single-scan inspect's.
func TestInspectBatch(t *testing.T) {
	root := t.TempDir()
	one := writeBatchCase(t, root, "a-one", "masks-under-wire", 1)
	two := writeBatchCase(t, root, "b-two", "honest-paper", 2)
	if err := os.WriteFile(filepath.Join(two.dir, besideWeighbridge), []byte(`{"gross_kg": 31500}`), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(root, "c-broken")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "scan.json"), []byte(`{"images": {"high": "missing.png"}}`), 0o644); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	err := dispatch([]string{"inspect", root, one.sidecar}, &out, &bytes.Buffer{})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "1 of 4 scans") {
		t.Errorf("batch with a broken scan ended with %v; want exit 2 saying 1 of 4 scans failed", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	type line struct {
		inspection.Result
		Sidecar string `json:"sidecar"`
		Error   string `json:"error"`
	}
	var got []line
	for _, l := range lines {
		var r line
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", l, err)
		}
		got = append(got, r)
	}
	// a-one, b-two's two containers, c-broken, then a-one again.
	if len(got) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(got), out.String())
	}
	for i, want := range []struct {
		scanID, decl, container string
		gross                   bool
	}{
		{one.scanID, "D-a-one-1", "", false},
		{two.scanID, "D-b-two-1", two.containers[0], true},
		{two.scanID, "D-b-two-2", two.containers[1], true},
		{"", "", "", false},
		{one.scanID, "D-a-one-1", "", false},
	} {
		r := got[i]
		if want.scanID == "" {
			if r.Sidecar != filepath.Join(broken, "scan.json") || !strings.Contains(r.Error, "sidecar has no") {
				t.Errorf("line %d: %+v; want the broken sidecar's error", i, r)
			}
			continue
		}
		if r.ScanID != want.scanID || r.DeclarationID != want.decl || r.Container != want.container {
			t.Errorf("line %d: scan %q declaration %q container %q; want %q %q %q", i, r.ScanID, r.DeclarationID, r.Container, want.scanID, want.decl, want.container)
		}
		if (r.Weights.GrossKg != nil) != want.gross {
			t.Errorf("line %d: gross %v; want one: %v", i, r.Weights.GrossKg, want.gross)
		}
		total, detector := r.TimingsMS["total"], r.TimingsMS["detector"]+r.TimingsMS["decode"]
		if total <= 0 || total < detector {
			t.Errorf("line %d: timings_ms.total %v; want the whole scan, at least decode + detector = %v", i, total, detector)
		}
	}

	// The same scan alone, the way xraygen's score runs it.
	var single bytes.Buffer
	if err := dispatch([]string{"inspect", one.sidecar, "--declaration", filepath.Join(one.dir, "declaration.json")}, &single, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var alone inspection.Result
	if err := json.Unmarshal(single.Bytes(), &alone); err != nil {
		t.Fatalf("single inspect printed %q: %v", single.String(), err)
	}
	if !strings.Contains(single.String(), "\n  \"scan_id\"") {
		t.Errorf("single inspect no longer prints indented JSON:\n%s", single.String())
	}
	for i, r := range []inspection.Result{got[0].Result, got[4].Result} {
		r.InspectedAt, r.TimingsMS = alone.InspectedAt, alone.TimingsMS
		if !reflect.DeepEqual(r, alone) {
			t.Errorf("batch result %d differs from single inspect:\nbatch  %+v\nsingle %+v", i, r, alone)
		}
	}
}

func TestFindSidecars(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"b/scan.json":        `{"scan_id": "x", "images": {"high": "scan.png"}}`,
		"b/declaration.json": `{"declaration_id": "D1"}`,
		"b/weighbridge.json": `{"gross_kg": 30000}`,
		"a/z.json":           `{"images": {}}`,
		"a/broken.json":      `{"images": `,
		"a/list.json":        `[{"images": {}}]`,
		"index.json":         `{"cases": []}`,
		"a/scan.png":         "not json",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{"a directory, lexical, sidecars only", []string{root}, []string{"a/z.json", "b/scan.json"}, ""},
		{"files as given, in order", []string{"b/weighbridge.json", "a/z.json"}, []string{"b/weighbridge.json", "a/z.json"}, ""},
		{"files and a directory", []string{"b/scan.json", "a"}, []string{"b/scan.json", "a/z.json"}, ""},
		{"a directory without sidecars", []string{empty}, nil, "no sidecar"},
		{"a path that is not there", []string{"nothere.json"}, nil, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			for _, a := range tc.args {
				if !filepath.IsAbs(a) {
					a = filepath.Join(root, a)
				}
				args = append(args, a)
			}
			got, err := findSidecars(args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var rel []string
			for _, p := range got {
				r, _ := filepath.Rel(root, p)
				rel = append(rel, r)
			}
			if !reflect.DeepEqual(rel, tc.want) {
				t.Errorf("got %v, want %v", rel, tc.want)
			}
		})
	}
}

// TestInspectSingleTakesTheRearDeclarationBeside inspects a scan of two
// 20 ft boxes the way xraygen's score runs it, with --declaration naming
// only the front box's file: the rear box's declaration is taken from
// declaration_2.json beside the sidecar, so that neither box is judged
// without its declaration.
func TestInspectSingleTakesTheRearDeclarationBeside(t *testing.T) {
	two := writeBatchCase(t, t.TempDir(), "two", "honest-paper", 2)
	var out bytes.Buffer
	if err := dispatch([]string{"inspect", two.sidecar, "--declaration", filepath.Join(two.dir, "declaration.json")}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var rs []inspection.Result
	if err := json.Unmarshal(out.Bytes(), &rs); err != nil || len(rs) != 2 {
		t.Fatalf("want two results, got %v: %s", err, out.String())
	}
	for i, want := range []string{"D-two-1", "D-two-2"} {
		if rs[i].DeclarationID != want || rs[i].Has(inspection.NoDeclaration) {
			t.Errorf("container %d: declaration %q (%v), want %q", i, rs[i].DeclarationID, rs[i].Codes(), want)
		}
	}
}
