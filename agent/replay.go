package agent

import (
	"fmt"
	"log/slog"

	"github.com/gatescan/gatescan/agent/assess"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

// Reinspect inspects a kept scan again with cfg, as the daemon would, for
// `gatescan replay`. It joins the scan as the daemon does, with what store
// holds now (declarations, learned tares), except for the truck's weight:
// it takes the gross the stored inspection had (nil: none was joined), so
// that between the stored verdict and the new one only the config, and
// declarations replaced since, differ. store is only read.
func Reinspect(cfg *config.Config, store *buffer.Store, det *vision.Detector, scan *scanin.Scan, storedGrossKg *float64) ([]inspection.Result, error) {
	a := &Agent{cfg: cfg, store: store, log: slog.New(slog.DiscardHandler)}
	sc := scan.Sidecar
	j, err := a.join(sc, hasWeighbridge(cfg, sc.Lane))
	if err != nil {
		return nil, fmt.Errorf("scan %s: join with the buffer: %w", sc.ScanID, err)
	}
	j.weight = nil
	if storedGrossKg != nil {
		j.weight = &buffer.Weight{Lane: sc.Lane, GrossKg: *storedGrossKg}
	}
	c := caseFor(cfg, sc, j, nil)
	return assess.Inspect(cfg, det, scan, &c), nil
}

// hasWeighbridge tells whether the lane's trucks are weighed at the gate.
func hasWeighbridge(cfg *config.Config, lane string) bool {
	lc := cfg.Lane(lane)
	return lc != nil && lc.Weighbridge != nil
}

// caseFor is what the assessment of a joined scan starts from, in the
// daemon and in replay alike.
func caseFor(cfg *config.Config, sc *scanin.Sidecar, j joined, timingsMS map[string]float64) assess.Case {
	lc := cfg.Lane(sc.Lane)
	c := assess.Case{Declarations: j.decls, Corrected: j.corrected, Weighbridge: hasWeighbridge(cfg, sc.Lane),
		PlateTareKg: j.plateTare, TimingsMS: timingsMS}
	if j.weight != nil {
		c.GrossKg = &j.weight.GrossKg
	}
	if lc != nil {
		c.LaneTareKg = lc.VehicleTareKg
	}
	return c
}
