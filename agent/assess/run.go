package assess

import (
	"time"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

// Inspect runs the detector on a loaded scan and assesses it: the one path
// from scan to results, shared by the daemon, `gatescan inspect` and the
// evaluation. c.Sidecar is taken from the scan; c.Analysis is filled in.
// The scan's images are released (closed) as soon as the detector has read
// them.
func Inspect(cfg *config.Config, det *vision.Detector, scan *scanin.Scan, c *Case) []inspection.Result {
	return inspect(cfg, det, scan.Sidecar, scan.High, scan.Low, scan.Dual(), scan.Release, c)
}

// InspectImages is Inspect for images already in memory: high (and low
// when dual) are CV_16UC1 Mats as the sidecar sc describes them. They are
// left to the caller.
func InspectImages(cfg *config.Config, det *vision.Detector, sc *scanin.Sidecar, high, low gocv.Mat, dual bool, c *Case) []inspection.Result {
	return inspect(cfg, det, sc, high, low, dual, nil, c)
}

func inspect(cfg *config.Config, det *vision.Detector, sc *scanin.Sidecar, high, low gocv.Mat, dual bool, release func(low bool), c *Case) []inspection.Result {
	c.Sidecar = sc
	in := input(sc, high, low, dual, release, Types(c.Declarations))
	if c.TimingsMS == nil {
		c.TimingsMS = map[string]float64{}
	}
	t0 := time.Now()
	c.Analysis, c.AnalysisErr = det.Analyze(in)
	c.TimingsMS["detector"] = float64(time.Since(t0).Microseconds()) / 1000
	t0 = time.Now()
	results := Assess(cfg, *c)
	assessMS := float64(time.Since(t0).Microseconds()) / 1000
	for i := range results {
		results[i].TimingsMS["assess"] = assessMS
	}
	return results
}

// Types are the declared ISO size-type codes of a scan's containers, in
// the order of its container numbers ("" where there is no declaration):
// what the detector is told of the boxes it looks for.
func Types(ds []*declaration.Declaration) []string {
	var out []string
	for _, d := range ds {
		t := ""
		if d != nil {
			t = d.ContainerType
		}
		out = append(out, t)
	}
	return out
}

// Analyze runs the detector alone on a loaded scan, as Inspect runs it
// with declarations of the given types: the daemon makes a committed
// scan's annotated images again with it after a crash, without
// assessing the scan again. The scan's images are released as Inspect
// releases them.
func Analyze(det *vision.Detector, scan *scanin.Scan, types []string) (*vision.Analysis, error) {
	return det.Analyze(input(scan.Sidecar, scan.High, scan.Low, scan.Dual(), scan.Release, types))
}

func input(sc *scanin.Sidecar, high, low gocv.Mat, dual bool, release func(low bool), types []string) vision.Input {
	return vision.Input{High: high, Low: low, HasLow: dual, PixelXMM: sc.PixelMM.X, PixelYMM: sc.PixelMM.Y,
		Air: sc.Air, Dark: sc.Dark, MuCm2G: sc.MuCm2G, EnergyHighMeV: sc.EnergyMeV.High, EnergyLowMeV: sc.EnergyMeV.Low,
		Containers: len(sc.ContainerIDs), Types: types, Release: release}
}
