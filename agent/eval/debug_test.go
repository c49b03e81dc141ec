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

// TestDebugOne prints found against true for GATESCAN_DEBUG=scenario:seed,...
// (GATESCAN_DEBUG_ANNOTATE=DIR also writes the annotated images there).
func TestDebugOne(t *testing.T) {
	spec := os.Getenv("GATESCAN_DEBUG")
	if spec == "" {
		t.Skip("debug only: GATESCAN_DEBUG=scenario:seed,...")
	}
	cfg := config.Default()
	det := vision.New(cfg)
	defer det.Close()
	for _, one := range strings.Split(spec, ",") {
		p := strings.Split(one, ":")
		seed, _ := strconv.ParseInt(p[1], 10, 64)
		o, err := RunWith(cfg, det, p[0], seed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		a := o.Analysis
		fmt.Printf("== %s seed %d: %dx%d px %.1fx%.1f mm lead %d dead %d dual %v %s pen %.0f g/cm² timings %v\n", p[0], seed, a.Width, a.Height,
			1000*a.PixelM[0], 1000*a.PixelM[1], a.LeadIn, a.DeadRows, a.Dual, a.Calibration, a.PenetrationGCm2, a.TimingsMS)
		for i, ct := range o.Truth.Containers {
			fmt.Printf("truth c%d %s target %v outer %v inner %v cargo %.0f frontleft %v\n", i, ct.Type, o.Target[i], ct.OuterPx, ct.InnerPx, ct.CargoKg, ct.FrontLeft)
			for _, r := range ct.Regions {
				fmt.Printf("   T %-40.40s %-9s %6.0f kg/m3 %6.0f kg hidden %-5v coil %-5v at %.2f,%.2f %.2fx%.2f\n", r.Label, r.Material, r.Density, r.Kg, r.Hidden, r.Coil, r.M.X, r.M.Y, r.M.W, r.M.H)
			}
		}
		for _, c := range a.Containers {
			fmt.Printf("found c%d %s(guess %v) outer %v inner %v cargo %.0f area %.1f walls %.2f nopen %.3f lb %v fill %.1f regions %d layers %d\n", c.Index, c.SizeCode, c.TypeGuessed, c.OuterPx, c.InnerPx, c.CargoKg, c.CargoAreaM2, c.SideWallsGCm2, c.NoPenetration, c.LowerBound, c.FillLengthM, len(c.Regions), len(c.Layers))
			for _, r := range c.Regions {
				fmt.Printf("   R%-2d %6.2fm2 %6.0fkg mean %5.0f p10/50/90 %5.0f %5.0f %5.0f hom %.2f op %.2f floor %-5v pkg %-5v %-9s rect %.2f circ %d/%.2f units %d pitch %.2f reg %.2f pal %-5v mat %-9s %.2f at %.2f,%.2f %.2fx%.2f\n",
					r.Label, r.AreaM2, r.Kg, r.DensityKgM3, r.P10, r.P50, r.P90, r.Homogeneity, r.Opaque, r.OnFloor, r.Packaging, r.Shape.Class, r.Shape.Rectangularity,
					r.Shape.Circles, r.Shape.CircleCover, r.Shape.Units, r.Shape.UnitPitchM, r.Shape.Regularity, r.Shape.Pallets, r.Material, r.MaterialIndex, r.M.XM, r.M.YM, r.M.WM, r.M.HM)
			}
			for _, l := range c.Layers {
				fmt.Printf("   layer light R%d %.0f under R%d %.0f (opaque %v) len %.2f h %.2f at %+v\n", l.Light+1, l.LightKgM3, l.Dense+1, l.DenseKgM3, l.DenseOpaque, l.LengthM, l.HeightM, l.M)
			}
		}
		for i, r := range o.Results {
			fmt.Printf("result c%d %s %.2f %v\n", i, r.Verdict, r.Risk, r.Codes())
			for _, f := range r.Findings {
				fmt.Printf("   %s %s: %s\n", f.Code, f.Severity, f.Message)
			}
			if dir := os.Getenv("GATESCAN_DEBUG_ANNOTATE"); dir != "" && i < len(a.Containers) {
				if jpg, err := det.Annotate(a, i, &o.Results[i], cfg.Detector.AnnotateMaxWidth, 0); err == nil {
					os.WriteFile(fmt.Sprintf("%s/%s-%d-c%d.jpg", dir, p[0], seed, i), jpg, 0o644)
				} else {
					fmt.Println("annotate:", err)
				}
			}
		}
	}
}
