package vision

import (
	"cmp"
	"image"
	"math"
	"slices"

	"gocv.io/x/gocv"
)

// The cargo is segmented on a grid of cells of about detector.grid_m, each
// the mean of the pixels it covers: finer than any package, and small
// enough (a 40 ft box is about 300 × 60 cells) that everything after the
// averaging costs little. The averaging is one gocv Resize per image.

// grid maps the cells of one container's inner space to image pixels.
type grid struct {
	r      image.Rectangle // the inner space in image pixels
	w, h   int             // cells
	sx, sy float64         // pixels per cell
	cx, cy float64         // metres per cell
}

// rect is the pixel rectangle of cells [x0,x1)×[y0,y1).
func (g *grid) rect(x0, y0, x1, y1 int) image.Rectangle {
	return image.Rect(g.r.Min.X+int(math.Round(float64(x0)*g.sx)), g.r.Min.Y+int(math.Round(float64(y0)*g.sy)),
		g.r.Min.X+int(math.Round(float64(x1)*g.sx)), g.r.Min.Y+int(math.Round(float64(y1)*g.sy)))
}

// segmenter holds the Go-side buffers of the segmentation, all grid-sized
// and reused from scan to scan.
type segmenter struct {
	g      grid
	cargo  []bool  // cell holds cargo
	opaque []bool  // the beam did not get through most of the cell
	lab    []int32 // final region per cell, 0 none
	comp   []int32 // connected component per cell (gocv labels)
	circle []bool  // cell inside a validated coil
	parent []int32 // union-find over components
	comps  []comp
	pairs  []pair
	order  []int32 // cells sorted by region
	start  []int32 // region r's cells are order[start[r]:start[r+1]]
	vals   []float32
	roots  []int32
	cols   []layerCol
}

// comp is one connected component of cells of even density.
type comp struct {
	n              int
	x0, y0, x1, y1 int
	logMed         float64
	opaque         bool
	// merged group statistics, valid at the union-find root
	gn     int
	gLog   float64
	region int32
}

type pair struct {
	a, b int32
	diff float64
}

// buildGrid completes the container's cells (cargo has averaged the mass
// thickness into d.cells.mass and, for dual energy, the attenuations into d.cells.attHigh
// and d.cells.attLow): opaque fraction d.cells.opaque (and d.cells.opaqueLow); then apparent density d.cells.density and its
// smoothed copy d.cells.smooth, and the cargo and opaque flags.
func (d *Detector) buildGrid(r image.Rectangle, b box, px, py float64) *grid {
	sz := d.gridSize(r, px, py)
	gw, gh := sz.X, sz.Y
	s := &d.seg
	s.g = grid{r: r, w: gw, h: gh, sx: float64(r.Dx()) / float64(gw), sy: float64(r.Dy()) / float64(gh),
		cx: float64(r.Dx()) * px / float64(gw), cy: float64(r.Dy()) * py / float64(gh)}
	d.opaqueCells(d.a, r, d.opaqueFrom(&d.seen.hi), sz, &d.cells.opaque)
	if d.seen.dual != nil {
		d.opaqueCells(d.aLo, r.Sub(d.seen.aLoAt), d.opaqueFrom(&d.seen.lo), sz, &d.cells.opaqueLow)
	}
	// kg/m³ = (g/cm²) / (inner width in cm) × 1000
	d.cells.mass.ConvertToWithParams(&d.cells.density, gocv.MatTypeCV32F, float32(10/b.geom.InnerWidthM), 0)
	gocv.GaussianBlur(d.cells.density, &d.cells.smooth, image.Pt(3, 3), 0, 0, gocv.BorderReplicate)

	n := gw * gh
	s.cargo = growBool(s.cargo, n)
	s.opaque = growBool(s.opaque, n)
	ds, _ := d.cells.smooth.DataPtrFloat32()
	op, _ := d.cells.opaque.DataPtrFloat32()
	lim := float32(d.p.CargoMinKgM3)
	// A cell is opaque cargo when the beam did not get through most of it
	// and the cargo, not the structure, stopped it: what is left after the
	// structure is subtracted is a good part of the most the beam crosses.
	// (Light goods over a fan-smeared floor are opaque too, but light.)
	gm, _ := d.cells.mass.DataPtrFloat32()
	heavy := float32(0.4 * d.seen.pen)
	for i := range n {
		s.cargo[i] = ds[i] > lim
		s.opaque[i] = s.cargo[i] && op[i] > 0.5 && gm[i] >= heavy
	}
	return &s.g
}

// gridSize is the cell grid of inner space r: cells of about grid_m.
func (d *Detector) gridSize(r image.Rectangle, px, py float64) image.Point {
	return image.Pt(max(2, int(math.Round(float64(r.Dx())*px/d.p.GridM))), max(2, int(math.Round(float64(r.Dy())*py/d.p.GridM))))
}

// opaqueLog is the log-density given to opaque cells: far above any real
// apparent density, so that the edge of what the beam did not cross is a
// region boundary.
const opaqueLog = 11.5 // ln 1e5

// segment splits the cargo cells into regions of homogeneous apparent
// density: edges where the density changes by more than edge_ratio between
// neighbouring cells (a morphological gradient of log density), connected
// components of the cells between edges, components that touch and have
// similar densities merged, and edge cells given to their nearest region.
// It fills s.lab and returns the number of regions (labels 1..n), largest
// first.
func (d *Detector) segment() int {
	s := &d.seg
	g := &s.g
	n := g.w * g.h
	lf := d.logDensity()
	nc := d.coreComponents(n)
	s.describeComps(int32s(&d.stats), lf, nc)

	// Merge components that touch across a thin edge or gap (up to 0.2 m:
	// the gaps between stacks and between coils) and have similar densities.
	reach := max(3, int(math.Ceil(0.2/math.Min(g.cx, g.cy))))
	s.pairComps(nc, reach)
	s.mergeComps(math.Log(d.p.MergeRatio))

	s.growGroups(lf, n)
	minCells := int(math.Ceil(d.p.RegionMinAreaM2 / (g.cx * g.cy)))
	return s.rankGroups(n, nc, minCells)
}

// logDensity fills d.cells.logDensity with the log density of each cell and returns its
// data. Empty cells sit at the cargo threshold so that the edge of the
// cargo is an edge too; opaque cells at opaqueLog.
func (d *Detector) logDensity() []float32 {
	s := &d.seg
	d.cells.smooth.CopyTo(&d.cells.logDensity)
	lf, _ := d.cells.logDensity.DataPtrFloat32()
	floor := math.Log(d.p.CargoMinKgM3)
	for i, v := range lf {
		switch {
		case s.opaque[i]:
			lf[i] = opaqueLog
		case s.cargo[i]:
			lf[i] = float32(math.Log(float64(v)))
		default:
			lf[i] = float32(floor)
		}
	}
	return lf
}

// coreComponents labels the connected components of the core cells (those
// of the n cells whose log density varies by at most edge_ratio among
// their neighbours) into d.labels and d.stats, copies the labels to
// s.comp, and returns the number of labels (0 is the background).
func (d *Detector) coreComponents(n int) int {
	s := &d.seg
	gocv.Dilate(d.cells.logDensity, &d.cells.dilated, d.kernel)
	gocv.Erode(d.cells.logDensity, &d.cells.eroded, d.kernel)
	hi, _ := d.cells.dilated.DataPtrFloat32()
	lo, _ := d.cells.eroded.DataPtrFloat32()
	edge := float32(math.Log(d.p.EdgeRatio))
	d.cells.smooth.ConvertTo(&d.cells.mask8, gocv.MatTypeCV8U) // allocates the mask's shape
	core, _ := d.cells.mask8.DataPtrUint8()
	// Opaque cells are a class of their own (their density is only a lower
	// bound), so they are core cells whatever their neighbours: a ring of
	// wire two cells thick stays one component.
	for i := range n {
		core[i] = 0
		if s.opaque[i] || s.cargo[i] && hi[i]-lo[i] <= edge {
			core[i] = 255
		}
	}
	nc := gocv.ConnectedComponentsWithStatsWithParams(d.cells.mask8, &d.labels, &d.stats, &d.centroids, 4, gocv.MatTypeCV32S, gocv.CCL_DEFAULT)
	cl := int32s(&d.labels)
	s.comp = growInt32(s.comp, n)
	copy(s.comp, cl[:n])
	return nc
}

// describeComps sets each of the nc components' size and box (from st,
// gocv's stats), median log density (of lf) and opacity, and starts each
// as a group of its own.
func (s *segmenter) describeComps(st []int32, lf []float32, nc int) {
	if cap(s.comps) < nc {
		s.comps = make([]comp, nc)
	}
	s.comps = s.comps[:nc]
	for l := range nc {
		x, y, w, h, a := int(st[l*5]), int(st[l*5+1]), int(st[l*5+2]), int(st[l*5+3]), int(st[l*5+4])
		s.comps[l] = comp{n: a, x0: x, y0: y, x1: x + w, y1: y + h}
	}
	s.sortCells(s.comp, nc)
	for l := 1; l < nc; l++ {
		cells := s.order[s.start[l]:s.start[l+1]]
		vals := s.vals[:0]
		nop := 0
		for _, c := range cells {
			vals = append(vals, lf[c])
			if s.opaque[c] {
				nop++
			}
		}
		s.vals = vals
		c := &s.comps[l]
		c.logMed = float64(median32(vals))
		c.opaque = 2*nop > len(cells)
		c.gn, c.gLog = c.n, c.logMed*float64(c.n)
	}
}

// pairComps resets the union-find over the nc components and lists in
// s.pairs, most similar first, the pairs of components that face each
// other across at most reach cells, to the right or below.
func (s *segmenter) pairComps(nc, reach int) {
	g := &s.g
	s.parent = growInt32(s.parent, nc)
	for i := range s.parent {
		s.parent[i] = int32(i)
	}
	s.pairs = s.pairs[:0]
	for y := range g.h {
		for x := range g.w {
			l := s.comp[y*g.w+x]
			if l == 0 {
				continue
			}
			for k := 1; k <= reach && x+k < g.w; k++ {
				if m := s.comp[y*g.w+x+k]; m != 0 {
					if m != l {
						s.addPair(l, m)
					}
					break
				}
			}
			for k := 1; k <= reach && y+k < g.h; k++ {
				if m := s.comp[(y+k)*g.w+x]; m != 0 {
					if m != l {
						s.addPair(l, m)
					}
					break
				}
			}
		}
	}
	slices.SortFunc(s.pairs, func(p, q pair) int {
		if c := cmp.Compare(p.diff, q.diff); c != 0 {
			return c
		}
		if c := cmp.Compare(p.a, q.a); c != 0 {
			return c
		}
		return cmp.Compare(p.b, q.b)
	})
}

// addPair lists components a and b as merge candidates, lower label first
// so that sorting is deterministic; an opaque and a see-through one never
// merge.
func (s *segmenter) addPair(a, b int32) {
	if a > b {
		a, b = b, a
	}
	ca, cb := &s.comps[a], &s.comps[b]
	if ca.opaque != cb.opaque {
		return
	}
	s.pairs = append(s.pairs, pair{a, b, math.Abs(ca.logMed - cb.logMed)})
}

// mergeComps merges the listed pairs whose log densities differ by at most
// merge, most similar pairs first, each comparison against the groups
// merged so far so that a gradual ramp cannot chain unlike goods together.
func (s *segmenter) mergeComps(merge float64) {
	for _, p := range s.pairs {
		if p.diff > merge {
			break
		}
		ra, rb := s.find(p.a), s.find(p.b)
		if ra == rb {
			continue
		}
		a, b := &s.comps[ra], &s.comps[rb]
		if !a.opaque && math.Abs(a.gLog/float64(a.gn)-b.gLog/float64(b.gn)) > merge {
			continue
		}
		if a.gn < b.gn {
			ra, rb = rb, ra
			a, b = b, a
		}
		s.parent[rb] = ra
		a.gn += b.gn
		a.gLog += b.gLog
	}
}

// growGroups labels the n cells in s.lab with their group's root; edge
// cells join the neighbouring group whose density is closest to their
// log density (lf), a few cells deep.
func (s *segmenter) growGroups(lf []float32, n int) {
	g := &s.g
	s.lab = growInt32(s.lab, n)
	for i := range n {
		s.lab[i] = 0
		if l := s.comp[i]; l != 0 {
			s.lab[i] = s.find(l)
		}
	}
	for range 3 {
		for y := range g.h {
			for x := range g.w {
				i := y*g.w + x
				if s.lab[i] != 0 || !s.cargo[i] {
					continue
				}
				v := float64(lf[i])
				best, bestD := int32(0), math.Inf(1)
				if x > 0 {
					best, bestD = s.closer(i-1, v, best, bestD)
				}
				if x+1 < g.w {
					best, bestD = s.closer(i+1, v, best, bestD)
				}
				if y > 0 {
					best, bestD = s.closer(i-g.w, v, best, bestD)
				}
				if y+1 < g.h {
					best, _ = s.closer(i+g.w, v, best, bestD)
				}
				// Negative marks a cell labelled in this pass, so that one
				// pass grows every group by one cell only.
				s.lab[i] = -best
			}
		}
		for i, v := range s.lab[:n] {
			if v < 0 {
				s.lab[i] = -v
			}
		}
	}
}

// closer returns the group of neighbour cell j and its distance from log
// density v when j is labelled and nearer than bestD; else best and bestD
// unchanged (the first of equals wins).
func (s *segmenter) closer(j int, v float64, best int32, bestD float64) (int32, float64) {
	if r := s.lab[j]; r > 0 {
		c := &s.comps[r]
		if dd := math.Abs(v - c.gLog/float64(c.gn)); dd < bestD {
			return r, dd
		}
	}
	return best, bestD
}

// rankGroups keeps the groups of at least minCells of the n cells,
// numbers them 1..k largest first (ties by label, for a stable order),
// relabels s.lab with those numbers (0 for groups too small), and returns
// k. nc is the number of components.
func (s *segmenter) rankGroups(n, nc, minCells int) int {
	s.roots = s.roots[:0]
	for l := 1; l < nc; l++ {
		s.comps[l].region = 0
	}
	for i := range n {
		if r := s.lab[i]; r > 0 && s.comps[r].region == 0 {
			s.comps[r].region = -1
			s.roots = append(s.roots, r)
		}
	}
	// Count cells per group (gn counted core cells only).
	for _, r := range s.roots {
		s.comps[r].gn = 0
	}
	for i := range n {
		if r := s.lab[i]; r > 0 {
			s.comps[r].gn++
		}
	}
	k := 0
	for _, r := range s.roots {
		if s.comps[r].gn >= minCells {
			s.roots[k] = r
			k++
		}
	}
	s.roots = s.roots[:k]
	slices.SortFunc(s.roots, func(a, b int32) int {
		if c := cmp.Compare(s.comps[b].gn, s.comps[a].gn); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for i, r := range s.roots {
		s.comps[r].region = int32(i + 1)
	}
	for i := range n {
		if r := s.lab[i]; r > 0 {
			s.lab[i] = max(s.comps[r].region, 0)
		}
	}
	return len(s.roots)
}

func (s *segmenter) find(a int32) int32 {
	for s.parent[a] != a {
		s.parent[a] = s.parent[s.parent[a]]
		a = s.parent[a]
	}
	return a
}

// sortCells orders the cells by label (counting sort): label l's cells are
// s.order[s.start[l]:s.start[l+1]]; label 0 is left out.
func (s *segmenter) sortCells(lab []int32, nl int) {
	s.start = growInt32(s.start, nl+1)
	clear(s.start)
	n := 0
	for _, l := range lab {
		if l > 0 {
			s.start[l]++
			n++
		}
	}
	pos := int32(0)
	for l := range nl {
		c := s.start[l]
		s.start[l] = pos
		pos += c
	}
	s.start[nl] = pos
	s.order = growInt32(s.order, n)
	// Fill using start as a cursor, then shift it back.
	for i, l := range lab {
		if l > 0 {
			s.order[s.start[l]] = int32(i)
			s.start[l]++
		}
	}
	for l := nl; l > 0; l-- {
		s.start[l] = s.start[l-1]
	}
	s.start[0] = 0
}

// measureRegions turns the labelled cells into Regions.
func (d *Detector) measureRegions(c *Container, b box, nr int, px, py float64) {
	s := &d.seg
	g := &s.g
	s.sortCells(s.lab, nr+1)
	gm, _ := d.cells.mass.DataPtrFloat32()
	gd, _ := d.cells.density.DataPtrFloat32()
	cellCm2 := g.cx * g.cy * 1e4
	floorRows := max(1, int(math.Round(0.12/g.cy)))
	c.Regions = make([]Region, nr)
	for l := 1; l <= nr; l++ {
		cells := s.order[s.start[l]:s.start[l+1]]
		x0, y0, x1, y1 := g.w, g.h, 0, 0
		var kg, sum float64
		nop := 0
		vals := s.vals[:0]
		for _, ci := range cells {
			x, y := int(ci)%g.w, int(ci)/g.w
			x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x+1), max(y1, y+1)
			kg += float64(gm[ci])
			sum += float64(gd[ci])
			vals = append(vals, gd[ci])
			if s.opaque[ci] {
				nop++
			}
		}
		s.vals = vals
		nc := len(cells)
		rg := &c.Regions[l-1]
		rg.Label = l
		rg.Px = g.rect(x0, y0, x1, y1)
		rg.M = Box{
			XM: round(float64(rg.Px.Min.X-b.outer.Min.X)*px, 2), YM: round(float64(rg.Px.Min.Y-b.outer.Min.Y)*py, 2),
			WM: round(float64(rg.Px.Dx())*px, 2), HM: round(float64(rg.Px.Dy())*py, 2),
		}
		rg.AreaM2 = round(float64(nc)*g.cx*g.cy, 3)
		rg.Kg = math.Round(math.Max(0, kg*cellCm2/1000))
		rg.DensityKgM3 = round(sum/float64(nc), 1)
		rg.P10 = round(float64(selectK(vals, nc/10)), 1)
		rg.P50 = round(float64(selectK(vals, nc/2)), 1)
		rg.P90 = round(float64(selectK(vals, nc*9/10)), 1)
		if rg.P90 > 0 {
			rg.Homogeneity = round(math.Max(0, rg.P10)/rg.P90, 3)
		}
		rg.Opaque = round(float64(nop)/float64(nc), 3)
		rg.LowerBound = rg.Opaque > 0.2
		rg.OnFloor = y1 >= g.h-floorRows
		rg.Packaging = rg.OnFloor && float64(y1-y0)*g.cy <= d.p.PackagingMaxHeightM
		rg.Shape.Rectangularity = round(float64(nc)/float64((x1-x0)*(y1-y0)), 3)
	}
}
