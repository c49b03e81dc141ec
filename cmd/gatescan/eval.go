package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatescan/gatescan/agent/eval"
	"github.com/gatescan/gatescan/drivers/xraysim"
)

// cmdEval runs the detector and the assessment over simulated scans and
// prints, per scenario, how many concealments were alerted, how many honest
// containers were alerted or sent to review, and the X-ray mass error.
func cmdEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	n := fs.Int("n", 105, "number of scans, spread evenly over the scenarios")
	seed := fs.Int64("seed", 1, "seed of the first scan of each scenario; the next ones count up")
	list := fs.String("scenarios", "", "comma-separated scenarios (default: all of them)")
	cfgPath := fs.String("config", "", "config file (default: built-in defaults)")
	workers := fs.Int("workers", 0, "scans analysed at once (default: one per CPU)")
	files := fs.Bool("files", false, "write every scan to files and load it back as the daemon does (slower)")
	verbose := fs.Bool("v", false, "print a line for every container inspected")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badInput("eval: unexpected argument %q", pos[0])
	}
	if *n < 1 {
		return badInput("eval: --n %d: give at least one scan", *n)
	}
	known := xraysim.ScenarioNames()
	names := known
	if *list != "" {
		names = nil
		for _, s := range strings.Split(*list, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(known, s) {
				return badInput("eval: unknown scenario %q; know: %s", s, strings.Join(known, ", "))
			}
			names = append(names, s)
		}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	var opts eval.Options
	if *files {
		dir, err := os.MkdirTemp("", "gatescan-eval-")
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.Dir = dir
	}
	jobs := eval.Jobs(names, *n, *seed)
	t0 := time.Now()
	done := 0
	outs, errs := eval.Evaluate(cfg, jobs, opts, *workers, func(o *eval.Outcome, err error) {
		done++
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "eval: %v\n", err)
		case *verbose:
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
				fmt.Fprintf(stdout, "%-20s seed %-4d c%d %-6s truth %6.0f kg  xray %6s kg  %-6s %s\n",
					o.Scenario, o.Seed, i, role, truth, xray, r.Verdict, strings.Join(r.Codes(), " "))
			}
		default:
			fmt.Fprintf(stderr, "\r%d/%d scans", done, len(jobs))
		}
	})
	if !*verbose {
		fmt.Fprintln(stderr)
	}
	fmt.Fprint(stdout, eval.Format(eval.Summarize(outs)))
	fmt.Fprintf(stdout, "%d scans in %v\n", len(jobs), time.Since(t0).Round(time.Second))
	failed := 0
	for _, e := range errs {
		if e != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("eval: %d of %d scans could not be made or inspected (see above)", failed, len(jobs))
	}
	return nil
}
