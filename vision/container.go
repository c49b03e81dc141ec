package vision

import (
	"image"
	"math"

	"github.com/gatescan/gatescan/config"
)

// box is one container found in the image, in pixels.
type box struct {
	outer, inner image.Rectangle
	geom         config.Container
	typeGuessed  bool
	// floorPx is the row of the floor's peak attenuation.
	floorPx int
}

// span is a run of columns [a, b).
type span struct{ a, b int }

// minContainerM is shorter than any ISO container (a 20 ft box is 6.058 m)
// and longer than any cab.
const minContainerM = 5.4

// findContainers locates containers from their structure. The top is the
// highest row attenuated along a container's length (side walls alone
// attenuate every ray that crosses the box; a cab is shorter). The length
// comes from the side walls just below the roof, so two 20 ft boxes show
// as two spans; the floor is the densest row near where the type puts it.
// Nothing here assumes a parallel beam: with a fan beam the roof and floor
// are smeared over many rows instead of being thin opaque lines, and the
// per-row baseline in cargo() takes them out.
func (d *Detector) findContainers(in *Input) []box {
	t, _ := d.t.DataPtrFloat32()
	h, w := d.t.Rows(), d.t.Cols()
	px, py := in.PixelXMM/1000, in.PixelYMM/1000
	thr := float32(d.p.StructureTransmission)
	minLen := int(minContainerM / px)
	gap := max(1, int(0.03/px))

	r0 := -1
	for r := 0; r < h && r0 < 0; r++ {
		d.runBuf = longRuns(t[r*w:(r+1)*w], thr, minLen, gap, d.runBuf[:0])
		if len(d.runBuf) > 0 {
			r0 = r
		}
	}
	if r0 < 0 {
		return nil
	}
	// Spans: side walls between 0.3 and 0.6 m below the top.
	var spans []span
	for r := r0 + int(0.3/py); r < min(h, r0+int(0.6/py)); r += 2 {
		d.runBuf = longRuns(t[r*w:(r+1)*w], thr, minLen, gap, d.runBuf[:0])
		spans = mergeSpans(spans, d.runBuf)
	}
	var boxes []box
	for _, s := range spans {
		lenM := float64(s.b-s.a) * px
		parts := []span{s}
		if in.Containers == 2 && lenM > 11 && lenM < 13.5 {
			if mid := d.splitTwenty(t, w, s, r0+int(0.3/py), int(2.0/py), px); mid > 0 {
				parts = []span{{s.a, mid}, {mid, s.b}}
			}
		}
		for _, p := range parts {
			geom, guessed, floor := d.geometry(in, len(boxes), float64(p.b-p.a)*px, p, r0, py)
			b := box{outer: image.Rect(p.a, r0, p.b, min(h, r0+int(math.Round(geom.HeightM/py)))), geom: geom, typeGuessed: guessed, floorPx: floor}
			b.inner = d.innerBox(p, r0, floor, geom, px, py)
			boxes = append(boxes, b)
		}
	}
	return boxes
}

// longRuns appends to out the runs of pixels below thr that are at least
// minLen long, bridging gaps of up to gap pixels.
func longRuns(row []float32, thr float32, minLen, gap int, out []span) []span {
	start, last := -1, -1
	for c, v := range row {
		if v >= thr {
			continue
		}
		if start >= 0 && c-last > gap+1 {
			if last+1-start >= minLen {
				out = append(out, span{start, last + 1})
			}
			start = -1
		}
		if start < 0 {
			start = c
		}
		last = c
	}
	if start >= 0 && last+1-start >= minLen {
		out = append(out, span{start, last + 1})
	}
	return out
}

// mergeSpans unions b into a, keeping the result sorted.
func mergeSpans(a, b []span) []span {
	out := a
	for _, s := range b {
		merged := false
		for i := range out {
			if s.a <= out[i].b && s.b >= out[i].a {
				out[i].a, out[i].b = min(out[i].a, s.a), max(out[i].b, s.b)
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, s)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].a < out[j-1].a; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// splitTwenty finds the pair of end walls between two 20 ft containers
// whose gap is too narrow to see: the darkest column near the middle, if it
// is much darker than the span around it (a 40 ft box has no wall there).
func (d *Detector) splitTwenty(t []float32, w int, s span, top, depth int, px float64) int {
	mid := (s.a + s.b) / 2
	reach := int(0.8 / px)
	colMean := func(c int) float64 {
		var sum float64
		n := 0
		for r := top; r < top+depth && r*w+c < len(t); r += 2 {
			sum += float64(t[r*w+c])
			n++
		}
		return sum / float64(max(n, 1))
	}
	best, bestC, all := math.Inf(1), mid, 0.0
	n := 0
	for c := max(s.a, mid-reach); c < min(s.b, mid+reach); c++ {
		m := colMean(c)
		all += m
		n++
		if m < best {
			best, bestC = m, c
		}
	}
	if n == 0 || best > 0.6*all/float64(n) {
		return -1
	}
	return bestC
}

// rowMedianM is the median mass thickness of row r over the middle 80 % of
// a span.
func (d *Detector) rowStat(r int, s span, q float64) float64 {
	m, _ := d.m.DataPtrFloat32()
	w := d.m.Cols()
	inset := (s.b - s.a) / 10
	buf := append(d.sortBuf[:0], m[r*w+s.a+inset:r*w+s.b-inset]...)
	d.sortBuf = buf
	if len(buf) == 0 {
		return 0
	}
	return float64(selectK(buf, int(q*float64(len(buf)-1))))
}

// geometry picks the container's ISO geometry: the declared type when there
// is one, else the configured size whose length and height fit the image.
// It also returns the row of the floor: the densest row where the floor of
// a container of that height would be.
func (d *Detector) geometry(in *Input, idx int, lenM float64, s span, r0 int, py float64) (config.Container, bool, int) {
	h := d.m.Rows()
	floorAt := func(heightM float64) (int, float64) {
		exp := r0 + int((heightM-d.floorDepthM())/py)
		best, bestV := -1, -1.0
		for r := max(r0+1, exp-int(0.25/py)); r < min(h, exp+int(0.25/py)); r++ {
			if v := d.rowStat(r, s, 0.5); v > bestV {
				best, bestV = r, v
			}
		}
		return best, bestV
	}
	if idx < len(in.Types) && in.Types[idx] != "" {
		if g, ok := d.cfgContainer(in.Types[idx]); ok {
			f, _ := floorAt(g.HeightM)
			return g, false, f
		}
	}
	best, bestFloor, bestScore := config.Container{}, -1, math.Inf(1)
	for _, g := range d.containers {
		if math.Abs(g.LengthM-lenM)/g.LengthM > 0.08 {
			continue
		}
		f, v := floorAt(g.HeightM)
		// The right height has the floor's dense band where it expects it.
		score := -v + 1e-3*math.Abs(g.LengthM-lenM)
		if f >= 0 && score < bestScore {
			best, bestFloor, bestScore = g, f, score
		}
	}
	if bestFloor < 0 {
		for _, g := range d.containers {
			if g.SizeCode == "22" || bestFloor < 0 && math.Abs(g.LengthM-lenM) < math.Abs(best.LengthM-lenM) {
				best = g
			}
		}
		bestFloor, _ = floorAt(best.HeightM)
	}
	return best, true, bestFloor
}

// floorDepthM is how far above the container's bottom its floor's dense
// structure lies (cross-members and boards): ISO boxes have their floor top
// about 0.16 m above the bottom; its densest rows are lower.
func (d *Detector) floorDepthM() float64 { return 0.09 }

func (d *Detector) cfgContainer(typeCode string) (config.Container, bool) {
	if len(typeCode) >= 2 {
		for _, g := range d.containers {
			if g.SizeCode == typeCode[:2] {
				return g, true
			}
		}
	}
	return config.Container{}, false
}

// innerBox is the space cargo can be in: from the top (the roof band is
// taken out row by row later) down to the floor's top edge, inside the end
// walls.
func (d *Detector) innerBox(s span, r0, floor int, g config.Container, px, py float64) image.Rectangle {
	bottom := r0 + int(math.Round(g.InnerHeightM/py)) + int(0.05/py)
	if floor > 0 {
		// The floor's top edge: going up from its densest row, the first
		// row where the median falls below half the floor's.
		fv := d.rowStat(floor, s, 0.5)
		bottom = floor
		for r := floor - 1; r > floor-int(0.2/py) && r > r0; r-- {
			if d.rowStat(r, s, 0.5) < 0.5*fv {
				bottom = r + 1
				break
			}
		}
	}
	end := int((g.LengthM - g.InnerLengthM) / 2 / px)
	return image.Rect(s.a+end, r0, s.b-end, bottom)
}

// selectK partially orders v so that v[k] is the k-th smallest, and
// returns it (Hoare's selection, no allocation).
func selectK(v []float32, k int) float32 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		p := v[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for v[i] < p {
				i++
			}
			for v[j] > p {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}
