package vision

import (
	"math"

	"github.com/gatescan/gatescan/vision/settings"
)

// Dual-energy material classes, from light elements to heavy.
const (
	MaterialOrganic   = "organic"
	MaterialMixed     = "mixed"
	MaterialInorganic = "inorganic"
	MaterialMetal     = "metal"
)

// dualFor returns the dual-energy calibration for a pair of end-point
// energies (within 0.5 MeV each), or nil. A scan that does not state its
// energies uses the only calibration when there is exactly one.
func (d *Detector) dualFor(hi, lo float64) *settings.DualEnergy {
	if hi == 0 && lo == 0 && len(d.p.DualEnergy) == 1 {
		return &d.p.DualEnergy[0]
	}
	for i := range d.p.DualEnergy {
		de := &d.p.DualEnergy[i]
		if math.Abs(de.EnergyMeV[0]-hi) <= 0.5 && math.Abs(de.EnergyMeV[1]-lo) <= 0.5 {
			return de
		}
	}
	return nil
}

// ratioAt interpolates a calibration curve's A_low/A_high ratio at
// high-energy attenuation a, holding the end values beyond the table.
func ratioAt(tab [][2]float64, a float64) float64 {
	if a <= tab[0][0] {
		return tab[0][1] / tab[0][0]
	}
	for i := 1; i < len(tab); i++ {
		if a <= tab[i][0] {
			r0, r1 := tab[i-1][1]/tab[i-1][0], tab[i][1]/tab[i][0]
			return r0 + (r1-r0)*(a-tab[i-1][0])/(tab[i][0]-tab[i-1][0])
		}
	}
	n := len(tab) - 1
	return tab[n][1] / tab[n][0]
}

// classify names the material of a cargo attenuation pair: where the
// ratio A_low/A_high lies among the organic, aluminium and steel curves at
// that A_high. It returns the class, the material index (0 on the steel
// curve, 1 on the organic one) and the index's standard deviation when
// the ratio is known to within the relative sd.
func classify(de *settings.DualEnergy, aHigh, ratio, sd float64) (string, float64, float64) {
	ro, ra, rf := ratioAt(de.Organic, aHigh), ratioAt(de.Aluminium, aHigh), ratioAt(de.Steel, aHigh)
	idx, idxSD := 0.0, math.Inf(1)
	if ro > rf {
		idx = (ratio - rf) / (ro - rf)
		idxSD = sd * ratio / (ro - rf)
	}
	switch {
	case ratio >= ro-0.3*(ro-ra):
		return MaterialOrganic, idx, idxSD
	case ratio >= ra+0.3*(ro-ra):
		return MaterialMixed, idx, idxSD
	case ratio >= (ra+rf)/2:
		return MaterialInorganic, idx, idxSD
	default:
		return MaterialMetal, idx, idxSD
	}
}

// materials gives each region a dual-energy class from the ratio of its
// summed low- and high-energy cargo attenuations, over the cells thick
// enough for the ratio to mean something and thin enough for both beams
// to have got through.
func (d *Detector) materials(c *Container) {
	if d.seen.dual == nil {
		return
	}
	s := &d.seg
	ah, _ := d.cells.attHigh.DataPtrFloat32()
	al, _ := d.cells.attLow.DataPtrFloat32()
	oh, _ := d.cells.opaque.DataPtrFloat32()
	ol, _ := d.cells.opaqueLow.DataPtrFloat32()
	aMin := d.p.MaterialMinAttenuation
	minCells := int(math.Ceil(0.05 / (s.g.cx * s.g.cy)))
	for i := range c.Regions {
		rg := &c.Regions[i]
		var sh, sl float64
		n := 0
		for _, ci := range s.order[s.start[i+1]:s.start[i+2]] {
			h := float64(ah[ci])
			// Only cells where both beams got through every pixel: a
			// clamped pixel would bend the ratio towards metal.
			if oh[ci] > 0 || ol[ci] > 0 || h < aMin {
				continue
			}
			sh += h
			sl += float64(al[ci])
			n++
		}
		// What the beam did not cross may be anything: a region mostly
		// opaque, or mostly too thin to measure, has no material.
		if n < minCells || sh <= 0 || rg.LowerBound || 2*n < len(s.order[s.start[i+1]:s.start[i+2]]) {
			continue
		}
		sd := d.p.MaterialRatioSD[1]
		if d.seen.dual.Site() {
			sd = d.p.MaterialRatioSD[0]
		}
		rg.Material, rg.MaterialIndex, rg.MaterialSD = classify(d.seen.dual, sh/float64(n), sl/sh, sd)
		rg.MaterialIndex, rg.MaterialSD = round(rg.MaterialIndex, 3), round(rg.MaterialSD, 3)
	}
}
