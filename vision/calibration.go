package vision

import (
	"fmt"
	"strings"
)

// calibrationNote says when a scan's energy has no calibration measured
// on the site's scanner although the site has calibrated its scanner (for
// other energies), so that masses (and material classes) fall back to the
// defaults: those model one linac, and another one's masses are off by as
// much as its spectrum differs. A site that never calibrated is told so
// on the technicians' page rather than on every result.
func (d *Detector) calibrationNote(mass string, site bool, energy float64) (Note, bool) {
	if !d.calibrated() {
		return Note{}, false
	}
	dual := d.dual
	var what []string
	if !site {
		what = append(what, "X-ray masses use the "+mass)
	}
	if dual != nil && !dual.Site() {
		what = append(what, fmt.Sprintf("material classes the default dual-energy curves for %v/%v MeV", dual.EnergyMeV[0], dual.EnergyMeV[1]))
	}
	if len(what) == 0 {
		return Note{}, false
	}
	return quality(Info, fmt.Sprintf("no site calibration for %v MeV: %s, not this scanner's; commission it with a step-wedge scan (gatescan calibrate)",
		energy, strings.Join(what, " and "))), true
}

// calibrated reports whether any calibration table of the settings was
// measured on the site's scanner.
func (d *Detector) calibrated() bool {
	for _, w := range d.p.StepWedges {
		if w.Site() {
			return true
		}
	}
	for _, de := range d.p.DualEnergy {
		if de.Site() {
			return true
		}
	}
	return false
}
