package vision

import (
	"fmt"
	"strings"
)

// calibrationNote says when a scan's energy has no calibration measured
// on the site's scanner, so that masses (and material classes) fall back
// to the defaults: those model one linac, and another one's masses are
// off by as much as its spectrum differs. An info note, on every result
// until the site commissions its scanner: whoever reads a density finding
// should know it rests on a modelled scanner, not a measured one.
func (d *Detector) calibrationNote(mass string, site bool, energy float64) (Note, bool) {
	dual := d.seen.dual
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

// attenuationOf is the attenuation that the calibration of the scan maps
// to mass thickness g (g/cm²): massOf inverted, by bisection (massOf
// rises with attenuation).
func (d *Detector) attenuationOf(g float64) float64 {
	lo, hi := 0.0, 1.0
	for d.massOf(hi) < g && hi < 64 {
		hi *= 2
	}
	for range 40 {
		mid := (lo + hi) / 2
		if d.massOf(mid) < g {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// steelRatio is A_low/A_high behind steel at high-energy attenuation a:
// the dual-energy calibration's steel curve when there is one, else a
// typical linac's 1.12.
func (d *Detector) steelRatio(a float64) float64 {
	if d.seen.dual != nil && len(d.seen.dual.Steel) > 0 {
		return ratioAt(d.seen.dual.Steel, a)
	}
	return 1.12
}
