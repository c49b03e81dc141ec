package xraysim

import (
	"image"
	"math"
	mrand "math/rand"
	"math/rand/v2"
)

// Block is one step of a step wedge: a block of one material whose mass
// thickness along the beam is GCm2.
type Block struct {
	Material Material
	Name     string // what the block is, for people
	GCm2     float64
}

// Wedge is a step wedge standing in the portal for a calibration scan
// (interfaces.md §1a): blocks side by side along the direction of travel,
// on a steel fixture. Zero fields take the value in brackets.
type Wedge struct {
	Blocks []Block
	// BlockWidthM is each block's extent along the travel [0.25], GapM the
	// air between blocks [0.15], BlockHeightM the blocks' height [1.2] and
	// BaseM the height of the fixture's top above the ground [1.0]. The
	// fixture is a steel beam FixtureGCm2 thick along the beam [40] and
	// 0.1 m high under the blocks.
	BlockWidthM, GapM, BlockHeightM, BaseM, FixtureGCm2 float64
}

// DefaultWedge is a commissioning wedge: polyethylene-like organic steps
// from 5 to 260 g/cm², aluminium and steel from 5 to 160 g/cm², and one
// lead step.
func DefaultWedge() Wedge {
	var w Wedge
	for _, g := range []float64{5, 10, 20, 40, 60, 80, 120, 160, 200, 260} {
		w.Blocks = append(w.Blocks, Block{Organic, "polypropylene/cellulose 50/50", g})
	}
	for _, g := range []float64{5, 10, 20, 40, 60, 80, 120, 160} {
		w.Blocks = append(w.Blocks, Block{Aluminium, "aluminium", g})
	}
	for _, g := range []float64{5, 10, 20, 40, 60, 80, 120, 160} {
		w.Blocks = append(w.Blocks, Block{Steel, "S235 steel", g})
	}
	w.Blocks = append(w.Blocks, Block{Lead, "lead", 50})
	return w
}

func (w Wedge) withDefaults() Wedge {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&w.BlockWidthM, 0.25)
	def(&w.GapM, 0.15)
	def(&w.BlockHeightM, 1.2)
	def(&w.BaseM, 1.0)
	def(&w.FixtureGCm2, 40)
	return w
}

// WedgeFileStep is a step in a wedge file: one block and the pixel ranges, [first,
// last), where the beam crosses it and nothing else.
type WedgeFileStep struct {
	Material string     `json:"material"`
	Name     string     `json:"name"`
	GCm2     float64    `json:"areal_density_g_cm2"`
	Columns  [2]int     `json:"columns"`
	Rows     [2]int     `json:"rows"`
	Truth    *WedgeStep `json:"-"` // noise-free attenuation of the high beam
	TruthLow *WedgeStep `json:"-"`
}

// WedgeFile is the NAME.wedge.json of interfaces.md §1a.
type WedgeFile struct {
	Steps []WedgeFileStep `json:"steps"`
}

// RenderWedge draws a calibration scan of wedge w with the scanner,
// beam, pixel size and detector of scene s (its vehicle and containers
// are ignored): the high-energy image, the low one when s.DualEnergy, and
// the wedge file, with each step's noise-free attenuation.
func RenderWedge(s Scene, w Wedge) (high, low *image.Gray16, wf WedgeFile, err error) {
	s.Containers = nil
	if err = s.validateBasics(); err != nil {
		return
	}
	w = w.withDefaults()
	if len(w.Blocks) == 0 {
		return nil, nil, wf, errorf("wedge has no blocks")
	}
	for i, b := range w.Blocks {
		if _, ok := matIndex(b.Material); !ok || !(b.GCm2 > 0) || b.GCm2 > 5000 {
			return nil, nil, wf, errorf("wedge block %d: material %q, %v g/cm²: want a known material and 0 < g/cm² <= 5000", i, b.Material, b.GCm2)
		}
	}
	px, py := s.PixelMM.X/1000, s.PixelMM.Y/1000
	pitch := w.BlockWidthM + w.GapM
	width := int(math.Ceil((s.LeadInM + float64(len(w.Blocks))*pitch + s.LeadOutM) / px))
	h := int(math.Round(s.HeightM / py))
	top := w.BaseM + w.BlockHeightM
	if top+0.2 > float64(h)*py || w.BaseM < 0.15 {
		return nil, nil, wf, errorf("wedge %.2f m high on a %.2f m base does not fit a %.2f m detector column with air above", w.BlockHeightM, w.BaseM, s.HeightM)
	}
	if width*h > 60_000_000 || width < 8 {
		return nil, nil, wf, errorf("wedge image %d×%d: too large or too small", width, h)
	}
	model, _ := ScannerByName(s.Scanner)
	eh, el := s.energies()
	bh, bl := model.beam(eh), model.beam(el)
	htop := float64(h) * py
	// overlap is the fraction of [a0, a1) that [b0, b1) covers.
	overlap := func(a0, a1, b0, b1 float64) float64 {
		return math.Max(0, math.Min(a1, b1)-math.Max(a0, b0)) / (a1 - a0)
	}
	rowsOf := func(y0, y1 float64) [2]int { // metres above ground to rows, inside
		return [2]int{int(math.Ceil((htop-y1)/py)) + 2, int(math.Floor((htop-y0)/py)) - 2}
	}
	trans := func(b *beam, m Material, g float64) float64 {
		var t [nMat]float64
		i, _ := matIndex(m)
		t[i] = g
		return b.transmission(&t)
	}
	tHi := getFloats(width * h)
	defer putFloats(tHi)
	var tLo []float32
	if s.DualEnergy {
		tLo = getFloats(width * h)
		defer putFloats(tLo)
	}
	var fixHi, fixLo float64
	{
		var t [nMat]float64
		i, _ := matIndex(Steel)
		t[i] = w.FixtureGCm2
		fixHi, fixLo = bh.transmission(&t), bl.transmission(&t)
	}
	for k, b := range w.Blocks {
		x0 := s.LeadInM + float64(k)*pitch
		x1 := x0 + w.BlockWidthM
		st := WedgeFileStep{Material: wedgeClass(b.Material), Name: b.Name, GCm2: b.GCm2,
			Columns: [2]int{int(math.Ceil(x0/px)) + 2, int(math.Floor(x1/px)) - 2},
			Rows:    rowsOf(w.BaseM, top)}
		th, tl := trans(bh, b.Material, b.GCm2), trans(bl, b.Material, b.GCm2)
		st.Truth = &WedgeStep{A: -math.Log(th), GCm2: b.GCm2}
		st.TruthLow = &WedgeStep{A: -math.Log(tl), GCm2: b.GCm2}
		wf.Steps = append(wf.Steps, st)
	}
	fill := func(t []float32, b *beam, fix float64) {
		for c := 0; c < width; c++ {
			cx0, cx1 := float64(c)*px, float64(c+1)*px
			col := t[c*h : (c+1)*h]
			for r := range col {
				col[r] = 1
			}
			k := int(math.Floor((cx0 - s.LeadInM) / pitch))
			for _, kk := range []int{k, k + 1} {
				if kk < 0 || kk >= len(w.Blocks) {
					continue
				}
				bx0 := s.LeadInM + float64(kk)*pitch
				fx := overlap(cx0, cx1, bx0, bx0+w.BlockWidthM)
				if fx == 0 {
					continue
				}
				tb := trans(b, w.Blocks[kk].Material, w.Blocks[kk].GCm2)
				for r := range col {
					y1 := htop - float64(r)*py
					y0 := y1 - py
					fy := overlap(y0, y1, w.BaseM, top)
					ff := overlap(y0, y1, w.BaseM-0.1, w.BaseM)
					col[r] -= float32(fx * (fy*(1-tb) + ff*(1-fix)))
				}
			}
		}
	}
	fill(tHi, bh, fixHi)
	if tLo != nil {
		fill(tLo, bl, fixLo)
	}
	rng := rand.New(rand.NewPCG(uint64(s.Seed), 0x5bd1e9955bd1e995))
	high, low, _ = detect(&s, tHi, tLo, width, h, rng)
	return high, low, wf, nil
}

// wedgeClass is the contract's material class of a simulated material.
func wedgeClass(m Material) string {
	switch m {
	case Aluminium, Ceramic, Glass:
		return "aluminium"
	case Steel:
		return "steel"
	case Lead:
		return "lead"
	}
	return "organic"
}

// WriteWedge renders a calibration scan of wedge w (see RenderWedge) into
// dir as NAME.png, NAME.low.png when dual energy, NAME.wedge.json and the
// sidecar NAME.json last, each through a temporary file. It returns the
// wedge file written, with the steps' noise-free attenuations.
func WriteWedge(dir, name string, s Scene, w Wedge, meta SidecarMeta) (WedgeFile, error) {
	high, low, wf, err := RenderWedge(s, w)
	if err != nil {
		return wf, err
	}
	if meta.ScanID == "" || meta.Lane == "" {
		return wf, errorf("sidecar needs scan_id and lane")
	}
	sc := newSidecar(meta)
	if err := writeImages(dir, name, &s, high, low, sc); err != nil {
		return wf, err
	}
	if err := writeJSON(dir, name+".wedge.json", wf); err != nil {
		return wf, err
	}
	return wf, writeJSON(dir, name+".json", sc)
}

// WedgeScene is a typical calibration scan's scene for a scanner model:
// 5 mm pixels, air before and after the wedge, the detector's usual
// noise and artefacts drawn from seed (air kept clear of saturation),
// dual energy when dual.
func WedgeScene(scanner string, energyHighMeV, energyLowMeV float64, dual bool, seed int64) Scene {
	g := &gen{rng: mrand.New(mrand.NewSource(seed))}
	s := g.scene()
	s.Scanner = scanner
	s.PixelMM.X, s.PixelMM.Y = 5, 5
	s.LeadInM, s.LeadOutM = 1.5, 0.5
	s.HeightM = 3
	s.DualEnergy = dual
	s.EnergyHighMeV, s.EnergyLowMeV = energyHighMeV, energyLowMeV
	s.Fan = false
	// A technician sets the gain so that air stays clear of the 16-bit
	// ceiling whatever the row gains and pulses: a clipped air reference
	// biases every step.
	s.Air = math.Min(s.Air, 50000)
	return s
}
