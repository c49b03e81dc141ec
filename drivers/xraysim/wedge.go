package xraysim

import (
	"image"
	"math"
	mrand "math/rand"
	"math/rand/v2"

	"github.com/gatescan/gatescan/internal/defaults"
	"github.com/gatescan/gatescan/vision/calib"
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

// typicalWedge holds the values in brackets in the comment of Wedge's
// sizes, which its zero sizes take.
var typicalWedge = Wedge{BlockWidthM: 0.25, GapM: 0.15, BlockHeightM: 1.2, BaseM: 1.0, FixtureGCm2: 40}

func (w Wedge) withDefaults() Wedge { return defaults.Fill(w, typicalWedge) }

// WedgeFileStep is a step of a wedge file as calib reads it (one block and
// the pixel ranges where the beam crosses it and nothing else), with what
// only the simulator knows: its noise-free attenuations.
type WedgeFileStep struct {
	calib.Step
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
	g, err := layoutWedge(&s, w)
	if err != nil {
		return nil, nil, wf, err
	}
	model, _ := ScannerByName(s.Scanner)
	eh, el := s.energies()
	bh, bl := model.beam(eh), model.beam(el)
	tHi := getFloats(g.width * g.h)
	defer putFloats(tHi)
	var tLo []float32
	if s.DualEnergy {
		tLo = getFloats(g.width * g.h)
		defer putFloats(tLo)
	}
	fixHi, fixLo := transmissionOf(bh, Steel, w.FixtureGCm2), transmissionOf(bl, Steel, w.FixtureGCm2)
	wf.Steps = g.steps(bh, bl)
	g.fill(tHi, bh, fixHi)
	if tLo != nil {
		g.fill(tLo, bl, fixLo)
	}
	rng := rand.New(rand.NewPCG(uint64(s.Seed), 0x5bd1e9955bd1e995))
	high, low, _ = detect(&s, tHi, tLo, g.width, g.h, rng)
	return high, low, wf, nil
}

// wedgeLayout places a wedge's blocks on a scene's image: pixel sizes in
// metres, the image's size, and the blocks' pitch and top above ground.
type wedgeLayout struct {
	w             Wedge
	leadIn        float64
	px, py, pitch float64
	width, h      int
	top, htop     float64
}

// layoutWedge checks wedge w's blocks and that the wedge fits s's detector
// column, and lays it out.
func layoutWedge(s *Scene, w Wedge) (wedgeLayout, error) {
	if len(w.Blocks) == 0 {
		return wedgeLayout{}, errorf("wedge has no blocks")
	}
	for i, b := range w.Blocks {
		if _, ok := matIndex(b.Material); !ok || !(b.GCm2 > 0) || b.GCm2 > 5000 {
			return wedgeLayout{}, errorf("wedge block %d: material %q, %v g/cm²: want a known material and 0 < g/cm² <= 5000", i, b.Material, b.GCm2)
		}
	}
	g := wedgeLayout{w: w, leadIn: s.LeadInM, px: s.PixelMM.X / 1000, py: s.PixelMM.Y / 1000}
	g.pitch = w.BlockWidthM + w.GapM
	g.width = int(math.Ceil((s.LeadInM + float64(len(w.Blocks))*g.pitch + s.LeadOutM) / g.px))
	g.h = int(math.Round(s.HeightM / g.py))
	g.top = w.BaseM + w.BlockHeightM
	if g.top+0.2 > float64(g.h)*g.py || w.BaseM < 0.15 {
		return wedgeLayout{}, errorf("wedge %.2f m high on a %.2f m base does not fit a %.2f m detector column with air above", w.BlockHeightM, w.BaseM, s.HeightM)
	}
	if g.width*g.h > 60_000_000 || g.width < 8 {
		return wedgeLayout{}, errorf("wedge image %d×%d: too large or too small", g.width, g.h)
	}
	g.htop = float64(g.h) * g.py
	return g, nil
}

// overlap is the fraction of [a0, a1) that [b0, b1) covers.
func overlap(a0, a1, b0, b1 float64) float64 {
	return math.Max(0, math.Min(a1, b1)-math.Max(a0, b0)) / (a1 - a0)
}

// transmissionOf is beam b's transmission through g g/cm² of material m.
func transmissionOf(b *beam, m Material, g float64) float64 {
	var t [nMat]float64
	i, _ := matIndex(m)
	t[i] = g
	return b.transmission(&t)
}

// steps is the wedge file's steps: each block's pixels, inside its edges,
// and its noise-free attenuations at both energies.
func (g wedgeLayout) steps(bh, bl *beam) []WedgeFileStep {
	var steps []WedgeFileStep
	// Metres above ground to rows, inside.
	rows := [2]int{int(math.Ceil((g.htop-g.top)/g.py)) + 2, int(math.Floor((g.htop-g.w.BaseM)/g.py)) - 2}
	for k, b := range g.w.Blocks {
		x0 := g.leadIn + float64(k)*g.pitch
		x1 := x0 + g.w.BlockWidthM
		st := WedgeFileStep{Step: calib.Step{Material: wedgeClass(b.Material), Name: b.Name, GCm2: b.GCm2,
			Columns: [2]int{int(math.Ceil(x0/g.px)) + 2, int(math.Floor(x1/g.px)) - 2},
			Rows:    rows}}
		th, tl := transmissionOf(bh, b.Material, b.GCm2), transmissionOf(bl, b.Material, b.GCm2)
		st.Truth = &WedgeStep{A: -math.Log(th), GCm2: b.GCm2}
		st.TruthLow = &WedgeStep{A: -math.Log(tl), GCm2: b.GCm2}
		steps = append(steps, st)
	}
	return steps
}

// fill writes into t, column-major, beam b's transmission through the
// blocks and, below them, the fixture's (transmission fix).
func (g wedgeLayout) fill(t []float32, b *beam, fix float64) {
	w, py, htop := g.w, g.py, g.htop
	for c := 0; c < g.width; c++ {
		cx0, cx1 := float64(c)*g.px, float64(c+1)*g.px
		col := t[c*g.h : (c+1)*g.h]
		for r := range col {
			col[r] = 1
		}
		k := int(math.Floor((cx0 - g.leadIn) / g.pitch))
		for _, kk := range []int{k, k + 1} {
			if kk < 0 || kk >= len(w.Blocks) {
				continue
			}
			bx0 := g.leadIn + float64(kk)*g.pitch
			fx := overlap(cx0, cx1, bx0, bx0+w.BlockWidthM)
			if fx == 0 {
				continue
			}
			tb := transmissionOf(b, w.Blocks[kk].Material, w.Blocks[kk].GCm2)
			for r := range col {
				y1 := htop - float64(r)*py
				y0 := y1 - py
				fy := overlap(y0, y1, w.BaseM, g.top)
				ff := overlap(y0, y1, w.BaseM-0.1, w.BaseM)
				col[r] -= float32(fx * (fy*(1-tb) + ff*(1-fix)))
			}
		}
	}
}

// wedgeClass is the contract's material class of a simulated material.
func wedgeClass(m Material) string {
	switch m {
	case Aluminium, Ceramic, Glass:
		return calib.Aluminium
	case Steel:
		return calib.Steel
	case Lead:
		return calib.Lead
	}
	return calib.Organic
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
