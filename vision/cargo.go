package vision

import (
	"image"
	"math"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/agent/inspection"
)

// cargo measures what is inside one container: side walls subtracted, mass
// integrated, apparent density, and connected regions of cargo.
func (d *Detector) cargo(idx int, b box, px, py float64) Container {
	c := Container{Index: idx, SizeCode: b.geom.SizeCode, TypeGuessed: b.typeGuessed, OuterPx: b.outer, InnerPx: b.inner,
		LengthM: b.geom.LengthM, InnerWidthM: b.geom.InnerWidthM}
	r := b.inner.Intersect(image.Rect(0, 0, d.m.Cols(), d.m.Rows()))
	if r.Empty() {
		c.Findings = append(c.Findings, inspection.Finding{Code: inspection.ImageQuality, Severity: inspection.Warning,
			Message: "the container's inner space lies outside the image"})
		return c
	}
	m, _ := d.m.DataPtrFloat32()
	w := d.m.Cols()
	areaCm2 := px * py * 1e4
	inner := span{r.Min.X, r.Max.X}
	topBand := r.Min.Y + int(0.5/py)
	bottomBand := r.Max.Y - int(0.15/py)

	// Side walls: measured where the container is empty (middle rows, away
	// from roof and floor), else configured.
	cfgWalls := b.geom.SideWallsGCm2
	var s float64
	n, total := 0, 0
	for y := topBand; y < bottomBand; y++ {
		for _, v := range m[y*w+r.Min.X : y*w+r.Max.X] {
			total++
			if float64(v) > 0.5*cfgWalls && float64(v) < 1.6*cfgWalls {
				s += float64(v)
				n++
			}
		}
	}
	walls := cfgWalls
	if n > total/30 {
		walls = s / float64(n)
	}
	c.SideWallsGCm2 = walls

	// Per-row baseline: the side walls, and near the roof and the floor
	// the structure every column of the row has in common (a fan beam
	// smears roof and floor over many rows). The structure is read from the
	// columns that hold no cargo, when there are enough of them; otherwise
	// from the quieter part of each row.
	d.baseline = grow(d.baseline, r.Dy())
	empty := d.emptyColumns(r, topBand, bottomBand, walls)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		bl := walls
		if y < topBand || y >= bottomBand {
			if len(empty) >= max(8, r.Dx()/30) {
				buf := d.sortBuf[:0]
				for _, x := range empty {
					buf = append(buf, m[y*w+x])
				}
				d.sortBuf = buf
				bl = math.Max(walls, float64(selectK(buf, len(buf)/2)))
			} else {
				q := 0.5
				if y >= bottomBand {
					q = 0.1 // cargo standing on the floor is the rule
				}
				bl = math.Max(walls, d.rowStat(y, inner, q))
			}
		}
		d.baseline[y-r.Min.Y] = bl
	}

	// Cargo mass thickness: the inner space minus the baseline, row by row.
	roi := d.m.Region(r)
	roi.CopyTo(&d.cm)
	roi.Close()
	cm, _ := d.cm.DataPtrFloat32()
	rw := r.Dx()
	var sum float64
	for y := 0; y < r.Dy(); y++ {
		bl := float32(d.baseline[y])
		row := cm[y*rw : (y+1)*rw]
		for x := range row {
			row[x] -= bl
			sum += float64(row[x])
		}
	}
	// Every pixel counts, noise and all (it averages out; clipping would
	// bias the sum upwards).
	c.CargoKg = math.Max(0, sum*areaCm2/1000)

	// Apparent density, smoothed over ~10 cm, thresholded into a cargo mask.
	k := max(3, int(0.1/math.Max(px, py))|1)
	gocv.GaussianBlur(d.cm, &d.smooth, image.Pt(k, k), 0, 0, gocv.BorderReplicate)
	// kg/m³ = (cargo g/cm²) / (inner width in cm) × 1000
	scale := 10 / b.geom.InnerWidthM
	d.smooth.MultiplyFloat(float32(scale))
	d.smooth.CopyTo(&d.rho)
	gocv.Threshold(d.smooth, &d.mask, float32(d.p.CargoMinKgM3), 255, gocv.ThresholdBinary)
	d.mask.ConvertTo(&d.mask, gocv.MatTypeCV8U)
	kernel := gocv.GetStructuringElement(gocv.MorphRect, image.Pt(k, k))
	gocv.MorphologyEx(d.mask, &d.mask, gocv.MorphOpen, kernel)
	kernel.Close()

	cargoPx := gocv.CountNonZero(d.mask)
	c.CargoAreaM2 = float64(cargoPx) * px * py
	if cargoPx > 0 {
		np := d.noPen8.Region(r)
		gocv.BitwiseAnd(np, d.mask, &d.tmp)
		np.Close()
		// noPen8 holds 1 where the beam did not get through.
		c.NoPenetration = float64(gocv.CountNonZero(d.tmp)) / float64(cargoPx)
	}
	c.Empty = c.CargoKg < d.p.EmptyMaxKg && c.CargoAreaM2 < d.p.EmptyMaxAreaM2
	if c.CargoAreaM2 > 0 {
		c.MeanDensity = c.CargoKg / (c.CargoAreaM2 * b.geom.InnerWidthM)
	}
	c.Regions = d.regions(r, b, px, py, areaCm2, scale)
	if len(c.Regions) > 0 {
		lo, hi := c.Regions[0].Px.Min.X, c.Regions[0].Px.Max.X
		for _, g := range c.Regions {
			lo, hi = min(lo, g.Px.Min.X), max(hi, g.Px.Max.X)
		}
		c.FillLengthM = float64(hi-lo) * px
	}
	c.LowerBound = c.CargoAreaM2 >= d.p.EmptyMaxAreaM2 && c.NoPenetration > d.p.NoPenetrationMaxFraction
	if c.LowerBound {
		c.Findings = append(c.Findings, inspection.Finding{Code: inspection.ImageQuality, Severity: inspection.Warning,
			Message:  "the beam did not get through part of the cargo: the X-ray mass is a lower bound there",
			Measured: inspection.Ptr(round(c.NoPenetration, 3)), Expected: &[2]float64{0, d.p.NoPenetrationMaxFraction}})
	}
	return c
}

// regions labels the cargo mask and measures each connected part.
func (d *Detector) regions(r image.Rectangle, b box, px, py, areaCm2, scale float64) []Region {
	n := gocv.ConnectedComponentsWithStats(d.mask, &d.labels, &d.stats, &d.centroids)
	if n <= 1 {
		return nil
	}
	kg := make([]float64, n)
	lab := int32s(&d.labels)
	cm, _ := d.cm.DataPtrFloat32()
	for i, l := range lab {
		if l > 0 {
			kg[l] += float64(cm[i])
		}
	}
	minPx := int(d.p.RegionMinAreaM2 / (px * py))
	var out []Region
	for l := 1; l < n; l++ {
		area := int(d.stats.GetIntAt(l, 4))
		if area < minPx {
			continue
		}
		x, y := int(d.stats.GetIntAt(l, 0)), int(d.stats.GetIntAt(l, 1))
		bw, bh := int(d.stats.GetIntAt(l, 2)), int(d.stats.GetIntAt(l, 3))
		pr := image.Rect(x, y, x+bw, y+bh).Add(r.Min)
		g := Region{Px: pr, AreaM2: float64(area) * px * py, Kg: math.Max(0, kg[l]*areaCm2/1000)}
		g.DensityKgM3 = kg[l] / float64(area) * scale
		g.M = inspection.Region{
			XM: round(float64(pr.Min.X-b.outer.Min.X)*px, 2), YM: round(float64(pr.Min.Y-b.outer.Min.Y)*py, 2),
			WM: round(float64(bw)*px, 2), HM: round(float64(bh)*py, 2),
		}
		out = append(out, g)
	}
	return out
}

// int32s views a continuous CV_32S Mat's data; gocv v0.31 has no
// DataPtrInt32.
func int32s(m *gocv.Mat) []int32 {
	b, err := m.DataPtrUint8()
	if err != nil || len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// emptyColumns lists the columns of the inner space whose middle rows hold
// nothing but the side walls.
func (d *Detector) emptyColumns(r image.Rectangle, top, bottom int, walls float64) []int {
	m, _ := d.m.DataPtrFloat32()
	w := d.m.Cols()
	out := d.colsBuf[:0]
	lim := float32(walls*1.3 + 0.5)
	for x := r.Min.X; x < r.Max.X; x++ {
		buf := d.sortBuf[:0]
		for y := top; y < bottom; y += 2 {
			buf = append(buf, m[y*w+x])
		}
		d.sortBuf = buf
		if len(buf) > 0 && selectK(buf, len(buf)*9/10) < lim {
			out = append(out, x)
		}
	}
	d.colsBuf = out
	return out
}
