package xraysim

import (
	"encoding/json"
	"fmt"
	"github.com/gatescan/gatescan/drivers/declaration"
	"math"
	"math/rand"
	"sort"
	"strings"
)

// DeclaredItem is one line of a customs declaration (interfaces.md §2).
type DeclaredItem struct {
	HSCode      string // 6 to 10 digits, no dots
	Description string
	GrossKg     float64
	Packages    int
	PackageType string // UN/ECE Rec. 21: CT carton, RL reel, PX pallet, CR crate, BG bag, PK package
}

// Declared is what the declaration of one container says. Honest scenarios
// declare what is loaded (gross masses rounded, within about ±1 %);
// concealment scenarios declare the cover goods only.
type Declared struct {
	ContainerID     string
	Type            string // ISO size-type code
	ContainerTareKg float64
	GrossKg         float64 // verified gross mass: tare + Σ items
	Items           []DeclaredItem
}

// ItemsKg is the sum of the declared items' gross masses.
func (d Declared) ItemsKg() float64 {
	s := 0.0
	for _, it := range d.Items {
		s += it.GrossKg
	}
	return s
}

// JSON returns the declaration as the JSON object of interfaces.md §2.
func (d Declared) JSON(declarationID string) ([]byte, error) {
	type item struct {
		HSCode      string  `json:"hs_code"`
		Description string  `json:"description"`
		GrossKg     float64 `json:"gross_kg"`
		Packages    int     `json:"packages,omitempty"`
		PackageType string  `json:"package_type,omitempty"`
	}
	out := struct {
		DeclarationID   string  `json:"declaration_id"`
		ContainerID     string  `json:"container_id"`
		ContainerType   string  `json:"container_type"`
		ContainerTareKg float64 `json:"container_tare_kg"`
		DeclaredGrossKg float64 `json:"declared_gross_kg"`
		Items           []item  `json:"items"`
	}{declarationID, d.ContainerID, d.Type, d.ContainerTareKg, d.GrossKg, []item{}}
	for _, it := range d.Items {
		out.Items = append(out.Items, item(it))
	}
	return json.MarshalIndent(out, "", "  ")
}

// commodity is a kind of goods as loaded.
type commodity struct {
	key, hs, desc string
	mat           Material
	dens          [2]float64 // bulk density as loaded, kg/m³
	pkg           string
	pkgM3         float64    // volume of one package
	stackH        [2]float64 // stack height range, m
	palletP       float64    // probability the load is palletised
	coil          *coilSpec
	crate         bool // wooden crate around an aluminium core
}

type coilSpec struct {
	ro, ri, w, dens [2]float64
	tiers           int
}

var commodities = map[string]commodity{
	"masks":        {key: "masks", hs: "630790", desc: "disposable face masks, non-woven, in cartons", mat: Organic, dens: [2]float64{100, 150}, pkg: "CT", pkgM3: 0.085, stackH: [2]float64{1.6, 2.3}, palletP: 0.3},
	"garments":     {key: "garments", hs: "621010", desc: "disposable protective coveralls of nonwovens", mat: Organic, dens: [2]float64{150, 250}, pkg: "CT", pkgM3: 0.1, stackH: [2]float64{1.6, 2.3}, palletP: 0.3},
	"test-kits":    {key: "test-kits", hs: "382219", desc: "diagnostic test kits (SARS-CoV-2 antigen)", mat: Organic, dens: [2]float64{200, 350}, pkg: "CT", pkgM3: 0.05, stackH: [2]float64{1.4, 2.0}, palletP: 0.6},
	"ventilators":  {key: "ventilators", hs: "901920", desc: "medical ventilators in wooden crates", mat: Aluminium, dens: [2]float64{180, 280}, pkg: "CR", stackH: [2]float64{0.9, 1.3}, crate: true},
	"thermometers": {key: "thermometers", hs: "902519", desc: "infrared thermometers", mat: Organic, dens: [2]float64{200, 300}, pkg: "CT", pkgM3: 0.05, stackH: [2]float64{1.4, 2.2}, palletP: 0.5},
	"bags":         {key: "bags", hs: "392321", desc: "polyethylene carrier bags", mat: Organic, dens: [2]float64{300, 400}, pkg: "CT", pkgM3: 0.06, stackH: [2]float64{1.6, 2.3}, palletP: 0.3},
	"bottles":      {key: "bottles", hs: "392330", desc: "PET bottles, empty", mat: Organic, dens: [2]float64{40, 80}, pkg: "BG", pkgM3: 0.5, stackH: [2]float64{1.8, 2.35}},
	"flowers":      {key: "flowers", hs: "670290", desc: "artificial flowers of textile materials", mat: Organic, dens: [2]float64{50, 80}, pkg: "CT", pkgM3: 0.12, stackH: [2]float64{1.8, 2.35}},
	"wire":         {key: "wire", hs: "721710", desc: "black annealed iron wire, in reels", mat: Steel, pkg: "RL", coil: &coilSpec{ro: [2]float64{0.28, 0.40}, ri: [2]float64{0.13, 0.19}, w: [2]float64{0.35, 0.5}, dens: [2]float64{4000, 5500}, tiers: 1}},
	"tiles":        {key: "tiles", hs: "690721", desc: "porcelain floor tiles, palletised", mat: Ceramic, dens: [2]float64{1800, 2000}, pkg: "PX", pkgM3: 0, stackH: [2]float64{0.6, 1.0}, palletP: 1},
	"paper":        {key: "paper", hs: "481013", desc: "coated paper in rolls", mat: Paper, pkg: "RL", coil: &coilSpec{ro: [2]float64{0.45, 0.62}, ri: [2]float64{0.04, 0.08}, w: [2]float64{0.9, 1.15}, dens: [2]float64{600, 800}, tiers: 2}},
	"tshirts":      {key: "tshirts", hs: "610910", desc: "cotton T-shirts, knitted", mat: Organic, dens: [2]float64{200, 300}, pkg: "CT", pkgM3: 0.08, stackH: [2]float64{1.6, 2.3}, palletP: 0.2},
	"furniture":    {key: "furniture", hs: "940360", desc: "wooden furniture, flat-packed", mat: Wood, dens: [2]float64{150, 250}, pkg: "PK", pkgM3: 0.4, stackH: [2]float64{1.5, 2.3}},
}

var honestKeys = []string{"masks", "garments", "test-kits", "ventilators", "thermometers", "bags", "bottles", "flowers", "wire", "tiles", "paper", "tshirts", "furniture"}

var scenarioNames = func() []string {
	n := []string{"empty", "undeclared-empty", "masks-under-wire", "masks-in-bags", "masks-as-bottles", "masks-as-flowers", "dense-in-light", "overweight"}
	for _, k := range honestKeys {
		n = append(n, "honest-"+k)
	}
	return n
}()

// ScenarioNames lists the scenarios Scenario knows:
//
//   - "empty": an empty container, declared empty.
//   - "undeclared-empty": declared empty, but loaded (every region Hidden).
//   - "masks-under-wire": the April 2020 case: 111,650 face masks in cartons
//     hidden in a layer at the bottom of the container under reels of black
//     iron wire, declared as iron wire only.
//   - "masks-in-bags": a block of mask cartons in the core of a load of
//     plastic bags, declared as bags.
//   - "masks-as-bottles", "masks-as-flowers": mask cartons declared as empty
//     PET bottles / artificial flowers (sometimes behind a wall of the real
//     cover goods at the doors).
//   - "dense-in-light": a steel block hidden inside light goods.
//   - "overweight": declared 10 t, truly 15 t.
//   - "honest-KEY" for KEY in masks (6307.90), garments (6210), test-kits
//     (3822), ventilators (9019), thermometers (9025.19), bags (3923.21),
//     bottles (3923.30), flowers (6702), wire (7217, coils), tiles (6907),
//     paper (4810, reels), tshirts (6109), furniture (9403).
//
// In concealment scenarios the declared gross is, at random, either the true
// total (the smuggler declared the weight) or what the cover goods alone
// would weigh.
func ScenarioNames() []string { return append([]string(nil), scenarioNames...) }

// Scenario builds a randomised scene for the named scenario and the
// declarations of its containers (one per Scene.Containers entry, same
// order). Everything is drawn from rng: noise, gain spread, pulse jitter,
// pixel size (3..8 mm), lead-in, cab side, container type (20/40/40HC where
// the load fits), fill length, stack height, partial loads, fan beam, dual
// energy, and sometimes two 20 ft containers on one chassis (the other one
// honest or empty).
func Scenario(name string, rng *rand.Rand) (Scene, []Declared, error) {
	known := false
	for _, n := range scenarioNames {
		known = known || n == name
	}
	if !known {
		return Scene{}, nil, fmt.Errorf("xraysim: unknown scenario %q (know: %s)", name, strings.Join(scenarioNames, ", "))
	}
	g := &gen{rng: rng}
	s := g.scene()
	two := rng.Float64() < 0.2
	if name == "overweight" || name == "masks-under-wire" {
		two = two && rng.Float64() < 0.5
	}
	var types []string
	if two {
		types = []string{"22G1", "22G1"}
	} else {
		types = []string{g.pickType(name)}
	}
	target := 0
	if two {
		target = rng.Intn(2)
	}
	var decls []Declared
	for i, typ := range types {
		c := Container{Type: typ, ID: g.containerID(), Shell: g.shell()}
		d := dimsOrPanic(typ)
		c.TareKg = math.Round(d.tare + g.u(-120, 120))
		var items []DeclaredItem
		if i == target {
			items = g.fill(name, &c)
		} else if rng.Float64() < 0.25 {
			items = nil // empty
		} else {
			items = g.fill("honest-"+honestKeys[rng.Intn(len(honestKeys))], &c)
		}
		dec := Declared{ContainerID: c.ID, Type: c.Type, ContainerTareKg: c.TareKg, Items: items}
		dec.GrossKg = math.Round(dec.ContainerTareKg + dec.ItemsKg())
		s.Containers = append(s.Containers, c)
		decls = append(decls, dec)
	}
	g.fitHeight(&s)
	return s, decls, nil
}

func dimsOrPanic(typ string) isoDims {
	d, err := dimsFor(typ)
	if err != nil {
		panic(err)
	}
	return d
}

type gen struct {
	rng *rand.Rand
}

func (g *gen) u(a, b float64) float64 { return a + (b-a)*g.rng.Float64() }
func (g *gen) r(a [2]float64) float64 { return g.u(a[0], a[1]) }
func (g *gen) p(prob float64) bool    { return g.rng.Float64() < prob }

func (g *gen) scene() Scene {
	var s Scene
	s.Seed = g.rng.Int63()
	s.PixelMM.X = math.Round(g.u(3, 8)*100) / 100
	s.PixelMM.Y = math.Round(g.u(3, 8)*100) / 100
	s.LeadInM = g.u(0.5, 3)
	s.LeadOutM = g.u(0.3, 2)
	s.CabFirst = g.p(0.75)
	s.Air = math.Round(g.u(40000, 62000))
	s.Dark = math.Round(g.u(300, 2500))
	s.Photons = math.Round(2e5 * math.Pow(10, g.u(0, 1)))
	s.PhotonsLow = math.Round(s.Photons * g.u(0.3, 0.7))
	s.ReadNoise = g.u(2, 15)
	s.RowGainSpread = g.u(0.01, 0.05)
	s.PulseJitter = g.u(0.01, 0.03)
	s.GainDriftPerM = g.u(-0.0015, 0.0015)
	s.DeadRows = g.rng.Intn(4)
	s.Scatter = g.u(0, 0.01)
	s.ScatterRadiusM = g.u(0.15, 0.35)
	s.DualEnergy = g.p(0.6)
	if g.p(0.2) {
		s.EnergyHighMeV, s.EnergyLowMeV = 9, 6
	} else {
		s.EnergyHighMeV, s.EnergyLowMeV = 6, 4
	}
	if g.p(0.3) {
		s.Fan = true
		s.SourceDistM = g.u(12, 16)
		s.SourceHeightM = g.u(1.8, 2.8)
	}
	cab := g.u(2.1, 2.5)
	s.Truck = Truck{
		CabLengthM:     cab,
		CabHeightM:     g.u(3.2, 3.9),
		TractorLengthM: cab + g.u(3.6, 4.4),
		GapM:           g.u(0.5, 1.2),
		DeckHeightM:    g.u(1.15, 1.45),
		WheelRadiusM:   g.u(0.48, 0.54),
		TrailerTailM:   g.u(0.1, 0.6),
		Between20sM:    0.076,
	}
	s.VehicleTareKg = math.Round(g.u(13000, 17000))
	s.HeightM = g.u(4.5, 5.0)
	return s
}

// fitHeight makes the detector column tall enough for the vehicle.
func (g *gen) fitHeight(s *Scene) {
	top := s.Truck.CabHeightM
	for _, c := range s.Containers {
		top = math.Max(top, s.Truck.DeckHeightM+dimsOrPanic(c.Type).outerH)
	}
	if s.HeightM < top+0.15 {
		s.HeightM = top + g.u(0.15, 0.5)
	}
}

func (g *gen) shell() Shell {
	return Shell{
		SideWallGCm2:      g.u(1.4, 1.7),
		CorrugationPitchM: g.u(0.25, 0.30),
		RoofGCm2:          g.u(110, 220),
		RoofBandM:         g.u(0.035, 0.05),
		FloorBoardDensity: g.u(650, 750),
		CrossMemberPitchM: g.u(0.28, 0.36),
		FloorGCm2:         g.u(60, 110),
		EndWallGCm2:       g.u(40, 65),
	}
}

func (g *gen) pickType(name string) string {
	heavy := strings.Contains(name, "wire") || strings.Contains(name, "tiles") || strings.Contains(name, "paper") || name == "overweight"
	x := g.rng.Float64()
	switch {
	case heavy && x < 0.6:
		return "22G1"
	case x < 0.3:
		return "22G1"
	case x < 0.65:
		return "42G1"
	default:
		return "45G1"
	}
}

var owners = []string{"MSKU", "MSCU", "CSQU", "CMAU", "OOLU", "TGHU", "TCNU", "HLXU", "SEGU", "TEMU", "FCIU", "BMOU", "CAIU", "TRHU"}

func (g *gen) containerID() string {
	id := fmt.Sprintf("%s%06d", owners[g.rng.Intn(len(owners))], g.rng.Intn(1000000))
	return id + string(rune('0'+ISO6346CheckDigit(id)))
}

// ISO6346CheckDigit returns the check digit of the first 10 characters of
// an ISO 6346 container number (owner code, category, serial), or -1. The
// arithmetic is the agent's own (package declaration), so that simulated
// numbers are exactly what the agent accepts.
func ISO6346CheckDigit(s string) int {
	d, err := declaration.CheckDigit(s)
	if err != nil {
		return -1
	}
	return d
}

// load tracks what is put into one container.
type load struct {
	c      *Container
	d      isoDims
	kg     float64
	pkgs   int
	maxKg  float64
	hidden bool
}

func (g *gen) newLoad(c *Container) *load {
	d := dimsOrPanic(c.Type)
	maxKg := 30480 - c.Tare() - 500
	return &load{c: c, d: d, maxKg: maxKg}
}

// unit is one pallet position / stack along the container.
type unit struct {
	x0, x1, h float64
	split     bool // two stacks side by side across the width
}

// layUnits lays stacks from x0 to x1 (pallet rhythm with small gaps).
func (g *gen) layUnits(l *load, x0, x1 float64, stackH [2]float64, pallet bool) []unit {
	var us []unit
	ul := g.u(0.6, 1.2)
	if pallet {
		ul = g.u(1.0, 1.2)
	}
	h := math.Min(g.r(stackH), l.d.innerH-0.03)
	split := g.p(0.5)
	for x := x0; x+0.3 < x1; {
		e := math.Min(x+ul*g.u(0.97, 1.03), x1)
		hh := math.Min(h*g.u(0.92, 1.0), l.d.innerH-0.02)
		us = append(us, unit{x0: x, x1: e, h: hh, split: split})
		x = e + g.u(0.01, 0.06)
	}
	return us
}

// stack fills one unit with goods of density dens (kg/m³), skipping the
// hole [hx0,hx1]×[0,hy1]×|z|<hd/2 if hd > 0. It stops before exceeding
// the container's payload.
func (g *gen) stack(l *load, u unit, com commodity, dens float64, pallet bool, label string, hidden bool, hole *Box) {
	y0 := 0.0
	add := func(b Box) bool {
		if b.X1-b.X0 < 1e-3 || b.Y1-b.Y0 < 1e-3 || b.Depth < 1e-3 {
			return false
		}
		if l.kg+b.Kg() > l.maxKg {
			return false
		}
		l.c.Boxes = append(l.c.Boxes, b)
		l.kg += b.Kg()
		return true
	}
	full := innerW - g.u(0.04, 0.12)
	if pallet {
		if add(Box{X0: u.x0, X1: u.x1, Y0: 0, Y1: 0.144, Depth: full, Material: Wood, Density: g.u(120, 170), Label: "pallets", Hidden: hidden}) && com.pkgM3 == 0 {
			l.pkgs++
		}
		y0 = 0.144
	}
	if u.h <= y0+0.05 {
		return
	}
	goods := func(x0, x1, ya, yb, depth, z float64) {
		b := Box{X0: x0, X1: x1, Y0: ya, Y1: yb, Depth: depth, Z: z, Material: com.mat, Density: dens * g.u(0.97, 1.03), Label: label, Hidden: hidden}
		if com.crate {
			add(Box{X0: x0, X1: x1, Y0: ya, Y1: yb, Depth: depth, Z: z, Material: Wood, Density: g.u(40, 70), Label: "crates", Hidden: hidden})
			in := 0.12
			b.X0, b.X1, b.Y0, b.Y1, b.Depth = x0+in, x1-in, ya+0.08, yb-in, depth-2*in
			if b.X1-b.X0 < 0.1 || b.Depth < 0.1 {
				return
			}
			l.pkgs++
		}
		if add(b) && com.pkgM3 > 0 {
			l.pkgs += max(1, int(math.Round((b.X1-b.X0)*(b.Y1-b.Y0)*b.Depth/com.pkgM3)))
		}
	}
	place := func(x0, x1, ya, yb float64) {
		if u.split {
			d := full/2 - 0.01
			goods(x0, x1, ya, yb, d, -full/4)
			goods(x0, x1, ya, yb, d, full/4)
		} else {
			goods(x0, x1, ya, yb, full, 0)
		}
	}
	if hole == nil || hole.X1 <= u.x0 || hole.X0 >= u.x1 {
		place(u.x0, u.x1, y0, u.h)
		return
	}
	// Goods around the hole: before/after it along x, beside it, above it.
	hx0, hx1 := math.Max(hole.X0, u.x0), math.Min(hole.X1, u.x1)
	place(u.x0, hx0, y0, u.h)
	place(hx1, u.x1, y0, u.h)
	side := (full - hole.Depth) / 2
	if side > 0.02 {
		goods(hx0, hx1, y0, math.Min(hole.Y1, u.h), side, -(hole.Depth/2 + side/2))
		goods(hx0, hx1, y0, math.Min(hole.Y1, u.h), side, hole.Depth/2+side/2)
	}
	if hole.Y0 > y0+0.02 {
		goods(hx0, hx1, y0, hole.Y0, hole.Depth, 0)
	}
	if u.h > hole.Y1+0.02 {
		goods(hx0, hx1, hole.Y1, u.h, full, 0)
	}
}

// cartons loads carton-like goods between x0 and x1; hole as in stack.
func (g *gen) cartons(l *load, com commodity, x0, x1 float64, hidden bool, hole *Box) []unit {
	pallet := g.p(com.palletP)
	dens := g.r(com.dens)
	us := g.layUnits(l, x0, x1, com.stackH, pallet)
	label := strings.SplitN(com.desc, ",", 2)[0]
	for _, u := range us {
		g.stack(l, u, com, dens, pallet, label, hidden, hole)
	}
	return us
}

// reel is one drawn coil size.
type reel struct{ ro, ri, w, dens, gap float64 }

func (g *gen) reel(cs *coilSpec) reel {
	return reel{g.r(cs.ro), g.r(cs.ri), g.r(cs.w), g.r(cs.dens), g.u(0.02, 0.08)}
}

// coils loads reels/coils from x0 to x1 with their bottoms at y0.
func (g *gen) coils(l *load, com commodity, rl reel, x0, x1, y0 float64, hidden bool) {
	cs := com.coil
	ro, ri, w, dens, gap := rl.ro, rl.ri, rl.w, rl.dens, rl.gap
	n := int((innerW - 0.05) / w)
	if n < 1 {
		n = 1
	}
	label := strings.SplitN(com.desc, ",", 2)[0]
	kgOne := dens * math.Pi * (ro*ro - ri*ri) * w
	put := func(x, y float64) {
		k := n
		for k > 0 && l.kg+float64(k)*kgOne > l.maxKg {
			k--
		}
		if k == 0 || y+ro > l.d.innerH {
			return
		}
		c := Coil{X: x, Y: y, ROuter: ro, RInner: ri, Depth: float64(k) * w, Material: com.mat, Density: dens, Label: label, Hidden: hidden}
		l.c.Coils = append(l.c.Coils, c)
		l.kg += c.Kg()
		l.pkgs += k
	}
	var xs []float64
	for x := x0 + ro; x+ro <= x1; x += 2*ro + gap {
		xs = append(xs, x)
		put(x, y0+ro)
	}
	if cs.tiers > 1 && g.p(0.6) {
		dy := math.Sqrt(4*ro*ro - math.Pow(ro+gap/2, 2))
		for i := 0; i+1 < len(xs); i++ {
			put((xs[i]+xs[i+1])/2, y0+ro+dy)
		}
	}
}

func round10(v float64) float64 { return math.Round(v/10) * 10 }

func (g *gen) item(com commodity, kg float64, pkgs int, honest bool) DeclaredItem {
	if honest {
		kg *= 1 + 0.005*g.rng.NormFloat64()
	}
	if pkgs < 1 {
		pkgs = 1
	}
	return DeclaredItem{HSCode: com.hs, Description: com.desc, GrossKg: round10(kg), Packages: pkgs, PackageType: com.pkg}
}

// fillLen draws how much of the container's length is used.
func (g *gen) fillLen(d isoDims) float64 {
	if g.p(0.3) {
		return d.innerL * g.u(0.35, 0.8)
	}
	return d.innerL * g.u(0.88, 1.0)
}

// honest loads commodity com and returns its declaration item.
func (g *gen) honest(l *load, com commodity, hidden bool) DeclaredItem {
	L := g.fillLen(l.d)
	if com.coil != nil {
		g.coils(l, com, g.reel(com.coil), 0, L, 0, hidden)
	} else {
		g.cartons(l, com, 0, L, hidden, nil)
	}
	return g.item(com, l.kg, l.pkgs, true)
}

// fill loads container c for scenario name and returns the declared items.
func (g *gen) fill(name string, c *Container) []DeclaredItem {
	l := g.newLoad(c)
	if strings.HasPrefix(name, "honest-") {
		return []DeclaredItem{g.honest(l, commodities[strings.TrimPrefix(name, "honest-")], false)}
	}
	switch name {
	case "empty":
		return nil
	case "undeclared-empty":
		g.honest(l, commodities[honestKeys[g.rng.Intn(len(honestKeys))]], true)
		return nil
	case "masks-under-wire":
		return g.fillMasksUnderWire(l, c)
	case "masks-in-bags", "dense-in-light":
		return g.fillHiddenBlock(name, l, c)
	case "masks-as-bottles", "masks-as-flowers":
		return g.fillMasksAs(name, l)
	case "overweight":
		return g.fillOverweight(l, c)
	}
	return nil
}

// declareCover is the cover goods' item; trueTotal decides the weight.
func (g *gen) declareCover(l *load, cover commodity, coverKg float64, pkgs int) []DeclaredItem {
	kg := coverKg
	if g.p(0.5) {
		kg = l.kg
	}
	return []DeclaredItem{g.item(cover, kg, pkgs, false)}
}

// fillMasksUnderWire hides carton blocks of face masks under wire coils and
// declares only the wire.
func (g *gen) fillMasksUnderWire(l *load, c *Container) []DeclaredItem {
	masks := commodities["masks"]
	const count = 111650
	perCarton := []float64{2000, 2500, 1000}[g.rng.Intn(3)]
	cartons := math.Ceil(count / perCarton)
	vol := count / g.u(20000, 26000) // masks per m³ of cartons
	hm := g.u(0.5, 0.9)
	depth := innerW - g.u(0.05, 0.12)
	length := vol / (hm * depth)
	if length > l.d.innerL*0.8 {
		hm = vol / (depth * l.d.innerL * 0.8)
		length = l.d.innerL * 0.8
	}
	mx0 := g.u(0, l.d.innerL-length-0.1)
	dens := g.r(masks.dens)
	// Carton blocks of ~1 m with small gaps.
	for x := mx0; x < mx0+length-0.05; {
		e := math.Min(x+g.u(0.8, 1.2), mx0+length)
		b := Box{X0: x, X1: e, Y0: 0, Y1: hm, Depth: depth, Material: Organic, Density: dens * g.u(0.97, 1.03),
			Label: fmt.Sprintf("face masks (%d pcs in %d cartons)", count, int(cartons)), Hidden: true}
		c.Boxes = append(c.Boxes, b)
		l.kg += b.Kg()
		x = e + g.u(0.01, 0.03)
	}
	masksKg := l.kg
	wire := commodities["wire"]
	pk := l.pkgs
	rl := g.reel(wire.coil)
	g.coils(l, wire, rl, 0, mx0, 0, false)
	g.coils(l, wire, rl, mx0, mx0+length, hm+0.005, false)
	g.coils(l, wire, rl, mx0+length+0.02, l.d.innerL, 0, false)
	wireKg := l.kg - masksKg
	return []DeclaredItem{g.item(wire, wireKg, l.pkgs-pk, true)}
}

// fillHiddenBlock stacks cover goods (bags, or for dense-in-light light
// goods) around a hidden block: mask cartons or a steel block.
func (g *gen) fillHiddenBlock(name string, l *load, c *Container) []DeclaredItem {
	cover := commodities["bags"]
	if name == "dense-in-light" {
		cover = commodities[[]string{"flowers", "bottles", "tshirts", "garments", "masks"}[g.rng.Intn(5)]]
	}
	L := g.fillLen(l.d)
	if L < 3 {
		L = 3
	}
	pallet := g.p(cover.palletP)
	dens := g.r(cover.dens)
	us := g.layUnits(l, 0, L, cover.stackH, pallet)
	// The hidden block spans whole units away from the doors.
	first := 0
	if len(us) > 3 {
		first = g.rng.Intn(len(us) - 2)
	}
	k := 1 + g.rng.Intn(2)
	if name == "masks-in-bags" {
		k = 2 + g.rng.Intn(2)
	}
	last := min(first+k-1, len(us)-1)
	y0 := 0.0
	if pallet {
		y0 = 0.144
	}
	minH := us[first].h
	for _, u := range us[first : last+1] {
		minH = math.Min(minH, u.h)
	}
	var hole Box
	if name == "masks-in-bags" {
		hole = Box{X0: us[first].x0, X1: us[last].x1, Y0: y0, Y1: y0 + (minH-y0)*g.u(0.55, 0.9),
			Depth: g.u(1.0, 1.6), Material: Organic, Density: g.r(commodities["masks"].dens), Label: "face masks (cartons)", Hidden: true}
	} else {
		span := us[last].x1 - us[first].x0
		bl := math.Min(g.u(0.4, 1.0), span-0.1)
		bx := us[first].x0 + g.u(0.05, span-bl-0.05)
		bh := math.Min(g.u(0.3, 0.8), minH-y0-0.2)
		by := y0 + g.u(0, minH-y0-bh-0.1)
		hole = Box{X0: bx, X1: bx + bl, Y0: by, Y1: by + bh, Depth: g.u(0.4, 1.0), Material: Steel,
			Density: g.u(3000, 7850), Label: "steel block (undeclared)", Hidden: true}
	}
	label := strings.SplitN(cover.desc, ",", 2)[0]
	for _, u := range us {
		g.stack(l, u, cover, dens, pallet, label, false, &hole)
	}
	coverKg := l.kg
	coverPk := l.pkgs
	c.Boxes = append(c.Boxes, hole)
	l.kg += hole.Kg()
	return g.declareCover(l, cover, coverKg, coverPk)
}

// fillMasksAs loads face masks declared as the cover goods of the scenario's
// name, sometimes behind a wall of the real cover goods at the doors.
func (g *gen) fillMasksAs(name string, l *load) []DeclaredItem {
	cover := commodities[strings.TrimPrefix(name, "masks-as-")]
	masks := commodities["masks"]
	L := g.fillLen(l.d)
	wall := 0.0
	if g.p(0.6) {
		wall = math.Min(g.u(1.0, 2.4), L/3)
	}
	var coverVol float64
	if wall > 0 {
		us := g.cartons(l, cover, L-wall, L, false, nil)
		for _, u := range us {
			coverVol += (u.x1 - u.x0) * u.h * innerW
		}
	}
	coverKg := l.kg
	us := g.cartons(l, masks, 0, L-wall-0.03, true, nil)
	for _, u := range us {
		coverVol += (u.x1 - u.x0) * u.h * innerW
	}
	// What the cover goods would weigh in the loaded volume.
	pk := int(coverVol / cover.pkgM3)
	return g.declareCover(l, cover, math.Max(coverKg, coverVol*g.r(cover.dens)*0.9), pk)
}

// fillOverweight loads heavy goods up to 15 t declared as 10 t.
func (g *gen) fillOverweight(l *load, c *Container) []DeclaredItem {
	com := commodities["tiles"]
	if c.Type[0] == '4' && g.p(0.5) {
		com = commodities["bags"]
	}
	target := 15000.0
	l.maxKg = target
	g.cartons(l, com, 0, l.d.innerL, false, nil)
	g.topUp(l, target)
	g.scaleTo(l, target)
	return []DeclaredItem{g.item(com, 10000, l.pkgs, false)}
}

// topUp trims or extends the last box so that the load weighs exactly target.
func (g *gen) topUp(l *load, target float64) {
	bs := l.c.Boxes
	if len(bs) == 0 {
		return
	}
	// Largest-x box holding goods.
	idx := -1
	for i := range bs {
		if bs[i].Label != "pallets" && (idx < 0 || bs[i].X1 >= bs[idx].X1) {
			idx = i
		}
	}
	if idx < 0 {
		return
	}
	b := &bs[idx]
	missing := target - l.kg
	// Change the box's height (stack height) to absorb the difference.
	area := (b.X1 - b.X0) * b.Depth * b.Density
	newH := (b.Y1 - b.Y0) + missing/area
	maxH := l.d.innerH - b.Y0
	if newH > maxH {
		// Not enough room in that stack: add a box in front of the doors.
		newH = maxH
	}
	if newH < 0.01 {
		newH = 0.01
	}
	l.kg += (newH - (b.Y1 - b.Y0)) * area
	b.Y1 = b.Y0 + newH
	if rest := target - l.kg; rest > 1 {
		// Extend along x where there is room.
		free := l.d.innerL - maxX(bs)
		if free > 0.1 {
			h := math.Min(b.Y1-b.Y0, l.d.innerH-0.01)
			nb := *b
			nb.X0 = maxX(bs) + 0.02
			nb.X1 = math.Min(l.d.innerL, nb.X0+rest/(h*nb.Depth*nb.Density))
			nb.Y0, nb.Y1 = 0, h
			l.c.Boxes = append(l.c.Boxes, nb)
			l.kg += nb.Kg()
		}
	}
	sort.SliceStable(l.c.Boxes, func(i, j int) bool { return l.c.Boxes[i].X0 < l.c.Boxes[j].X0 })
}

func maxX(bs []Box) float64 {
	m := 0.0
	for _, b := range bs {
		m = math.Max(m, b.X1)
	}
	return m
}

// scaleTo scales the goods' densities (not the pallets') so that the load
// weighs exactly target.
func (g *gen) scaleTo(l *load, target float64) {
	var goods, other float64
	for _, b := range l.c.Boxes {
		if b.Label == "pallets" {
			other += b.Kg()
		} else {
			goods += b.Kg()
		}
	}
	if goods <= 0 || math.Abs(goods+other-target) < 0.01 {
		return
	}
	f := (target - other) / goods
	for i := range l.c.Boxes {
		if l.c.Boxes[i].Label != "pallets" {
			l.c.Boxes[i].Density *= f
		}
	}
	l.kg = target
}
