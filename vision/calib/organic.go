package calib

import (
	"fmt"
	"strings"
)

// At MeV energies light elements attenuate by Compton scattering, in
// proportion to their electrons per unit mass, Z/A: hydrogen-rich
// polyethylene takes 7 % more of the beam per g/cm² than paper. The
// detector's mass is counted in one reference organic, the one its
// default calibration was computed for: half polypropylene, half
// cellulose, as cargo of plastics, textiles, paper and food is on
// average. An organic wedge of another substance is converted to it, so
// that a site's masses do not depend on what its wedge is made of.
const refZA = 0.5518

// organics are the wedge substances known by name, most specific first.
var organics = []struct {
	words []string // any of them in the step's name
	za    float64
	what  string
}{
	{[]string{"polypropylene/cellulose", "pp/cellulose", "reference organic"}, refZA, "polypropylene/cellulose"},
	{[]string{"polyethylene", "polythene", "hdpe", "ldpe", "uhmw", "polypropylene"}, 0.5703, "polyethylene"},
	{[]string{"water"}, 0.5551, "water"},
	{[]string{"nylon", "polyamide"}, 0.5475, "nylon"},
	{[]string{"pmma", "acrylic", "perspex", "plexiglas"}, 0.5394, "PMMA"},
	{[]string{"polystyrene"}, 0.5377, "polystyrene"},
	{[]string{"paper", "cellulose", "cardboard", "wood"}, 0.5333, "cellulose"},
	{[]string{"polyester", "pet "}, 0.5208, "PET"},
}

// organicFactor is how many g/cm² of the reference organic attenuate as
// one g/cm² of the organic wedge block named name; known is false (and
// the factor 1) for a name that says no known substance.
func organicFactor(name string) (f float64, what string, known bool) {
	n := strings.ToLower(name) + " "
	for _, o := range organics {
		for _, w := range o.words {
			if strings.Contains(n, w) {
				return o.za / refZA, o.what, true
			}
		}
	}
	return 1, "", false
}

// organicNotes converts the organic steps' areal densities to the
// reference organic and says how.
func organicNotes(ms []Measured) []string {
	var notes []string
	seen := map[string]bool{}
	for i := range ms {
		m := &ms[i]
		if m.Material != Organic {
			continue
		}
		f, what, known := organicFactor(m.Name)
		m.RefGCm2 = m.GCm2 * f
		if seen[m.Name] {
			continue
		}
		seen[m.Name] = true
		switch {
		case !known:
			notes = append(notes, fmt.Sprintf("organic steps %q: substance not known by name, masses will be equivalent to it (name it, e.g. polyethylene, water, PMMA, paper, for the conversion to the reference organic)", m.Name))
		case f != 1:
			notes = append(notes, fmt.Sprintf("organic steps %q counted as %s (Z/A %.4f): 1 g/cm² attenuates as %.3f g/cm² of the reference organic, polypropylene/cellulose (Z/A %.4f)", m.Name, what, f*refZA, f, refZA))
		}
	}
	return notes
}
