package vision

import (
	"math"
)

// layerCol accumulates, for one pair of regions, the grid columns where
// the light one lies directly under the dense one.
// For a light block behind a dense wall (side 1: walked from the left end
// of the inner space, 2: from the right end) it accumulates grid rows
// instead: hsum sums the light runs' lengths and wsum the wall's.
type layerCol struct {
	light, dense   int32
	side           int8
	cols           int
	hsum, dsum     float64
	wsum           float64
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
	ds, _ := d.cells.smooth.DataPtrFloat32()
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
					s.addLayerCol(layerCol{light: a, dense: dense, x0: x, x1: x + 1, y0: top, y1: y + 1,
						hsum: float64(y+1-top) * g.cy, dsum: kgm3}, opaque)
				}
			}
			y = top - 1
		}
	}
	d.behind(c, ds)
	for _, lc := range s.cols {
		if lc.side != 0 {
			d.behindLayer(c, b, px, py, lc)
			continue
		}
		length := float64(lc.cols) * g.cx
		height := lc.hsum / float64(lc.cols)
		if length < d.p.LayerMinLengthM || height < d.p.LayerMinHeightM {
			continue
		}
		pr := g.rect(lc.x0, lc.y0, lc.x1, lc.y1)
		l := &c.Regions[lc.light-1]
		ly := Layer{
			Light: int(lc.light - 1), Dense: int(lc.dense - 1),
			M: Box{
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

// addLayerCol adds one column (or, for a block behind a wall, one row) n
// to its pair's accumulator.
func (s *segmenter) addLayerCol(n layerCol, opaque bool) {
	if opaque {
		n.opaque = 1
	}
	n.cols = 1
	for i := range s.cols {
		lc := &s.cols[i]
		if lc.light == n.light && lc.dense == n.dense && lc.side == n.side {
			lc.cols++
			lc.hsum += n.hsum
			lc.dsum += n.dsum
			lc.wsum += n.wsum
			lc.opaque += n.opaque
			lc.x0, lc.x1 = min(lc.x0, n.x0), max(lc.x1, n.x1)
			lc.y0, lc.y1 = min(lc.y0, n.y0), max(lc.y1, n.y1)
			return
		}
	}
	s.cols = append(s.cols, n)
}

// behindEndM is how far from the end of the inner space a wall of cover
// goods may start; behindCoverFrac is the least part of the light
// region's height the wall must hide.
const (
	behindEndM      = 0.3
	behindCoverFrac = 0.5
)

// behind finds light blocks hidden along the length behind a wall of
// denser goods stowed at an end of the container: "under", rotated. Each
// grid row is walked inward from both ends of the inner space alike (which
// end has the doors is not known); where a run of one region starts within
// behindEndM of the end, is at least 0.2 m long and, across at most
// 0.15 m of nothing, is followed by a run of another region that it is on
// the whole (its median) layer_density_ratio times denser than, or
// opaque, the row counts for that pair and that end.
func (d *Detector) behind(c *Container, ds []float32) {
	s := &d.seg
	g := &s.g
	gap := max(1, int(math.Round(0.15/g.cx)))
	probe := max(2, int(math.Round(0.2/g.cx)))
	near := max(1, int(math.Round(behindEndM/g.cx)))
	for side := int8(1); side <= 2; side++ {
		// The cell k cells in from this end is at column base+dir*k.
		base, dir := 0, 1
		if side == 2 {
			base, dir = g.w-1, -1
		}
		for y := range g.h {
			row := y * g.w
			k := 0
			for k < near && k < g.w && !s.cargo[row+base+dir*k] {
				k++
			}
			if k >= near || k >= g.w {
				continue
			}
			dense := s.lab[row+base+dir*k]
			w0 := k
			vals := s.vals[:0]
			nop := 0
			for k < g.w && s.cargo[row+base+dir*k] && s.lab[row+base+dir*k] == dense {
				i := row + base + dir*k
				v := ds[i]
				if s.opaque[i] {
					v = 1e5
					nop++
				}
				vals = append(vals, v)
				k++
			}
			s.vals = vals
			wall := k - w0
			if wall < probe {
				continue
			}
			g0 := k
			for k < g.w && k-g0 < gap && !s.cargo[row+base+dir*k] {
				k++
			}
			if k >= g.w || !s.cargo[row+base+dir*k] {
				continue
			}
			light := s.lab[row+base+dir*k]
			if light == 0 || light == dense {
				continue
			}
			l := &c.Regions[light-1]
			if l.LowerBound || l.Packaging {
				continue
			}
			l0 := k
			for k < g.w && s.lab[row+base+dir*k] == light {
				k++
			}
			med := float64(median32(vals))
			if med < d.p.LayerDensityRatio*math.Max(l.P50, d.p.CargoMinKgM3) {
				continue
			}
			x0, x1 := base+dir*l0, base+dir*(k-1)
			if x0 > x1 {
				x0, x1 = x1, x0
			}
			s.addLayerCol(layerCol{light: light, dense: dense, side: side, x0: x0, x1: x1 + 1, y0: y, y1: y + 1,
				hsum: float64(k-l0) * g.cx, wsum: float64(wall) * g.cx, dsum: med}, 2*nop > len(vals))
		}
	}
}

// behindLayer turns one end's rows of a pair into a Layer if they add up
// to layer_min_height_m, hide most of the light region's height, and the
// light runs are layer_min_length_m long on average. The wall must also be
// shorter along the length than what it hides: cover goods are a facade,
// and a long light load at the doors behind which a denser load stands is
// two honest (or differently misdeclared) goods, not a hiding place.
func (d *Detector) behindLayer(c *Container, b box, px, py float64, lc layerCol) {
	g := &d.seg.g
	height := float64(lc.cols) * g.cy
	length := lc.hsum / float64(lc.cols)
	l := &c.Regions[lc.light-1]
	lightH := float64(l.Px.Dy()) * py
	wall := lc.wsum / float64(lc.cols)
	if height < d.p.LayerMinHeightM || length < d.p.LayerMinLengthM || height < behindCoverFrac*lightH || wall >= length {
		return
	}
	pr := g.rect(lc.x0, lc.y0, lc.x1, lc.y1)
	ly := Layer{
		Light: int(lc.light - 1), Dense: -1, Behind: true,
		M: Box{
			XM: round(float64(pr.Min.X-b.outer.Min.X)*px, 2), YM: round(float64(pr.Min.Y-b.outer.Min.Y)*py, 2),
			WM: round(float64(pr.Dx())*px, 2), HM: round(float64(pr.Dy())*py, 2),
		},
		LengthM: round(length, 2), HeightM: round(height, 2), WallM: round(lc.wsum/float64(lc.cols), 2),
		LightKgM3: l.P50, DenseKgM3: round(lc.dsum/float64(lc.cols), 1), DenseOpaque: 2*lc.opaque > lc.cols,
	}
	if lc.dense > 0 {
		h := &c.Regions[lc.dense-1]
		ly.Dense, ly.DenseKgM3, ly.DenseOpaque = int(lc.dense-1), h.P50, h.LowerBound
	}
	c.Layers = append(c.Layers, ly)
}
