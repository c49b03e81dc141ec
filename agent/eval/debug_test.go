package eval

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/config"
)

func TestDebugOne(t *testing.T) {
	sc := os.Getenv("DBG_SCEN")
	if sc == "" {
		t.Skip()
	}
	seed, _ := strconv.ParseInt(os.Getenv("DBG_SEED"), 10, 64)
	px, _ := strconv.ParseFloat(os.Getenv("DBG_PX"), 64)
	cfg := config.Default()
	outs, errs := Evaluate(cfg, []Job{{sc, seed}}, Options{MinPixelMM: px}, 1, nil)
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	for i, r := range outs[0].Results {
		fmt.Println("container", i, r.Verdict, r.Risk, "target", outs[0].Target[i])
		for _, f := range r.Findings {
			fmt.Println("  ", f.Severity, f.Code, f.Message)
		}
		if c := outs[0].Analysis.Containers; i < len(c) {
			for _, g := range c[i].Regions {
				fmt.Printf("   R%d area %.2f p50 %.0f lb %v pk %v rect %.2f %s\n", g.Label, g.AreaM2, g.P50, g.LowerBound, g.Packaging, g.Shape.Rectangularity, strings.TrimSpace(g.Material))
			}
		}
	}
}

func TestDebugCase(t *testing.T) {
	dir := os.Getenv("DBG_CASE")
	if dir == "" {
		t.Skip()
	}
	cfg := config.Default()
	cs, err := Cases(dir)
	if err != nil {
		t.Fatal(err)
	}
	outs, errs := EvaluateCases(cfg, cs, 1, nil)
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	for i, r := range outs[0].Results {
		fmt.Println("container", i, r.Verdict, r.Risk, "target", outs[0].Target[i], r.Weights.NetKg, *r.Weights.XrayKg)
		for _, f := range r.Findings {
			fmt.Println("  ", f.Severity, f.Code, f.Message)
		}
		if c := outs[0].Analysis.Containers; i < len(c) {
			for _, g := range c[i].Regions {
				fmt.Printf("   R%d area %.2f p50 %.0f p10 %.0f p90 %.0f lb %v pk %v rect %.2f %s %s circ %d %.2f\n", g.Label, g.AreaM2, g.P50, g.P10, g.P90, g.LowerBound, g.Packaging, g.Shape.Rectangularity, strings.TrimSpace(g.Material), g.Shape.Class, g.Shape.Circles, g.Shape.CircleCover)
			}
		}
	}
}
