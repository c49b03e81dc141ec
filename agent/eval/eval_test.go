package eval

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/xraysim"
)

// TestExplore runs every scenario GATESCAN_EXPLORE times (seeds from
// GATESCAN_EXPLORE_SEED, default 1) and prints each scan that went wrong
// and the summary table.
func TestExplore(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GATESCAN_EXPLORE"))
	if n == 0 {
		t.Skip("exploration only: GATESCAN_EXPLORE=seeds per scenario")
	}
	seed, _ := strconv.ParseInt(os.Getenv("GATESCAN_EXPLORE_SEED"), 10, 64)
	if seed == 0 {
		seed = 1
	}
	cfg := config.Default()
	sc := xraysim.ScenarioNames()
	outs, errs := Evaluate(cfg, Jobs(sc, n*len(sc), seed), Options{}, 0, func(o *Outcome, err error) {
		if err != nil {
			fmt.Println("ERROR", err)
			return
		}
		for i, r := range o.Results {
			want := "ok"
			if i < len(o.Target) && o.Target[i] && r.Verdict != inspection.Alert {
				want = "MISSED"
			} else if (i >= len(o.Target) || !o.Target[i]) && r.Verdict == inspection.Alert {
				want = "FALSE-ALARM"
			} else if (i >= len(o.Target) || !o.Target[i]) && r.Verdict == inspection.Review {
				want = "review"
			}
			tk := 0.0
			if i < len(o.Truth.Containers) {
				tk = o.Truth.Containers[i].CargoKg
			}
			x := 0.0
			if r.Weights.XrayKg != nil {
				x = *r.Weights.XrayKg
			}
			fmt.Printf("%-12s %-20s %3d c%d truth %6.0f xray %6.0f %-6s %v\n", want, o.Scenario, o.Seed, i, tk, x, r.Verdict, r.Codes())
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	fmt.Print(Format(Summarize(outs)))
}
