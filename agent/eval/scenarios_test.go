package eval

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/testkit"
)

// imageCodes are the findings that come from the X-ray image.
var imageCodes = []string{inspection.DensityMismatch, inspection.ShapeMismatch, inspection.MaterialMismatch,
	inspection.LayeredConcealment, inspection.UndeclaredCargo, inspection.EmptyDeclaredLoaded}

// TestScenarios runs every simulator scenario with three seeds through the
// whole pipeline (detector and assessment, honest weighing, documents in
// order) and checks the verdicts and findings:
//
//   - the container a concealment scenario is about is alerted, with the
//     finding that scenario calls for;
//   - no honest or empty container has an image finding above info, nor is
//     alerted, except that in a scan of two 20 ft boxes the weighbridge
//     gross is split between them by the X-ray masses (assess), which a
//     load too dense to weigh by X-ray makes unreliable;
//   - the X-ray mass of every load the beam crossed is within 10 % of the
//     truth.
//
// Scans are rendered at 6 mm or coarser to keep the test quick.
func TestScenarios(t *testing.T) {
	want := map[string][]string{
		"undeclared-empty": {inspection.UndeclaredCargo},
		"masks-under-wire": {inspection.LayeredConcealment, inspection.DensityMismatch},
		"masks-in-bags":    {inspection.DensityMismatch},
		"masks-as-bottles": {inspection.DensityMismatch},
		"masks-as-flowers": {inspection.DensityMismatch},
		"dense-in-light":   {inspection.DensityMismatch},
		"overweight":       {inspection.WeightMismatch},
	}
	cfg := config.Default()
	outs := simulate(t, cfg, xraysim.ScenarioNames(), 3, Options{MinPixelMM: 6})
	for _, o := range outs {
		for i, r := range o.Results {
			where := fmt.Sprintf("%s seed %d container %d", o.Scenario, o.Seed, i)
			if o.Target[i] {
				if r.Verdict != inspection.Alert {
					t.Errorf("%s: concealment not alerted: %s %v", where, r.Verdict, r.Codes())
				}
				for _, c := range want[o.Scenario] {
					if !r.Has(c) {
						t.Errorf("%s: no %s among %v", where, c, r.Codes())
					}
				}
				continue
			}
			for _, f := range r.Findings {
				if slices.Contains(imageCodes, f.Code) && f.Severity != inspection.Info {
					t.Errorf("%s: honest container has %s %s: %s", where, f.Code, f.Severity, f.Message)
				}
			}
			if r.Verdict == inspection.Alert && !(len(o.Results) == 2 && weightOnly(r)) {
				t.Errorf("%s: honest container alerted: %v", where, r.Codes())
			}
		}
		for k, e := range o.MassErr {
			if math.Abs(e) > 0.10 {
				t.Errorf("%s seed %d: X-ray mass off by %+.1f %% (%+.0f kg), tolerance ±10 %%", o.Scenario, o.Seed, 100*e, o.AbsErrKg[k])
			}
		}
	}
	if testing.Verbose() {
		t.Log("\n" + Format(Summarize(outs)))
	}
}

// simulate runs seeds scans of each of the scenarios (one under the race
// detector, which the code paths need, not the statistics) and fails the
// test on any error.
func simulate(t *testing.T, cfg *config.Config, scenarios []string, seeds int, o Options) []*Outcome {
	t.Helper()
	if testkit.Race {
		seeds = 1
	}
	jobs := Jobs(scenarios, seeds*len(scenarios), 1)
	outs, errs := Evaluate(cfg, jobs, o, 0, nil)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%v: %v", jobs[i], err)
		}
	}
	return outs
}

// weightOnly reports whether every critical finding of r is about weight.
func weightOnly(r inspection.Result) bool {
	for _, f := range r.Findings {
		if f.Severity == inspection.Critical && f.Code != inspection.WeightMismatch && f.Code != inspection.XrayMassMismatch {
			return false
		}
	}
	return true
}

// TestWornPortal runs scenarios through a worn portal's imaging
// (xraysim.Worn: gain drifting 0.3-0.6 % a metre along the scan, dead
// rows, scatter, pulse flicker, a short lead-in) and checks that the air
// above the vehicle is still found to track the source (the drift would
// otherwise be read as cargo), that honest loads stay clear of image
// findings above info, and that the concealments are still alerted.
func TestWornPortal(t *testing.T) {
	cfg := config.Default()
	names := []string{"honest-bags", "honest-paper", "honest-flowers", "empty", "masks-under-wire", "masks-as-bottles", "dense-in-light"}
	for _, o := range simulate(t, cfg, names, 2, Options{MinPixelMM: 6, Worn: true}) {
		for i, r := range o.Results {
			where := fmt.Sprintf("%s seed %d container %d", o.Scenario, o.Seed, i)
			for _, f := range r.Findings {
				if f.Code == inspection.ImageQuality && f.Severity != inspection.Info {
					t.Errorf("%s: %s %s: %s", where, f.Code, f.Severity, f.Message)
				}
				if !o.Target[i] && slices.Contains(imageCodes, f.Code) && f.Severity != inspection.Info {
					t.Errorf("%s: honest container has %s %s: %s", where, f.Code, f.Severity, f.Message)
				}
			}
			if o.Target[i] != (r.Verdict == inspection.Alert) {
				t.Errorf("%s: target %v, verdict %s %v", where, o.Target[i], r.Verdict, r.Codes())
			}
		}
	}
}
