package assess

import (
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

// Inspect runs the detector on a loaded scan and assesses it: the one path
// from scan to results, shared by the daemon, `gatescan inspect` and the
// evaluation. c.Sidecar is taken from the scan; c.Analysis is filled in.
func Inspect(cfg *config.Config, det *vision.Detector, scan *scanin.Scan, c *Case) []inspection.Result {
	sc := scan.Sidecar
	c.Sidecar = sc
	in := vision.Input{High: scan.High, Low: scan.Low, HasLow: scan.Dual(), PixelXMM: sc.PixelMM.X, PixelYMM: sc.PixelMM.Y,
		Air: sc.Air, Dark: sc.Dark, MuCm2G: sc.MuCm2G, Containers: len(sc.ContainerIDs)}
	for _, d := range c.Declarations {
		t := ""
		if d != nil {
			t = d.ContainerType
		}
		in.Types = append(in.Types, t)
	}
	if c.TimingsMS == nil {
		c.TimingsMS = map[string]float64{}
	}
	t0 := time.Now()
	c.Analysis, c.AnalysisErr = det.Analyze(in)
	c.TimingsMS["detector"] = float64(time.Since(t0).Microseconds()) / 1000
	return Assess(cfg, *c)
}
