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
// adds DENSITY_MISMATCH, SHAPE_MISMATCH, MATERIAL_MISMATCH and
// LAYERED_CONCEALMENT findings to r. It returns how many it added.
func profileFindings(cfg *config.Config, r *inspection.Result, box *vision.Container, d *declaration.Declaration, an *vision.Analysis) int {
	if box.Empty || len(d.Items) == 0 {
		return 0 // UNDECLARED_CARGO and EMPTY_DECLARED_LOADED cover these
	}
	n0 := len(r.Findings)
	ps, weightOnly := declaredProfiles(cfg, d)
	m := matcher{cfg: cfg, p: cfg.Detector, ps: ps, weightOnly: weightOnly, box: box, r: r}
	m.layers()
	if !weightOnly && len(ps) > 0 {
		m.densities()
		m.shapes()
		m.materials()
	}
	controlledEvidence(cfg, r, box, d, n0)
	return len(r.Findings) - n0
}

type matcher struct {
	cfg        *config.Config
	p          config.Detector
	ps         []config.Profile
	weightOnly bool
	box        *vision.Container
	r          *inspection.Result
	// flagged marks regions that already have a density finding.
	flagged []bool
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

// inRange reports whether a region's density can be profile p's: its
// median within the range, or for a region the beam did not cross, its
// lower bound not above the range.
func inRange(g *vision.Region, p config.Profile) bool {
	if g.LowerBound {
		return g.P50 <= p.DensityKgM3[1]
	}
	return g.P50 >= p.DensityKgM3[0] && g.P50 <= p.DensityKgM3[1]
}

// deviation is how far a region's density lies outside p's range, as a
// fraction of the nearer bound (0 inside).
func deviation(g *vision.Region, p config.Profile) float64 {
	lo, hi := p.DensityKgM3[0], p.DensityKgM3[1]
	switch {
	case g.P50 > hi:
		return g.P50/hi - 1
	case !g.LowerBound && g.P50 < lo:
		return 1 - g.P50/math.Max(lo, 1)
	}
	return 0
}

// densities raises DENSITY_MISMATCH for regions whose apparent density no
// declared profile accepts, and for regions that do fall in a range but
// stand out from the rest of that commodity's load by more than its
// uniformity allows (a block of lighter goods inside the declared load).
func (m *matcher) densities() {
	regs := m.box.Regions
	m.flagged = make([]bool, len(regs))
	margin := m.p.ProfileMarginPct / 100
	// The typical density of each profile's part of the load: the
	// area-weighted median over the eligible regions in its range.
	typical := make([]float64, len(m.ps))
	for k, p := range m.ps {
		typical[k] = m.typical(p)
	}
	for i := range regs {
		g := &regs[i]
		if g.Packaging {
			continue
		}
		best, bestDev, consistent, inAny := -1, math.Inf(1), false, false
		for k, p := range m.ps {
			if inRange(g, p) {
				inAny = true
				if g.LowerBound || typical[k] == 0 || uniform(g.P50, typical[k], p.Uniformity) {
					consistent = true
				}
			}
			if dv := deviation(g, p); dv < bestDev {
				best, bestDev = k, dv
			}
		}
		// Small regions count only when far outside every range: a dense
		// block hidden in light goods may be small. A light region must
		// be compact: slivers along the edges of stacks are lighter than
		// the stacks.
		if g.AreaM2 < m.p.MismatchMinAreaM2 && (inAny || bestDev < 1) {
			continue
		}
		if g.Shape.Rectangularity < 0.4 && !denser(g, m.ps) {
			continue
		}
		switch {
		case consistent:
		case !inAny:
			p := m.ps[best]
			sev := inspection.Warning
			// Far outside the range, or far from the rest of the load of
			// the nearest goods, is critical.
			udev := 0.0
			if t := typical[best]; t > 0 && !g.LowerBound && p.Uniformity > 0 {
				udev = math.Max(t*p.Uniformity/g.P50, g.P50*p.Uniformity/t) - 1
			}
			if bestDev > margin || udev > margin {
				sev = inspection.Critical
			}
			what := "apparent density"
			if g.LowerBound {
				what = "apparent density at least"
			}
			m.add(inspection.DensityMismatch, sev, &g.M, g.P50, p.DensityKgM3,
				"region R%d %s (%.1f m²): %s %.0f kg/m³, but declared %s load at %.0f-%.0f kg/m³",
				g.Label, where(g.M), g.AreaM2, what, g.P50, m.names(), p.DensityKgM3[0], p.DensityKgM3[1])
			m.flagged[i] = true
		default:
			// In a range, but unlike the rest of the load of those goods.
			k := m.nearestTypical(g, typical)
			p := m.ps[k]
			lo, hi := typical[k]*p.Uniformity, typical[k]/p.Uniformity
			dev := math.Max(lo/g.P50, g.P50/hi) - 1
			sev := inspection.Warning
			if dev > margin {
				sev = inspection.Critical
			}
			m.add(inspection.DensityMismatch, sev, &g.M, g.P50, [2]float64{math.Round(lo), math.Round(hi)},
				"region R%d %s (%.1f m²): apparent density %.0f kg/m³ against %.0f kg/m³ for the rest of the declared %s; one load of those varies within %.0f-%.0f kg/m³",
				g.Label, where(g.M), g.AreaM2, g.P50, typical[k], p.Name, lo, hi)
			m.flagged[i] = true
		}
	}
}

// denser reports whether a region is denser than every profile allows.
func denser(g *vision.Region, ps []config.Profile) bool {
	for _, p := range ps {
		if g.P50 <= p.DensityKgM3[1] {
			return false
		}
	}
	return true
}

func uniform(v, typical, u float64) bool {
	if u <= 0 {
		return true
	}
	return v >= typical*u && v <= typical/u
}

// typical is the area-weighted median density of the eligible, penetrated
// regions in profile p's range; 0 when there are none.
func (m *matcher) typical(p config.Profile) float64 {
	type wv struct{ v, w float64 }
	var xs []wv
	tot := 0.0
	for i := range m.box.Regions {
		g := &m.box.Regions[i]
		if m.eligible(g) && !g.LowerBound && inRange(g, p) {
			xs = append(xs, wv{g.P50, g.AreaM2})
			tot += g.AreaM2
		}
	}
	if len(xs) == 0 {
		return 0
	}
	slices.SortFunc(xs, func(a, b wv) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	acc := 0.0
	for _, x := range xs {
		acc += x.w
		if acc >= tot/2 {
			return x.v
		}
	}
	return xs[len(xs)-1].v
}

// nearestTypical is the profile whose range holds the region and whose
// typical density is nearest to it (in ratio).
func (m *matcher) nearestTypical(g *vision.Region, typical []float64) int {
	best, bestD := 0, math.Inf(1)
	for k, p := range m.ps {
		if !inRange(g, p) || typical[k] == 0 {
			continue
		}
		if d := math.Abs(math.Log(g.P50 / typical[k])); d < bestD {
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
// declared, and for plain rectangular blocks where only coils were.
func (m *matcher) shapes() {
	coils, stacks, any := shapeFamilies(m.ps)
	if any {
		return
	}
	for i := range m.box.Regions {
		g := &m.box.Regions[i]
		if !m.eligible(g) {
			continue
		}
		sh := g.Shape
		switch {
		case sh.Class == vision.ShapeCoils && !coils:
			m.add(inspection.ShapeMismatch, inspection.Warning, &g.M, float64(sh.Circles), [2]float64{0, 0},
				"region R%d %s shows %d round coils or reels seen end-on, but the declared %s come in %s",
				g.Label, where(g.M), sh.Circles, m.names(), m.shapeWords())
		case sh.Class == vision.ShapeStack && !stacks && sh.Circles == 0 && sh.Rectangularity >= 0.8:
			m.add(inspection.ShapeMismatch, inspection.Warning, &g.M, sh.Rectangularity, [2]float64{0, 0.8},
				"region R%d %s is a rectangular block (%.0f %% of its box filled, no coils), but the declared %s come in coils or reels",
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
		sev := inspection.Warning
		if dist >= 3 {
			sev = inspection.Critical
		}
		m.add(inspection.MaterialMismatch, sev, &g.M, g.MaterialIndex, [2]float64{materialIndexRange(want)[0], materialIndexRange(want)[1]},
			"region R%d %s looks %s in dual energy (material index %.2f), but the declared %s are %s",
			g.Label, where(g.M), g.Material, g.MaterialIndex, m.names(), want)
	}
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
// goods, or light block behind a wall of denser goods at an end: critical when the band cannot be any of the declared goods, or
// only one commodity is declared (one commodity does not come in two
// densities), a warning otherwise.
func (m *matcher) layers() {
	for _, l := range m.box.Layers {
		light := &m.box.Regions[l.Light]
		sev := inspection.Warning
		fits := m.weightOnly
		for _, p := range m.ps {
			fits = fits || inRange(light, p)
		}
		if !m.weightOnly && (!fits || len(m.ps) == 1) {
			sev = inspection.Critical
		}
		denseWord := fmt.Sprintf("goods of %.0f kg/m³", l.DenseKgM3)
		if l.DenseOpaque {
			denseWord = "goods too dense for the beam to cross"
		}
		if l.Dense >= 0 {
			denseWord += fmt.Sprintf(" (R%d)", m.box.Regions[l.Dense].Label)
		}
		if l.Behind {
			m.add(inspection.LayeredConcealment, sev, &l.M, l.LightKgM3,
				[2]float64{math.Round(l.DenseKgM3 / m.p.LayerDensityRatio), math.Round(l.DenseKgM3)},
				"a %.1f m high block of %.0f kg/m³ (R%d) runs %.1f m behind a %.1f m wall of %s at the end %s: goods hidden behind the cover load at the doors?",
				l.HeightM, l.LightKgM3, light.Label, l.LengthM, l.WallM, denseWord, where(l.M))
			continue
		}
		m.add(inspection.LayeredConcealment, sev, &l.M, l.LightKgM3,
			[2]float64{math.Round(l.DenseKgM3 / m.p.LayerDensityRatio), math.Round(l.DenseKgM3)},
			"a %.1f m high band of %.0f kg/m³ (R%d) runs %.1f m under %s %s: goods hidden beneath the cover load? Loads are secured heaviest at the bottom",
			l.HeightM, l.LightKgM3, light.Label, l.LengthM, denseWord, where(l.M))
	}
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
