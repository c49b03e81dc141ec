package vision

import (
	"math"
	"testing"

	"github.com/gatescan/gatescan/config"
)

func TestDetectorWedge(t *testing.T) {
	tab := [][2]float64{{0.5, 10}, {1.0, 20}, {2.0, 45}}
	for _, tc := range []struct{ a, want float64 }{
		{0, 0}, {0.25, 5}, {0.5, 10}, {0.75, 15}, {1.5, 32.5}, {2.0, 45}, {3.0, 70}, {-0.1, -2},
	} {
		v := []float32{float32(tc.a)}
		wedge(v, tab)
		if math.Abs(float64(v[0])-tc.want) > 1e-4 {
			t.Errorf("wedge(%v) = %v, want %v", tc.a, v[0], tc.want)
		}
	}
	// The lookup table agrees with the wedge to well under a per cent.
	var l wedgeLUT
	l.build(config.Default().Detector.StepWedges[0].Steps)
	for a := -0.5; a < 16; a += 0.037 {
		got := []float32{float32(a)}
		want := []float32{float32(a)}
		l.apply(got)
		wedge(want, l.tab)
		if math.Abs(float64(got[0]-want[0])) > 0.01+0.001*math.Abs(float64(want[0])) {
			t.Fatalf("LUT(%.3f) = %v, wedge %v", a, got[0], want[0])
		}
	}
}

func TestDetectorWedgeForEnergy(t *testing.T) {
	c := config.Default()
	c.Detector.StepWedge = [][2]float64{{1, 1}, {2, 2}}
	d := New(c.Detector, c.Containers)
	defer d.Close()
	for _, tc := range []struct {
		energy float64
		first  float64 // first step's attenuation of the table picked
	}{{6, 0.516}, {6.3, 0.516}, {9, 0.442}, {7.5, 1}, {0, 1}} {
		w, _ := d.wedgeFor(tc.energy)
		if len(w) == 0 || w[0][0] != tc.first {
			t.Errorf("%v MeV: wedge %v, want the one starting at %v", tc.energy, w, tc.first)
		}
	}
}

func TestDetectorClassify(t *testing.T) {
	de := &config.Default().Detector.DualEnergy[0] // 6/4 MeV
	for _, tc := range []struct {
		aHigh, ratio float64
		want         string
	}{
		{1.0, 1.158, MaterialOrganic},
		{1.0, 1.150, MaterialMixed},
		{1.0, 1.143, MaterialInorganic},
		{1.0, 1.123, MaterialMetal},
		{3.5, 1.185, MaterialOrganic},
		{3.5, 1.128, MaterialMetal},
	} {
		got, _, _ := classify(de, tc.aHigh, tc.ratio, 0.01)
		if got != tc.want {
			t.Errorf("A %.2f ratio %.3f: %s, want %s", tc.aHigh, tc.ratio, got, tc.want)
		}
	}
}
