package benchscan

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatescan/gatescan/drivers/xraysim"
)

// Scan is one generated scan.
type Scan struct {
	Sidecar string // path of its sidecar
	Dual    bool
	GrossKg float64  // the truck's gross, also in weighbridge.json beside the sidecar
	Types   []string // the containers' declared ISO size-type codes, as declaration.json beside it says
	Source  string   // "xraygen" or "xraysim"
}

// xraygenSeed and xraygenScenarios pick a set with 40 ft scans of both
// kinds: honest loads (c1, c2) and masks under iron wire (p1).
const (
	xraygenSeed      = 11
	xraygenScenarios = "c1,c2,p1"
)

var (
	once    sync.Once
	scans   []Scan
	loadErr error
)

// Scans40ft returns the 40 ft single-container scans of the benchmark set,
// generating it on first use (xraygen takes a few seconds a scan; the set
// is kept in the temporary directory for the next run).
func Scans40ft(tb testing.TB) []Scan {
	tb.Helper()
	once.Do(func() { scans, loadErr = load() })
	if loadErr != nil {
		tb.Fatalf("benchmark scans: %v", loadErr)
	}
	return scans
}

// Pick returns the first 40 ft scan of the set that is dual energy (dual)
// or single energy.
func Pick(tb testing.TB, dual bool) Scan {
	tb.Helper()
	for _, s := range Scans40ft(tb) {
		if s.Dual == dual {
			return s
		}
	}
	tb.Fatalf("no 40 ft %s scan in the benchmark set", map[bool]string{true: "dual-energy", false: "single-energy"}[dual])
	return Scan{}
}

// xraygenPath finds xraygen: $XRAYGEN, else shared/bin/xraygen beside the
// project's checkout (where the team keeps it).
func xraygenPath() string {
	if p := os.Getenv("XRAYGEN"); p != "" {
		return p
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(filepath.Dir(strings.TrimSpace(string(out)))), "shared", "bin", "xraygen")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	return ""
}

func load() ([]Scan, error) {
	gen, key := xraygenPath(), "xraysim-v2"
	if gen != "" {
		fi, err := os.Stat(gen)
		if err != nil {
			return nil, err
		}
		key = fmt.Sprintf("xraygen-v2-%d-%d-s%d-%s", fi.Size(), fi.ModTime().Unix(), xraygenSeed, strings.ReplaceAll(xraygenScenarios, ",", ""))
	}
	dir := filepath.Join(os.TempDir(), "gatescan-bench-"+key)
	if _, err := os.Stat(filepath.Join(dir, "scans.json")); err != nil {
		// Generated beside, renamed into place: benchmark binaries of one
		// run start together, and the first to finish wins.
		tmp, err := os.MkdirTemp(os.TempDir(), "gatescan-bench-tmp-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		var list []Scan
		if gen != "" {
			list, err = fromXraygen(gen, tmp)
		} else {
			list, err = fromXraysim(tmp)
		}
		if err != nil {
			return nil, err
		}
		for i := range list {
			rel, _ := filepath.Rel(tmp, list[i].Sidecar)
			list[i].Sidecar = rel
		}
		b, _ := json.Marshal(list)
		if err := os.WriteFile(filepath.Join(tmp, "scans.json"), b, 0o644); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			if _, serr := os.Stat(filepath.Join(dir, "scans.json")); serr != nil {
				return nil, err
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "scans.json"))
	if err != nil {
		return nil, err
	}
	var list []Scan
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	for i := range list {
		list[i].Sidecar = filepath.Join(dir, list[i].Sidecar)
	}
	return list, nil
}

// fromXraygen generates the xraygen set into dir and lists its cases of
// one 40 ft container, writing each case's gross into weighbridge.json.
func fromXraygen(gen, dir string) ([]Scan, error) {
	cmd := exec.Command(gen, "-out", dir, "-seed", fmt.Sprint(xraygenSeed), "-scenarios", xraygenScenarios,
		"-per-scenario", "2", "-previews", "none", "-j", "2")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", gen, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, err
	}
	var idx struct {
		Cases []struct {
			CaseID         string   `json:"case_id"`
			GrossKg        float64  `json:"gross_kg"`
			ContainerTypes []string `json:"container_types"`
			DualEnergy     bool     `json:"dual_energy"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("xraygen index.json: %w", err)
	}
	var out []Scan
	for _, c := range idx.Cases {
		if len(c.ContainerTypes) != 1 || !strings.HasPrefix(c.ContainerTypes[0], "4") {
			continue
		}
		d := filepath.Join(dir, c.CaseID)
		if err := os.WriteFile(filepath.Join(d, "weighbridge.json"), fmt.Appendf(nil, `{"gross_kg": %v}`, c.GrossKg), 0o644); err != nil {
			return nil, err
		}
		out = append(out, Scan{Sidecar: filepath.Join(d, "scan.json"), Dual: c.DualEnergy, GrossKg: c.GrossKg, Types: c.ContainerTypes, Source: "xraygen"})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("xraygen wrote no 40 ft scan into %s", dir)
	}
	return out, nil
}

// fromXraysim writes a 40 ft container of face masks on a tractor, about
// 3500 × 900 pixels, once single and once dual energy.
func fromXraysim(dir string) ([]Scan, error) {
	var s xraysim.Scene
	var decl []xraysim.Declared
	for seed := int64(1); ; seed++ {
		var err error
		s, decl, err = xraysim.Scenario("honest-masks", rand.New(rand.NewSource(seed)))
		if err != nil {
			return nil, err
		}
		if len(s.Containers) == 1 && s.Containers[0].Type == "42G1" && !s.Fan {
			break
		}
	}
	s.PixelMM.X, s.PixelMM.Y = 5.7, 5.3
	s.HeightM = 4.75
	var out []Scan
	for _, dual := range []bool{false, true} {
		s.DualEnergy = dual
		d := filepath.Join(dir, fmt.Sprintf("dual-%v", dual))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		truth, err := xraysim.Write(d, "scan", s, xraysim.SidecarMeta{ScanID: "bench-" + filepath.Base(d), Lane: "L1", ScannedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return nil, err
		}
		js, err := decl[0].JSON("D-bench")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(d, "declaration.json"), js, 0o644); err != nil {
			return nil, err
		}
		gross := truth.GrossKg
		if err := os.WriteFile(filepath.Join(d, "weighbridge.json"), fmt.Appendf(nil, `{"gross_kg": %v}`, gross), 0o644); err != nil {
			return nil, err
		}
		out = append(out, Scan{Sidecar: filepath.Join(d, "scan.json"), Dual: dual, GrossKg: gross, Types: []string{decl[0].Type}, Source: "xraysim"})
	}
	return out, nil
}
