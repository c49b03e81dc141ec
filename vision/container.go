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
}

// span is a run of columns [a, b).
type span struct{ a, b int }

// findContainers locates containers from their near-opaque roof (the
// topmost long horizontal line), splits two 20 ft boxes on one chassis, and
// finds each one's inner space from its floor and end walls.
func (d *Detector) findContainers(in *Input) []box {
	t, _ := d.t.DataPtrFloat32()
	h, w := d.t.Rows(), d.t.Cols()
	px, py := in.PixelXMM/1000, in.PixelYMM/1000
	opaque := float32(d.p.OpaqueTransmission)
	minLen := int(5.4 / px)
	gap := max(1, int(0.06/px))

	// Roof: topmost band of rows holding a long opaque run.
	var roof []span
	r0, r1 := -1, -1
	for r := 0; r < h && (r0 < 0 || r <= r1+2); r++ {
		runs := longRuns(t[r*w:(r+1)*w], opaque, minLen, gap, d.runBuf[:0])
		d.runBuf = runs
		if len(runs) == 0 {
			continue
		}
		if r0 < 0 {
			r0 = r
		}
		r1 = r
		roof = mergeSpans(roof, runs)
	}
	if r0 < 0 {
		return nil
	}
	maxRoof := int(math.Ceil(0.12 / py))
	innerTop := min(r1+1, r0+maxRoof)

	var boxes []box
	for _, s := range roof {
		lenM := float64(s.b-s.a) * px
		parts := []span{s}
		if in.Containers == 2 && lenM > 11 && lenM < 13.5 {
			if mid := d.splitTwenty(t, w, s, innerTop, int(2.2/py), px); mid > 0 {
				parts = []span{{s.a, mid}, {mid, s.b}}
			}
		}
		for _, p := range parts {
			geom, guessed := d.geometry(in, len(boxes), float64(p.b-p.a)*px, t, w, h, p, r0, py)
			b := box{outer: image.Rect(p.a, r0, p.b, r0+int(math.Round(geom.HeightM/py))), geom: geom, typeGuessed: guessed}
			b.inner = d.innerBox(t, w, h, p, innerTop, geom, px, py)
			boxes = append(boxes, b)
		}
	}
	return boxes
}

// longRuns appends to out the runs of pixels below opaque that are at least
// minLen long, bridging gaps of up to gap pixels.
func longRuns(row []float32, opaque float32, minLen, gap int, out []span) []span {
	start, last := -1, -1
	for c, v := range row {
		if v >= opaque {
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

// mergeSpans unions b into a (both sorted), keeping the result sorted.
func mergeSpans(a, b []span) []span {
	out := append([]span(nil), a...)
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

// splitTwenty finds the wall pair between two 20 ft containers: the column
// near the middle that is darkest from the roof down.
func (d *Detector) splitTwenty(t []float32, w int, s span, top, depth int, px float64) int {
	mid := (s.a + s.b) / 2
	reach := int(0.8 / px)
	best, bestC := math.Inf(1), mid
	for c := max(s.a, mid-reach); c < min(s.b, mid+reach); c++ {
		var sum float64
		n := 0
		for r := top; r < top+depth && r*w+c < len(t); r += 2 {
			sum += float64(t[r*w+c])
			n++
		}
		if n > 0 && sum/float64(n) < best {
			best, bestC = sum/float64(n), c
		}
	}
	// The gap between the boxes lies between their two end walls; cut at
	// the darkest column, if it is a wall at all (a 40 ft box has none).
	if best > 2*d.p.OpaqueTransmission {
		return -1
	}
	return bestC
}

// geometry picks the container's ISO geometry: the declared type when there
// is one, else the configured size whose length and height fit the image.
func (d *Detector) geometry(in *Input, idx int, lenM float64, t []float32, w, h int, s span, r0 int, py float64) (config.Container, bool) {
	if idx < len(in.Types) && in.Types[idx] != "" {
		if g, ok := d.cfgContainer(in.Types[idx]); ok {
			return g, false
		}
	}
	// Outer height: the floor is the lowest row, 2.2 to 3.2 m below the
	// roof, that is opaque across most of the length.
	floorBottom := -1
	for r := r0 + int(2.2/py); r < min(h, r0+int(3.2/py)); r++ {
		n := 0
		for c := s.a; c < s.b; c++ {
			if t[r*w+c] < float32(d.p.OpaqueTransmission) {
				n++
			}
		}
		if n > (s.b-s.a)*8/10 {
			floorBottom = r
		}
	}
	heightM := 2.591
	if floorBottom > 0 {
		heightM = float64(floorBottom-r0+1) * py
	}
	best, bestErr := config.Container{}, math.Inf(1)
	for _, g := range d.containers {
		e := math.Abs(g.LengthM-lenM)/g.LengthM + math.Abs(g.HeightM-heightM)/g.HeightM
		if e < bestErr {
			best, bestErr = g, e
		}
	}
	return best, true
}

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

// innerBox finds the cargo space: below the roof, above the floor's top edge
// (expected one inner height down, refined from the image), inside the end
// walls.
func (d *Detector) innerBox(t []float32, w, h int, s span, top int, g config.Container, px, py float64) image.Rectangle {
	opaque := float32(d.p.OpaqueTransmission)
	bottom := min(h, top+int(math.Round(g.InnerHeightM/py)))
	// Refine the floor: the first row, near the expected one, that is
	// opaque across nearly all the length.
	win := int(0.12 / py)
	for r := max(top+1, bottom-win); r < min(h, bottom+win); r++ {
		n := 0
		for c := s.a; c < s.b; c++ {
			if t[r*w+c] < opaque {
				n++
			}
		}
		if n > (s.b-s.a)*9/10 {
			bottom = r
			break
		}
	}
	// End walls: columns opaque over most of the inner height.
	maxWall := int(0.3 / px)
	wall := func(c int) bool {
		n, k := 0, 0
		for r := top; r < bottom; r += 2 {
			k++
			if t[r*w+c] < opaque {
				n++
			}
		}
		return k > 0 && n*10 > k*8
	}
	a := s.a
	for a < s.a+maxWall && wall(a) {
		a++
	}
	b := s.b
	for b > s.b-maxWall && wall(b-1) {
		b--
	}
	if a == s.a {
		a += int((g.LengthM - g.InnerLengthM) / 2 / px)
	}
	if b == s.b {
		b -= int((g.LengthM - g.InnerLengthM) / 2 / px)
	}
	return image.Rect(a, top, b, bottom)
}
