package vision

import (
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"fmt"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision/xraysim"
	"os"
)

// debugRows prints, for rows near the top, the longest opaque run.
func (d *Detector) debugRows(px float64) {
	if os.Getenv("GATESCAN_DEBUG_ROWS") == "" {
		return
	}
	t, _ := d.t.DataPtrFloat32()
	h, w := d.t.Rows(), d.t.Cols()
	for r := 0; r < h; r += 1 {
		runs := longRuns(t[r*w:(r+1)*w], float32(d.p.StructureTransmission), int(0.5/px), max(1, int(0.06/px)), nil)
		best := 0
		var mn float32 = 9
		for _, s := range runs {
			best = max(best, s.b-s.a)
		}
		for _, v := range t[r*w : (r+1)*w] {
			mn = min(mn, v)
		}
		if (r >= 88 && r < 112) || r%50 == 0 {
			var sum float32
			for _, v := range t[r*w+700 : r*w+1300] {
				sum += v
			}
			fmt.Printf("row %d mean(700:1300) %.4f\n", r, sum/600)
		}
		if best > 0 && r < 0 {
			fmt.Printf("row %d longest %.2fm runs %d min %.4f\n", r, float64(best)*px, len(runs), mn)
		}
	}
}

func init() {
	debugHook = func(d *Detector, px float64) { d.debugRows(px) }
}

func TestDebugRows(t *testing.T) {
	spec := os.Getenv("GATESCAN_DEBUG_ROWS")
	if spec == "" {
		t.Skip("debug only")
	}
	p := strings.Split(spec, ":")
	seed, _ := strconv.ParseInt(p[1], 10, 64)
	scene, _, err := xraysim.Scenario(p[0], rand.New(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := xraysim.Write(dir, "x", scene, xraysim.SidecarMeta{ScanID: "x", Lane: "L1"}); err != nil {
		t.Fatal(err)
	}
	scan, err := scanin.Load(dir+"/x.json", scanin.Limits{MaxWidth: 20000, MaxHeight: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	det := New(config.Default())
	defer det.Close()
	sc := scan.Sidecar
	a, err := det.Analyze(Input{High: scan.High, PixelXMM: sc.PixelMM.X, PixelYMM: sc.PixelMM.Y, Air: sc.Air, Dark: sc.Dark, MuCm2G: sc.MuCm2G, Containers: len(sc.ContainerIDs)})
	fmt.Println(err, a.LeadIn, sc.PixelMM, sc.ContainerIDs)
}
