package vision_test

import (
	"math"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/vision"
)

// TestCalibrationFallback: once a site has calibrated an energy, a scan
// at another energy is weighed with the defaults and says so in an info
// note; a scan at the calibrated energy uses the site's curve, and a site
// that never calibrated gets no note on every result.
func TestCalibrationFallback(t *testing.T) {
	in, _ := simScan(t, "honest-tshirts", 3, 8)
	for _, tc := range []struct {
		name      string
		energy    float64 // calibrated (0: none)
		scan      float64
		note      bool
		calibrate string
	}{
		{"never calibrated", 0, 6, true, "default step wedge for 6 MeV"},
		{"the scan's energy calibrated", 6, 6, false, "step wedge for 6 MeV calibrated 2026-12-06T07:00:00Z (wedge scan W1)"},
		{"another energy calibrated", 9, 6, true, "default step wedge for 6 MeV"},
	} {
		c := config.Default()
		for i, w := range c.Detector.StepWedges {
			if w.EnergyMeV == tc.energy {
				// The site's scanner: 5 % more attenuation per g/cm².
				for j := range w.Steps {
					c.Detector.StepWedges[i].Steps[j][0] *= 1.05
				}
				c.Detector.StepWedges[i].CalibratedAt, c.Detector.StepWedges[i].Source = "2026-12-06T07:00:00Z", "wedge scan W1"
			}
		}
		det := vision.New(c.Detector, c.Containers)
		sc := in
		sc.EnergyHighMeV, sc.HasLow = tc.scan, false
		a, err := det.Analyze(sc)
		det.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		noted := false
		for _, n := range a.Quality {
			if n.Severity == vision.Info && strings.Contains(n.Message, "no site calibration for 6 MeV: X-ray masses use the default step wedge") {
				noted = true
			}
		}
		if noted != tc.note || a.Calibration != tc.calibrate {
			t.Errorf("%s: calibration %q, note %v (want %q, %v): %+v", tc.name, a.Calibration, noted, tc.calibrate, tc.note, a.Quality)
		}
	}
}

// TestCalibratedMass: the same scan weighed with a calibration whose
// attenuation per g/cm² is 5 % higher reads about 5 % lighter.
func TestCalibratedMass(t *testing.T) {
	in, _ := simScan(t, "honest-tshirts", 3, 8)
	in.HasLow = false
	kg := func(scale float64) float64 {
		c := config.Default()
		for i := range c.Detector.StepWedges {
			for j := range c.Detector.StepWedges[i].Steps {
				c.Detector.StepWedges[i].Steps[j][0] *= scale
			}
		}
		det := vision.New(c.Detector, c.Containers)
		defer det.Close()
		a, err := det.Analyze(in)
		if err != nil || len(a.Containers) == 0 {
			t.Fatalf("%v", err)
		}
		return a.Containers[0].CargoKg
	}
	base, hard := kg(1), kg(1.05)
	if r := hard / base; math.Abs(r-1/1.05) > 0.01 {
		t.Errorf("cargo %.0f kg with the defaults, %.0f kg with 5 %% more attenuation per g/cm²: ratio %.3f, want %.3f", base, hard, r, 1/1.05)
	}
}
