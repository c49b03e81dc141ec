package calib

import (
	"math"
	"strings"
	"testing"
)

// TestOrganicFactor converts organic wedge substances to the reference
// organic by their electrons per unit mass.
func TestOrganicFactor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		want  float64
		known bool
	}{
		{"polyethylene", 1.0335, true},
		{"HDPE sheet 20 mm", 1.0335, true},
		{"Polypropylene/Cellulose 50/50", 1, true},
		{"water tank", 1.0060, true},
		{"PMMA (Perspex)", 0.9775, true},
		{"paper ream", 0.9665, true},
		{"PET ", 0.9438, true},
		{"block 7", 1, false},
		{"", 1, false},
	} {
		f, _, known := organicFactor(tc.name)
		if math.Abs(f-tc.want) > 5e-4 || known != tc.known {
			t.Errorf("%q: factor %.4f known %v, want %.4f %v", tc.name, f, known, tc.want, tc.known)
		}
	}
	ms := []Measured{{Step: Step{Material: Organic, Name: "polyethylene", GCm2: 20}}, {Step: Step{Material: Organic, Name: "polyethylene", GCm2: 40}},
		{Step: Step{Material: Organic, Name: "block", GCm2: 60}}, {Step: Step{Material: Steel, Name: "steel", GCm2: 60}}}
	notes := organicNotes(ms)
	if len(notes) != 2 || !strings.Contains(notes[0], "1.034 g/cm² of the reference organic") || !strings.Contains(notes[1], "not known by name") {
		t.Errorf("notes %q", notes)
	}
	if math.Abs(ms[1].RefGCm2-41.34) > 0.01 || ms[2].RefGCm2 != 60 || ms[3].RefGCm2 != 0 {
		t.Errorf("reference g/cm² %v %v %v", ms[1].RefGCm2, ms[2].RefGCm2, ms[3].RefGCm2)
	}
}
