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

// controlledEvidence is the image-evidence rule of the export controls: a
// region the declared goods cannot explain (already a DENSITY_MISMATCH or
// the light band of a LAYERED_CONCEALMENT) that fits the profile of an
// export-controlled commodity, in a container whose declaration has no
// controlled item, raises CONTROLLED_GOODS_UNDOCUMENTED naming the
// goods it may be and how much of them.
func controlledEvidence(cfg *config.Config, r *inspection.Result, box *vision.Container, d *declaration.Declaration, from int) {
	for _, it := range d.Items {
		if _, ok := matchControlled(cfg.Controlled, it.HSCode); ok {
			return // declared: the document rule judges it
		}
	}
	// Profiles of the controlled goods, by the controlled list's prefixes.
	type cand struct {
		g config.Controlled
		p config.Profile
	}
	var cands []cand
	for _, g := range cfg.Controlled {
		if p, ok := MatchProfile(cfg.Profiles, strings.ReplaceAll(g.HSPrefix, ".", "")); ok && !p.WeightOnly {
			cands = append(cands, cand{g, p})
		}
	}
	n := len(r.Findings)
	seen := map[int]bool{} // one finding per region, whatever pointed at it
	for i := from; i < n; i++ {
		f := r.Findings[i]
		if f.Region == nil || (f.Code != inspection.DensityMismatch && f.Code != inspection.LayeredConcealment) {
			continue
		}
		reg := regionAt(box, vision.Box(*f.Region))
		if reg == nil || reg.LowerBound || seen[reg.Label] {
			continue
		}
		seen[reg.Label] = true
		// Of the controlled goods whose range holds the region, the most
		// specific: the narrowest range (on a log scale: densities are
		// ratios). A wide range such as crated machines says little.
		best, bestD := -1, math.Inf(1)
		for k, c := range cands {
			lo, hi := c.p.DensityKgM3[0], c.p.DensityKgM3[1]
			if reg.P50 < lo || reg.P50 > hi || lo <= 0 {
				continue
			}
			if dd := math.Log(hi / lo); dd < bestD {
				best, bestD = k, dd
			}
		}
		if best < 0 {
			continue
		}
		c := cands[best]
		width := box.InnerWidthM
		if width <= 0 {
			width = 2.352 // ISO inner width, when the geometry is unknown
		}
		g := *f.Region
		r.Findings = append(r.Findings, inspection.Finding{
			Code: inspection.ControlledUndocumented, Severity: inspection.Warning, Region: &g,
			Measured: inspection.Ptr(math.Round(reg.P50)), Expected: &[2]float64{c.p.DensityKgM3[0], c.p.DensityKgM3[1]},
			Message: fmt.Sprintf("possible undeclared %s, %.1f m³ at %.0f kg/m³ (region R%d, %s): export-controlled, needing %s, and not declared",
				c.g.Name, reg.AreaM2*width, reg.P50, reg.Label, where(reg.M), strings.Join(c.g.Documents, " and ")),
		})
	}
}

// regionAt finds the region a finding's rectangle was made from (the
// finding copies the region's metres, or a layer's band lies within it).
func regionAt(box *vision.Container, m vision.Box) *vision.Region {
	var best *vision.Region
	bestOverlap := 0.0
	for i := range box.Regions {
		g := &box.Regions[i]
		ox := math.Min(g.M.XM+g.M.WM, m.XM+m.WM) - math.Max(g.M.XM, m.XM)
		oy := math.Min(g.M.YM+g.M.HM, m.YM+m.HM) - math.Max(g.M.YM, m.YM)
		if ox > 0 && oy > 0 && ox*oy > bestOverlap {
			best, bestOverlap = g, ox*oy
		}
	}
	return best
}
