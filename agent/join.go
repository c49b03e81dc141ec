package agent

import (
	"errors"
	"time"

	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

// joined is what a scan was joined with.
type joined struct {
	decls     []*declaration.Declaration
	corrected []string // per container number: the corrected number, or ""
	weight    *buffer.Weight
	plateTare float64 // learned tare of the vehicle, 0 if none
	// missing reports that a declaration or the weight has not arrived.
	missing bool
}

// join finds the scan's declarations (one per container number, correcting
// one misread character when exactly one stored declaration fits), the
// lane's stable truck weight nearest the scan that no other scan took, and
// the vehicle's learned tare.
func (a *Agent) join(sc *scanin.Sidecar, hasBridge bool) (joined, error) {
	cfg := a.Config()
	j := joined{decls: make([]*declaration.Declaration, len(sc.ContainerIDs)), corrected: make([]string, len(sc.ContainerIDs))}
	var known []string // stored container numbers, read once if needed
	for i, raw := range sc.ContainerIDs {
		id := declaration.Normalize(raw)
		d, err := a.declaration(id)
		if err != nil {
			return j, err
		}
		if d == nil && declaration.ValidContainerID(id) != nil {
			if known == nil {
				known = []string{}
				if err := a.store.EachDeclaration(func(k string) error { known = append(known, k); return nil }); err != nil {
					return j, err
				}
			}
			if fix, ok := declaration.Correct(id, known); ok {
				if d, err = a.declaration(fix); err != nil {
					return j, err
				}
				j.corrected[i] = fix
			}
		}
		j.decls[i] = d
		j.missing = j.missing || d == nil
	}
	if hasBridge {
		w, ok, err := a.store.NearestFreeWeight(sc.Lane, sc.ScannedAt, cfg.Rules.JoinWindow, sc.ScanID)
		if err != nil {
			return j, err
		}
		if ok {
			j.weight = &w
		} else {
			j.missing = true
		}
	}
	if sc.Vehicle.Plate != "" {
		kg, ok, err := a.store.PlateTare(sc.Vehicle.Plate)
		if err != nil {
			return j, err
		}
		if ok {
			j.plateTare = kg
		}
	}
	return j, nil
}

func (a *Agent) declaration(id string) (*declaration.Declaration, error) {
	b, err := a.store.Declaration(id)
	if err != nil || b == nil {
		return nil, err
	}
	d, err := declaration.Parse(b)
	if err != nil {
		// Stored only after validation; a failure here is a rule change.
		a.log.Warn("stored declaration no longer valid; ignored", "container_id", id, "err", err)
		return nil, nil
	}
	return d, nil
}

// afterCommit learns from a committed scan: a vehicle weighed without a
// container teaches us its tare. (The weight the scan joined is marked as
// its own by the commit itself.)
func (a *Agent) afterCommit(sc *scanin.Sidecar, j joined, analysisErr error) {
	if j.weight == nil {
		return
	}
	if sc.Vehicle.Plate != "" && errors.Is(analysisErr, vision.ErrNoContainer) {
		if err := a.store.PutPlateTare(sc.Vehicle.Plate, j.weight.GrossKg, time.Now()); err == nil {
			a.log.Info("vehicle tare learned", "plate", sc.Vehicle.Plate, "tare_kg", j.weight.GrossKg)
		}
	}
}
