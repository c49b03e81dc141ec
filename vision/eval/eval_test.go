package eval

import (
	"fmt"
	"os"
	"testing"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/vision"
	"github.com/gatescan/gatescan/vision/xraysim"
)

func TestExplore(t *testing.T) {
	if os.Getenv("GATESCAN_EXPLORE") == "" {
		t.Skip("exploration only")
	}
	cfg := config.Default()
	det := vision.New(cfg)
	defer det.Close()
	var all []*Outcome
	for _, sc := range xraysim.ScenarioNames() {
		for seed := int64(1); seed <= 3; seed++ {
			o, err := Run(cfg, det, sc, seed, t.TempDir())
			if err != nil {
				t.Errorf("%s/%d: %v", sc, seed, err)
				continue
			}
			all = append(all, o)
			for i, r := range o.Results {
				tk := 0.0
				if i < len(o.Truth.Containers) {
					tk = o.Truth.Containers[i].CargoKg
				}
				x := 0.0
				if r.Weights.XrayKg != nil {
					x = *r.Weights.XrayKg
				}
				fmt.Printf("%-22s %d c%d truth %7.0f xray %7.0f %-6s %v\n", sc, seed, i, tk, x, r.Verdict, r.Codes())
			}
		}
	}
	fmt.Print(Format(Summarize(all)))
}
