package agent

import (
	"fmt"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/drivers/scanin"
)

// quarantine ends a scan tried scanner.max_attempts times without its
// inspection ending: its result, one per container, is an alert with an
// IMAGE_QUALITY critical finding, committed and published like any other,
// so that the control room inspects the container by hand; its files go
// to the quarantine directory. It is not tried again: the gate goes on
// with the next truck.
func (a *Agent) quarantine(scan *scanin.Scan, id scanIdentity, j Joined, att buffer.Attempts) {
	cfg := a.Config()
	sc := scan.Sidecar
	why := att.Failure
	if why == "" {
		why = "the agent stopped while inspecting it (a crash, killed for memory, or hung and restarted)"
	}
	msg := fmt.Sprintf("could not be inspected: %s, %d attempts since %s; inspect the container by hand (scan files in %s)",
		why, att.Count-1, att.First.Format(time.RFC3339), QuarantineDir(cfg))
	n := max(1, len(sc.ContainerIDs))
	results := make([]inspection.Result, n)
	for i := range results {
		r := inspection.Result{
			InspectionID: inspection.ID(cfg.Site, cfg.Gate, id.key, i),
			ScanID:       sc.ScanID, Lane: sc.Lane, Site: cfg.Site, Gate: cfg.Gate, ScannedAt: sc.ScannedAt,
			ContainerIDs: sc.ContainerIDs, Verdict: inspection.Alert, Risk: 1,
			Findings:    []inspection.Finding{{Code: inspection.ImageQuality, Severity: inspection.Critical, Message: msg}},
			TimingsMS:   map[string]float64{},
			InspectedAt: time.Now().UTC(),
		}
		if i < len(j.Declarations) && j.Declarations[i] != nil {
			r.DeclarationID = j.Declarations[i].DeclarationID
		}
		if len(sc.ContainerIDs) > 1 {
			r.Container = sc.ContainerIDs[i]
		}
		if j.Weight != nil {
			r.Weights.GrossKg = inspection.Ptr(j.Weight.GrossKg)
		}
		results[i] = r
	}
	id.quarantined = true
	msgs, _, err := a.commit(sc, id, results, j.Weight, nil) // no image: nothing analysed
	if err != nil {
		a.log.Error("cannot commit the quarantine alert; will retry", "scan_id", sc.ScanID, "err", err)
		a.metrics.CommitErrors.Inc()
		a.scans.later(scan.Path, 5*time.Second)
		return
	}
	for _, r := range results {
		a.metrics.observe(&r)
	}
	a.inspected(results, msgs)
	a.metrics.Quarantined.Inc()
	a.log.Error("scan quarantined: could not be inspected; alert published for inspection by hand",
		"scan_id", sc.ScanID, "lane", sc.Lane, "attempts", att.Count-1, "failure", why, "dir", QuarantineDir(cfg), "inspection_id", results[0].InspectionID)
	a.finish(scan, true)
	a.scans.done(scan.Path)
}
