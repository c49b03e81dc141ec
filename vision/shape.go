package vision

import (
	"math"
	"slices"

	"gocv.io/x/gocv"
)

// Shape classes of a region.
const (
	ShapeCoils     = "coils"
	ShapeStack     = "stack"
	ShapeIrregular = "irregular"
)

// shapes describes each region: coils found with Hough circles on the
// log-density grid and checked against the cells around them, the rhythm
// of the stacks the region was merged from, and from those and the
// rectangularity a shape class.
func (d *Detector) shapes(c *Container) {
	s := &d.seg
	g := &s.g
	n := g.w * g.h
	s.circle = growBool(s.circle, n)
	clear(s.circle)
	count := d.coils(c)

	for i := range c.Regions {
		rg := &c.Regions[i]
		cells := s.order[s.start[i+1]:s.start[i+2]]
		covered := 0
		for _, ci := range cells {
			if s.circle[ci] {
				covered++
			}
		}
		sh := &rg.Shape
		sh.Circles = count[i]
		sh.CircleCover = round(float64(covered)/float64(max(1, len(cells))), 3)
		d.rhythm(int32(i+1), sh)
		switch {
		case sh.Circles > 0 && sh.CircleCover >= 0.35:
			sh.Class = ShapeCoils
		case sh.Rectangularity >= 0.75 || sh.Units >= 2 && sh.Rectangularity >= 0.6:
			sh.Class = ShapeStack
		default:
			sh.Class = ShapeIrregular
		}
	}
}

// coils finds discs and rings seen end-on and marks the cells they cover
// in s.circle; it returns how many lie in each region. A circle Hough
// finds is kept only if nearly all of its inside is cargo and at least two
// of its four diagonal outside points are much lighter: true of reels
// side by side or stacked in their grooves, false of a square carton stack
// of the same size.
func (d *Detector) coils(c *Container) []int {
	s := &d.seg
	g := &s.g
	count := make([]int, len(c.Regions))
	if len(c.Regions) == 0 {
		return count
	}
	lo, hi := math.Log(d.p.CargoMinKgM3), math.Log(20000)
	alpha := 255 / (hi - lo)
	d.cells.logDensity.ConvertToWithParams(&d.cells.mask8, gocv.MatTypeCV8U, float32(alpha), float32(-alpha*lo))
	cell := math.Sqrt(g.cx * g.cy)
	rmin := max(3, int(d.p.CoilRadiusM[0]/cell))
	rmax := max(rmin+1, int(math.Ceil(d.p.CoilRadiusM[1]/cell)))
	// OpenCV leaves the output alone when it finds no circle: start empty.
	circles := gocv.NewMat()
	defer circles.Close()
	gocv.HoughCirclesWithParams(d.cells.mask8, &circles, gocv.HoughGradient, 1, 1.5*float64(rmin), 100, 12, rmin, rmax)
	if circles.Empty() {
		return count
	}
	cf, _ := circles.DataPtrFloat32()
	ds, _ := d.cells.smooth.DataPtrFloat32()
	p := coilProbe{s: s, g: g, ds: ds}
	for k := 0; k+2 < len(cf); k += 3 {
		cx, cy, r := float64(cf[k]), float64(cf[k+1]), float64(cf[k+2])
		if ro, ok := p.outerRadius(cx, cy, rmax); ok && ro > r {
			r = ro
		}
		if !p.standsOut(cx, cy, r) {
			continue
		}
		if l := p.mark(cx, cy, r); l > 0 {
			count[l-1]++
		}
	}
	return count
}

// coilProbe reads the segmented cell grid around one Hough circle at a
// time. It is a value on coils' stack, so probing costs no allocation.
type coilProbe struct {
	s  *segmenter
	g  *grid
	ds []float32 // density per cell
}

// at is the index of the cell holding grid point (x, y); ok is false
// outside the grid.
func (p *coilProbe) at(x, y float64) (int, bool) {
	xi, yi := int(math.Floor(x)), int(math.Floor(y))
	if xi < 0 || yi < 0 || xi >= p.g.w || yi >= p.g.h {
		return 0, false
	}
	return yi*p.g.w + xi, true
}

// val is cell i's density for edge finding: 0 where there is no cargo,
// and far above any cargo where the beam did not get through.
func (p *coilProbe) val(i int) float64 {
	if p.s.opaque[i] {
		return 1e5
	}
	if !p.s.cargo[i] {
		return 0
	}
	return float64(p.ds[i])
}

// outerRadius measures the outer edge of the circle at (cx, cy) along
// eight rays, where the density falls below half of what the ray met
// first, because Hough often answers the hole of a ring. ok is false when
// fewer than five rays found an edge within rmax (and two cells).
func (p *coilProbe) outerRadius(cx, cy float64, rmax int) (float64, bool) {
	var radii [8]float32
	nr := 0
	for j := range 8 {
		th := math.Pi / 4 * float64(j)
		first := 0.0
		for t := 1.0; t <= float64(rmax)+2; t++ {
			i, ok := p.at(cx+t*math.Cos(th), cy+t*math.Sin(th))
			if !ok {
				break
			}
			v := p.val(i)
			if first == 0 && v > 0 {
				first = v
			} else if first > 0 && v < 0.5*first {
				radii[nr] = float32(t - 0.5)
				nr++
				break
			}
		}
	}
	if nr < 5 {
		return 0, false
	}
	return float64(median32(radii[:nr])), true
}

// standsOut says whether the circle (cx, cy, r) is a coil: nearly all of
// its inside is cargo, and at least two of its four diagonal outside
// points are much lighter than the inside (what tells reels from a square
// carton stack of the same size).
func (p *coilProbe) standsOut(cx, cy, r float64) bool {
	s := p.s
	inside, in := 0, 0.0
	const nIn = 16
	for j := range nIn {
		th := 2 * math.Pi * float64(j) / nIn
		if i, ok := p.at(cx+0.8*r*math.Cos(th), cy+0.8*r*math.Sin(th)); ok && s.cargo[i] {
			inside++
			v := float64(p.ds[i])
			if s.opaque[i] {
				v = 1e5
			}
			in += v
		}
	}
	if inside < nIn-2 {
		return false
	}
	in /= float64(inside)
	light := 0
	for j := range 4 {
		th := math.Pi/4 + math.Pi/2*float64(j)
		i, ok := p.at(cx+1.3*r*math.Cos(th), cy+1.3*r*math.Sin(th))
		if !ok || !s.cargo[i] || !s.opaque[i] && float64(p.ds[i]) < 0.5*in {
			light++
		}
	}
	return light >= 2
}

// mark marks the disc (cx, cy, r) in s.circle and returns the label of
// the region holding most of it (the median label, so a coil on a region's
// edge counts once), 0 when it covers no region. The votes reuse s.vals.
func (p *coilProbe) mark(cx, cy, r float64) int {
	s, g := p.s, p.g
	x0, x1 := max(0, int(cx-r)), min(g.w-1, int(cx+r))
	y0, y1 := max(0, int(cy-r)), min(g.h-1, int(cy+r))
	votes := s.vals[:0]
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			if dx*dx+dy*dy <= r*r {
				i := y*g.w + x
				s.circle[i] = true
				if l := s.lab[i]; l > 0 {
					votes = append(votes, float32(l))
				}
			}
		}
	}
	s.vals = votes
	if len(votes) == 0 {
		return 0
	}
	return int(median32(votes))
}

// rhythm measures the stacks region l was merged from: their number, the
// median pitch from one to the next along the length, and how regular it
// is. Stacks lower than 0.3 m (pallets alone, debris) do not count.
func (d *Detector) rhythm(l int32, sh *Shape) {
	s := &d.seg
	g := &s.g
	starts := s.vals[:0]
	minH := int(math.Ceil(0.3 / g.cy))
	for k := 1; k < len(s.comps); k++ {
		cp := &s.comps[k]
		if cp.n == 0 || cp.y1-cp.y0 < minH {
			continue
		}
		if r := s.comps[s.find(int32(k))].region; r == l {
			starts = append(starts, float32(cp.x0))
		}
	}
	s.vals = starts
	sh.Units = len(starts)
	if len(starts) < 3 {
		return
	}
	slices.Sort(starts)
	// Pitches in place: starts[i] becomes the gap to the next start.
	k := 0
	for i := 0; i+1 < len(starts); i++ {
		if p := starts[i+1] - starts[i]; float64(p)*g.cx >= 0.3 {
			starts[k] = p
			k++
		}
	}
	p := starts[:k]
	if len(p) < 2 {
		return
	}
	med := float64(median32(p))
	for i := range p {
		p[i] = float32(math.Abs(float64(p[i]) - med))
	}
	mad := float64(median32(p))
	sh.UnitPitchM = round(med*g.cx, 2)
	sh.Regularity = round(math.Max(0, 1-mad/med), 3)
	sh.Pallets = sh.Units >= 3 && sh.Regularity >= 0.85 && sh.UnitPitchM >= 0.9 && sh.UnitPitchM <= 1.35
}
