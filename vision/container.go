package vision

import (
	"image"
	"math"

	"github.com/gatescan/gatescan/vision/settings"
)

// box is one container found in the image, in pixels.
type box struct {
	outer, inner image.Rectangle
	geom         settings.Container
	typeGuessed  bool
	// floorPx is the row of the floor's top edge, -1 if none was seen.
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
// as two spans; the floor and the underside of the roof are found row by
// row near where the container's height puts them (floorRow, roofRow).
// Nothing here assumes a parallel beam: with a fan beam the roof and floor
// are smeared over many rows instead of being thin opaque lines, and the
// per-row baseline in cargo() takes what is left of them out.
func (d *Detector) findContainers(in *Input) []box {
	a, _ := d.a.DataPtrUint16()
	h, w := d.a.Rows(), d.a.Cols()
	px, py := in.PixelXMM/1000, in.PixelYMM/1000
	thr := attFix(-math.Log(d.p.StructureTransmission))
	minLen := int(minContainerM / px)
	gap := max(1, int(0.03/px))

	d.spanRows.ok = d.spanRows.ok[:0] // a new scan
	r0 := -1
	for r := 0; r < h && r0 < 0; r++ {
		d.attNeed(image.Rect(0, r, w, r+1))
		if rowMax(a[r*w:(r+1)*w]) <= thr {
			continue // air: no run at all
		}
		d.runBuf = longRuns(a[r*w:(r+1)*w], thr, minLen, gap, d.runBuf[:0])
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
		d.attNeed(image.Rect(0, r, w, r+1))
		d.runBuf = longRuns(a[r*w:(r+1)*w], thr, minLen, gap, d.runBuf[:0])
		spans = mergeSpans(spans, d.runBuf)
	}
	var boxes []box
	for _, s := range spans {
		lenM := float64(s.b-s.a) * px
		parts := []span{s}
		if in.Containers == 2 && lenM > 11 && lenM < 13.5 {
			if mid := d.splitTwenty(a, w, s, r0+int(0.3/py), int(2.0/py), px); mid > 0 {
				parts = []span{{s.a, mid}, {mid, s.b}}
			}
		}
		for _, p := range parts {
			geom, guessed, floor := d.geometry(in, len(boxes), float64(p.b-p.a)*px, p, r0, py)
			b := box{outer: image.Rect(p.a, r0, p.b, min(h, r0+int(math.Round(geom.HeightM/py)))), geom: geom, typeGuessed: guessed, floorPx: floor}
			b.inner = d.innerBox(p, r0, floor, geom, px, py)
			// A fan beam projects the box taller than it is.
			b.outer.Max.Y = min(h, max(b.outer.Max.Y, b.inner.Max.Y+int(floorThicknessM/py)))
			boxes = append(boxes, b)
		}
	}
	return boxes
}

// longRuns appends to out the runs of pixels attenuated above thr that
// are at least minLen long, bridging gaps of up to gap pixels.
func longRuns(row []uint16, thr uint16, minLen, gap int, out []span) []span {
	start, last := -1, -1
	for c, v := range row {
		if v <= thr {
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
// a is the scan's attenuation plane; the columns are compared by
// transmission.
func (d *Detector) splitTwenty(a []uint16, w int, s span, top, depth int, px float64) int {
	mid := (s.a + s.b) / 2
	reach := int(0.8 / px)
	d.attNeed(image.Rect(max(s.a, mid-reach), top, min(s.b, mid+reach), top+depth))
	colMean := func(c int) float64 {
		var sum float64
		n := 0
		for r := top; r < top+depth && r*w+c < len(a); r += 2 {
			sum += math.Exp(-float64(attOf(a[r*w+c])))
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

// rowStat is the q-quantile of row r of f (w columns) over the middle 80 %
// of a span, from every step-th value (sampled).
func (d *Detector) rowStat(f []float32, w, r int, s span, q float64) float64 {
	row, step := sampled(f[r*w:(r+1)*w], s)
	buf := d.sortBuf[:0]
	for i := 0; i < len(row); i += step {
		buf = append(buf, row[i])
	}
	d.sortBuf = buf
	if len(buf) == 0 {
		return 0
	}
	return float64(selectK(buf, int(q*float64(len(buf)-1))))
}

// attRowStats is rowStat of the attenuation plane a at the 10th and the
// 50th percentiles, from one sampling of the row. They are kept for the
// span: the floor is looked for under one span once for each container
// height the length allows, and the roof's rows are among those.
func (d *Detector) attRowStats(a []uint16, w, r int, s span) (q10, q50 float64) {
	c := &d.spanRows
	if c.s != s || len(c.ok) != d.a.Rows() {
		c.s = s
		c.ok = growBool(c.ok, d.a.Rows())
		clear(c.ok)
		c.q10, c.q50 = grow(c.q10, len(c.ok)), grow(c.q50, len(c.ok))
	}
	if c.ok[r] {
		return c.q10[r], c.q50[r]
	}
	d.attNeed(image.Rect(s.a, r, s.b, r+1))
	// The plane's own values, selected by counting (attOf keeps their
	// order, so the quantiles are rowStat's).
	row, step := sampled(a[r*w:(r+1)*w], s)
	if n := (len(row) + step - 1) / step; n > 0 {
		v10, v50 := rowQuantiles16(row, step, int(0.1*float64(n-1)), int(0.5*float64(n-1)))
		q10, q50 = float64(attOf(v10)), float64(attOf(v50))
	}
	c.ok[r], c.q10[r], c.q50[r] = true, q10, q50
	return q10, q50
}

// spanRows keeps attRowStats of the rows of one span of one scan
// (findContainers starts it afresh).
type spanRows struct {
	s        span
	ok       []bool
	q10, q50 []float64
}

// sampled is the part of a row the row statistics take their samples
// from, every step-th value: the middle 80 % of span s.
func sampled[T float32 | uint16](row []T, s span) ([]T, int) {
	inset := (s.b - s.a) / 10
	row = row[s.a+inset : s.b-inset]
	// Five hundred samples give the quantile to about a per cent.
	return row, max(1, len(row)/512)
}

// geometry picks the container's ISO geometry: the declared type when there
// is one, else the configured size of that length whose height puts the
// floor where the image shows it. It also returns the row of the floor's
// top edge (-1 when not found).
func (d *Detector) geometry(in *Input, idx int, lenM float64, s span, r0 int, py float64) (settings.Container, bool, int) {
	if idx < len(in.Types) && in.Types[idx] != "" {
		if g, ok := d.cfgContainer(in.Types[idx]); ok {
			return g, false, d.floorRow(s, r0, g.HeightM, py)
		}
	}
	best, bestFloor, bestErr := settings.Container{}, -1, math.Inf(1)
	for _, g := range d.containers {
		if math.Abs(g.LengthM-lenM)/g.LengthM > 0.08 {
			continue
		}
		f := d.floorRow(s, r0, g.HeightM, py)
		if f < 0 {
			continue
		}
		// The right height has its floor where the image shows one.
		e := math.Abs(float64(f-r0)*py - (g.HeightM - floorThicknessM))
		if e < bestErr {
			best, bestFloor, bestErr = g, f, e
		}
	}
	if bestFloor < 0 {
		for _, g := range d.containers {
			if best.LengthM == 0 || math.Abs(g.LengthM-lenM) < math.Abs(best.LengthM-lenM) {
				best = g
			}
		}
	}
	return best, true, bestFloor
}

// floorThicknessM is how far the floor's top lies above the container's
// bottom: ISO boxes have 0.15-0.16 m of cross-members and boards.
const floorThicknessM = 0.153

// floorRow finds the top edge of the container's floor under span s, for
// a container heightM tall. Candidates start 0.3 m above where the floor
// should be: the first row dense all along the span (the boards and
// cross-members seen edge-on are in every column, cargo leaves gaps)
// and lying under clearly lighter rows. A fan beam smears the floor over
// a ramp of rows; the edge is where the ramp reaches nine tenths of the
// floor's density. The search reaches 0.25 m below the container's
// expected bottom, since a fan beam projects the top of the box higher than
// its floor. It returns -1 if there is no floor.
func (d *Detector) floorRow(s span, r0 int, heightM, py float64) int {
	m, _ := d.a.DataPtrUint16()
	h, w := d.a.Rows(), d.a.Cols()
	look := max(2, int(0.12/py))
	first := max(r0+1, r0+int((heightM-floorThicknessM-0.3)/py))
	top := max(r0+1, first-look)
	bot := min(h, r0+int((heightM+0.25)/py))
	if bot-first < 4 {
		return -1
	}
	n := bot - top
	q50 := grow(d.baseA, n)
	uni := growBool(d.passBuf, n)
	maxv := 0.0
	for i := range n {
		r := top + i
		var q10 float64
		q10, q50[i] = d.attRowStats(m, w, r, s)
		// Dense all along: cargo on the floor may add to some columns
		// (a fan beam projects it over the floor), none is lighter.
		uni[i] = q10 >= 0.7*q50[i]
		if r >= first {
			maxv = math.Max(maxv, q50[i])
		}
	}
	d.baseA, d.passBuf = q50, uni
	for i := first - top; i < n; i++ {
		if !uni[i] || q50[i] < 0.55*maxv {
			continue
		}
		low := math.Inf(1)
		for k := max(0, i-look); k < i; k++ {
			if !d.seen.hi.deadRow[top+k] {
				low = math.Min(low, q50[k])
			}
		}
		if q50[i]-low < 0.25*maxv {
			continue
		}
		// The floor's own density, just below the candidate; the edge is
		// the first row that reaches most of it.
		lo, hi := max(0, i-int(0.05/py)), min(n, i+int(0.12/py)+1)
		peak := 0.0
		for k := lo; k < hi; k++ {
			peak = math.Max(peak, q50[k])
		}
		// The boards are a thin band over lighter cross-members: a dense
		// band that goes on is cargo.
		thin := false
		for k := i + 1; k < min(n, i+int(0.3/py)); k++ {
			thin = thin || q50[k] < 0.75*peak && !d.seen.hi.deadRow[top+k]
		}
		if !thin {
			continue
		}
		for k := lo; k < hi; k++ {
			if q50[k] >= 0.9*peak {
				return top + k
			}
		}
		return top + i
	}
	return -1
}

// cfgContainer is the configured geometry of an ISO size-type code.
func (d *Detector) cfgContainer(typeCode string) (settings.Container, bool) {
	if len(typeCode) >= 2 {
		for _, g := range d.containers {
			if g.SizeCode == typeCode[:2] {
				return g, true
			}
		}
	}
	return settings.Container{}, false
}

// innerBox is the space cargo can be in: from the top (the roof band is
// taken out row by row later) down to the floor's top edge, inside the end
// walls.
func (d *Detector) innerBox(s span, r0, floor int, g settings.Container, px, py float64) image.Rectangle {
	bottom := floor
	if floor < 0 {
		bottom = r0 + int(math.Round((g.HeightM-floorThicknessM)/py))
	}
	end := int(math.Round((g.LengthM - g.InnerLengthM) / 2 / px))
	return image.Rect(s.a+end, d.roofRow(s, r0, bottom, py), s.b-end, bottom)
}

// roofRow is the first row under the roof: the roof's sheet and bows seen
// edge-on are dense in every column, a band a few centimetres high that a
// fan beam smears into a ramp over more rows. The cargo space starts where
// the lightest tenth of the row has fallen below half the band's and stops
// falling: the roof's share is gone and what is left is side walls or
// cargo filling the whole length.
func (d *Detector) roofRow(s span, r0, bottom int, py float64) int {
	m, _ := d.a.DataPtrUint16()
	w := d.a.Cols()
	end := min(bottom-1, r0+int(0.45/py))
	n := end - r0
	if n < 4 {
		return r0
	}
	q := grow(d.baseA, n)
	peak, peakAt := 0.0, 0
	for i := range n {
		q[i], _ = d.attRowStats(m, w, r0+i, s)
		if q[i] > peak {
			peak, peakAt = q[i], i
		}
	}
	d.baseA = q
	k := max(1, int(0.03/py))
	for i := peakAt + 1; i+k < n; i++ {
		if q[i] < 0.5*peak && q[i]-q[i+k] <= 0.02*peak {
			return r0 + i
		}
	}
	return r0 + min(n-1, int(0.05/py))
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
