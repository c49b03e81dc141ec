package xraysim

import (
	"math/rand"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	for _, name := range ScenarioNames() {
		for seed := int64(1); seed <= 3; seed++ {
			s, d, err := Scenario(name, rand.New(rand.NewSource(seed)))
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			hi, _, tr, err := Render(s)
			if err != nil {
				t.Fatalf("%s %d: %v", name, seed, err)
			}
			el := time.Since(t0)
			cargo := 0.0
			for _, c := range tr.Containers {
				cargo += c.CargoKg
			}
			t.Logf("%-20s %d %v %4dx%4d px=%.1fx%.1f fan=%v dual=%v n=%d cargo=%.0f declared=%.0f %v", name, seed, s.Containers[0].Type, hi.Rect.Dx(), hi.Rect.Dy(), s.PixelMM.X, s.PixelMM.Y, s.Fan, s.DualEnergy, len(s.Containers), cargo, d[0].ItemsKg(), el)
			if seed == 1 {
				saveView(t, "/tmp/xs/"+name+".png", hi, s.Air, s.Dark, 0, 0, 3)
			}
		}
	}
}
