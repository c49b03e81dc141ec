package calib_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/vision"
	"github.com/gatescan/gatescan/vision/calib"
	"github.com/gatescan/gatescan/vision/settings"
)

// wedgeOf is the wedge file the simulator wrote as calib reads it.
func wedgeOf(wf xraysim.WedgeFile) *calib.Wedge {
	w := &calib.Wedge{}
	for _, s := range wf.Steps {
		w.Steps = append(w.Steps, s.Step)
	}
	return w
}

// simulate writes a wedge scan of the scanner model, loads it as the
// scanner leaves it and calibrates from it with the default detector
// settings.
func simulate(t *testing.T, scanner string, dual bool, seed int64, edit ...func(*xraysim.Scene)) (*calib.Calibration, xraysim.WedgeFile, error) {
	t.Helper()
	dir := t.TempDir()
	s := xraysim.WedgeScene(scanner, 6, 4, dual, seed)
	s.DeadRows = 3
	s.PixelMM.X, s.PixelMM.Y = 7, 7
	for _, e := range edit {
		e(&s)
	}
	wf, err := xraysim.WriteWedge(dir, "wedge", s, xraysim.DefaultWedge(), xraysim.SidecarMeta{ScanID: "W", Lane: "L1"})
	if err != nil {
		t.Fatal(err)
	}
	scan, err := scanin.Load(filepath.Join(dir, "wedge.json"), scanin.Limits{MaxWidth: 20000, MaxHeight: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	cfg := config.Default()
	det := vision.New(cfg.Detector, cfg.Containers)
	defer det.Close()
	w := wedgeOf(wf)
	sc := scan.Sidecar
	in := vision.Input{High: scan.High, Low: scan.Low, HasLow: scan.Dual(), PixelXMM: sc.PixelMM.X, PixelYMM: sc.PixelMM.Y,
		Air: sc.Air, Dark: sc.Dark, EnergyHighMeV: sc.EnergyMeV.High, EnergyLowMeV: sc.EnergyMeV.Low}
	c, err := calib.Run(det, in, w, settings.Calibrated{CalibratedAt: "2026-12-06T07:00:00Z", Source: "test"})
	return c, wf, err
}

// TestFitSimulatedWedge calibrates from wedge scans of both simulated
// scanner models and checks the fitted curves against the simulator's
// noise-free attenuation: the mass curve within 1 % of each step's areal
// density, the dual-energy curves within 1 % of A_low.
func TestFitSimulatedWedge(t *testing.T) {
	for _, tc := range []struct {
		scanner string
		dual    bool
		seed    int64
	}{{"standard", true, 1}, {"soft-linac", true, 2}, {"soft-linac", false, 3}} {
		c, wf, err := simulate(t, tc.scanner, tc.dual, tc.seed)
		if err != nil {
			t.Fatalf("%s: %v", tc.scanner, err)
		}
		if !c.Wedge.Site() || c.Wedge.EnergyMeV != 6 || len(c.Wedge.Steps) < 8 {
			t.Errorf("%s: step wedge %+v", tc.scanner, c.Wedge)
		}
		if (c.Dual != nil) != tc.dual {
			t.Errorf("%s: dual curves %v, want %v", tc.scanner, c.Dual != nil, tc.dual)
		}
		det := settings.Detector{StepWedges: []settings.StepWedge{c.Wedge}}
		if c.Dual != nil {
			det.DualEnergy = []settings.DualEnergy{*c.Dual}
		}
		for _, p := range det.Check() {
			if p.Key != "grid_m" && !isThreshold(p.Key) {
				t.Errorf("%s: the calibration does not pass the config check: %s: %s", tc.scanner, p.Key, p.Msg)
			}
		}
		fitted := 0
		for i, m := range c.Steps {
			truth := wf.Steps[i]
			if m.Material == calib.Lead {
				if m.LeftOut == "" {
					t.Errorf("%s: lead step fitted", tc.scanner)
				}
				continue
			}
			if m.LeftOut != "" {
				// Only steps the beam barely gets through may be left
				// out, and material steps of a single-energy scan.
				if truth.Truth.A < 3.9 && (!tc.dual || truth.TruthLow.A < 3.9) && (tc.dual || m.Material == calib.Organic) {
					t.Errorf("%s: step %d (%v g/cm² %s, A %.2f) left out: %s", tc.scanner, i, m.GCm2, m.Material, truth.Truth.A, m.LeftOut)
				}
				continue
			}
			// Scatter, which the simulator adds, lifts the transmission
			// behind the thickest steps a little.
			tol := 0.01
			if truth.Truth.A > 2.5 {
				tol = 0.025
			}
			if math.Abs(m.AHigh-truth.Truth.A) > tol*truth.Truth.A+0.003 {
				t.Errorf("%s: step %d measured -ln T %.4f, truth %.4f", tc.scanner, i, m.AHigh, truth.Truth.A)
			}
			if m.Material == calib.Organic {
				fitted++
				// The curve at the true attenuation gives the step's mass.
				if g := massAt(c.Wedge.Steps, truth.Truth.A); math.Abs(g-m.GCm2) > tol*m.GCm2 {
					t.Errorf("%s: curve at step %d's A %.4f gives %.2f g/cm², truth %v", tc.scanner, i, truth.Truth.A, g, m.GCm2)
				}
			}
			if tc.dual && math.Abs(m.FitALow-truth.TruthLow.A) > (tol+0.01)*truth.TruthLow.A {
				t.Errorf("%s: step %d fitted A_low %.4f, truth %.4f", tc.scanner, i, m.FitALow, truth.TruthLow.A)
			}
		}
		if fitted < 5 || c.MaxResidualPct > 1 {
			t.Errorf("%s: %d organic steps fitted, largest residual %.2f %%", tc.scanner, fitted, c.MaxResidualPct)
		}
		t.Logf("%s dual=%v: max residual %.3f %%, wedge %v", tc.scanner, tc.dual, c.MaxResidualPct, c.Wedge.Steps)
	}
}

func isThreshold(key string) bool { return key != "" && key[:4] != "step" && key[:4] != "dual" }

// massAt interpolates a step-wedge table as the detector does (linear,
// through the origin below the first step, end slopes beyond).
func massAt(tab [][2]float64, a float64) float64 {
	k := 0
	for k < len(tab)-2 && tab[k+1][0] < a {
		k++
	}
	if k == 0 && a < tab[0][0] {
		return a * tab[0][1] / tab[0][0]
	}
	x0, y0, x1, y1 := tab[k][0], tab[k][1], tab[k+1][0], tab[k+1][1]
	return y0 + (a-x0)*(y1-y0)/(x1-x0)
}

// TestSaturatedWedgeScan: a wedge scanned with the gain so high that air
// clips at the 16-bit ceiling is calibrated with a note saying so.
func TestSaturatedWedgeScan(t *testing.T) {
	c, _, err := simulate(t, "standard", false, 5, func(s *xraysim.Scene) {
		s.Air, s.Dark, s.RowGainSpread, s.PulseJitter = 65000, 500, 0.04, 0.03
	})
	if err != nil {
		t.Fatal(err)
	}
	noted := false
	for _, n := range c.Notes {
		noted = noted || strings.Contains(n, "16-bit ceiling")
	}
	if !noted {
		t.Errorf("no saturation note: %q", c.Notes)
	}
}
