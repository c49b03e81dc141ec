package assess

import (
	"fmt"
	"math"
	"strings"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/vision"
)

// packed is a profile's packed bulk density as a log-normal: the typical
// density and the standard deviation of its log. Without packed_kg_m3 the
// range's geometric middle, the range four deviations wide.
func packed(p config.Profile) (typical, sd float64) {
	if p.Packed[0] > 0 && p.Packed[1] > 1 {
		return p.Packed[0], math.Log(p.Packed[1])
	}
	lo, hi := math.Max(p.DensityKgM3[0], 1), math.Max(p.DensityKgM3[1], 2)
	return math.Sqrt(lo * hi), math.Max(math.Log(hi/lo)/4, 0.05)
}

// logLikelihood is how well density v fits profile p's packed density
// (log-normal, up to a constant shared by every profile).
func logLikelihood(v float64, p config.Profile) float64 {
	t, sd := packed(p)
	z := math.Log(v/t) / sd
	return -z*z/2 - math.Log(sd)
}

// declaredLikelihood is logLikelihood for the declared goods, which may
// stand only part of the container's width deep: a side view cannot see
// how deep goods stand, and apparent density is mass over the full width,
// so that goods lighter than the declared ones are explained down to
// evidence.depth_fill_min of their typical density. Denser goods are not.
func declaredLikelihood(v float64, p config.Profile, fill float64) float64 {
	t, _ := packed(p)
	if v < t && fill > 0 {
		v = math.Min(t, v/fill)
	}
	return logLikelihood(v, p)
}

// controlledEvidence is the image-evidence rule of the export controls, in
// a container whose declaration has no controlled item: a region whose
// density is far likelier for an export-controlled commodity's packed
// density than for any declared goods' raises CONTROLLED_GOODS_UNDOCUMENTED
// naming the goods it may be and how much of them. The likelihood ratio
// weighs overlapping commodities (masks declared as PET bottles at the
// top of the bottles' range) instead of a pass/fail range; a region that
// stands out of its own load must also have density evidence of its own
// (a warning or worse), so that a dense corner of an honest load is not
// called something else. A region the declared goods fit as well is no
// evidence, however wide the controlled commodity's profile.
func (m *matcher) controlledEvidence(d *declaration.Declaration) {
	for _, it := range d.Items {
		if _, ok := matchControlled(m.cfg.Controlled, it.HSCode); ok {
			return // declared: the document rule judges it
		}
	}
	type cand struct {
		g config.Controlled
		p config.Profile
	}
	var cands []cand
	for _, g := range m.cfg.Controlled {
		if p, ok := MatchProfile(m.cfg.Profiles, strings.ReplaceAll(g.HSPrefix, ".", "")); ok && !p.WeightOnly {
			cands = append(cands, cand{g, p})
		}
	}
	if len(cands) == 0 {
		return
	}
	for i := range m.box.Regions {
		g := &m.box.Regions[i]
		if !m.eligible(g) || g.LowerBound || g.P50 <= 0 || g.Shape.Rectangularity < 0.4 {
			continue
		}
		v := m.dens(g)
		flagged := rank(m.evidence[i]) >= rank(inspection.Warning)
		best, bestLL := -1, math.Inf(-1)
		for k, c := range cands {
			// Dual energy rules out a commodity of another material.
			if materialSigma(g, c.p.Material) >= m.ev.WarningSigma {
				continue
			}
			if ll := logLikelihood(v, c.p); ll > bestLL {
				best, bestLL = k, ll
			}
		}
		var sev inspection.Severity
		lr, kg := 0.0, v*m.volume(g)
		switch {
		case best < 0:
			continue
		case m.weightOnly || len(m.ps) == 0:
			continue // goods without an image profile may be anything
		default:
			// A patch standing out of its load needs density evidence of
			// its own; the load's body is weighed as it is.
			if !flagged && !m.body(g, v) {
				continue
			}
			// A region standing out of its own load lies within goods that
			// fill the width: no part-depth allowance for it.
			fill := m.ev.DepthFillMin
			if flagged {
				fill = 1
			}
			declared := math.Inf(-1)
			for _, p := range m.ps {
				declared = math.Max(declared, declaredLikelihood(v, p, fill))
			}
			lr = math.Exp(bestLL - declared)
			// Two independent pieces of evidence make a strong case
			// together: the density fitting the controlled goods, and the
			// region standing out of its load or the weighbridge finding
			// more mass than declared.
			switch {
			case kg >= m.ev.CriticalKg && (lr >= m.ev.CriticalRatio || lr >= m.ev.WarningRatio && (flagged || m.overweight)):
				sev = inspection.Critical
			case lr >= m.ev.WarningRatio && kg >= m.ev.WarningKg:
				sev = inspection.Warning
			default:
				continue
			}
		}
		c := cands[best]
		t, sd := packed(c.p)
		ratio := fmt.Sprintf("%.0f times likelier than for the declared %s", math.Min(lr, 9999), m.names())
		m.r.Findings = append(m.r.Findings, inspection.Finding{
			Code: inspection.ControlledUndocumented, Severity: sev, Region: region(g.M),
			Measured: inspection.Ptr(math.Round(v)), Expected: &[2]float64{math.Round(t / math.Exp(2*sd)), math.Round(t * math.Exp(2*sd))},
			Message: fmt.Sprintf("possible undeclared %s, %.1f m³ at %.0f kg/m³ (%.0f kg, region R%d, %s): that density is %s; export-controlled, needing %s, and not declared",
				c.g.Name, m.volume(g), v, kg, g.Label, where(g.M), ratio, strings.Join(c.g.Documents, " and ")),
			Evidence: &inspection.Evidence{Kg: math.Round(kg), LikelihoodRatio: math.Round(math.Min(lr, 9999)*10) / 10},
		})
	}
}

// body reports whether a region is part of the load's body rather than a
// patch standing out of it: it is at least a third of the cargo's area,
// or within the load's own spread of the load's typical density.
func (m *matcher) body(g *vision.Region, v float64) bool {
	if m.box.CargoAreaM2 > 0 && g.AreaM2 >= m.box.CargoAreaM2/3 {
		return true
	}
	t := m.loadTypical()
	return t > 0 && math.Abs(math.Log(v/t)) <= m.ev.WarningSigma*m.spread
}

// loadTypical is the area-weighted median density (as weighed) of the
// load's eligible regions the beam crossed, whatever their profile; 0
// when there are none.
func (m *matcher) loadTypical() float64 {
	return m.typical(config.Profile{DensityKgM3: [2]float64{0, math.Inf(1)}})
}

// densityScale is the factor that turns the scan's apparent densities
// into densities as weighed: weighbridge net over X-ray mass, when the
// beam crossed the load, the container is alone on the chassis (a pair's
// split is itself estimated from the X-ray) and the factor lies within
// rules.evidence.weighbridge_scale; 1 otherwise.
func densityScale(cfg *config.Config, box *vision.Container, net *float64, containers int) float64 {
	if box == nil || net == nil || containers != 1 || box.LowerBound || box.CargoKg < cfg.Detector.EmptyMaxKg {
		return 1
	}
	s := *net / box.CargoKg
	w := cfg.Rules.Evidence.WeighbridgeScale
	if s < w[0] || s > w[1] {
		return 1
	}
	return s
}
