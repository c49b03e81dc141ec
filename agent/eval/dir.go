package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/gatescan/gatescan/agent/assess"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/vision"
)

// A Case is one scan of a directory of cases written by another
// simulator (xraygen's format): a folder holding the sidecar scan.json,
// its images, declaration.json (and declaration_2.json for the second box
// on a chassis) and truth.json, which says what the case is about.
type Case struct {
	Dir   string
	Truth CaseTruth
}

// CaseTruth is what a case's truth.json says that the evaluation uses.
type CaseTruth struct {
	ID       string `json:"case_id"`
	Scenario string `json:"scenario"`
	Title    string `json:"scenario_title"`
	// Positive: the case hides or misdeclares goods, an alert is right.
	Positive bool `json:"positive"`
	// GrossKg is what the weighbridge read.
	GrossKg    float64 `json:"gross_kg"`
	Containers []struct {
		ID              string  `json:"id"`
		CargoKg         float64 `json:"cargo_kg"`
		DeclaredItemsKg float64 `json:"declared_items_kg"`
	} `json:"containers"`
	// Regions are where goods are hidden, per container number.
	Regions []struct {
		ContainerID string `json:"container_id"`
	} `json:"regions"`
}

// Cases finds the cases below dir: every folder holding a truth.json and
// a scan.json, sorted by case id.
func Cases(dir string) ([]Case, error) {
	var out []Case
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || e.Name() != "truth.json" {
			return nil
		}
		cd := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(cd, "scan.json")); err != nil {
			return nil // a truth without a scan (a wedge's): not a case
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var t CaseTruth
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("%s: not a case's truth: %w", p, err)
		}
		if t.Scenario == "" {
			return fmt.Errorf("%s: no scenario: not a case's truth (xraygen format expected)", p)
		}
		if t.ID == "" {
			t.ID = filepath.Base(cd)
		}
		out = append(out, Case{Dir: cd, Truth: t})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading cases under %s: %w", dir, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cases under %s: expected folders holding scan.json and truth.json (xraygen -out DIR)", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Truth.ID < out[j].Truth.ID })
	return out, nil
}

// targets marks, per container of the scan (in the sidecar's order), the
// ones a positive case is about: those holding hidden goods or carrying
// a declaration far from their cargo; when no container stands out so
// (goods misdeclared at their true weight, documents missing), all of
// them.
func (t *CaseTruth) targets(ids []string) []bool {
	out := make([]bool, len(ids))
	if !t.Positive {
		return out
	}
	any := false
	for i, id := range ids {
		for _, c := range t.Containers {
			if c.ID != id {
				continue
			}
			hidden := slices.ContainsFunc(t.Regions, func(r struct {
				ContainerID string `json:"container_id"`
			}) bool {
				return r.ContainerID == id
			})
			out[i] = hidden || math.Abs(c.DeclaredItemsKg-c.CargoKg) > math.Max(0.1*c.CargoKg, 500)
			any = any || out[i]
		}
	}
	if !any {
		for i := range out {
			out[i] = true
		}
	}
	return out
}

// RunCase inspects one case through the same path as the daemon, with the
// weighbridge gross the case's truth says was weighed and the declarations
// beside the scan joined by container number.
func RunCase(cfg *config.Config, det *vision.Detector, c Case) (*Outcome, error) {
	lim := scanin.Limits{MaxWidth: cfg.Scanner.MaxWidth, MaxHeight: cfg.Scanner.MaxHeight, MaxFileBytes: cfg.Scanner.MaxFileMB << 20}
	scan, err := scanin.Load(filepath.Join(c.Dir, "scan.json"), lim)
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", c.Truth.ID, err)
	}
	defer scan.Close()
	var ds []*declaration.Declaration
	for _, name := range []string{"declaration.json", "declaration_2.json"} {
		b, err := os.ReadFile(filepath.Join(c.Dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("case %s: %w", c.Truth.ID, err)
		}
		d, err := declaration.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("case %s: %s: %w", c.Truth.ID, name, err)
		}
		ds = append(ds, d)
	}
	ids := scan.Sidecar.ContainerIDs
	kase := assess.Case{Weighbridge: true, Declarations: declaration.Order(ids, ds)}
	if len(cfg.Lanes) > 0 {
		kase.LaneTareKg = cfg.Lanes[0].VehicleTareKg
	}
	if c.Truth.GrossKg > 0 {
		g := c.Truth.GrossKg
		kase.GrossKg = &g
	}
	t0 := time.Now()
	results := assess.Inspect(cfg, det, scan, &kase)
	out := &Outcome{Scenario: c.Truth.Scenario, Case: c.Truth.ID, Results: results, Analysis: kase.Analysis, Elapsed: time.Since(t0)}
	if len(ids) == 0 {
		ids = make([]string, len(results))
	}
	out.Target = c.Truth.targets(ids)
	for i, id := range ids {
		for _, ct := range c.Truth.Containers {
			if ct.ID != id && len(ids) > 1 {
				continue
			}
			out.Truth.Containers = append(out.Truth.Containers, xraysim.ContainerTruth{ID: ct.ID, CargoKg: ct.CargoKg})
			out.mass(kase.Analysis, i, ct.CargoKg)
			break
		}
	}
	return out, nil
}

// EvaluateCases runs the cases on workers goroutines as Evaluate does.
func EvaluateCases(cfg *config.Config, cases []Case, workers int, progress func(*Outcome, error)) ([]*Outcome, []error) {
	return evaluate(cfg, len(cases), workers, progress, func(det *vision.Detector, i int) (*Outcome, error) {
		return RunCase(cfg, det, cases[i])
	})
}

// Titles maps each scenario of the cases to its title.
func Titles(cases []Case) map[string]string {
	m := map[string]string{}
	for _, c := range cases {
		m[c.Truth.Scenario] = c.Truth.Title
	}
	return m
}
