package calib

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/vision"
)

// TestMeasureSteps measures steps on a synthetic attenuation image: the
// median leaves out dead rows, a range half on air is not uniform, a step
// at the opaque limit did not let the beam through, too few pixels and
// lead are left out, and a range outside the image is an error.
func TestMeasureSteps(t *testing.T) {
	const w, h = 200, 100
	rng := rand.New(rand.NewSource(1))
	att := &vision.Attenuation{W: w, H: h, High: make([]float32, w*h), OpaqueHigh: 4.19, NoiseHigh: 0.01, DeadRows: []int{30}}
	fill := func(c0, c1 int, a float64) {
		for r := 20; r < 80; r++ {
			for c := c0; c < c1; c++ {
				v := a + 0.01*rng.NormFloat64()
				if r == 30 {
					v = 9 // a dead row: bridged badly
				}
				att.High[r*w+c] = float32(min(v, 4.2))
			}
		}
	}
	fill(10, 30, 1.0)
	fill(40, 60, 2.0)
	fill(70, 80, 1.5) // 80..90 stays air
	fill(100, 120, 4.3)
	fill(130, 150, 0.8)
	wd := &Wedge{Steps: []Step{
		{Material: Organic, GCm2: 20, Columns: [2]int{12, 28}, Rows: [2]int{22, 78}},
		{Material: Organic, GCm2: 40, Columns: [2]int{42, 58}, Rows: [2]int{22, 78}},
		{Material: Organic, GCm2: 30, Columns: [2]int{72, 88}, Rows: [2]int{22, 78}},
		{Material: Organic, GCm2: 90, Columns: [2]int{102, 118}, Rows: [2]int{22, 78}},
		{Material: Organic, GCm2: 10, Columns: [2]int{132, 134}, Rows: [2]int{29, 32}},
		{Material: Lead, GCm2: 10, Columns: [2]int{132, 148}, Rows: [2]int{22, 78}},
	}}
	ms, err := Measure(wd, att)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "", "not uniform", "did not get through", "only 4 pixels", "lead"} {
		if !strings.Contains(ms[i].LeftOut, want) || (want == "") != (ms[i].LeftOut == "") {
			t.Errorf("step %d left out %q, want %q", i, ms[i].LeftOut, want)
		}
	}
	if a := ms[0].AHigh; a < 0.995 || a > 1.005 || ms[0].Pixels != 16*55 {
		t.Errorf("step 0: A %.4f over %d pixels, want 1.000 over %d (the dead row left out)", a, ms[0].Pixels, 16*55)
	}
	wd.Steps[0].Rows[1] = h + 1
	if _, err := Measure(wd, att); err == nil || !strings.Contains(err.Error(), "outside the 200x100 image") {
		t.Errorf("a range outside the image: %v", err)
	}
}
