package vision_test

import (
	"testing"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/vision"
)

// renderBoxes renders one 40 ft container holding boxes, driven through
// the portal with the cab first or last, and analyses it.
func renderBoxes(t *testing.T, det *vision.Detector, cabFirst bool, boxes ...xraysim.Box) vision.Container {
	t.Helper()
	var s xraysim.Scene
	s.Seed = 7
	s.PixelMM.X, s.PixelMM.Y = 6, 6
	s.HeightM = 4.8
	s.LeadInM, s.LeadOutM = 1.5, 1
	s.CabFirst = cabFirst
	s.Air, s.Dark = 50000, 1000
	s.Photons = 5e5
	s.ReadNoise = 5
	s.RowGainSpread = 0.02
	s.PulseJitter = 0.015
	s.EnergyHighMeV = 6
	s.Containers = []xraysim.Container{{Type: "42G1", ID: "MSKU1234565", Boxes: boxes}}
	hi, _, _, err := xraysim.Render(s)
	if err != nil {
		t.Fatal(err)
	}
	in := vision.Input{High: toMat(t, hi), Low: gocv.NewMat(), PixelXMM: s.PixelMM.X, PixelYMM: s.PixelMM.Y,
		Air: s.Air, Dark: s.Dark, MuCm2G: xraysim.EffectiveMu(6), EnergyHighMeV: 6, Containers: 1, Types: []string{"42G1"}}
	defer in.High.Close()
	defer in.Low.Close()
	a, err := det.Analyze(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Containers) != 1 {
		t.Fatalf("%d containers found, want 1", len(a.Containers))
	}
	return a.Containers[0]
}

func behindLayers(c vision.Container) []vision.Layer {
	var ls []vision.Layer
	for _, l := range c.Layers {
		if l.Behind {
			ls = append(ls, l)
		}
	}
	return ls
}

// TestDetectorFindsGoodsBehindAWall checks that a light block hidden
// along the length behind a full-height wall of dense cover goods at the
// door end is a Behind layer, whichever side of the image the doors are on.
func TestDetectorFindsGoodsBehindAWall(t *testing.T) {
	det := defaultDetector()
	defer det.Close()
	masks := xraysim.Box{X0: 3, X1: 10, Y0: 0, Y1: 2.2, Depth: 2.3, Material: xraysim.Organic, Density: 120, Label: "face masks", Hidden: true}
	wall := xraysim.Box{X0: 10, X1: 12, Y0: 0, Y1: 2.35, Depth: 2.3, Material: xraysim.Ceramic, Density: 1800, Label: "tiles"}
	for _, cabFirst := range []bool{true, false} {
		c := renderBoxes(t, det, cabFirst, masks, wall)
		ls := behindLayers(c)
		if len(ls) == 0 {
			t.Errorf("cab first %v: no light block behind the wall; layers %+v, regions %+v", cabFirst, c.Layers, c.Regions)
			continue
		}
		l := ls[0]
		t.Logf("cab first %v: %+v", cabFirst, l)
		// M is from the outer corner as seen in the image: the block
		// covers 3-10 m from the front wall, 2-9 m from the doors.
		lo, hi := 3.0, 10.2
		if !cabFirst {
			lo, hi = 1.8, 9.1
		}
		if l.LightKgM3 > 200 || l.LengthM < 5 || l.HeightM < 1.5 || l.WallM < 1.5 || !overlaps(l.M.XM, l.M.XM+l.M.WM, lo, hi) ||
			l.M.XM < lo-0.3 || l.M.XM+l.M.WM > hi+0.3 {
			t.Errorf("cab first %v: layer %+v, want the block at %.1f-%.1f m", cabFirst, l, lo, hi)
		}
	}
}

// TestDetectorNoWallWithoutHiddenGoods checks that a dense wall alone, or
// honest goods of similar densities side by side, is no Behind layer.
func TestDetectorNoWallWithoutHiddenGoods(t *testing.T) {
	det := defaultDetector()
	defer det.Close()
	for name, boxes := range map[string][]xraysim.Box{
		"wall alone": {{X0: 10, X1: 12, Y0: 0, Y1: 2.35, Depth: 2.3, Material: xraysim.Ceramic, Density: 1800}},
		"mixed goods": {
			{X0: 0, X1: 5, Y0: 0, Y1: 2.2, Depth: 2.3, Material: xraysim.Organic, Density: 300},
			{X0: 5.05, X1: 11.9, Y0: 0, Y1: 2.1, Depth: 2.3, Material: xraysim.Organic, Density: 260},
		},
	} {
		for _, cabFirst := range []bool{true, false} {
			c := renderBoxes(t, det, cabFirst, boxes...)
			if ls := behindLayers(c); len(ls) > 0 {
				t.Errorf("%s, cab first %v: behind layers %+v; regions %+v", name, cabFirst, ls, c.Regions)
			}
		}
	}
}
