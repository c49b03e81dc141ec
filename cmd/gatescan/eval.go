package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gatescan/gatescan/agent/eval"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/xraysim"
)

// cmdEval runs the detector and the assessment over simulated scans (or,
// with --dir, over the cases another simulator wrote) and prints, per
// scenario, how many concealments were alerted, how many honest containers
// were alerted or sent to review, and the X-ray mass error.
func cmdEval(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	n := fs.Int("n", 105, "number of scans, spread evenly over the scenarios")
	seed := fs.Int64("seed", 1, "seed of the first scan of each scenario; the next ones count up")
	list := fs.String("scenarios", "", "comma-separated scenarios (default: all of them)")
	cfgPath := fs.String("config", "", "config file (default: built-in defaults)")
	workers := fs.Int("workers", 0, "scans analysed at once (default: one per CPU)")
	files := fs.Bool("files", false, "write every scan to files and load it back as the daemon does (slower)")
	verbose := fs.Bool("v", false, "print a line for every container inspected")
	scanner := fs.String("scanner", "", "the simulator's scanner model: "+strings.Join(xraysim.ScannerNames(), ", ")+" (default standard)")
	wedge := fs.String("wedge", "", "write the scanner model's step-wedge scans (6/4 and 9/6 MeV, dual energy) into this directory, for gatescan calibrate, and stop")
	worn := fs.Bool("worn", false, "render with a worn portal's artefacts: more dead rows, stronger gain drift, scatter and pulse flicker, a short lead-in")
	dir := fs.String("dir", "", "score the cases below DIR (xraygen's format: scan.json, declaration.json, truth.json per folder) instead of simulating")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *n < 1 {
		return badInput("eval: --n %d: give at least one scan", *n)
	}
	if *wedge != "" {
		return writeWedges(*wedge, *scanner, *seed, stdout)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	var wanted []string
	if *list != "" {
		for _, sc := range strings.Split(*list, ",") {
			wanted = append(wanted, strings.TrimSpace(sc))
		}
	}
	src, cleanup, err := evalSource(cfg, wanted, *list, *dir, eval.Options{Scanner: *scanner, Worn: *worn}, *files, *n, *seed, *workers)
	if err != nil {
		return err
	}
	defer cleanup()
	t0 := time.Now()
	done := 0
	outs, errs := src.run(func(o *eval.Outcome, err error) {
		done++
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "eval: %v\n", err)
		case *verbose:
			printOutcome(stdout, o)
		default:
			fmt.Fprintf(stderr, "\r%d/%d scans", done, src.total)
		}
	})
	if !*verbose {
		fmt.Fprintln(stderr)
	}
	fmt.Fprint(stdout, eval.Format(eval.Summarize(outs)))
	printTitles(stdout, src.titles)
	fmt.Fprintf(stdout, "%d scans in %v\n", src.total, time.Since(t0).Round(time.Second))
	failed := 0
	for _, e := range errs {
		if e != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("eval: %d of %d scans could not be made or inspected (see above)", failed, src.total)
	}
	return nil
}

// evalRun is what cmdEval scores: how many scans, the case titles (only for
// --dir) and the function that evaluates them, reporting each as it ends.
type evalRun struct {
	total  int
	titles map[string]string
	run    func(func(*eval.Outcome, error)) ([]*eval.Outcome, []error)
}

// evalSource picks the cases under dir when it is set, else the simulator's
// jobs. The cleanup removes the temporary directory --files writes to; call
// it when the run is over.
func evalSource(cfg *config.Config, wanted []string, list, dir string, opts eval.Options, files bool, n int, seed int64, workers int) (evalRun, func(), error) {
	noop := func() {}
	if dir != "" {
		cases, err := eval.Cases(dir)
		if err != nil {
			return evalRun{}, noop, badInput("eval: %v", err)
		}
		titles := eval.Titles(cases)
		if wanted != nil {
			cases = slices.DeleteFunc(cases, func(c eval.Case) bool { return !slices.Contains(wanted, c.Truth.Scenario) })
			if len(cases) == 0 {
				return evalRun{}, noop, badInput("eval: no case of scenarios %s under %s", list, dir)
			}
		}
		return evalRun{total: len(cases), titles: titles, run: func(p func(*eval.Outcome, error)) ([]*eval.Outcome, []error) {
			return eval.EvaluateCases(cfg, cases, workers, p)
		}}, noop, nil
	}
	known := xraysim.ScenarioNames()
	names := known
	for _, sc := range wanted {
		if !slices.Contains(known, sc) {
			return evalRun{}, noop, badInput("eval: unknown scenario %q; know: %s", sc, strings.Join(known, ", "))
		}
	}
	if wanted != nil {
		names = wanted
	}
	if _, err := xraysim.ScannerByName(opts.Scanner); err != nil {
		return evalRun{}, noop, badInput("eval: %v", err)
	}
	cleanup := noop
	if files {
		tmp, err := os.MkdirTemp("", "gatescan-eval-")
		if err != nil {
			return evalRun{}, noop, fmt.Errorf("eval: %w", err)
		}
		cleanup = func() { os.RemoveAll(tmp) }
		opts.Dir = tmp
	}
	jobs := eval.Jobs(names, n, seed)
	return evalRun{total: len(jobs), run: func(p func(*eval.Outcome, error)) ([]*eval.Outcome, []error) {
		return eval.Evaluate(cfg, jobs, opts, workers, p)
	}}, cleanup, nil
}

// printOutcome prints a line per container of one scan, for eval -v.
func printOutcome(stdout io.Writer, o *eval.Outcome) {
	for i, r := range o.Results {
		role := "honest"
		if i < len(o.Target) && o.Target[i] {
			role = "TARGET"
		}
		xray := "-"
		if r.Weights.XrayKg != nil {
			xray = fmt.Sprintf("%.0f", *r.Weights.XrayKg)
		}
		truth := 0.0
		if i < len(o.Truth.Containers) {
			truth = o.Truth.Containers[i].CargoKg
		}
		which := fmt.Sprintf("seed %-4d", o.Seed)
		if o.Case != "" {
			which = fmt.Sprintf("case %-6s", o.Case)
		}
		fmt.Fprintf(stdout, "%-20s %s c%d %-6s truth %6.0f kg  xray %6s kg  %-6s %s\n",
			o.Scenario, which, i, role, truth, xray, r.Verdict, strings.Join(r.Codes(), " "))
	}
}

// printTitles prints the cases' titles in key order; nothing when there are none.
func printTitles(stdout io.Writer, titles map[string]string) {
	if titles == nil {
		return
	}
	keys := make([]string, 0, len(titles))
	for k := range titles {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "  %-5s %s\n", k, titles[k])
	}
}

// writeWedges writes a commissioning wedge scan of the simulator's scanner
// model per energy pair into dir and prints the sidecars' paths.
func writeWedges(dir, scanner string, seed int64, stdout io.Writer) error {
	if _, err := xraysim.ScannerByName(scanner); err != nil {
		return badInput("eval: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	for i, e := range [][2]float64{{6, 4}, {9, 6}} {
		name := fmt.Sprintf("wedge-%g-%g", e[0], e[1])
		s := xraysim.WedgeScene(scanner, e[0], e[1], true, seed+int64(i))
		if _, err := xraysim.WriteWedge(dir, name, s, xraysim.DefaultWedge(), xraysim.SidecarMeta{ScanID: name, Lane: "L1"}); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		fmt.Fprintln(stdout, filepath.Join(dir, name+".json"))
	}
	return nil
}
