package web

import (
	"fmt"
	"time"

	"github.com/gatescan/gatescan/config"
)

// calibrationRows says, per beam energy, which calibration turns
// attenuation into mass and material on the technicians' page: the site's
// own (when its wedge was scanned, and which scan) or the defaults.
func calibrationRows(d config.Detector) []keyValue {
	when := func(at, source string) string {
		if t, err := time.Parse(time.RFC3339, at); err == nil {
			at = t.UTC().Format("2006-01-02 15:04 UTC")
		}
		return fmt.Sprintf("site calibration, wedge scanned %s (%s)", at, source)
	}
	const def = "defaults (a modelled linac), not this scanner's: run gatescan calibrate"
	var rows []keyValue
	for _, w := range d.StepWedges {
		v := def
		if w.Site() {
			v = when(w.CalibratedAt, w.Source)
		}
		rows = append(rows, keyValue{fmt.Sprintf("mass, %g MeV", w.EnergyMeV), v})
	}
	if len(d.StepWedge) >= 2 {
		rows = append(rows, keyValue{"mass, any energy", "detector.step_wedge, entered by hand"})
	}
	for _, de := range d.DualEnergy {
		v := def
		if de.Site() {
			v = when(de.CalibratedAt, de.Source)
		}
		rows = append(rows, keyValue{fmt.Sprintf("materials, %g/%g MeV", de.EnergyMeV[0], de.EnergyMeV[1]), v})
	}
	return rows
}
