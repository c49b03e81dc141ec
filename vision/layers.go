package vision

import (
	"math"

	"github.com/gatescan/gatescan/agent/inspection"
)

// layerCol accumulates, for one pair of regions, the grid columns where
// the light one lies directly under the dense one.
type layerCol struct {
	light, dense   int32
	cols           int
	hsum, dsum     float64
	opaque         int
	x0, x1, y0, y1 int
}

// layers finds light bands under denser goods. Each grid column is walked
// up from the floor; where a run of one region ends and, across at most
// 0.15 m of nothing, the cargo cells of the next 0.2 m are on the whole
// layer_density_ratio times denser or opaque, the column counts for that
// region and the region above (or none, when the denser band is too thin
// to be a region of its own). A pair whose columns add up to
// layer_min_length_m, with the light run layer_min_height_m high on
// average, is a Layer.
func (d *Detector) layers(c *Container, b box, px, py float64) {
	s := &d.seg
	g := &s.g
	s.cols = s.cols[:0]
	gap := max(1, int(math.Round(0.15/g.cy)))
	probe := max(2, int(math.Round(0.2/g.cy)))
	ds, _ := d.gS.DataPtrFloat32()
	for x := range g.w {
		y := g.h - 1
		for y >= 0 {
			a := s.lab[y*g.w+x]
			if a == 0 {
				y--
				continue
			}
			top := y
			for top > 0 && s.lab[(top-1)*g.w+x] == a {
				top--
			}
			l := &c.Regions[a-1]
			if !l.LowerBound && !l.Packaging {
				if dense, kgm3, opaque, ok := d.denseAbove(x, top, gap, probe, l.P50, ds); ok {
					s.addLayerCol(a, dense, x, top, y+1, float64(y+1-top)*g.cy, kgm3, opaque)
				}
			}
			y = top - 1
		}
	}
	for _, lc := range s.cols {
		length := float64(lc.cols) * g.cx
		height := lc.hsum / float64(lc.cols)
		if length < d.p.LayerMinLengthM || height < d.p.LayerMinHeightM {
			continue
		}
		pr := g.rect(lc.x0, lc.y0, lc.x1, lc.y1)
		l := &c.Regions[lc.light-1]
		ly := Layer{
			Light: int(lc.light - 1), Dense: int(lc.dense - 1),
			M: inspection.Region{
				XM: round(float64(pr.Min.X-b.outer.Min.X)*px, 2), YM: round(float64(pr.Min.Y-b.outer.Min.Y)*py, 2),
				WM: round(float64(pr.Dx())*px, 2), HM: round(float64(pr.Dy())*py, 2),
			},
			LengthM: round(length, 2), HeightM: round(height, 2),
			LightKgM3: l.P50, DenseKgM3: round(lc.dsum/float64(lc.cols), 1), DenseOpaque: 2*lc.opaque > lc.cols,
		}
		if lc.dense > 0 {
			h := &c.Regions[lc.dense-1]
			ly.DenseKgM3, ly.DenseOpaque = h.P50, h.LowerBound
		}
		c.Layers = append(c.Layers, ly)
	}
}

// denseAbove looks above cell (x, top) across at most gap cells of
// nothing, at the cargo cells of the next probe cells: ok reports whether
// they are on the whole (their median) layer_density_ratio times denser
// than light, or opaque. It also returns the region most of them belong to
// (0 for none), their median density and whether most are opaque.
func (d *Detector) denseAbove(x, top, gap, probe int, light float64, ds []float32) (region int32, kgm3 float64, opaque, ok bool) {
	s := &d.seg
	g := &s.g
	k := top - 1
	for k >= 0 && top-1-k < gap && !s.cargo[k*g.w+x] {
		k--
	}
	if k < 0 || !s.cargo[k*g.w+x] {
		return 0, 0, false, false
	}
	vals := s.vals[:0]
	var votes [4]int32
	var nv [4]int
	nop := 0
	for j := k; j >= 0 && j > k-probe && s.cargo[j*g.w+x]; j-- {
		i := j*g.w + x
		v := ds[i]
		if s.opaque[i] {
			v = 1e5
			nop++
		}
		vals = append(vals, v)
		if l := s.lab[i]; l > 0 {
			for q := range votes {
				if votes[q] == l || votes[q] == 0 {
					votes[q] = l
					nv[q]++
					break
				}
			}
		}
	}
	s.vals = vals
	if len(vals) == 0 {
		return 0, 0, false, false
	}
	med := float64(median32(vals))
	if med < d.p.LayerDensityRatio*math.Max(light, d.p.CargoMinKgM3) {
		return 0, 0, false, false
	}
	best, bestN := int32(0), 0
	for q, l := range votes {
		if nv[q] > bestN && 2*nv[q] > len(vals) {
			best, bestN = l, nv[q]
		}
	}
	return best, med, 2*nop > len(vals), true
}

func (s *segmenter) addLayerCol(light, dense int32, x, y0, y1 int, h, denseKgM3 float64, opaque bool) {
	op := 0
	if opaque {
		op = 1
	}
	for i := range s.cols {
		lc := &s.cols[i]
		if lc.light == light && lc.dense == dense {
			lc.cols++
			lc.hsum += h
			lc.dsum += denseKgM3
			lc.opaque += op
			lc.x0, lc.x1 = min(lc.x0, x), max(lc.x1, x+1)
			lc.y0, lc.y1 = min(lc.y0, y0), max(lc.y1, y1)
			return
		}
	}
	s.cols = append(s.cols, layerCol{light, dense, 1, h, denseKgM3, op, x, x + 1, y0, y1})
}
