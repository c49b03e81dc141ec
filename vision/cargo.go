package vision

import (
	"fmt"
	"image"
	"math"
	"unsafe"

	"gocv.io/x/gocv"
)

// cargo measures what is inside one container: its mass thickness (and
// for dual energy its two attenuations) copied out of the scan, the side
// walls and the smear of roof and floor subtracted, the end walls'
// corrugations taken out, mass integrated, the cell grid built, and the
// cargo's area, penetration and emptiness. ok is false when the
// container's inner space is not in the image. Everything here works in
// the inner space's own coordinates.
func (d *Detector) cargo(idx int, b box, px, py float64) (Container, bool) {
	c := Container{Index: idx, SizeCode: b.geom.SizeCode, TypeGuessed: b.typeGuessed, OuterPx: b.outer, InnerPx: b.inner,
		LengthM: b.geom.LengthM, InnerWidthM: b.geom.InnerWidthM}
	r := b.inner.Intersect(image.Rect(0, 0, d.a.Cols(), d.a.Rows()))
	if r.Dx() < 8 || r.Dy() < 8 {
		c.Findings = append(c.Findings, quality(Warning,
			"the container's inner space lies outside the image: X-ray checks of its cargo skipped; check the scanner's field of view"))
		return c, false
	}
	rLo := r.Sub(d.seen.aLoAt) // r in aLo's own coordinates
	w, h := r.Dx(), r.Dy()
	areaCm2 := px * py * 1e4
	topBand := int(0.5 / py)
	// A fan beam smears the floor up to 0.3 m into the cargo space.
	bottomBand := max(topBand+1, h-int(0.3/py))
	floorBand := h - int(0.15/py)

	walls, wallsA, wallsL := d.massAndWalls(r, rLo, topBand, bottomBand, b.geom.SideWallsGCm2)
	m, _ := d.cm.DataPtrFloat32()
	c.SideWallsGCm2 = round(walls, 2)

	// Per-row baseline: the side walls, and near the roof and the floor
	// the structure every column of the row has in common (a fan beam
	// smears roof and floor over many rows). The structure is read from the
	// columns that hold no cargo, when there are enough of them (the gaps
	// between stacks are empty columns too, and a few dozen give a steady
	// median); otherwise from the quieter part of each row.
	all := span{0, w}
	empty := d.emptyColumns(w, h, topBand, bottomBand, walls, m)
	enough := len(empty) >= max(8, w/150)
	// A few hundred of them are as good as all.
	empty = spread(empty, 256, d.colsBuf2[:0])
	d.colsBuf2 = empty
	bands := cargoBands{top: topBand, bottom: bottomBand, floor: floorBand, all: all}
	if enough {
		bands.empty = empty
	}
	d.baseline = d.rowBaseline(d.baseline, m, w, h, walls, bands)

	// Cargo mass thickness: the inner space minus the baseline, row by row,
	// minus the end walls' corrugations where they reach in, and minus the
	// narrow structure left in the roof and floor bands.
	sum := subtractRows(&d.cm, d.baseline)
	d.colq.forget()
	bands.fl, bands.fr = d.endFaces(topBand, bottomBand, int(0.2/px))
	sum -= d.endCorrect(&d.cm, bands.fl, bands.fr, topBand, bottomBand, int(0.1/px))
	sum -= d.openBands(&d.cm, topBand, bottomBand, px, bands.empty)
	// Every pixel counts, noise and all (it averages out; clipping would
	// bias the sum upwards).
	c.CargoKg = math.Max(0, sum*areaCm2/1000)
	sz := d.gridSize(r, px, py)
	d.resizeArea(d.cm, &d.cells.mass, sz)
	if d.seen.dual != nil {
		// The mass is in its cells now: its image is free to take each
		// energy's attenuation in turn.
		d.cargoAttenuation(d.a, r, wallsA, bands, px, sz, &d.cells.attHigh)
		d.cargoAttenuation(d.aLo, rLo, wallsL, bands, px, sz, &d.cells.attLow)
	}

	g := d.buildGrid(r, b, px, py)
	d.coverage(&c, g, b.geom.InnerWidthM)
	return c, true
}

// massAndWalls writes the mass thickness (g/cm², CV_32F) of the inner
// space r of the high-energy plane into d.cm, one table lookup a pixel,
// and in the same pass measures the side walls' mass thickness (and for
// dual energy their attenuation at each energy, wallsA and wallsL, rLo
// being r in the low-energy plane) where the container is empty: the
// middle rows top..bottom, away from roof and floor. When too few pixels
// look like bare walls, cfgWalls, the configured value, stands in, since
// an averaged full load would not be the walls.
func (d *Detector) massAndWalls(r, rLo image.Rectangle, top, bottom int, cfgWalls float64) (walls, wallsA, wallsL float64) {
	tab := d.massTable()
	w, h := r.Dx(), r.Dy()
	scratch(&d.cm, h, w, gocv.MatTypeCV32F) // massRows writes every pixel
	m, _ := d.cm.DataPtrFloat32()
	a, _ := d.a.DataPtrUint16()
	stride := d.a.Cols()
	// For dual energy the two attenuations are read from the planes here
	// and worked through one scratch image in turn (cargoAttenuation).
	var al []uint16
	strideLo := d.aLo.Cols()
	if d.seen.dual != nil {
		al, _ = d.aLo.DataPtrUint16()
		al = al[rLo.Min.Y*strideLo+rLo.Min.X:]
	}
	idx := growInt32(d.countBuf, w+3)
	d.countBuf = idx
	top, bottom = max(0, top), min(h, bottom)
	sums := &d.wallSums // a Detector's field: a local passed to C would be allocated on the heap
	*sums = [3]float64{}
	n := massRows(a[r.Min.Y*stride+r.Min.X:], stride, al, strideLo, tab, m, w, h, top, bottom, 0.5*cfgWalls, 1.6*cfgWalls, sums, idx)
	total := max(0, bottom-top) * w
	walls = cfgWalls
	if n > total/30 {
		walls, wallsA, wallsL = sums[0]/float64(n), sums[1]/float64(n), sums[2]/float64(n)
	} else if al != nil {
		wallsA = d.attenuationOf(cfgWalls)
		wallsL = wallsA * d.steelRatio(wallsA) // the walls are steel
	}
	return walls, wallsA, wallsL
}

// coverage sets the cargo's area, penetration, emptiness and mean density
// on c from the segmented cells of grid g, and says when the mass is a
// lower bound: when a good part of it lies where the beam did not get
// through (a few opaque corners do not make it one).
func (d *Detector) coverage(c *Container, g *grid, innerWidthM float64) {
	cargoCells, opaque := 0, 0
	var kg, opaqueKg float64
	gm, _ := d.cells.mass.DataPtrFloat32()
	for i, v := range d.seg.cargo {
		if v {
			cargoCells++
			kg += float64(gm[i])
			if d.seg.opaque[i] {
				opaque++
				opaqueKg += float64(gm[i])
			}
		}
	}
	c.CargoAreaM2 = float64(cargoCells) * g.cx * g.cy
	if cargoCells > 0 {
		c.NoPenetration = float64(opaque) / float64(cargoCells)
	}
	c.Empty = c.CargoKg < d.p.EmptyMaxKg && c.CargoAreaM2 < d.p.EmptyMaxAreaM2
	if c.CargoAreaM2 > 0 {
		c.MeanDensity = c.CargoKg / (c.CargoAreaM2 * innerWidthM)
	}
	c.LowerBound = c.CargoAreaM2 >= d.p.EmptyMaxAreaM2 && kg > 0 && opaqueKg > d.p.NoPenetrationMaxFraction*kg
	if c.LowerBound {
		f := quality(Info, fmt.Sprintf("the beam did not get through %.0f %% of the cargo's area, holding %.0f %% of its X-ray mass: the X-ray mass is a lower bound",
			100*c.NoPenetration, 100*opaqueKg/kg))
		f.Measured, f.Expected = ptr(round(opaqueKg/kg, 3)), &[2]float64{0, d.p.NoPenetrationMaxFraction}
		c.Findings = append(c.Findings, f)
	}
}

// cargoBands are the parts of a container's inner space that the
// structure is taken out of: the roof band above top, the floor band
// below bottom (floor: where cargo standing on the floor is the rule), the
// end walls' inner faces fl and fr, and the columns holding no cargo
// (empty; nil when too few to read the structure from).
type cargoBands struct {
	top, bottom, floor int
	fl, fr             int
	empty              []int
	all                span
}

// rowBaseline fills base (grown to h) with the per-row structure of the
// inner space m (w×h): the side walls (walls, at least), and near the
// roof and the floor the structure every column of the row has in common
// (a fan beam smears roof and floor over many rows). The structure is
// read from the columns that hold no cargo, when there are enough of them
// (the gaps between stacks are empty columns too, and a few dozen give a
// steady median); otherwise from the quieter part of each row.
func (d *Detector) rowBaseline(base []float64, m []float32, w, h int, walls float64, b cargoBands) []float64 {
	base = grow(base, h)
	if b.empty != nil {
		med := grow32(d.medBuf, h)
		d.medBuf = med
		d.sortBuf = rowMedians(med, m, w, 0, h, b.empty, d.sortBuf)
		for y := range h {
			base[y] = math.Max(walls, float64(med[y]))
		}
		return base
	}
	for y := range h {
		base[y] = walls
		if y >= b.top && y < b.floor {
			continue
		}
		q := 0.5
		if y >= b.floor {
			q = 0.1 // cargo standing on the floor is the rule
		}
		base[y] = math.Max(walls, d.rowStat(m, w, y, b.all, q))
	}
	return base
}

// cargoAttenuation averages into the cells of dst (size sz) the cargo's
// attenuation in part r of the plane src (r in src's own coordinates): the
// structure taken out the way cargo does for the mass (walls at least). It
// works in d.cm, once the mass is in its cells, so that the container
// never takes more than one float image.
func (d *Detector) cargoAttenuation(src gocv.Mat, r image.Rectangle, walls float64, b cargoBands, px float64, sz image.Point, dst *gocv.Mat) {
	attToFloat(src, r, &d.cm)
	f, _ := d.cm.DataPtrFloat32()
	w, h := r.Dx(), r.Dy()
	d.baseA = d.rowBaseline(d.baseA, f, w, h, walls, b)
	subtractRows(&d.cm, d.baseA)
	d.colq.forget()
	d.endCorrect(&d.cm, b.fl, b.fr, b.top, b.bottom, int(0.1/px))
	d.openBands(&d.cm, b.top, b.bottom, px, b.empty)
	d.resizeArea(d.cm, dst, sz)
}

// colQ10 is the 10th percentile of column x of the cargo image m over rows
// [y0, y1), every second row (selected in C). The columns' values are kept
// for the image (see colQ10s): the end faces and the end correction look
// at the same columns.
func (d *Detector) colQ10(m *gocv.Mat, x, y0, y1 int) float64 {
	c := &d.colq
	w := m.Cols()
	if c.y0 != y0 || c.y1 != y1 || len(c.ok) != w {
		c.y0, c.y1 = y0, y1
		c.ok, c.v = grow(c.ok, w), grow(c.v, w)
		clear(c.ok)
	}
	if c.ok[x] {
		return c.v[x]
	}
	v := 0.0
	if y1 > y0 {
		f, _ := m.DataPtrFloat32()
		d.qBuf = grow32(d.qBuf, (y1-y0+1)/2)
		v = colQ10(f, w, x, y0, y1, d.qBuf)
	}
	c.ok[x], c.v[x] = true, v
	return v
}

// colQ10s keeps colQ10 of the columns of one cargo image; forget it when
// the image is another (or changed other than by endCorrect, which
// forgets the columns it changes).
type colQ10s struct {
	y0, y1 int
	ok     []bool
	v      []float64
}

func (c *colQ10s) forget() { c.ok = c.ok[:0] }

// endFaces finds, within reach columns of each end of the cargo image
// d.cm, the inner face of the end wall: end walls are corrugated and their
// corrugations reach into the space the ISO inner length leaves for cargo,
// adding to every row of those columns up to a sharp drop. It returns the
// first column inside the left face and the first column of the right
// zone (0 and the width when there is no drop).
func (d *Detector) endFaces(y0, y1, reach int) (int, int) {
	w := d.cm.Cols()
	reach = min(reach, w/4)
	const drop = 12 // g/cm²: a corrugation's steel, well above cargo noise
	fl, fr := 0, w
	if y1-y0 < 4 || reach < 3 {
		return fl, fr
	}
	prev := d.colQ10(&d.cm, 0, y0, y1)
	for x := 1; x < reach; x++ {
		v := d.colQ10(&d.cm, x, y0, y1)
		if prev-v >= drop {
			fl = x
		}
		prev = v
	}
	prev = d.colQ10(&d.cm, w-1, y0, y1)
	for x := w - 2; x >= w-reach; x-- {
		v := d.colQ10(&d.cm, x, y0, y1)
		if prev-v >= drop {
			fr = x + 1
		}
		prev = v
	}
	return fl, fr
}

// endCorrect takes out of m's end zones [0, fl) and [fr, width) what their
// columns have in every row beyond the columns just inside the faces (refW
// wide), and returns the sum it took out.
func (d *Detector) endCorrect(m *gocv.Mat, fl, fr, y0, y1, refW int) float64 {
	f, _ := m.DataPtrFloat32()
	w, h := m.Cols(), m.Rows()
	var total float64
	zone := func(a, b, ra, rb int) {
		if b <= a {
			return
		}
		ra, rb = max(0, ra), min(w, rb)
		refs := d.sortBuf[:0]
		for x := ra; x < rb; x++ {
			refs = append(refs, float32(d.colQ10(m, x, y0, y1)))
		}
		d.sortBuf = refs
		rv := 0.0
		if len(refs) > 0 {
			rv = float64(median32(refs))
		}
		for x := a; x < b; x++ {
			corr := float32(math.Max(0, d.colQ10(m, x, y0, y1)-rv))
			if corr == 0 {
				continue
			}
			for y := range h {
				f[y*w+x] -= corr
			}
			d.colq.ok[x] = false
			total += float64(corr) * float64(h)
		}
	}
	zone(0, fl, fl, fl+refW)
	zone(fr, w, fr-refW, fr)
	return total
}

// openBands removes from the rows of m above y0 and below y1 what is
// narrower than 0.12 m along the length: the roof's corrugations and bows
// and the floor's cross-members, steel seen edge-on every few decimetres,
// which a fan beam smears into those rows where no per-row baseline can
// take them out (the median of a few empty columns lands on a crest or a
// trough). Cargo is wider. What the opening leaves of the structure is the
// same in every column: the median of the empty columns cols, when given,
// takes it out. It returns the sum removed.
func (d *Detector) openBands(m *gocv.Mat, y0, y1 int, px float64, cols []int) float64 {
	k := max(3, int(0.12/px)|1)
	f, _ := m.DataPtrFloat32()
	w := m.Cols()
	var removed float64
	for _, band := range [2][2]int{{0, y0}, {max(y0, y1), m.Rows()}} {
		if band[1]-band[0] < 1 {
			continue
		}
		// The opening is written over the band (each row is copied
		// before it is written); the band, whole rows of a continuous
		// image, is summed as an image of its own would be.
		roi := m.Region(image.Rect(0, band[0], w, band[1]))
		before := roi.Sum().Val1
		bh := band[1] - band[0]
		part := f[band[0]*w : band[1]*w]
		d.qBuf = openRows(part, part, w, bh, k/2, d.qBuf)
		opened := roi.Sum().Val1
		roi.Close()
		var recentred float64
		if len(cols) > 0 {
			med := grow32(d.medBuf, bh)
			d.medBuf = med
			d.sortBuf = rowMedians(med, f, w, band[0], band[1], cols, d.sortBuf)
			base := grow(d.baseL, bh)
			d.baseL = base
			for i, c := range med[:bh] {
				base[i] = float64(c)
				recentred += float64(c) * float64(w)
			}
			subtractRowsOf(f[band[0]*w:band[1]*w], w, bh, base)
		}
		removed += before - opened + recentred
	}
	return removed
}

// emptyColumns lists the columns of the cargo image m (w × h) that hold
// nothing but structure: their middle rows [top, bottom) show only the
// side walls, and their rows below bottom (where a fan beam smears the
// floor, and where coils and reels are at their widest) are as light as
// the lightest quarter of such columns there, so that the sides of goods
// standing on the floor do not pass for empty.
func (d *Detector) emptyColumns(w, h, top, bottom int, walls float64, m []float32) []int {
	out := d.colsBuf[:0]
	lim := float32(walls*1.3 + 0.5)
	step := max(2, (bottom-top)/96)
	// A column is empty when the 98th percentile of its n samples (rank
	// k = n*49/50) is under lim, that is when more than k of them are:
	// counted row by row, along the memory, instead of sorted per column.
	below := growInt32(d.countBuf, w)
	d.countBuf = below
	clear(below)
	n := countBelow(below, m, w, top, bottom, step, lim)
	for x, c := range below {
		if n > 0 && int(c) > n*49/50 {
			out = append(out, x)
		}
	}
	if len(out) > 0 && h > bottom {
		low := d.qBuf[:0]
		for _, x := range out {
			var s float32
			for y := bottom; y < h; y++ {
				s += m[y*w+x]
			}
			low = append(low, s/float32(h-bottom))
		}
		d.qBuf = low
		sorted := append(d.sortBuf[:0], low...)
		d.sortBuf = sorted
		q := selectK(sorted, len(sorted)/4)
		tol := 3 + 0.1*q
		k := 0
		for i, x := range out {
			if low[i] <= q+tol {
				out[k] = x
				k++
			}
		}
		out = out[:k]
	}
	d.colsBuf = out
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

func logf(v float64) float64    { return math.Log(v) }
func maxf(a, b float64) float64 { return math.Max(a, b) }
