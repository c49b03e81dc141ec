package xraysim

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// quiet returns a clean parallel-beam scene with one container and no
// artefacts except photon noise.
func quiet(typ string, boxes []Box, coils []Coil) Scene {
	var s Scene
	s.Seed = 7
	s.PixelMM.X, s.PixelMM.Y = 5, 5
	s.HeightM = 4.6
	s.LeadInM, s.LeadOutM = 1.5, 1
	s.CabFirst = true
	s.Air, s.Dark = 60000, 800
	s.Photons = 1e6
	if typ != "" {
		s.Containers = []Container{{Type: typ, ID: "CSQU3054383", Boxes: boxes, Coils: coils}}
	}
	return s
}

func trans(img *image.Gray16, s *Scene, x, y int) float64 {
	return (float64(img.Gray16At(x, y).Y) - s.Dark) / (s.Air - s.Dark)
}

// meanT is the mean transmission over r.
func meanT(img *image.Gray16, s *Scene, r image.Rectangle) float64 {
	sum, n := 0.0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			sum += trans(img, s, x, y)
			n++
		}
	}
	return sum / float64(n)
}

func shrink(r image.Rectangle, dx, dy int) image.Rectangle {
	return image.Rect(r.Min.X+dx, r.Min.Y+dy, r.Max.X-dx, r.Max.Y-dy)
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

func TestCompositionsSumToOne(t *testing.T) {
	for m, c := range compositions {
		s := 0.0
		for _, f := range c {
			s += f
		}
		if math.Abs(s-1) > 2e-3 {
			t.Errorf("%s: fractions sum to %v", m, s)
		}
	}
	for _, m := range Materials() {
		if _, ok := compositions[m]; !ok {
			t.Errorf("%s has no composition", m)
		}
	}
	// Spot checks against NIST tables (water 1 MeV 0.07072, 6 MeV 0.02770).
	if v := MassAttenuation(Water, 1); math.Abs(v-0.07072) > 2e-4 {
		t.Errorf("water 1 MeV: %v", v)
	}
	if v := MassAttenuation(Water, 6); math.Abs(v-0.02770) > 2e-4 {
		t.Errorf("water 6 MeV: %v", v)
	}
	if v := MassAttenuation(Steel, 2); v != 4.265e-2 {
		t.Errorf("iron 2 MeV: %v", v)
	}
}

func TestBinnedBeamMatchesSpectrum(t *testing.T) {
	for _, e := range []float64{4, 6, 9} {
		for _, m := range []Material{Steel, Organic, Lead, Ceramic} {
			for _, g := range []float64{5, 50, 150, 300} {
				tb, err := Transmission(e, map[Material]float64{m: g})
				if err != nil {
					t.Fatal(err)
				}
				tf := fineTransmission(e, map[Material]float64{m: g})
				if ab, af := -math.Log(tb), -math.Log(tf); math.Abs(ab-af)/af > 0.02 {
					t.Errorf("%v MeV %s %v g/cm²: binned A %.4f, fine %.4f", e, m, g, ab, af)
				}
			}
		}
	}
}

func TestEffectiveMuAndStepWedge(t *testing.T) {
	mu6, mu4 := EffectiveMu(6), EffectiveMu(4)
	if mu6 < 0.035 || mu6 > 0.06 || mu4 <= mu6 {
		t.Errorf("effective mu 6 MeV %v, 4 MeV %v", mu6, mu4)
	}
	for _, m := range []Material{Steel, Organic} {
		w := StepWedge(6, m, 240, 24)
		if len(w) != 25 || w[0].A != 0 || w[0].GCm2 != 0 || w[24].GCm2 != 240 {
			t.Fatalf("%s wedge: %v", m, w)
		}
		for i := 1; i < len(w); i++ {
			if !(w[i].A > w[i-1].A) {
				t.Errorf("%s wedge not increasing at %d", m, i)
			}
			// Beam hardening: attenuation per g/cm² falls with thickness.
			if i > 1 && w[i].A/w[i].GCm2 > w[i-1].A/w[i-1].GCm2+1e-12 {
				t.Errorf("%s wedge: no hardening at step %d", m, i)
			}
		}
	}
	if StepWedge(6, "unobtainium", 10, 2) != nil {
		t.Error("unknown material accepted")
	}
}

func TestDualEnergyLowAttenuatesMore(t *testing.T) {
	// Directly, for every material at several thicknesses…
	for _, m := range Materials() {
		for _, g := range []float64{10, 80, 200} {
			hi, _ := Transmission(6, map[Material]float64{m: g})
			lo, _ := Transmission(4, map[Material]float64{m: g})
			if !(lo < hi) {
				t.Errorf("%s %v g/cm²: low T %v >= high T %v", m, g, lo, hi)
			}
		}
	}
	// …and in rendered images of the same objects.
	s := quiet("22G1", []Box{
		{X0: 1, X1: 3, Y0: 0, Y1: 1.5, Depth: 2.2, Material: Organic, Density: 300, Label: "bags"},
		{X0: 4, X1: 5, Y0: 0, Y1: 1, Depth: 0.6, Material: Steel, Density: 2000, Label: "steel"},
	}, nil)
	s.DualEnergy = true
	s.PhotonsLow = 5e5
	hi, lo, tr, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	if lo == nil || lo.Rect != hi.Rect {
		t.Fatal("no or mis-sized low-energy image")
	}
	for _, r := range tr.Containers[0].Regions {
		in := shrink(r.Px, 3, 3)
		ah, al := -math.Log(meanT(hi, &s, in)), -math.Log(meanT(lo, &s, in))
		if !(al > ah*1.05) {
			t.Errorf("%s: low A %.3f not above high A %.3f", r.Label, al, ah)
		}
	}
}

func TestTruthGeometryMatchesImage(t *testing.T) {
	for _, cabFirst := range []bool{true, false} {
		s := quiet("42G1", []Box{
			{X0: 0.5, X1: 3.5, Y0: 0, Y1: 1.8, Depth: 2.2, Material: Organic, Density: 150, Label: "masks"},
			{X0: 6, X1: 6.8, Y0: 0.2, Y1: 0.9, Depth: 0.8, Material: Steel, Density: 1500, Label: "block"},
		}, []Coil{{X: 9, Y: 0.5, ROuter: 0.5, RInner: 0.2, Depth: 1.2, Material: Paper, Density: 700, Label: "reel"}})
		s.CabFirst = cabFirst
		hi, _, tr, err := Render(s)
		if err != nil {
			t.Fatal(err)
		}
		w, h := hi.Rect.Dx(), hi.Rect.Dy()
		if tr.Width != w || tr.Height != h || h != 920 {
			t.Fatalf("size %dx%d, truth %dx%d", w, h, tr.Width, tr.Height)
		}
		ct := tr.Containers[0]
		if ct.FrontLeft != cabFirst || ct.ID != "CSQU3054383" {
			t.Errorf("container truth %+v", ct)
		}
		// Cab on the expected side of the container.
		if cabFirst != (tr.CabSpan[1] <= ct.OuterPx.Min.X) {
			t.Errorf("cab %v vs container %v (cabFirst %v)", tr.CabSpan, ct.OuterPx, cabFirst)
		}
		// Lead-in / lead-out columns are air.
		var air image.Rectangle
		if cabFirst {
			air = image.Rect(0, 0, tr.VehicleSpan[0]-1, h)
		} else {
			air = image.Rect(tr.VehicleSpan[1]+1, 0, w, h)
		}
		if air.Dx() < 10 {
			t.Fatalf("no lead-in: %v", tr.VehicleSpan)
		}
		if m := meanT(hi, &s, air); math.Abs(m-1) > 0.005 {
			t.Errorf("lead-in mean T %v", m)
		}
		// Rows above the container are air.
		if m := meanT(hi, &s, image.Rect(ct.OuterPx.Min.X, 0, ct.OuterPx.Max.X, ct.OuterPx.Min.Y-2)); math.Abs(m-1) > 0.005 {
			t.Errorf("air above container: %v", m)
		}
		// The roof rows are near-opaque; the floor band too.
		var roof []float64
		for x := ct.OuterPx.Min.X + 40; x < ct.OuterPx.Max.X-40; x++ {
			roof = append(roof, trans(hi, &s, x, ct.OuterPx.Min.Y+4))
		}
		if m := median(roof); m > 0.1 {
			t.Errorf("roof row T median %v, want near-opaque", m)
		}
		var floor []float64
		for x := ct.OuterPx.Min.X + 40; x < ct.OuterPx.Max.X-40; x++ {
			floor = append(floor, trans(hi, &s, x, ct.InnerPx.Max.Y+5))
		}
		if m := median(floor); m > 0.1 {
			t.Errorf("floor band T median %v, want near-opaque", m)
		}
		// End walls: dark vertical bands at the container's ends.
		for _, x := range []int{ct.OuterPx.Min.X + 1, ct.OuterPx.Max.X - 2} {
			col := image.Rect(x, ct.InnerPx.Min.Y+20, x+1, ct.InnerPx.Max.Y-20)
			if m := meanT(hi, &s, col); m > 0.5 {
				t.Errorf("end column %d mean T %v", x, m)
			}
		}
		// The empty inside: two side walls only.
		walls := 2 * 1.6 * 1.065
		want, _ := Transmission(6, map[Material]float64{Steel: walls})
		r0, r1 := ct.Regions[0].Px, ct.Regions[1].Px
		gap := image.Rect(r0.Max.X+20, ct.InnerPx.Min.Y+20, r1.Min.X-20, ct.InnerPx.Max.Y-20)
		if !cabFirst {
			gap.Min.X, gap.Max.X = r1.Max.X+20, r0.Min.X-20
		}
		if m := meanT(hi, &s, gap); math.Abs(m-want) > 0.02 {
			t.Errorf("empty inside %v: T %v, want %v (side walls)", gap, m, want)
		}
		// Each region's inside has the Beer–Lambert transmission of its
		// contents plus the side walls.
		for _, r := range ct.Regions[:2] {
			in := shrink(r.Px, 4, 4)
			d := 2.2
			if r.Label == "block" {
				d = 0.8
			}
			mt := map[Material]float64{Steel: walls}
			mt[r.Material] += r.Density / 1000 * d * 100
			want, _ := Transmission(6, mt)
			got := meanT(hi, &s, in)
			if math.Abs(math.Log(got/want)) > 0.03 && math.Abs(got-want) > 0.002 {
				t.Errorf("%s: T %v, want %v", r.Label, got, want)
			}
		}
		// Region metres are consistent with pixels: 5 mm pixels.
		for _, r := range ct.Regions {
			if math.Abs(r.M.W/0.005-float64(r.Px.Dx())) > 1.01 || math.Abs(r.M.H/0.005-float64(r.Px.Dy())) > 1.01 {
				t.Errorf("%s: M %+v vs Px %v", r.Label, r.M, r.Px)
			}
			if x := ct.OuterPx.Min.X + int(math.Round(r.M.X/0.005)); abs(x-r.Px.Min.X) > 1 {
				t.Errorf("%s: M.X %v vs Px.Min.X %d", r.Label, r.M.X, r.Px.Min.X)
			}
			if y := ct.OuterPx.Min.Y + int(math.Round(r.M.Y/0.005)); abs(y-r.Px.Min.Y) > 1 {
				t.Errorf("%s: M.Y %v vs Px.Min.Y %d", r.Label, r.M.Y, r.Px.Min.Y)
			}
		}
		// Container outer size in pixels: 12.192 × 2.591 m.
		if abs(ct.OuterPx.Dx()-2438) > 1 || abs(ct.OuterPx.Dy()-518) > 1 {
			t.Errorf("outer px %v", ct.OuterPx)
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func TestNoiseMatchesPhotons(t *testing.T) {
	for _, p := range []float64{2e5, 2e6} {
		s := quiet("22G1", []Box{{X0: 0.5, X1: 4.5, Y0: 0, Y1: 2, Depth: 2.2, Material: Organic, Density: 250}}, nil)
		s.Photons = p
		hi, _, tr, err := Render(s)
		if err != nil {
			t.Fatal(err)
		}
		stats := func(r image.Rectangle) (mean, sd float64) {
			var s1, s2 float64
			n := 0
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					v := trans(hi, &s, x, y)
					s1 += v
					s2 += v * v
					n++
				}
			}
			mean = s1 / float64(n)
			return mean, math.Sqrt(s2/float64(n) - mean*mean)
		}
		m, sd := stats(image.Rect(0, 0, tr.VehicleSpan[0]-1, tr.Height))
		if want := 1 / math.Sqrt(p); math.Abs(sd/want-1) > 0.1 || math.Abs(m-1) > 0.002 {
			t.Errorf("air: mean %v sd %v, want 1 and %v", m, sd, want)
		}
		// Behind cargo the side-wall corrugation varies along x, so use
		// differences between vertically adjacent pixels.
		in := shrink(tr.Containers[0].Regions[0].Px, 4, 4)
		m, _ = stats(in)
		var d2 float64
		n := 0
		for y := in.Min.Y; y+1 < in.Max.Y; y += 2 {
			for x := in.Min.X; x < in.Max.X; x++ {
				d := trans(hi, &s, x, y+1) - trans(hi, &s, x, y)
				d2 += d * d
				n++
			}
		}
		sd = math.Sqrt(d2 / float64(n) / 2)
		if want := math.Sqrt(m / p); math.Abs(sd/want-1) > 0.1 {
			t.Errorf("behind cargo T=%.3f: sd %v, want %v", m, sd, want)
		}
	}
}

func TestArtefacts(t *testing.T) {
	s := quiet("22G1", nil, nil)
	s.RowGainSpread = 0.03
	s.PulseJitter = 0.02
	s.DeadRows = 3
	s.ReadNoise = 5
	s.GainDriftPerM = 0.002
	hi, _, tr, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.DeadRows) != 3 {
		t.Fatalf("dead rows %v", tr.DeadRows)
	}
	dead := map[int]bool{}
	for _, r := range tr.DeadRows {
		dead[r] = true
		// A dead row is flat along the scan.
		var v []float64
		for x := 0; x < tr.Width; x += 7 {
			v = append(v, float64(hi.Gray16At(x, r).Y))
		}
		sort.Float64s(v)
		if v[len(v)-1]-v[0] > 100 {
			t.Errorf("dead row %d varies %v..%v", r, v[0], v[len(v)-1])
		}
	}
	// Row gains differ by a few per cent in the lead-in.
	var g []float64
	for y := 0; y < tr.Height; y++ {
		if !dead[y] {
			g = append(g, meanT(hi, &s, image.Rect(0, y, 100, y+1)))
		}
	}
	m, v := 0.0, 0.0
	for _, x := range g {
		m += x
	}
	m /= float64(len(g))
	for _, x := range g {
		v += (x - m) * (x - m)
	}
	if sd := math.Sqrt(v / float64(len(g))); sd < 0.02 || sd > 0.04 {
		t.Errorf("row gain spread %v, want ≈0.03", sd)
	}
	// Pulse jitter shows in the air rows above the vehicle: column means vary.
	var c []float64
	for x := 0; x < tr.Width; x++ {
		c = append(c, meanT(hi, &s, image.Rect(x, 0, x+1, 100)))
	}
	m, v = 0, 0
	for i := 1; i < len(c); i++ {
		d := c[i] - c[i-1]
		v += d * d
	}
	if sd := math.Sqrt(v / float64(len(c)-1) / 2); sd < 0.012 || sd > 0.03 {
		t.Errorf("column jitter %v, want ≈0.02", sd)
	}
	_ = m
}

func TestDeterministic(t *testing.T) {
	s, _, err := Scenario("masks-in-bags", rand.New(rand.NewSource(3)))
	if err != nil {
		t.Fatal(err)
	}
	s.PixelMM.X, s.PixelMM.Y = 8, 8
	a, al, _, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	b, bl, _, _ := Render(s)
	if !bytes.Equal(a.Pix, b.Pix) || (al != nil && !bytes.Equal(al.Pix, bl.Pix)) {
		t.Error("same scene rendered differently")
	}
}

func TestFanMagnifiesNearSide(t *testing.T) {
	mk := func(z float64) Scene {
		s := quiet("22G1", []Box{{X0: 2, X1: 3, Y0: 1.5, Y1: 2, Depth: 0.3, Z: z, Material: Steel, Density: 2000}}, nil)
		s.Fan = true
		s.SourceDistM = 8
		s.SourceHeightM = 1.5
		s.PixelMM.X = 10
		return s
	}
	_, _, near, err := Render(mk(-0.9))
	if err != nil {
		t.Fatal(err)
	}
	_, _, far, _ := Render(mk(0.9))
	hn, hf := near.Containers[0].Regions[0].Px.Dy(), far.Containers[0].Regions[0].Px.Dy()
	if !(hn > hf) {
		t.Errorf("near box %d rows, far box %d rows", hn, hf)
	}
}

func TestValidation(t *testing.T) {
	bad := []Scene{
		quiet("42G1", []Box{{X0: 0, X1: 13, Y0: 0, Y1: 1, Depth: 1, Material: Organic, Density: 100}}, nil),
		quiet("42G1", []Box{{X0: 0, X1: 1, Y0: 0, Y1: 1, Depth: 2.5, Material: Organic, Density: 100}}, nil),
		quiet("42G1", []Box{{X0: 0, X1: 1, Y0: 0, Y1: 1, Depth: 1, Material: "gold", Density: 100}}, nil),
		quiet("42G1", nil, []Coil{{X: 0.2, Y: 0.5, ROuter: 0.5, Depth: 1, Material: Steel, Density: 5000}}),
		quiet("99XX", nil, nil),
	}
	bad[len(bad)-1].Containers[0].Type = "99XX"
	s := quiet("", nil, nil)
	s.PixelMM.X = 0
	bad = append(bad, s)
	s = quiet("42G1", nil, nil)
	s.Containers = append(s.Containers, s.Containers[0])
	bad = append(bad, s)
	for i, s := range bad {
		if _, _, _, err := Render(s); err == nil {
			t.Errorf("scene %d accepted", i)
		}
	}
	// A bare tractor renders.
	if _, _, tr, err := Render(quiet("", nil, nil)); err != nil || len(tr.Containers) != 0 {
		t.Errorf("bobtail: %v %v", err, tr.Containers)
	}
}

func TestISO6346(t *testing.T) {
	if d := ISO6346CheckDigit("CSQU3054383"); d != 3 {
		t.Errorf("CSQU305438: %d", d)
	}
	if ISO6346CheckDigit("CSQU305438") != 3 || ISO6346CheckDigit("csqu305438") != -1 || ISO6346CheckDigit("CSQU30") != -1 {
		t.Error("check digit")
	}
}

// TestScenarios renders every scenario for several seeds (at a coarse pixel
// size to keep it fast) and checks the declarations against the truth.
func TestScenarios(t *testing.T) {
	seeds := 3
	if testing.Short() {
		seeds = 1
	}
	for si, name := range ScenarioNames() {
		for seed := int64(1); seed <= int64(seeds); seed++ {
			s, decl, err := Scenario(name, rand.New(rand.NewSource(seed*7919)))
			if err != nil {
				t.Fatal(err)
			}
			if len(decl) != len(s.Containers) || len(decl) < 1 || len(decl) > 2 {
				t.Fatalf("%s/%d: %d declarations for %d containers", name, seed, len(decl), len(s.Containers))
			}
			if s.PixelMM.X < 3 || s.PixelMM.X > 8 || s.PixelMM.Y < 3 || s.PixelMM.Y > 8 {
				t.Errorf("%s/%d: pixel %v", name, seed, s.PixelMM)
			}
			if seed > 1 || si%5 != 0 { // a few render at their own resolution
				s.PixelMM.X, s.PixelMM.Y = 8, 8
			}
			hi, lo, tr, err := Render(s)
			if err != nil {
				t.Fatalf("%s/%d: %v", name, seed, err)
			}
			if (lo != nil) != s.DualEnergy {
				t.Errorf("%s/%d: low image %v, dual %v", name, seed, lo != nil, s.DualEnergy)
			}
			_ = hi
			// Truth mass is exactly Σ density·volume.
			var total, hidden float64
			for i, c := range s.Containers {
				sum := 0.0
				for _, b := range c.Boxes {
					sum += b.Density * (b.X1 - b.X0) * (b.Y1 - b.Y0) * b.Depth
					if b.Hidden {
						hidden += b.Kg()
					}
				}
				for _, k := range c.Coils {
					sum += k.Density * math.Pi * (k.ROuter*k.ROuter - k.RInner*k.RInner) * k.Depth
					if k.Hidden {
						hidden += k.Kg()
					}
				}
				total += sum
				if math.Abs(c.CargoKg()-sum) > 1e-6*sum+1e-9 {
					t.Errorf("%s/%d: container %d CargoKg %v, Σ %v", name, seed, i, c.CargoKg(), sum)
				}
				d := decl[i]
				if d.ContainerID != c.ID || d.Type != c.Type || ISO6346CheckDigit(c.ID) != int(c.ID[10]-'0') {
					t.Errorf("%s/%d: declaration %+v for container %s %s", name, seed, d, c.ID, c.Type)
				}
				if math.Abs(d.GrossKg-d.ContainerTareKg-d.ItemsKg()) > 1 {
					t.Errorf("%s/%d: gross %v != tare %v + items %v", name, seed, d.GrossKg, d.ContainerTareKg, d.ItemsKg())
				}
				for _, it := range d.Items {
					if len(it.HSCode) < 6 || strings.Trim(it.HSCode, "0123456789") != "" || it.GrossKg <= 0 || it.Packages < 1 {
						t.Errorf("%s/%d: bad item %+v", name, seed, it)
					}
				}
			}
			truthTotal := 0.0
			for _, c := range tr.Containers {
				rs := 0.0
				for _, r := range c.Regions {
					rs += r.Kg
				}
				if math.Abs(rs-c.CargoKg) > 1e-6*rs+1e-9 {
					t.Errorf("%s/%d: regions %v vs cargo %v", name, seed, rs, c.CargoKg)
				}
				truthTotal += c.CargoKg
			}
			if math.Abs(truthTotal-total) > 1e-6*total+1e-9 {
				t.Errorf("%s/%d: truth cargo %v, Σ %v", name, seed, truthTotal, total)
			}
			checkScenario(t, name, seed, s, decl, hidden)
		}
	}
}

func checkScenario(t *testing.T, name string, seed int64, s Scene, decl []Declared, hidden float64) {
	t.Helper()
	var target int
	var d Declared
	for i := range decl {
		// The scenario's own container: the one with hidden goods, or any.
		d = decl[i]
		target = i
		hid := false
		for _, b := range s.Containers[i].Boxes {
			hid = hid || b.Hidden
		}
		for _, k := range s.Containers[i].Coils {
			hid = hid || k.Hidden
		}
		if hid {
			break
		}
	}
	c := s.Containers[target]
	cargo := c.CargoKg()
	switch {
	case strings.HasPrefix(name, "honest-"):
		if len(s.Containers) == 1 && (len(d.Items) != 1 || math.Abs(d.ItemsKg()-cargo) > 0.03*cargo+10 || hidden > 0) {
			t.Errorf("%s/%d: declared %v, loaded %v (hidden %v)", name, seed, d.ItemsKg(), cargo, hidden)
		}
	case name == "empty":
		if len(s.Containers) == 1 && (cargo != 0 || len(d.Items) != 0) {
			t.Errorf("%s/%d: cargo %v items %v", name, seed, cargo, d.Items)
		}
	case name == "overweight":
		if len(s.Containers) == 1 && (math.Abs(cargo-15000) > 1 || d.ItemsKg() != 10000) {
			t.Errorf("%s/%d: cargo %v declared %v", name, seed, cargo, d.ItemsKg())
		}
	default: // concealment: something hidden
		if hidden <= 0 {
			t.Errorf("%s/%d: nothing hidden", name, seed)
		}
		if name == "undeclared-empty" && len(d.Items) != 0 {
			t.Errorf("%s/%d: declared %v", name, seed, d.Items)
		}
		if name == "masks-under-wire" {
			if len(c.Coils) == 0 || len(d.Items) != 1 || d.Items[0].HSCode != "721710" {
				t.Errorf("%s/%d: coils %d items %+v", name, seed, len(c.Coils), d.Items)
			}
		}
	}
}

func TestWriteSidecar(t *testing.T) {
	dir := t.TempDir()
	s := quiet("22G1", []Box{{X0: 0, X1: 2, Y0: 0, Y1: 1, Depth: 2, Material: Organic, Density: 120, Label: "masks"}}, nil)
	s.DualEnergy = true
	s.PixelMM.X, s.PixelMM.Y = 8, 8
	at := time.Date(2020, 4, 12, 8, 30, 0, 0, time.UTC)
	tr, err := Write(dir, "scan-0001", s, SidecarMeta{ScanID: "S-1", Lane: "L1", ScannedAt: at, Plate: "鲁B12345", VehicleTareKg: 14800})
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "scan-0001.json scan-0001.low.png scan-0001.png" {
		t.Fatalf("files: %v", names)
	}
	// Written last.
	stat := func(n string) time.Time {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}
	if stat("scan-0001.json").Before(stat("scan-0001.png")) || stat("scan-0001.json").Before(stat("scan-0001.low.png")) {
		t.Error("sidecar older than an image")
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "scan-0001.json"))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var v any = m
		for _, k := range strings.Split(path, ".") {
			mm, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = mm[k]
		}
		return v
	}
	for path, want := range map[string]any{
		"scan_id": "S-1", "lane": "L1", "images.high": "scan-0001.png", "images.low": "scan-0001.low.png",
		"pixel_mm.x": 8.0, "pixel_mm.y": 8.0, "air": 60000.0, "dark": 800.0,
		"energy_mev.high": 6.0, "energy_mev.low": 4.0, "vehicle.plate": "鲁B12345", "vehicle.tare_kg": 14800.0,
	} {
		if got := get(path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if ts, _ := get("scanned_at").(string); ts == "" {
		t.Error("no scanned_at")
	} else if p, err := time.Parse(time.RFC3339, ts); err != nil || !p.Equal(at) {
		t.Errorf("scanned_at %q: %v", ts, err)
	}
	if ids, _ := get("container_ids").([]any); len(ids) != 1 || ids[0] != "CSQU3054383" {
		t.Errorf("container_ids %v", get("container_ids"))
	}
	if mu, _ := get("mu_cm2_g").(float64); math.Abs(mu-EffectiveMu(6)) > 1e-4 {
		t.Errorf("mu_cm2_g %v", mu)
	}
	for _, n := range []string{"scan-0001.png", "scan-0001.low.png"} {
		f, _ := os.Open(filepath.Join(dir, n))
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		g, ok := img.(*image.Gray16)
		if !ok || g.Rect.Dx() != tr.Width || g.Rect.Dy() != tr.Height {
			t.Errorf("%s: %T %v", n, img, img.Bounds())
		}
	}
	// Bad names are refused and leave nothing behind.
	for _, n := range []string{"../x", "a/b", "", ".hidden"} {
		if _, err := Write(dir, n, s, SidecarMeta{ScanID: "x", Lane: "L1"}); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	ents, _ = os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("leftovers: %d files", len(ents))
	}
}

func TestDeclarationJSON(t *testing.T) {
	_, decl, err := Scenario("masks-under-wire", rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := decl[0].JSON("D-1")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"declaration_id", "container_id", "container_type", "container_tare_kg", "declared_gross_kg", "items"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %s in %s", k, raw)
		}
	}
	raw, _ = Declared{ContainerID: "CSQU3054383", Type: "22G1", ContainerTareKg: 2200, GrossKg: 2200}.JSON("D-2")
	if !bytes.Contains(raw, []byte(`"items": []`)) {
		t.Errorf("empty declaration must carry an empty items array: %s", raw)
	}
}
