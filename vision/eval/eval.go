package eval

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gatescan/gatescan/agent/assess"
	"github.com/gatescan/gatescan/agent/declaration"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
	"github.com/gatescan/gatescan/vision/xraysim"
)

// Outcome is one simulated scan inspected.
type Outcome struct {
	Scenario string
	Seed     int64
	Truth    xraysim.Truth
	Declared []xraysim.Declared
	Results  []inspection.Result
	Analysis *vision.Analysis
	// MassErr is the X-ray estimate's relative error per container with
	// cargo (estimate − truth) / truth.
	MassErr []float64
	// AbsErrKg is the absolute error per container.
	AbsErrKg []float64
	Elapsed  time.Duration
}

// Concealment reports whether a scenario hides or misdeclares goods, so
// that an alert is the right verdict.
func Concealment(scenario string) bool {
	return !strings.HasPrefix(scenario, "honest-") && scenario != "empty"
}

// Run renders one scenario into dir and inspects it with the weighbridge
// gross of the truth (honest weighing).
func Run(cfg *config.Config, det *vision.Detector, scenario string, seed int64, dir string) (*Outcome, error) {
	scene, decls, err := xraysim.Scenario(scenario, rand.New(rand.NewSource(seed)))
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-%d", scenario, seed)
	truth, err := xraysim.Write(dir, name, scene, xraysim.SidecarMeta{ScanID: name, Lane: "L1", ScannedAt: time.Now()})
	if err != nil {
		return nil, err
	}
	scan, err := scanin.Load(filepath.Join(dir, name+".json"), scanin.Limits{MaxWidth: 20000, MaxHeight: 4096})
	if err != nil {
		return nil, err
	}
	defer scan.Close()
	var ds []*declaration.Declaration
	for i, d := range decls {
		b, err := d.JSON(fmt.Sprintf("DECL-%s-%d", name, i))
		if err != nil {
			return nil, err
		}
		pd, err := declaration.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("simulated declaration invalid: %w", err)
		}
		ds = append(ds, pd)
	}
	gross := truth.GrossKg
	c := assess.Case{Declarations: ds, GrossKg: &gross, Weighbridge: true, LaneTareKg: scene.VehicleTareKg}
	t0 := time.Now()
	res := assess.Inspect(cfg, det, scan, &c)
	o := &Outcome{Scenario: scenario, Seed: seed, Truth: truth, Declared: decls, Results: res, Analysis: c.Analysis, Elapsed: time.Since(t0)}
	if c.Analysis != nil {
		for i, ct := range truth.Containers {
			if i >= len(c.Analysis.Containers) || ct.CargoKg < 500 {
				continue
			}
			est := c.Analysis.Containers[i].CargoKg
			o.MassErr = append(o.MassErr, (est-ct.CargoKg)/ct.CargoKg)
			o.AbsErrKg = append(o.AbsErrKg, est-ct.CargoKg)
		}
	}
	return o, nil
}

// Alerted reports whether any container of the outcome was alerted.
func (o *Outcome) Alerted() bool {
	for _, r := range o.Results {
		if r.Verdict == inspection.Alert {
			return true
		}
	}
	return false
}

// Summary aggregates outcomes per scenario.
type Summary struct {
	Scenario      string
	N             int
	Alerts        int
	Reviews       int
	MeanAbsErr    float64 // mean |relative mass error|
	MaxAbsErr     float64
	Codes         map[string]int
	MeanElapsedMS float64
}

// Summarize groups outcomes by scenario.
func Summarize(os []*Outcome) []Summary {
	by := map[string]*Summary{}
	var errs = map[string][]float64{}
	for _, o := range os {
		s := by[o.Scenario]
		if s == nil {
			s = &Summary{Scenario: o.Scenario, Codes: map[string]int{}}
			by[o.Scenario] = s
		}
		s.N++
		s.MeanElapsedMS += float64(o.Elapsed.Microseconds()) / 1000
		worst := inspection.Clear
		for _, r := range o.Results {
			if r.Verdict == inspection.Alert || (r.Verdict == inspection.Review && worst == inspection.Clear) {
				worst = r.Verdict
			}
			for _, f := range r.Findings {
				s.Codes[f.Code]++
			}
		}
		switch worst {
		case inspection.Alert:
			s.Alerts++
		case inspection.Review:
			s.Reviews++
		}
		errs[o.Scenario] = append(errs[o.Scenario], o.MassErr...)
	}
	var out []Summary
	for k, s := range by {
		s.MeanElapsedMS /= float64(s.N)
		for _, e := range errs[k] {
			s.MeanAbsErr += math.Abs(e)
			s.MaxAbsErr = math.Max(s.MaxAbsErr, math.Abs(e))
		}
		if n := len(errs[k]); n > 0 {
			s.MeanAbsErr /= float64(n)
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out
}

// Format renders summaries as a table for people.
func Format(ss []Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %4s %6s %6s %9s %9s %8s  %s\n", "scenario", "n", "alert", "review", "mass|err|", "max|err|", "ms", "finding codes")
	for _, s := range ss {
		var codes []string
		for c, n := range s.Codes {
			codes = append(codes, fmt.Sprintf("%s×%d", c, n))
		}
		sort.Strings(codes)
		fmt.Fprintf(&b, "%-24s %4d %6d %6d %8.1f%% %8.1f%% %8.0f  %s\n", s.Scenario, s.N, s.Alerts, s.Reviews, 100*s.MeanAbsErr, 100*s.MaxAbsErr, s.MeanElapsedMS, strings.Join(codes, " "))
	}
	return b.String()
}
