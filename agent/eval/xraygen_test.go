package eval

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
)

// xraygen finds the independent scan simulator: $GATESCAN_XRAYGEN, else
// shared/bin/xraygen beside the module's checkout (../shared from the
// directory holding go.mod).
func xraygen(t *testing.T) string {
	if p := os.Getenv("GATESCAN_XRAYGEN"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
	p := filepath.Join(dir, "..", "shared", "bin", "xraygen")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("xraygen not found at %s (set GATESCAN_XRAYGEN): %v", p, err)
	}
	return p
}

// TestXraygen generates a small seeded set of scans with the independent
// simulator (its own cargo models, spectra, noise and vehicles) and checks
// the per-scenario verdicts: honest light loads with lighter patches,
// PET bottles, tiles on pallets and paper reels or t-shirts are not
// alerted and raise no image finding above info; masks declared as
// bottles, a mask block inside bags and a dense block inside flowers are.
func TestXraygen(t *testing.T) {
	bin := xraygen(t)
	if testing.Short() {
		t.Skip("generates scans: not in -short")
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "-out", dir, "-seed", "5", "-per-scenario", "1", "-previews", "none", "-j", "2",
		"-scenarios", "c4,c5,c7,c8,p2,p3,p7")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	cases, err := Cases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 7 {
		t.Fatalf("%d cases generated, want 7", len(cases))
	}
	outs, errs := EvaluateCases(config.Default(), cases, 0, nil)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", cases[i].Truth.ID, err)
		}
	}
	for _, o := range outs {
		for i, r := range o.Results {
			where := o.Case + " (" + strings.TrimSpace(o.Scenario) + ")"
			if o.Target[i] {
				if r.Verdict != inspection.Alert {
					t.Errorf("%s: concealment not alerted: %s %v", where, r.Verdict, r.Findings)
				}
				continue
			}
			if r.Verdict == inspection.Alert {
				t.Errorf("%s: honest container alerted: %v", where, r.Findings)
			}
			for _, f := range r.Findings {
				switch f.Code {
				case inspection.DensityMismatch, inspection.ShapeMismatch, inspection.LayeredConcealment, inspection.ControlledUndocumented:
					if f.Severity != inspection.Info {
						t.Errorf("%s: honest container has %s %s: %s", where, f.Code, f.Severity, f.Message)
					}
				}
			}
		}
	}
	if testing.Verbose() {
		t.Log("\n" + Format(Summarize(outs)))
	}
}
