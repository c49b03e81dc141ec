package vision

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"gocv.io/x/gocv"
)

// flatField turns raw detector values into transmission in d.t (CV_32F),
// filling d.deadRow and the noise estimate. It returns a description of
// problems worth an IMAGE_QUALITY finding.
func (d *Detector) flatField(in *Input) []string {
	var notes []string
	h, w := in.High.Rows(), in.High.Cols()
	in.High.ConvertTo(&d.t, gocv.MatTypeCV32F)
	d.t.SubtractFloat(float32(in.Dark))
	f, _ := d.t.DataPtrFloat32()
	nominal := in.Air - in.Dark

	d.rowGain = grow(d.rowGain, h)
	d.colRef = grow32(d.colRef, w)
	d.colMean = grow32(d.colMean, w)
	d.deadRow = growBool(d.deadRow, h)
	colMean := d.colMean
	for c := range colMean {
		colMean[c] = 0
	}
	for r := 0; r < h; r++ {
		row := f[r*w : (r+1)*w]
		for c, v := range row {
			colMean[c] += v
		}
	}
	for c := range colMean {
		colMean[c] /= float32(h)
	}

	// Lead-in: the leading columns that look like the first few, before the
	// vehicle's front drops the column mean.
	lead := d.leadIn(colMean, nominal)
	level := nominal
	d.level = level
	if lead > 0 {
		var s float64
		for c := 0; c < lead; c++ {
			s += float64(colMean[c])
		}
		level = s / float64(lead)
		d.level = level
		for r := 0; r < h; r++ {
			row := f[r*w : r*w+lead]
			var g float64
			for c, v := range row {
				g += float64(v / colMean[c])
			}
			d.rowGain[r] = g / float64(lead)
		}
	} else {
		for r := range d.rowGain[:h] {
			d.rowGain[r] = 1
		}
		notes = append(notes, "no lead-in air columns: rows not flat-fielded")
	}
	d.leadCols = lead

	// Dead or stuck rows: no gain, absurd gain, or no variation at all.
	dead := 0
	for r := 0; r < h; r++ {
		row := f[r*w : (r+1)*w]
		var s, s2 float64
		for _, v := range row {
			s += float64(v)
			s2 += float64(v) * float64(v)
		}
		mean := s / float64(w)
		sd := math.Sqrt(math.Max(0, s2/float64(w)-mean*mean))
		g := d.rowGain[r]
		d.deadRow[r] = g < 0.3 || g > 3 || sd < 1e-5*level+0.5
		if d.deadRow[r] {
			dead++
			d.rowGain[r] = 1
		}
	}
	if dead > h/10 {
		notes = append(notes, fmt.Sprintf("%d of %d detector rows dead or stuck", dead, h))
	}
	d.deadRows = dead

	for r := 0; r < h; r++ {
		inv := float32(1 / (d.rowGain[r] * level))
		row := f[r*w : (r+1)*w]
		for c := range row {
			row[c] *= inv
		}
	}

	// Column reference from the air rows above the vehicle: it carries the
	// source's pulse-to-pulse output and the slow gain drift.
	refRows := d.airRows(f, h, w)
	d.noise = 0
	if len(refRows) >= 3 {
		buf := d.sortBuf[:0]
		for c := 0; c < w; c++ {
			buf = buf[:0]
			for _, r := range refRows {
				buf = append(buf, f[r*w+c])
			}
			d.colRef[c] = median32(buf)
		}
		d.sortBuf = buf
		// Noise: scatter of the air rows about their column reference.
		var s2 float64
		n := 0
		for _, r := range refRows {
			for c := 0; c < w; c += 7 {
				e := float64(f[r*w+c] - d.colRef[c])
				s2 += e * e
				n++
			}
		}
		d.noise = math.Sqrt(s2 / float64(max(n, 1)))
		for r := 0; r < h; r++ {
			row := f[r*w : (r+1)*w]
			for c := range row {
				row[c] /= d.colRef[c]
			}
		}
	} else {
		notes = append(notes, "no air rows above the vehicle: source output not tracked per column")
	}
	d.airRowCount = len(refRows)

	d.interpolateDeadRows(f, h, w)
	return notes
}

// leadIn returns how many leading columns are air.
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
// the vehicle's top edge.
func (d *Detector) airRows(f []float32, h, w int) []int {
	pass := d.passBuf[:0]
	for r := 0; r < h; r++ {
		ok := !d.deadRow[r]
		if ok {
			row := f[r*w : (r+1)*w]
			for _, v := range row {
				if v < 0.85 {
					ok = false
					break
				}
			}
		}
		pass = append(pass, ok)
	}
	d.passBuf = pass
	rows := d.rowsBuf[:0]
	for r := 0; r < h; r++ {
		if !pass[r] {
			continue
		}
		// Keep a margin of two rows from any row that sees the vehicle.
		near := false
		for k := r - 2; k <= r+2; k++ {
			if k >= 0 && k < h && !pass[k] && !d.deadRow[k] {
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

// interpolateDeadRows replaces dead rows with the mean of the nearest good
// rows, so that mass sums do not see a hole.
func (d *Detector) interpolateDeadRows(f []float32, h, w int) {
	for r := 0; r < h; r++ {
		if !d.deadRow[r] {
			continue
		}
		up, dn := r-1, r+1
		for up >= 0 && d.deadRow[up] {
			up--
		}
		for dn < h && d.deadRow[dn] {
			dn++
		}
		dst := f[r*w : (r+1)*w]
		switch {
		case up >= 0 && dn < h:
			a, b := f[up*w:(up+1)*w], f[dn*w:(dn+1)*w]
			for c := range dst {
				dst[c] = (a[c] + b[c]) / 2
			}
		case up >= 0:
			copy(dst, f[up*w:(up+1)*w])
		case dn < h:
			copy(dst, f[dn*w:(dn+1)*w])
		}
	}
}

// massThickness turns transmission d.t into mass thickness d.m (g/cm²),
// clamping at the noise floor and marking pixels the beam did not get
// through in d.noPen.
func (d *Detector) massThickness(mu float64) {
	floor := d.transmissionFloor()
	d.tFloor = floor
	gocv.Threshold(d.t, &d.noPen, float32(math.Max(floor, d.p.ReliableTransmission)), 1, gocv.ThresholdBinaryInv)
	d.noPen.ConvertTo(&d.noPen8, gocv.MatTypeCV8U)
	// Clamp below at the floor: max(T, floor) == T where T > floor.
	gocv.Threshold(d.t, &d.m, float32(floor), 0, gocv.ThresholdToZero)
	gocv.Threshold(d.t, &d.tmp, float32(floor), float32(floor), gocv.ThresholdBinaryInv)
	gocv.Add(d.m, d.tmp, &d.m)
	gocv.Log(d.m, &d.m)
	if len(d.p.StepWedge) >= 2 {
		d.m.MultiplyFloat(-1)
		m, _ := d.m.DataPtrFloat32()
		wedge(m, d.p.StepWedge)
		return
	}
	d.m.MultiplyFloat(float32(-1 / mu))
}

// transmissionFloor is the smallest transmission the image resolves: where
// the quantum noise of the air signal leaves a signal-to-noise of 3, and at
// least one detector count.
func (d *Detector) transmissionFloor() float64 {
	floor := 1 / math.Max(d.level, 1)
	if d.noise > 0 {
		n0 := 1 / (d.noise * d.noise) // quanta per pixel in air
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
	slices.Sort(v)
	return v[len(v)/2]
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

func grow32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func growBool(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	return s[:n]
}
