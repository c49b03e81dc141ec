package agent

import (
	"fmt"
	"log/slog"

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
	sc := scan.Sidecar
	j, err := joiner{cfg: cfg, store: store, log: slog.New(slog.DiscardHandler)}.join(sc, hasWeighbridge(cfg, sc.Lane), sc.ScanID)
	if err != nil {
		return nil, fmt.Errorf("scan %s: join with the buffer: %w", sc.ScanID, err)
	}
	j.Weight = nil
	if storedGrossKg != nil {
		j.Weight = &buffer.Weight{Lane: sc.Lane, GrossKg: *storedGrossKg}
	}
	results, _ := Inspect(cfg, det, scan, j, nil)
	return results, nil
}
