package eval

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/vision"
)

func TestDebugOne(t *testing.T) {
	spec := os.Getenv("GATESCAN_DEBUG") // scenario:seed
	if spec == "" {
		t.Skip("debug only")
	}
	cfg := config.Default()
	det := vision.New(cfg)
	defer det.Close()
	for _, one := range strings.Split(spec, ",") {
		p := strings.Split(one, ":")
		seed, _ := strconv.ParseInt(p[1], 10, 64)
		o, err := Run(cfg, det, p[0], seed, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		a := o.Analysis
		fmt.Printf("== %s seed %d: %dx%d lead %d dead %d timings %v\n", p[0], seed, a.Width, a.Height, a.LeadIn, a.DeadRows, a.TimingsMS)
		for i, ct := range o.Truth.Containers {
			fmt.Printf("truth c%d %s outer %v inner %v cargo %.0f\n", i, ct.Type, ct.OuterPx, ct.InnerPx, ct.CargoKg)
		}
		for _, c := range a.Containers {
			fmt.Printf("found c%d %s(guess %v) outer %v inner %v cargo %.0f area %.1f walls %.2f nopen %.3f regions %d\n", c.Index, c.SizeCode, c.TypeGuessed, c.OuterPx, c.InnerPx, c.CargoKg, c.CargoAreaM2, c.SideWallsGCm2, c.NoPenetration, len(c.Regions))
		}
		for _, r := range o.Results {
			fmt.Printf("result %s %v\n", r.Verdict, r.Codes())
			for _, f := range r.Findings {
				fmt.Printf("   %s %s\n", f.Code, f.Message)
			}
		}
	}
}
