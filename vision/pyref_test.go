package vision_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatescan/gatescan/drivers/xraysim"
)

// pyref is the Python + OpenCV reference detector `make bench` times
// batch inspect against. Its tests need Debian's python3-opencv for the
// system Python and skip without it: `make test` does not need Python.
const (
	pyrefPython = "/usr/bin/python3"
	pyrefScript = "pyref/detect.py"
)

func needPyref(t *testing.T) {
	t.Helper()
	if err := exec.Command(pyrefPython, "-c", "import cv2").Run(); err != nil {
		t.Skipf("no OpenCV for %s (%v): apt-get install python3-opencv", pyrefPython, err)
	}
}

// pyrefResult is the part of a detect.py result line the tests read.
type pyrefResult struct {
	ScanID  string `json:"scan_id"`
	Sidecar string `json:"sidecar"`
	Error   string `json:"error"`
	Dual    bool   `json:"dual"`
	Weights struct {
		XrayKg float64 `json:"xray_kg"`
	} `json:"weights"`
	Containers []struct {
		SizeCode string `json:"size_code"`
		InnerPx  [4]int `json:"inner_px"` // y0, y1, x0, x1
		Regions  []struct {
			AreaM2   float64 `json:"area_m2"`
			Material string  `json:"material"`
		} `json:"regions"`
	} `json:"containers"`
	TimingsMS map[string]float64 `json:"timings_ms"`
}

func runPyref(t *testing.T, args ...string) ([]pyrefResult, error) {
	t.Helper()
	cmd := exec.Command(pyrefPython, append([]string{pyrefScript}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res []pyrefResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r pyrefResult
		if jerr := json.Unmarshal(sc.Bytes(), &r); jerr != nil {
			t.Fatalf("detect.py printed a line that is not JSON: %v\n%s", jerr, sc.Bytes())
		}
		res = append(res, r)
	}
	if stderr.Len() > 0 {
		t.Logf("detect.py stderr: %s", stderr.Bytes())
	}
	return res, err
}

// TestPyrefDetector runs the reference detector over a small simulated
// dual-energy 40 ft scan (coarse pixels, so that it takes well under a
// second) and a scan whose image is missing: one JSON line each, the first
// with the container where the simulator put it, the cargo's X-ray mass
// near the truth, materials for its regions and its own timings; the second
// an error, and exit status 2.
func TestPyrefDetector(t *testing.T) {
	needPyref(t)
	dir := t.TempDir()
	var s xraysim.Scene
	var decl []xraysim.Declared
	var err error
	for seed := int64(1); ; seed++ {
		s, decl, err = xraysim.Scenario("honest-masks", rand.New(rand.NewSource(seed)))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Containers) == 1 && s.Containers[0].Type == "42G1" && !s.Fan {
			break
		}
	}
	s.PixelMM.X, s.PixelMM.Y, s.DualEnergy = 12, 12, true
	good := filepath.Join(dir, "good")
	if err := os.MkdirAll(good, 0o755); err != nil {
		t.Fatal(err)
	}
	truth, err := xraysim.Write(good, "scan", s, xraysim.SidecarMeta{ScanID: "py-1", Lane: "L1", ScannedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	js, err := decl[0].JSON("D-py")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(good, "declaration.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"scan_id": "py-2", "images": {"high": "gone.png"}, "pixel_mm": {"x": 5, "y": 5}, "air": 60000}`), 0o644); err != nil {
		t.Fatal(err)
	}

	res, err := runPyref(t, filepath.Join(good, "scan.json"), bad)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("detect.py with a broken scan: %v, want exit status 2", err)
	}
	if len(res) != 2 {
		t.Fatalf("detect.py printed %d results, want 2", len(res))
	}
	r := res[0]
	if r.Error != "" || r.ScanID != "py-1" {
		t.Fatalf("first result: scan %q, error %q; want scan py-1 inspected", r.ScanID, r.Error)
	}
	if !r.Dual || len(r.Containers) != 1 || r.Containers[0].SizeCode != "42" {
		t.Fatalf("first result: dual %v, containers %+v; want one dual-energy 42 (40 ft)", r.Dual, r.Containers)
	}
	want, got := truth.Containers[0].InnerPx, r.Containers[0].InnerPx
	// Within 0.25 m (about 20 pixels) of the simulator's inner box.
	tol := 250 / s.PixelMM.X
	if math.Abs(float64(got[2]-want.Min.X)) > tol || math.Abs(float64(got[3]-want.Max.X)) > tol ||
		math.Abs(float64(got[0]-want.Min.Y)) > tol || math.Abs(float64(got[1]-want.Max.Y)) > tol {
		t.Errorf("inner box rows %d-%d, columns %d-%d; the simulator's is %v", got[0], got[1], got[2], got[3], want)
	}
	if kg := truth.Containers[0].CargoKg; math.Abs(r.Weights.XrayKg-kg) > 0.2*kg {
		t.Errorf("X-ray mass %.0f kg, truth %.0f kg: want within 20 %%", r.Weights.XrayKg, kg)
	}
	materials := 0
	for _, reg := range r.Containers[0].Regions {
		if reg.Material != "" {
			materials++
		}
	}
	if len(r.Containers[0].Regions) == 0 || materials == 0 {
		t.Errorf("regions %+v: want some, with dual-energy materials", r.Containers[0].Regions)
	}
	if tot := r.TimingsMS["total"]; tot <= 0 || tot < r.TimingsMS["decode"] {
		t.Errorf("timings %v: want a positive total covering the decode", r.TimingsMS)
	}
	if res[1].Error == "" || res[1].Sidecar != bad {
		t.Errorf("second result %+v: want an error for %s", res[1], bad)
	}
}
