package vision

import (
	"fmt"
	"image"
	"math"
	"slices"
	"sort"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/vision/settings"
)

// The attenuation planes hold a = -ln T in fixed point, two bytes a pixel
// like the raw image, instead of four as float: a full-size dual-energy
// scan then fits an edge box's memory. One step is 1/4096, far below the
// quantum noise of any pixel; the zero offset keeps air pixels that noise
// lifts above the air level (a slightly negative) unclipped, and the
// range reaches a = 15, beyond the noise floor of any 16-bit detector.
const (
	attScale = 4096
	attZero  = 4096
)

// attOf is the attenuation of a fixed-point plane value.
func attOf(v uint16) float32 { return (float32(v) - attZero) * (1.0 / attScale) }

// attFix is the fixed-point plane value of attenuation a, saturated.
func attFix(a float64) uint16 {
	return uint16(min(math.MaxUint16, max(0, math.Round(a*attScale+attZero))))
}

// attToFloat converts part r of a fixed-point plane to attenuation
// (CV_32F) in dst.
func attToFloat(src gocv.Mat, r image.Rectangle, dst *gocv.Mat) {
	roi := src.Region(r)
	roi.ConvertToWithParams(dst, gocv.MatTypeCV32F, 1.0/attScale, -float32(attZero)/attScale)
	roi.Close()
}

// raw is a raw detector image read in place: pixel i is v(i) counts above
// dark. No float copy of the whole image is ever made.
type raw struct {
	px   []uint16
	w, h int
	dark float32
}

func (s raw) v(i int) float32 { return float32(s.px[i]) - s.dark }

// rawOf views m's pixels; m must be continuous (decoded images are) or it
// is copied into spare first.
func rawOf(m gocv.Mat, dark float64, spare *gocv.Mat) raw {
	if !m.IsContinuous() {
		m.CopyTo(spare)
		m = *spare
	}
	px, _ := m.DataPtrUint16()
	return raw{px: px, w: m.Cols(), h: m.Rows(), dark: float32(dark)}
}

// plane is the flat-field state of one energy's image.
type plane struct {
	rowInv  []float32 // 1 / (row gain × air level)
	rowSum  []float64 // sums over each raw row, and of squares
	rowSum2 []float64
	colRef  []float32 // column reference; then its reciprocal
	colMean []float32
	deadRow []bool
	dead    int
	// level is the mean air signal of the lead-in (dark subtracted), noise
	// the relative scatter of air pixels about their column reference.
	level, noise float64
	floor        float64 // smallest transmission resolved
}

// size sizes p's buffers for an h×w image.
func (p *plane) size(h, w int) {
	p.rowInv = grow32(p.rowInv, h)
	p.rowSum = grow(p.rowSum, h)
	p.rowSum2 = grow(p.rowSum2, h)
	p.colRef = grow32(p.colRef, w)
	p.colMean = grow32(p.colMean, w)
	p.deadRow = growBool(p.deadRow, h)
}

// flatField measures the high-energy image's lead-in columns, air rows,
// row gains, column reference and dead rows, and writes its attenuation,
// clamped at the noise floor, into d.a. The lead-in columns and the air
// rows found here are used for the low energy too. The raw image is read
// in place in Go (statistics, then the air rows and the stuck-row test)
// and once more, in strips, to write the attenuation. It returns problems
// worth an IMAGE_QUALITY finding.
func (d *Detector) flatField(in *Input) []string {
	var notes []string
	src := rawOf(in.High, in.Dark, &d.spare)
	h := src.h
	nominal := in.Air - in.Dark
	d.scan(src, &d.seen.hi)
	lead := d.leadIn(d.seen.hi.colMean[:d.leadInReach(src.w)], nominal)
	if lead == 0 {
		notes = append(notes, "no lead-in air columns: detector rows not flat-fielded (per-row gain differences stay in the image); have the scanner record air before the vehicle")
	}
	d.seen.leadCols = lead
	all := image.Rect(0, 0, src.w, src.h)
	d.gains(src, &d.seen.hi, lead, nominal, all)
	refRows := d.airRows(src, &d.seen.hi)
	d.seen.airRowCount = len(refRows)
	if len(refRows) < 3 {
		notes = append(notes, "no air rows above the vehicle: source output not tracked per column; scan with the detector column taller than the vehicle")
	}
	d.columnRef(src, &d.seen.hi, refRows)
	d.stuckRows(src, &d.seen.hi, all)
	d.pending.on = false
	if d.planeFor(in.High, in.Release != nil, &d.a) {
		// The raw pixels stay in the plane until they are read (pending).
		d.seen.hi.floor = transmissionFloor(&d.seen.hi)
		d.pending.start(src, &d.seen.hi)
	} else {
		d.attenuate(src, &d.seen.hi, all, &d.a, all)
	}
	if d.seen.hi.dead > h/10 {
		notes = append(notes, fmt.Sprintf("%d of %d detector rows dead or stuck: have the detector array serviced", d.seen.hi.dead, h))
	}
	d.seen.deadRows = d.seen.hi.dead
	d.seen.refRows = append(d.seen.refRows[:0], refRows...)
	return notes
}

// lowEnergy flat-fields the low-energy image the way flatField does the
// high one, with its lead-in and air rows, and writes its attenuation into
// d.aLo, a plane of u (the containers) only: nothing else of it is ever
// looked at.
func (d *Detector) lowEnergy(in *Input, u image.Rectangle) {
	src := rawOf(in.Low, in.Dark, &d.spare)
	h, w := src.h, src.w
	p := &d.seen.lo
	p.size(h, w)
	lead := d.seen.leadCols
	clear(p.colMean[:lead])
	// Row statistics (for the dead-row test) where they matter: the rows
	// and columns of u.
	rawSums(src, 0, u.Min.Y, p.colMean[:lead], 0, 0, p.rowSum, p.rowSum2)
	rawSums(src, u.Min.Y, u.Max.Y, p.colMean[:lead], u.Min.X, u.Max.X, p.rowSum, p.rowSum2)
	rawSums(src, u.Max.Y, h, p.colMean[:lead], 0, 0, p.rowSum, p.rowSum2)
	for c := range p.colMean[:lead] {
		p.colMean[c] /= float32(h)
	}
	d.gains(src, p, lead, in.Air-in.Dark, u)
	d.columnRef(src, p, d.seen.refRows)
	d.stuckRows(src, p, u)
	// The plane covers u only, at d.seen.aLoAt: the raw image is released right
	// after, so the low energy takes a full-size image only while it is
	// read.
	d.seen.aLoAt = u.Min
	d.attenuate(src, p, u, &d.aLo, u)
}

// planeFor makes *dst the attenuation plane for raw image m and says
// whether it did. When the caller releases its images (inPlace), the
// plane is m's own pixels: the attenuation takes the place of the raw
// values it is computed from, and a scan never holds a raw image and its
// attenuation at once. Otherwise the detector's own plane is used (and
// kept between scans of one size).
func (d *Detector) planeFor(m gocv.Mat, inPlace bool, dst *gocv.Mat) bool {
	if !inPlace || !m.IsContinuous() {
		return false
	}
	dst.Close()
	// A view of all of m shares its pixels and keeps them alive after the
	// caller closes m.
	*dst = m.Region(image.Rect(0, 0, m.Cols(), m.Rows()))
	return true
}

// opaqueFrom is the attenuation at and above which a pixel of a plane is
// one the beam did not get through: its transmission is at the plane's
// noise floor or below the config's reliable transmission. The margin
// keeps pixels clamped at the floor on the opaque side whatever the
// rounding of the logarithm and of the fixed point.
func (d *Detector) opaqueFrom(p *plane) float64 {
	return -math.Log(math.Max(p.floor, d.p.ReliableTransmission)) - 2.0/attScale
}

// stuckRows marks as dead the rows that disagree with both neighbours all
// along the vehicle: a row stuck at some level with noise on it passes the
// gain and variation tests, but no object is one detector pitch high and
// as long as the vehicle. The test is on every eighth column of u, after
// the row and column corrections.
func (d *Detector) stuckRows(src raw, p *plane, u image.Rectangle) {
	if u.Dy() < 5 {
		return
	}
	// Two per cent of the air level, everywhere the neighbours agree, is
	// far beyond quantum noise averaged by the median. The median of a
	// row's deviations is above the limit exactly when at most half of
	// them (k of n, k = n/2, the median's rank) are at or below it: a
	// count, not a selection.
	limit := math.Max(0.02, 6*p.noise)
	stuck := growBool(d.passBuf, u.Dy()-2)
	d.qBuf = stuckSamples(stuck, src, p, u, limit, d.qBuf)
	d.passBuf = stuck
	for i, s := range stuck {
		if s {
			p.deadRow[u.Min.Y+1+i] = true
			p.dead++
		}
	}
}

// scan sizes p for the raw image and measures its row sums and the means
// of the columns the lead-in can be found in (dark subtracted), in C eight
// rows at a time: every sum, a row's or a column's, adds the same values
// in the same order as one row at a time would.
func (d *Detector) scan(src raw, p *plane) {
	h, w := src.h, src.w
	p.size(h, w)
	colMean := p.colMean[:d.leadInReach(w)]
	clear(colMean)
	rawSums(src, 0, h, colMean, 0, w, p.rowSum, p.rowSum2)
	inv := 1 / float32(h)
	for c := range colMean {
		colMean[c] *= inv
	}
}

// gains measures each row's gain over the lead-in columns and marks dead
// or stuck rows: no gain, an absurd one, or no variation at all. The row
// statistics are those taken over the columns of u, and rows outside u are
// never dead.
func (d *Detector) gains(src raw, p *plane, lead int, nominal float64, u image.Rectangle) {
	h, w := src.h, src.w
	uw := float64(max(1, u.Dx()))
	level := nominal
	if lead > 0 {
		var s float64
		for c := range lead {
			s += float64(p.colMean[c])
		}
		level = s / float64(lead)
	}
	p.level = level
	p.dead = 0
	for r := range h {
		g := 1.0
		if lead > 0 {
			var s float64
			for c := range lead {
				s += float64(src.v(r*w+c) / p.colMean[c])
			}
			g = s / float64(lead)
		}
		mean := p.rowSum[r] / uw
		sd := math.Sqrt(math.Max(0, p.rowSum2[r]/uw-mean*mean))
		p.deadRow[r] = (g < 0.3 || g > 3 || sd < 1e-5*level+0.5) && r >= u.Min.Y && r < u.Max.Y
		if p.deadRow[r] {
			p.dead++
			g = 1
		}
		p.rowInv[r] = float32(1 / (g * level))
	}
}

// columnRef measures the column reference, the median of the air rows
// above the vehicle (it carries the source's pulse-to-pulse output and the
// slow gain drift), and the noise of the air signal about it, and leaves
// the reference's reciprocal in p.colRef.
func (d *Detector) columnRef(src raw, p *plane, refRows []int) {
	w := src.w
	p.noise = 0
	if len(refRows) < 3 {
		for c := range p.colRef {
			p.colRef[c] = 1
		}
		return
	}
	// Two dozen air rows give the reference to a fifth of a pixel's noise.
	refRows = spread(refRows, 24, d.rowsBuf2[:0])
	d.rowsBuf2 = refRows
	d.sortBuf = columnMedians(p.colRef[:w], src, refRows, p.rowInv, d.sortBuf)
	var s2 float64
	n := 0
	for _, r := range refRows {
		for c := 0; c < w; c += 7 {
			e := float64(src.v(r*w+c)*p.rowInv[r] - p.colRef[c])
			s2 += e * e
			n++
		}
	}
	p.noise = math.Sqrt(s2 / float64(max(n, 1)))
	for c, v := range p.colRef {
		if v > 0 {
			p.colRef[c] = 1 / v
		} else {
			p.colRef[c] = 1
		}
	}
}

// attenuate writes the attenuation of src inside u into dst, a plane of
// the part covers of the image (fixed point, allocated at that size unless
// it is so already, which it is when it is src itself): each pixel divided
// by its row gain and column reference, clamped below at the transmission
// floor, then -ln; dead rows are filled afterwards from the nearest good
// rows. Row by row, each read whole before it is written, so dst may be
// src's own pixels; no float image of the scan is made.
func (d *Detector) attenuate(src raw, p *plane, u image.Rectangle, dst *gocv.Mat, covers image.Rectangle) {
	scratch(dst, covers.Dy(), covers.Dx(), gocv.MatTypeCV16U)
	p.floor = transmissionFloor(p)
	if u.Dx() <= 0 || u.Dy() <= 0 {
		return
	}
	// dst is continuous: a Mat of its own or a view of a whole image.
	out, err := dst.DataPtrUint16()
	if err != nil {
		panic("attenuate: the attenuation plane is not continuous")
	}
	attRows(out, dst.Cols(), covers.Min, src, p, u.Min.X, u.Max.X, u.Min.Y, u.Max.Y, float32(p.floor))
	if p.dead > 0 {
		d.fillDeadRows(p, u, dst, covers.Min)
	}
}

// fillDeadRows sets the columns of u of every dead row of plane dst to
// the mean transmission of the nearest good rows above and below it inside
// u, so that mass sums do not see a hole. It works on the attenuation
// already written, not on raw values (which may be gone). dst's pixel
// (0, 0) is the image's pixel at.
func (d *Detector) fillDeadRows(p *plane, u image.Rectangle, dst *gocv.Mat, at image.Point) {
	pix, _ := dst.DataPtrUint16()
	for r := u.Min.Y; r < u.Max.Y; r++ {
		if !p.deadRow[r] {
			continue
		}
		up, dn := goodRows(p.deadRow, r, u.Min.Y, u.Max.Y)
		fillRow(pix, dst.Cols(), at, r, up, dn, u.Min.Y, u.Max.Y, u.Min.X, u.Max.X)
	}
}

// goodRows are the nearest rows above and below dead row r that are not
// dead, within [y0, y1) (y0-1 or y1 when there is none).
func goodRows(dead []bool, r, y0, y1 int) (up, dn int) {
	up, dn = r-1, r+1
	for up >= y0 && dead[up] {
		up--
	}
	for dn < y1 && dead[dn] {
		dn++
	}
	return up, dn
}

// fillRow sets columns [x0, x1) of row r of plane pix (stride wide, its
// element 0 at the image's pixel at) to the mean transmission of rows up
// and dn, those of them that lie within [y0, y1); clear air if neither.
func fillRow(pix []uint16, stride int, at image.Point, r, up, dn, y0, y1, x0, x1 int) {
	t := func(r, c int) float64 { return math.Exp(-float64(attOf(pix[(r-at.Y)*stride+c-at.X]))) }
	hasUp, hasDn := up >= y0, dn < y1
	for c := x0; c < x1; c++ {
		v := 1.0
		switch {
		case hasUp && hasDn:
			v = (t(up, c) + t(dn, c)) / 2
		case hasUp:
			v = t(up, c)
		case hasDn:
			v = t(dn, c)
		}
		pix[(r-at.Y)*stride+c-at.X] = attFix(-math.Log(v))
	}
}

// leadInReach is how many leading columns of an image w wide leadIn
// needs the means of: past them, the lead-in is at its maximum whether
// the air goes on or not (end - max(2, end/10) >= LeadInMaxColumns for
// any end from it on).
func (d *Detector) leadInReach(w int) int {
	return min(w, max(2*d.p.LeadInMaxColumns+4, 2*d.p.LeadInMinColumns))
}

// leadIn returns how many leading columns are air, from the means of the
// first leadInReach columns.
func (d *Detector) leadIn(colMean []float32, nominal float64) int {
	minCols, maxCols := d.p.LeadInMinColumns, d.p.LeadInMaxColumns
	if len(colMean) < 2*minCols {
		return 0
	}
	ref := float64(median32(append(d.sortBuf[:0], colMean[:minCols]...)))
	if ref < 0.6*nominal {
		return 0 // the vehicle is already in the beam
	}
	end := len(colMean)
	for c, v := range colMean {
		if float64(v) < 0.85*ref || float64(v) > 1.2*ref {
			end = c
			break
		}
	}
	end -= max(2, end/10) // stay clear of the vehicle's leading edge
	if end < minCols {
		return 0
	}
	return min(end, maxCols)
}

// airRows returns rows with no vehicle anywhere along the scan, away from
// the vehicle's top edge: every pixel, divided by its row's gain, at 85 % of
// its column's air level or more. The source's output and the detector's
// gain drift along a scan (a worn portal loses 10-15 % over a truck), so
// the lead-in's level is no yardstick at the far end: a column's level is
// the mean of its gain-corrected values above 60 % of the lead-in's, among
// every fourth live row (a mean, not the highest: single pixels flicker).
// Where the vehicle fills much of a column its thin parts pull that level
// down a little, which the test can afford: a row through the vehicle
// fails it somewhere along the scan all the same.
func (d *Detector) airRows(src raw, p *plane) []int {
	h, w := src.h, src.w
	ref, n := grow(d.colTop, w), grow(d.colN, w)
	d.colTop, d.colN = ref, n
	clear(ref)
	clear(n)
	airLevels(src, p, ref, n)
	for c := range ref {
		if n[c] == 0 {
			ref[c] = float32(math.Inf(1)) // no air in this column
			continue
		}
		ref[c] *= 0.85 / float32(n[c])
	}
	pass := grow(d.passBuf, h)
	airPass(pass, src, p, ref)
	d.passBuf = pass
	rows := d.rowsBuf[:0]
	for r := range h {
		if !pass[r] {
			continue
		}
		// Keep a margin of two rows from any row that sees the vehicle.
		near := false
		for k := r - 2; k <= r+2; k++ {
			if k >= 0 && k < h && !pass[k] && !p.deadRow[k] {
				near = true
			}
		}
		if !near {
			rows = append(rows, r)
		}
	}
	d.rowsBuf = rows
	return rows
}

// massThickness picks the calibration from attenuation to mass thickness
// and returns its name, and whether it was measured on the site's scanner;
// mass itself is computed only inside the containers (see cargo).
func (d *Detector) massThickness(mu, energy float64) (string, bool) {
	var from settings.Calibrated
	d.seen.wedge, from = d.wedgeFor(energy)
	if len(d.seen.wedge) < 2 {
		return fmt.Sprintf("mu %.4f cm²/g", mu), false
	}
	d.seen.lut.build(d.seen.wedge)
	switch {
	case from.Site():
		return fmt.Sprintf("step wedge for %v MeV calibrated %s (%s)", energy, from.CalibratedAt, from.Source), true
	case from.Source == "step_wedge":
		// The site's own table, entered by hand.
		return "step wedge (detector.step_wedge, any energy)", true
	}
	return fmt.Sprintf("default step wedge for %v MeV", energy), false
}

// massTable is the mass thickness (g/cm²) of every fixed-point
// attenuation value with the scan's calibration, tabulated once a scan so
// that a pixel is one lookup. The values are those of converting the plane
// to attenuation and mapping it through the calibration pixel by pixel (a
// plane value's attenuation is exact in float32: a 16-bit integer over a
// power of two).
func (d *Detector) massTable() []float32 {
	tab := grow32(d.massTab, 1<<16)
	d.massTab = tab
	if d.seen.massTab {
		return tab
	}
	// The scans of one scanner share their calibration: the table of the
	// last one that had it is this one's.
	k := &d.massFor
	if k.ok && slices.Equal(k.wedge, d.seen.wedge) && (len(k.wedge) >= 2 || k.mu == d.seen.mu) {
		d.seen.massTab = true
		return tab
	}
	for v := range tab {
		tab[v] = attOf(uint16(v))
	}
	if len(d.seen.wedge) < 2 {
		k := float32(1 / d.seen.mu)
		for v, a := range tab {
			tab[v] = a * k
		}
	} else {
		d.seen.lut.apply(tab)
	}
	d.seen.massTab = true
	k.ok, k.wedge, k.mu = true, append(k.wedge[:0], d.seen.wedge...), d.seen.mu
	return tab
}

// wedgeFor picks the step-wedge table for a beam end-point energy: the
// energy's own when one was measured within 0.5 MeV, else the
// energy-independent one (from says "step_wedge"), else none.
func (d *Detector) wedgeFor(energy float64) ([][2]float64, settings.Calibrated) {
	var best *settings.StepWedge
	bestD := 0.5
	for i, w := range d.p.StepWedges {
		if e := math.Abs(w.EnergyMeV - energy); energy > 0 && e <= bestD {
			best, bestD = &d.p.StepWedges[i], e
		}
	}
	if best == nil {
		return d.p.StepWedge, settings.Calibrated{Source: "step_wedge"}
	}
	return best.Steps, best.Calibrated
}

// massOf maps one attenuation value to mass thickness with the calibration
// of the last scan.
func (d *Detector) massOf(a float64) float64 {
	if len(d.seen.wedge) >= 2 {
		v := [1]float32{float32(a)}
		wedge(v[:], d.seen.wedge)
		return float64(v[0])
	}
	return a / d.seen.mu
}

// wedgeLUT tabulates a step wedge on a fine even grid of attenuation, so
// that mapping a pixel is an index and an interpolation instead of a
// search.
type wedgeLUT struct {
	step float32
	v    []float32 // mass at A = i·step
	tab  [][2]float64
}

const lutSize = 2048

func (l *wedgeLUT) build(tab [][2]float64) {
	l.tab = tab
	top := tab[len(tab)-1][0] * 1.5
	l.step = float32(top / (lutSize - 1))
	l.v = grow32(l.v, lutSize)
	for i := range l.v {
		l.v[i] = float32(i) * l.step
	}
	wedge(l.v, tab)
}

// apply maps attenuation to mass in place; values off the table go
// through the wedge itself.
func (l *wedgeLUT) apply(f []float32) {
	inv := 1 / l.step
	last := float32(lutSize - 1)
	for i, a := range f {
		x := a * inv
		if x < 0 || x >= last {
			v := [1]float32{a}
			wedge(v[:], l.tab)
			f[i] = v[0]
			continue
		}
		k := int(x)
		fr := x - float32(k)
		f[i] = l.v[k] + fr*(l.v[k+1]-l.v[k])
	}
}

// transmissionFloor is the smallest transmission an image resolves: where
// the quantum noise of the air signal leaves a signal-to-noise of 3, and at
// least one detector count.
func transmissionFloor(p *plane) float64 {
	floor := 1 / math.Max(p.level, 1)
	if p.noise > 0 {
		n0 := 1 / (p.noise * p.noise) // quanta per pixel in air
		floor = math.Max(floor, 9/n0)
	}
	return math.Min(floor, 0.01)
}

// wedge maps attenuation to mass thickness through a step-wedge table,
// interpolating linearly and extrapolating with the end segments' slopes.
func wedge(a []float32, tab [][2]float64) {
	for i, v := range a {
		x := float64(v)
		k := sort.Search(len(tab)-1, func(j int) bool { return tab[j+1][0] >= x })
		if k >= len(tab)-1 {
			k = len(tab) - 2
		}
		x0, y0, x1, y1 := tab[k][0], tab[k][1], tab[k+1][0], tab[k+1][1]
		if k == 0 && x < x0 {
			// below the first step, through the origin
			a[i] = float32(x * y0 / x0)
			continue
		}
		a[i] = float32(y0 + (x-x0)*(y1-y0)/(x1-x0))
	}
}

func median32(v []float32) float32 {
	if len(v) == 0 {
		return 0
	}
	return selectK(v, len(v)/2)
}

// grow returns s resliced to n elements, reallocated only when its
// capacity is short: the detector's buffers live from scan to scan.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func grow32(s []float32, n int) []float32 { return grow(s, n) }

func growBool(s []bool, n int) []bool { return grow(s, n) }

// spread appends to out at most n of xs, evenly spaced.
func spread(xs []int, n int, out []int) []int {
	if len(xs) <= n {
		return append(out, xs...)
	}
	for i := range n {
		out = append(out, xs[i*len(xs)/n])
	}
	return out
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}
