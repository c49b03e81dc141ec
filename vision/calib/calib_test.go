package calib

import (
	"encoding/binary"
	"image"
	"math"
	"testing"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/vision"
	"github.com/gatescan/gatescan/vision/settings"
)

func mat16(t testing.TB, img *image.Gray16) gocv.Mat {
	t.Helper()
	w, h := img.Rect.Dx(), img.Rect.Dy()
	buf := make([]byte, 2*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			binary.NativeEndian.PutUint16(buf[2*(y*w+x):], binary.BigEndian.Uint16(img.Pix[y*img.Stride+2*x:]))
		}
	}
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV16UC1, buf)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wedgeOf converts the simulator's wedge file to the parser's form.
func wedgeOf(wf xraysim.WedgeFile) *Wedge {
	w := &Wedge{}
	for _, s := range wf.Steps {
		w.Steps = append(w.Steps, Step{Material: s.Material, Name: s.Name, GCm2: s.GCm2, Columns: s.Columns, Rows: s.Rows})
	}
	return w
}

// simulate renders a wedge scan of the scanner model and calibrates from
// it with the default detector settings.
func simulate(t *testing.T, scanner string, dual bool, seed int64, edit func(*Wedge)) (*Calibration, xraysim.WedgeFile, error) {
	t.Helper()
	s := xraysim.WedgeScene(scanner, 6, 4, dual, seed)
	s.DeadRows = 3
	high, low, wf, err := xraysim.RenderWedge(s, xraysim.DefaultWedge())
	if err != nil {
		t.Fatal(err)
	}
	hm := mat16(t, high)
	defer hm.Close()
	lm := gocv.NewMat()
	if low != nil {
		lm.Close()
		lm = mat16(t, low)
	}
	defer lm.Close()
	cfg := config.Default()
	det := vision.New(cfg.Detector, cfg.Containers)
	defer det.Close()
	w := wedgeOf(wf)
	if edit != nil {
		edit(w)
	}
	in := vision.Input{High: hm, Low: lm, HasLow: dual, PixelXMM: s.PixelMM.X, PixelYMM: s.PixelMM.Y,
		Air: s.Air, Dark: s.Dark, EnergyHighMeV: 6}
	if dual {
		in.EnergyLowMeV = 4
	}
	c, err := Run(det, in, w, settings.Calibrated{CalibratedAt: "2026-12-06T07:00:00Z", Source: "test"})
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
		c, wf, err := simulate(t, tc.scanner, tc.dual, tc.seed, nil)
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
			if m.Material == Lead {
				if m.LeftOut == "" {
					t.Errorf("%s: lead step fitted", tc.scanner)
				}
				continue
			}
			if m.LeftOut != "" {
				// Only steps the beam barely gets through may be left
				// out, and material steps of a single-energy scan.
				if truth.Truth.A < 3.9 && (!tc.dual || truth.TruthLow.A < 3.9) && (tc.dual || m.Material == Organic) {
					t.Errorf("%s: step %d (%v g/cm² %s, A %.2f) left out: %s", tc.scanner, i, m.GCm2, m.Material, truth.Truth.A, m.LeftOut)
				}
				continue
			}
			// Scatter, which the simulator adds, lifts the transmission
			// behind the thickest steps a little.
			tol := 0.01
			if truth.Truth.A > 3 {
				tol = 0.025
			}
			if math.Abs(m.AHigh-truth.Truth.A) > tol*truth.Truth.A+0.003 {
				t.Errorf("%s: step %d measured -ln T %.4f, truth %.4f", tc.scanner, i, m.AHigh, truth.Truth.A)
			}
			if m.Material == Organic {
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
