package assess

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/vision"
)

// MatchProfile returns the commodity profile of an HS code: the longest
// hs_prefix that the code starts with (dots ignored), else the "*"
// fallback. ok is false when neither exists.
func MatchProfile(list []config.Profile, hs string) (config.Profile, bool) {
	hs = strings.ReplaceAll(hs, ".", "")
	best, bestLen := config.Profile{}, -1
	for _, p := range list {
		pre := strings.ReplaceAll(p.HSPrefix, ".", "")
		if p.HSPrefix == "*" {
			pre = ""
		}
		if strings.HasPrefix(hs, pre) && len(pre) > bestLen {
			best, bestLen = p, len(pre)
		}
	}
	return best, bestLen >= 0
}

// declaredProfiles are the profiles of a declaration's items, each once.
// weightOnly is set when an item has no image profile, so that anything
// in the image may be it.
func declaredProfiles(cfg *config.Config, d *declaration.Declaration) (ps []config.Profile, weightOnly bool) {
	for _, it := range d.Items {
		p, ok := MatchProfile(cfg.Profiles, it.HSCode)
		if !ok || p.WeightOnly {
			weightOnly = true
			continue
		}
		if !slices.ContainsFunc(ps, func(q config.Profile) bool { return q.HSPrefix == p.HSPrefix }) {
			ps = append(ps, p)
		}
	}
	return ps, weightOnly
}

// profileFindings compares the regions, layers and materials the detector
// found in a container with the profiles of the goods declared for it, and
// adds DENSITY_MISMATCH, SHAPE_MISMATCH, MATERIAL_MISMATCH,
// LAYERED_CONCEALMENT and CONTROLLED_GOODS_UNDOCUMENTED (image evidence)
// findings to r, each as strong as its evidence. scale is the factor the
// weighbridge gives the scan's apparent densities (1: as measured). It
// returns how many findings it added.
func profileFindings(cfg *config.Config, r *inspection.Result, box *vision.Container, d *declaration.Declaration, scale float64) int {
	if box.Empty || len(d.Items) == 0 {
		return 0 // UNDECLARED_CARGO and EMPTY_DECLARED_LOADED cover these
	}
	n0 := len(r.Findings)
	ps, weightOnly := declaredProfiles(cfg, d)
	m := matcher{cfg: cfg, p: cfg.Detector, ev: cfg.Rules.Evidence, ps: ps, weightOnly: weightOnly, box: box, r: r,
		scale: scale, width: box.InnerWidthM}
	if m.scale <= 0 {
		m.scale = 1
	}
	if m.width <= 0 {
		m.width = 2.352 // ISO inner width, when the geometry is unknown
	}
	m.evidence = make([]inspection.Severity, len(box.Regions))
	for _, f := range r.Findings {
		// The weighbridge found more mass than declared: evidence of its
		// own that the goods are not what the declaration says.
		if f.Code == inspection.WeightMismatch && f.Measured != nil && f.Expected != nil && *f.Measured > f.Expected[1] {
			m.overweight = true
		}
	}
	m.spread = m.loadSpread()
	m.layers()
	if !weightOnly && len(ps) > 0 {
		m.densities()
		m.shapes()
		m.materials()
	}
	m.controlledEvidence(d)
	return len(r.Findings) - n0
}

type matcher struct {
	cfg        *config.Config
	p          config.Detector
	ev         config.Evidence
	ps         []config.Profile
	weightOnly bool
	box        *vision.Container
	r          *inspection.Result
	// scale turns apparent densities into densities as weighed; width is
	// the container's inner width (the depth every density is over).
	scale, width float64
	// spread is the load's own variation: the spread (log of density) of
	// its regions around its typical density.
	spread float64
	// evidence is the strongest density or layer finding raised on each
	// region, "" for none.
	evidence []inspection.Severity
	// overweight: the weighbridge net exceeds the declared weight beyond
	// the tolerance.
	overweight bool
}

func (m *matcher) add(code string, sev inspection.Severity, reg *vision.Box, measured float64, expected [2]float64, format string, args ...any) {
	f := inspection.Finding{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...),
		Measured: inspection.Ptr(math.Round(measured*100) / 100), Expected: &expected}
	if reg != nil {
		f.Region = region(*reg)
	}
	m.r.Findings = append(m.r.Findings, f)
}

// eligible regions are large enough to judge and are not packaging.
func (m *matcher) eligible(g *vision.Region) bool {
	return !g.Packaging && g.AreaM2 >= m.p.MismatchMinAreaM2
}

func where(g vision.Box) string {
	return fmt.Sprintf("at %.1f-%.1f m along, %.1f-%.1f m down", g.XM, g.XM+g.WM, g.YM, g.YM+g.HM)
}

func (m *matcher) names() string {
	var s []string
	for _, p := range m.ps {
		s = append(s, p.Name)
	}
	return strings.Join(s, " or ")
}

// dens is a region's median density as weighed.
func (m *matcher) dens(g *vision.Region) float64 { return g.P50 * m.scale }

// volume is the space a region takes, the container's width deep.
func (m *matcher) volume(g *vision.Region) float64 { return g.AreaM2 * m.width }

// inRange reports whether density v (a lower bound when lb) can be
// profile p's: within the range, or for a region the beam did not cross,
// its lower bound not above the range.
func inRange(v float64, lb bool, p config.Profile) bool {
	if lb {
		return v <= p.DensityKgM3[1]
	}
	return v >= p.DensityKgM3[0] && v <= p.DensityKgM3[1]
}

// strength is how strong a region's case against the declaration is:
// the mass the declared goods cannot explain, and how far the region
// stands out of what they explain in units of the load's own spread.
type strength struct {
	kg, sigma float64
}

func (e strength) String() string {
	return fmt.Sprintf("%.0f kg the declared goods do not explain, %.1f times this load's own variation", e.kg, e.sigma)
}

// severity grades evidence by the thresholds of rules.evidence.
func (m *matcher) severity(e strength) inspection.Severity {
	switch {
	case e.kg >= m.ev.CriticalKg && e.sigma >= m.ev.CriticalSigma:
		return inspection.Critical
	case e.kg >= m.ev.WarningKg && e.sigma >= m.ev.WarningSigma:
		return inspection.Warning
	}
	return inspection.Info
}

// beyond is the evidence of a region at density v against an explained
// density ref: the mass between the two over the region's volume, and
// the log ratio in load spreads.
func (m *matcher) beyond(g *vision.Region, v, ref float64) strength {
	return strength{kg: math.Abs(v-ref) * m.volume(g), sigma: math.Abs(math.Log(v/math.Max(ref, 1))) / m.spread}
}

// loadSpread is the load's own variation: the area-weighted median
// absolute deviation of its regions' log densities (as a standard
// deviation), over the eligible regions the beam crossed that a declared
// profile accepts; at least evidence.load_spread_min.
func (m *matcher) loadSpread() float64 {
	var xs []wv
	for i := range m.box.Regions {
		g := &m.box.Regions[i]
		if !m.eligible(g) || g.LowerBound || g.P50 <= 0 {
			continue
		}
		ok := m.weightOnly
		for _, p := range m.ps {
			ok = ok || inRange(m.dens(g), false, p)
		}
		if ok {
			xs = append(xs, wv{math.Log(m.dens(g)), g.AreaM2})
		}
	}
	if len(xs) < 2 {
		return m.ev.LoadSpreadMin
	}
	med := weightedMedian(xs)
	dev := make([]wv, len(xs))
	for i, x := range xs {
		dev[i] = wv{math.Abs(x.v - med), x.w}
	}
	return math.Max(m.ev.LoadSpreadMin, 1.4826*weightedMedian(dev))
}

// wv is a value with a weight (a region's density or log density and
// its area).
type wv struct{ v, w float64 }

// weightedMedian is the weighted median of xs (sorted in place); 0 when
// empty.
func weightedMedian(xs []wv) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.SortFunc(xs, func(a, b wv) int { return cmpFloat(a.v, b.v) })
	tot := 0.0
	for _, x := range xs {
		tot += x.w
	}
	acc := 0.0
	for _, x := range xs {
		acc += x.w
		if acc >= tot/2 {
			return x.v
		}
	}
	return xs[len(xs)-1].v
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// densities raises DENSITY_MISMATCH for regions the declared goods cannot
// explain, graded by the strength of the evidence: a region denser than
// every declared profile allows (added mass), or lighter than every one
// allows (other goods where the declared ones should stand), or within a
// range but denser than the rest of that commodity's load by more than
// its uniformity allows (a block of denser goods inside the declared
// load). A region lighter than the rest of its load but within the
// declared goods' range is no evidence: air between cartons, a short top
// layer or the door end of a light load hides nothing.
func (m *matcher) densities() {
	regs := m.box.Regions
	// The typical density of each profile's part of the load: the
	// area-weighted median over the eligible regions in its range.
	typical := make([]float64, len(m.ps))
	// seen: the area of the declared goods' part of the load. It is the
	// reference for a region out of every range only when it is a sample
	// of several cartons, not a patch, and at least as large as the region:
	// otherwise the region is the load's body, judged by the range.
	seen := make([]float64, len(m.ps))
	for k, p := range m.ps {
		typical[k] = m.typical(p)
		seen[k] = m.area(p)
	}
	lo, hi := math.Inf(1), 0.0
	for _, p := range m.ps {
		lo, hi = math.Min(lo, p.DensityKgM3[0]), math.Max(hi, p.DensityKgM3[1])
	}
	for i := range regs {
		g := &regs[i]
		if g.Packaging || g.P50 <= 0 {
			continue
		}
		v := m.dens(g)
		inAny := false
		for _, p := range m.ps {
			inAny = inAny || inRange(v, g.LowerBound, p)
		}
		// Small regions count only when far denser than any declared goods:
		// a dense block hidden in light goods may be small. A light region
		// must be compact: slivers along the edges of stacks are lighter
		// than the stacks.
		if g.AreaM2 < m.p.MismatchMinAreaM2 && (inAny || v < 2*hi) {
			continue
		}
		if g.Shape.Rectangularity < 0.4 && v <= hi {
			continue
		}
		what := "apparent density"
		if g.LowerBound {
			what = "apparent density at least"
		}
		// Out of every range, the evidence is measured from what the
		// declared goods weigh in this very load when part of it is theirs
		// (their typical density nearest the region's), else from the
		// range's bound.
		ref := func(bound float64) float64 {
			best := 0.0
			for k, t := range typical {
				if t > 0 && seen[k] >= math.Max(2.5*m.p.MismatchMinAreaM2, g.AreaM2) && (best == 0 || math.Abs(math.Log(v/t)) < math.Abs(math.Log(v/best))) {
					best = t
				}
			}
			if best == 0 {
				return bound
			}
			return best
		}
		switch {
		case !inAny && v > hi:
			e := m.beyond(g, v, ref(hi))
			m.raise(i, e, m.severity(e), inspection.DensityMismatch, &g.M, v, [2]float64{lo, hi},
				"region R%d %s (%.1f m²): %s %.0f kg/m³, but declared %s load at %.0f-%.0f kg/m³: %s",
				g.Label, where(g.M), g.AreaM2, what, v, m.names(), lo, hi, e)
		case !inAny:
			// Lighter than the declared goods can be: measured from the
			// goods around it when they are denser still (those the beam
			// did not cross at their lower bound).
			r := math.Max(ref(lo), m.bodyAround(i, m.ps))
			e := m.lighter(g, v, r)
			sev := m.severity(e)
			if r-v < m.ev.LighterMinKgM3 || m.edgeStrip(g) {
				// A light patch in a light load is air; a strip at the
				// load's end is its edge.
				sev = inspection.Info
			}
			m.raise(i, e, sev, inspection.DensityMismatch, &g.M, v, [2]float64{lo, hi},
				"region R%d %s (%.1f m²): %s %.0f kg/m³, lighter than declared %s can be (%.0f-%.0f kg/m³): other goods where the declared ones should stand? %s",
				g.Label, where(g.M), g.AreaM2, what, v, m.names(), lo, hi, e)
		case !g.LowerBound:
			m.inRange(i, g, v, typical)
		}
	}
}

// inRange weighs region i (g), of apparent density v within a declared
// range, against the rest of the declared goods' load (typical, a
// profile's):
// a block denser than the rest counts (added mass), and so does one
// lighter than the same goods around it beyond what a load of them
// varies.
func (m *matcher) inRange(i int, g *vision.Region, v float64, typical []float64) {
	// In a range: a block denser than the rest of the load counts
	// (added mass).
	k := m.nearestTypical(v, g.LowerBound, typical)
	if k < 0 {
		return
	}
	p := m.ps[k]
	t, u := typical[k], p.Uniformity
	if u <= 0 {
		return
	}
	if v > t/u {
		e := m.beyond(g, v, t)
		m.raise(i, e, m.severity(e), inspection.DensityMismatch, &g.M, v, [2]float64{math.Round(t * u), math.Round(t / u)},
			"region R%d %s (%.1f m²): apparent density %.0f kg/m³ against %.0f kg/m³ for the rest of the declared %s; one load of those varies within %.0f-%.0f kg/m³: %s",
			g.Label, where(g.M), g.AreaM2, v, t, p.Name, t*u, t/u, e)
		return
	}
	// In a range but lighter than the same goods around it,
	// beyond what one load of them varies and by
	// lighter_min_kg_m3: a block of lighter goods inside a dense
	// load (the goods around it counted at their lower bound where
	// the beam did not get through them). Not at the load's edge.
	if b := m.bodyAround(i, m.ps[k:k+1]); v < b*u && b-v >= m.ev.LighterMinKgM3 && !m.edgeStrip(g) {
		e := m.lighter(g, v, b)
		m.raise(i, e, m.severity(e), inspection.DensityMismatch, &g.M, v, [2]float64{math.Round(b * u), math.Round(b / u)},
			"region R%d %s (%.1f m²): apparent density %.0f kg/m³ inside declared %s of at least %.0f kg/m³ around it; one load of those varies within %.0f-%.0f kg/m³: other goods among the declared ones? %s",
			g.Label, where(g.M), g.AreaM2, v, p.Name, b, b*u, b/u, e)
	}
}

// edgeStrip reports whether region g is a strip at the load's edge or,
// with round goods declared, between two units: no thicker than
// rules.evidence.edge_strip_m, with no other cargo region reaching beyond
// it towards either end of the load along the lane; or a band at the top
// of the load, nothing above it, no higher than rules.evidence.top_layer_m
// (the last layer, partly filled across the width) or lighter than
// lighter_min_kg_m3 however high (headroom: the air over the goods, read a
// little dense by a drifting or scattering scanner, or a short top layer
// of light goods).
func (m *matcher) edgeStrip(g *vision.Region) bool {
	t := m.ev.EdgeStripM
	if g.M.WM <= t && m.round() {
		return true
	}
	first, last := g.M.WM <= t, g.M.WM <= t
	top := g.M.HM <= m.ev.TopLayerM || m.dens(g) < m.ev.LighterMinKgM3
	for j := range m.box.Regions {
		o := &m.box.Regions[j]
		if o == g || o.Packaging {
			continue
		}
		first = first && o.M.XM >= g.M.XM
		last = last && o.M.XM+o.M.WM <= g.M.XM+g.M.WM
		// Above it: a region over its span along the lane whose top is
		// higher (y grows downwards).
		if o.M.XM < g.M.XM+g.M.WM && o.M.XM+o.M.WM > g.M.XM && o.M.YM < g.M.YM-0.05 {
			top = false
		}
	}
	return first || last || top
}

// round reports whether every declared profile's goods are round in a
// side view (reels or coils, upright or seen end-on).
func (m *matcher) round() bool {
	for _, p := range m.ps {
		if !slices.ContainsFunc(p.Shapes, func(s string) bool { return s == "coils" || s == "upright" }) {
			return false
		}
	}
	return len(m.ps) > 0
}

// lighter is the evidence of region g, at density v, being other goods
// where declared ones of density ref should stand: the mass missing
// against them, but no more than the region holds, for whatever hides
// there weighs no more than that (a void hides nothing).
func (m *matcher) lighter(g *vision.Region, v, ref float64) strength {
	e := m.beyond(g, v, ref)
	e.kg = math.Min(e.kg, v*m.volume(g))
	return e
}

// raise adds a finding about region i with its evidence e and remembers
// how strong it is.
func (m *matcher) raise(i int, e strength, sev inspection.Severity, code string, box *vision.Box, measured float64, expected [2]float64, format string, args ...any) {
	m.add(code, sev, box, measured, expected, format, args...)
	if e.kg > 0 {
		m.r.Findings[len(m.r.Findings)-1].Evidence = &inspection.Evidence{Kg: math.Round(e.kg), Sigma: math.Round(e.sigma*10) / 10}
	}
	if i >= 0 && rank(sev) > rank(m.evidence[i]) {
		m.evidence[i] = sev
	}
}

func rank(s inspection.Severity) int {
	switch s {
	case inspection.Info:
		return 1
	case inspection.Warning:
		return 2
	case inspection.Critical:
		return 3
	}
	return 0
}

// typical is the area-weighted median density (as weighed) of the
// eligible, penetrated regions in profile p's range; 0 when there are
// none.
func (m *matcher) typical(p config.Profile) float64 {
	var xs []wv
	for i := range m.box.Regions {
		g := &m.box.Regions[i]
		if m.eligible(g) && !g.LowerBound && inRange(m.dens(g), false, p) {
			xs = append(xs, wv{m.dens(g), g.AreaM2})
		}
	}
	return weightedMedian(xs)
}

// bodyAround is the density of the rest of the load around region i:
// the area-weighted median density (as weighed) of the other eligible
// regions that one of the profiles ps accepts, those the beam did not
// cross included at their lower bound; 0 when there are none.
func (m *matcher) bodyAround(i int, ps []config.Profile) float64 {
	var xs []wv
	for j := range m.box.Regions {
		g := &m.box.Regions[j]
		if j == i || !m.eligible(g) || g.P50 <= 0 {
			continue
		}
		v := m.dens(g)
		for _, p := range ps {
			if inRange(v, g.LowerBound, p) {
				xs = append(xs, wv{v, g.AreaM2})
				break
			}
		}
	}
	return weightedMedian(xs)
}

// area is the area of the eligible, penetrated regions in profile p's
// range.
func (m *matcher) area(p config.Profile) float64 {
	a := 0.0
	for i := range m.box.Regions {
		g := &m.box.Regions[i]
		if m.eligible(g) && !g.LowerBound && inRange(m.dens(g), false, p) {
			a += g.AreaM2
		}
	}
	return a
}

// nearestTypical is the profile whose range holds density v and whose
// typical density is nearest to it (in ratio); -1 when none.
func (m *matcher) nearestTypical(v float64, lb bool, typical []float64) int {
	best, bestD := -1, math.Inf(1)
	for k, p := range m.ps {
		if !inRange(v, lb, p) || typical[k] == 0 {
			continue
		}
		if d := math.Abs(math.Log(v / typical[k])); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// Shape families of the profiles' shapes.
func shapeFamilies(ps []config.Profile) (coils, stacks, any bool) {
	for _, p := range ps {
		for _, s := range p.Shapes {
			switch s {
			case "coils":
				coils = true
			case "irregular":
				any = true
			default:
				stacks = true
			}
		}
		if len(p.Shapes) == 0 {
			any = true
		}
	}
	return
}

// shapes raises SHAPE_MISMATCH for coils where only stacked goods were
// declared, and for plain rectangular blocks where only coils seen end-on
// were. Coils are a warning only when several cover most of a region the
// beam crossed: a carton's edge or a pallet makes a single false circle,
// and the edge of what the beam did not cross makes many. Goods that stand
// upright (reels on end, coils lying along the lane) are rectangles in a
// side view: their profiles list "upright".
func (m *matcher) shapes() {
	coils, stacks, any := shapeFamilies(m.ps)
	if any {
		return
	}
	upright := slices.ContainsFunc(m.ps, func(p config.Profile) bool { return slices.Contains(p.Shapes, "upright") })
	for i := range m.box.Regions {
		g := &m.box.Regions[i]
		if !m.eligible(g) {
			continue
		}
		sh := g.Shape
		switch {
		case sh.Class == vision.ShapeCoils && !coils:
			sev := inspection.Info
			if sh.Circles >= m.ev.CoilsMin && sh.CircleCover >= m.ev.CoilCoverMin && !g.LowerBound {
				sev = inspection.Warning
			}
			m.add(inspection.ShapeMismatch, sev, &g.M, float64(sh.Circles), [2]float64{0, 0},
				"region R%d %s shows %d round coils or reels seen end-on (covering %.0f %% of it), but the declared %s come in %s",
				g.Label, where(g.M), sh.Circles, 100*sh.CircleCover, m.names(), m.shapeWords())
		case sh.Class == vision.ShapeStack && !stacks && !upright && sh.Circles == 0 && sh.Rectangularity >= 0.8:
			m.add(inspection.ShapeMismatch, inspection.Warning, &g.M, sh.Rectangularity, [2]float64{0, 0.8},
				"region R%d %s is a rectangular block (%.0f %% of its box filled, no coils), but the declared %s come in coils or reels seen end-on",
				g.Label, where(g.M), 100*sh.Rectangularity, m.names())
		}
	}
}

func (m *matcher) shapeWords() string {
	var s []string
	for _, p := range m.ps {
		for _, sh := range p.Shapes {
			if !slices.Contains(s, sh) {
				s = append(s, sh)
			}
		}
	}
	return strings.Join(s, ", ")
}

var materialRank = map[string]int{vision.MaterialOrganic: 0, vision.MaterialMixed: 1, vision.MaterialInorganic: 2, vision.MaterialMetal: 3}

// materials raises MATERIAL_MISMATCH for a region whose dual-energy class
// is two or more classes away from every declared profile's material
// (organic against inorganic or metal, mixed against metal).
func (m *matcher) materials() {
	for i := range m.box.Regions {
		g := &m.box.Regions[i]
		if !m.eligible(g) || g.Material == "" {
			continue
		}
		dist, want := 4, ""
		for _, p := range m.ps {
			if p.Material == "" {
				return
			}
			if d := absInt(materialRank[g.Material] - materialRank[p.Material]); d < dist {
				dist, want = d, p.Material
			}
		}
		if dist < 2 {
			continue
		}
		// The evidence: how far the region's material index lies outside
		// the declared class's span, in units of what the calibration
		// allows at that attenuation (thin goods, and the default curves,
		// allow much), and how much of the goods there are.
		span := materialIndexRange(want)
		e := strength{kg: g.Kg, sigma: materialSigma(g, want)}
		sev := m.severity(e)
		if dist < 3 && sev == inspection.Critical {
			sev = inspection.Warning // organic for inorganic: the classes neighbour
		}
		m.raise(i, e, sev, inspection.MaterialMismatch, &g.M, g.MaterialIndex, span,
			"region R%d %s looks %s in dual energy (material index %.2f ± %.2f), but the declared %s are %s: %.0f kg, %.1f times what the calibration allows there",
			g.Label, where(g.M), g.Material, g.MaterialIndex, g.MaterialSD, m.names(), want, e.kg, e.sigma)
	}
}

// materialSigma is how far region g's material index lies outside the
// span of class, in its own standard deviations: 0 inside it or when the
// region has no material.
func materialSigma(g *vision.Region, class string) float64 {
	if g.Material == "" || class == "" || g.MaterialSD <= 0 {
		return 0
	}
	span := materialIndexRange(class)
	return math.Max(0, math.Max(span[0]-g.MaterialIndex, g.MaterialIndex-span[1])) / g.MaterialSD
}

// materialIndexRange is the rough material index span of a class (0 steel,
// about 0.5 aluminium, 1 organic), for the finding's expected range.
func materialIndexRange(class string) [2]float64 {
	switch class {
	case vision.MaterialOrganic:
		return [2]float64{0.85, 1.2}
	case vision.MaterialMixed:
		return [2]float64{0.6, 0.9}
	case vision.MaterialInorganic:
		return [2]float64{0.25, 0.65}
	}
	return [2]float64{-0.3, 0.25}
}

// layers raises LAYERED_CONCEALMENT for each light band under denser
// goods, or light block behind a wall of denser goods at an end. A band
// the declared goods cannot be (lighter or denser than every declared
// profile) is graded by the mass it leaves unexplained, and is at least a
// warning: loads are secured heaviest at the bottom, and goods no
// declaration explains lie there. A band the declared goods can be is
// info: a lighter layer of the same light goods (a short carton, air)
// hides nothing. With goods that have no image profile, a warning.
func (m *matcher) layers() {
	for _, l := range m.box.Layers {
		light := &m.box.Regions[l.Light]
		v := l.LightKgM3 * m.scale
		sev := inspection.Warning
		var e strength
		if !m.weightOnly {
			fits := false
			lo := math.Inf(1)
			for _, p := range m.ps {
				fits = fits || inRange(v, false, p)
				lo = math.Min(lo, p.DensityKgM3[0])
			}
			sev = inspection.Info
			if dense := l.DenseKgM3 * m.scale; fits && dense-v >= m.ev.LighterMinKgM3 {
				// The declared goods fit the band, but much mass is missing
				// from it against the goods above it.
				vol := l.LengthM * l.HeightM * m.width
				e = strength{kg: (dense - v) * vol, sigma: math.Log(dense/math.Max(v, 1)) / m.spread}
				sev = m.severity(e)
			}
			if !fits && v < lo {
				ref := math.Max(lo, l.DenseKgM3*m.scale)
				vol := l.LengthM * l.HeightM * m.width
				e = strength{kg: (ref - v) * vol, sigma: math.Log(ref/math.Max(v, 1)) / m.spread}
				sev = m.severity(e)
				if sev == inspection.Info {
					sev = inspection.Warning
				}
			}
			if m.edgeStrip(light) {
				sev = inspection.Info // the load's top or end, not a hiding place
			}
		}
		denseWord := fmt.Sprintf("goods of %.0f kg/m³", l.DenseKgM3*m.scale)
		if l.DenseOpaque {
			denseWord = "goods too dense for the beam to cross"
		}
		if l.Dense >= 0 {
			denseWord += fmt.Sprintf(" (R%d)", m.box.Regions[l.Dense].Label)
		}
		why := ""
		if e.kg > 0 {
			why = ": " + e.String()
		}
		expected := [2]float64{math.Round(l.DenseKgM3 * m.scale / m.p.LayerDensityRatio), math.Round(l.DenseKgM3 * m.scale)}
		if l.Behind {
			m.raise(l.Light, e, sev, inspection.LayeredConcealment, &l.M, v, expected,
				"a %.1f m high block of %.0f kg/m³ (R%d) runs %.1f m behind a %.1f m wall of %s at the end %s: goods hidden behind the cover load at the doors?%s",
				l.HeightM, v, light.Label, l.LengthM, l.WallM, denseWord, where(l.M), why)
			continue
		}
		m.raise(l.Light, e, sev, inspection.LayeredConcealment, &l.M, v, expected,
			"a %.1f m high band of %.0f kg/m³ (R%d) runs %.1f m under %s %s: goods hidden beneath the cover load? Loads are secured heaviest at the bottom%s",
			l.HeightM, v, light.Label, l.LengthM, denseWord, where(l.M), why)
	}
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
