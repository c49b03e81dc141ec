package vision

import (
	"fmt"
	"strings"

	"github.com/gatescan/gatescan/vision/settings"
)

// calibrationNote says when a scan's energy has no calibration measured
// on the site's scanner, so that masses (and material classes) fall back
// to the defaults: those model one linac, and another one's masses are
// off by as much as its spectrum differs.
func calibrationNote(mass string, site bool, dual *settings.DualEnergy, energy float64) (Note, bool) {
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
