package agent

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/vision"
	"github.com/gatescan/gatescan/vision/calib"
	"github.com/gatescan/gatescan/vision/settings"
)

// TestReloadCalibration runs a gate whose scanner is 12 % off the
// default calibration (the simulator's soft-linac) and calibrated for its
// 9 MeV mode only: its 6 MeV X-ray masses are off and each such result
// says the defaults are in use. The 6/4 MeV mode is calibrated from a
// wedge scan and the config reloaded: the next scan is weighed with the
// new curves, the note is gone, and the technicians' page shows the
// calibration in force and when it was made.
func TestReloadCalibration(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gatescan.yaml")
	base := opsYAML(dir, "  - id: L2\n", "")
	d := config.Default().Detector
	configure := func(c *calib.Calibration) {
		t.Helper()
		for i, w := range d.StepWedges {
			if w.EnergyMeV == c.Wedge.EnergyMeV {
				d.StepWedges[i] = c.Wedge
			}
		}
		for i, de := range d.DualEnergy {
			if de.EnergyMeV == c.Dual.EnergyMeV {
				d.DualEnergy[i] = *c.Dual
			}
		}
		y, err := yaml.Marshal(map[string]any{"detector": map[string]any{"step_wedges": d.StepWedges, "dual_energy": d.DualEnergy}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(base+string(y)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	configure(calibrateSimulated(t, "soft-linac", [2]float64{9, 6}, 10))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var log opsLog
	a := opsRun(t, cfg, &log)

	// inspect puts a soft-linac scan of a load on lane L2 with its
	// declaration and returns its result and true cargo mass.
	inspect := func(name string, seed int64) (inspection.Result, float64) {
		t.Helper()
		scene, decls, err := xraysim.Scenario("honest-tshirts", rand.New(rand.NewSource(seed)))
		if err != nil {
			t.Fatal(err)
		}
		scene.Containers, decls = scene.Containers[:1], decls[:1]
		scene.Scanner = "soft-linac"
		scene.EnergyHighMeV, scene.EnergyLowMeV, scene.DualEnergy = 6, 4, true
		scene.PixelMM.X, scene.PixelMM.Y = math.Max(scene.PixelMM.X, 6), math.Max(scene.PixelMM.Y, 6)
		b, err := decls[0].JSON("D-" + name)
		if err != nil {
			t.Fatal(err)
		}
		agenttest.Put(t, cfg.Declarations.Inbox, name+".json", b)
		truth, err := xraysim.Write(cfg.Scanner.Inbox, name, scene, xraysim.SidecarMeta{ScanID: name, Lane: "L2"})
		if err != nil {
			t.Fatal(err)
		}
		var res inspection.Result
		agenttest.Eventually(t, 60*time.Second, "scan "+name+" inspected", func() bool {
			for _, it := range a.web.Recent() {
				if it.Result.ScanID == name {
					res = it.Result
					return true
				}
			}
			return false
		})
		if res.Weights.XrayKg == nil {
			t.Fatalf("%s: no X-ray mass: %+v", name, res.Findings)
		}
		return res, truth.Containers[0].CargoKg
	}
	noted := func(r inspection.Result) bool {
		for _, f := range r.Findings {
			if f.Code == inspection.ImageQuality && f.Severity == inspection.Info && strings.Contains(f.Message, "no site calibration for 6 MeV") {
				return true
			}
		}
		return false
	}

	before, truth := inspect("before", 3)
	errBefore := (*before.Weights.XrayKg - truth) / truth
	if !noted(before) {
		t.Errorf("a scan weighed with the default calibration does not say so: %+v", before.Findings)
	}

	// Commissioning of the 6/4 MeV mode: a wedge scan, calibrated.
	configure(calibrateSimulated(t, "soft-linac", [2]float64{6, 4}, 11))
	if err := a.ReloadFile(path); err != nil {
		t.Fatal(err)
	}
	agenttest.Eventually(t, 10*time.Second, "the scan loop's detector rebuilt with the calibration", func() bool {
		return a.ops.detGen.Load() == a.configGeneration()
	})

	after, truth2 := inspect("after", 4)
	errAfter := (*after.Weights.XrayKg - truth2) / truth2
	t.Logf("soft-linac X-ray mass error: %+.1f %% with the defaults, %+.1f %% calibrated", 100*errBefore, 100*errAfter)
	if noted(after) {
		t.Errorf("the calibrated scan still says the defaults are in use: %+v", after.Findings)
	}
	if math.Abs(errBefore) < 0.06 || math.Abs(errAfter) > 0.03 {
		t.Errorf("X-ray mass error %+.1f %% before calibration (want the scanner's 10 %% or so), %+.1f %% after (want within 3 %%)", 100*errBefore, 100*errAfter)
	}

	code, page := opsGet(t, "http://"+a.HTTPAddr()+"/")
	if code != 200 {
		t.Fatalf("page: %d", code)
	}
	for _, want := range []string{"Scanner calibration", "mass, 6 MeV</th><td>site calibration, wedge scanned 2026-12-06 07:00 UTC (wedge scan W11 (wedge.json))",
		"mass, 9 MeV</th><td>site calibration", "materials, 6/4 MeV</th><td>site calibration"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// calibrateSimulated calibrates a dual-energy scanner model at energies
// [high, low] from a simulated wedge scan, written and loaded as the
// scanner would leave it.
func calibrateSimulated(t *testing.T, scanner string, energy [2]float64, seed int64) *calib.Calibration {
	t.Helper()
	dir := t.TempDir()
	s := xraysim.WedgeScene(scanner, energy[0], energy[1], true, seed)
	if _, err := xraysim.WriteWedge(dir, "wedge", s, xraysim.DefaultWedge(), xraysim.SidecarMeta{ScanID: "W", Lane: "L2"}); err != nil {
		t.Fatal(err)
	}
	scan, err := scanin.Load(filepath.Join(dir, "wedge.json"), scanin.Limits{MaxWidth: 20000, MaxHeight: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	b, err := os.ReadFile(filepath.Join(dir, "wedge.wedge.json"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := calib.ParseWedge(b)
	if err != nil {
		t.Fatal(err)
	}
	def := config.Default()
	det := vision.New(def.Detector, def.Containers)
	defer det.Close()
	sc := scan.Sidecar
	c, err := calib.Run(det, vision.Input{High: scan.High, Low: scan.Low, HasLow: scan.Dual(), PixelXMM: sc.PixelMM.X, PixelYMM: sc.PixelMM.Y,
		Air: sc.Air, Dark: sc.Dark, EnergyHighMeV: sc.EnergyMeV.High, EnergyLowMeV: sc.EnergyMeV.Low},
		w, settings.Calibrated{CalibratedAt: "2026-12-06T07:00:00Z", Source: fmt.Sprintf("wedge scan W%d (wedge.json)", seed)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
