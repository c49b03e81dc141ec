package xraysim

import (
	"image"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
)

// chord is the part of one prim crossed by the rays of one x position: a box
// [y0,y1]×[z0,z1] at that x.
type chord struct {
	y0, y1, z0, z1 float64
	mat            int
	rho            float64
	// fan beam: projected support and the two ramps (where the ray enters or
	// leaves through the top or bottom face).
	s0, s1             float64
	r0a, r0b, r1a, r1b float64
	ramp               bool
}

type renderer struct {
	b          *builder
	w, h       int
	px, py     float64
	htop       float64
	hi, lo     *beam
	dual       bool
	fan        bool
	ys, sd     float64
	chords     []chord
	bps        []float64
	segY0      []float64
	segY1      []float64
	segHi      []float64
	segLo      []float64
	profHi     []float64
	profLo     []float64
	lastT      [nMat]float64
	lastHi     float64
	lastLo     float64
	lastValid  bool
	transCalls int
}

var floatPool sync.Pool

func getFloats(n int) []float32 {
	if v, ok := floatPool.Get().(*[]float32); ok && cap(*v) >= n {
		s := (*v)[:n]
		clear(s)
		return s
	}
	return make([]float32, n)
}

func putFloats(s []float32) {
	if s != nil {
		floatPool.Put(&s)
	}
}

// Render draws the scene: the high-energy image, the low-energy image (nil
// unless s.DualEnergy), and the ground truth. Pixel value = dark +
// (air−dark)·T·gain with T the transmission, plus noise and artefacts,
// clamped to [0, 65535]. The same scene always renders the same pixels.
func Render(s Scene) (high, low *image.Gray16, truth Truth, err error) {
	if err = s.validateBasics(); err != nil {
		return
	}
	if err = s.validateCargo(); err != nil {
		return
	}
	w, h, err := s.Size()
	if err != nil {
		return
	}
	if w*h > 60_000_000 {
		err = errorf("image %d×%d too large", w, h)
		return
	}
	px, py := s.PixelMM.X/1000, s.PixelMM.Y/1000
	htop := float64(h) * py
	b, truth, err := s.build(px, py, htop)
	if err != nil {
		return
	}
	truth.Width, truth.Height = w, h
	eh, el := s.energies()
	sc, _ := ScannerByName(s.Scanner)
	r := &renderer{b: b, w: w, h: h, px: px, py: py, htop: htop, hi: sc.beam(eh), lo: sc.beam(el),
		dual: s.DualEnergy, fan: b.fan, ys: b.ys, sd: b.sd}
	tHi := getFloats(w * h)
	defer putFloats(tHi)
	var tLo []float32
	if s.DualEnergy {
		tLo = getFloats(w * h)
		defer putFloats(tLo)
	}
	r.transmissions(tHi, tLo)

	rng := rand.New(rand.NewPCG(uint64(s.Seed), 0x9e3779b97f4a7c15))
	high, low, truth.DeadRows = detect(&s, tHi, tLo, w, h, rng)
	return high, low, truth, nil
}

// detect turns noise-free transmission images (column-major, tLo nil for
// single energy) into what the detector records: scatter, dead rows, row
// gains, pulses, drift and noise as s says. It returns the images and the
// dead rows, in order.
func detect(s *Scene, tHi, tLo []float32, w, h int, rng *rand.Rand) (high, low *image.Gray16, deadRows []int) {
	px, py := s.PixelMM.X/1000, s.PixelMM.Y/1000
	if s.Scatter > 0 {
		rad := s.ScatterRadiusM
		if rad == 0 {
			rad = 0.25
		}
		addScatter(tHi, w, h, s.Scatter, rad/px, rad/py)
		if tLo != nil {
			addScatter(tLo, w, h, s.Scatter, rad/px, rad/py)
		}
	}
	dead := pickDeadRows(rng, h, s.DeadRows)
	deadRows = make([]int, 0, len(dead))
	for _, d := range dead {
		deadRows = append(deadRows, d.row)
	}
	sort.Ints(deadRows)
	high = image.NewGray16(image.Rect(0, 0, w, h))
	applyNoise(high, tHi, s, s.Photons, rng, dead)
	if tLo != nil {
		pl := s.PhotonsLow
		if pl == 0 {
			pl = s.Photons / 2
		}
		low = image.NewGray16(image.Rect(0, 0, w, h))
		applyNoise(low, tLo, s, pl, rng, dead)
	}
	return high, low, deadRows
}

// transmissions fills the noise-free transmission images (column-major:
// index c*h + r), averaging exactly over each pixel's area: pixels are split
// at every edge inside them, and curved edges are sampled three times.
func (r *renderer) transmissions(tHi, tLo []float32) {
	prims := r.b.prims
	var xbreaks []float64
	for _, p := range prims {
		if !p.disc {
			xbreaks = append(xbreaks, p.x0, p.x1)
		}
	}
	sort.Float64s(xbreaks)
	xbreaks = uniq(xbreaks)
	r.profHi = make([]float64, r.h)
	r.profLo = make([]float64, r.h)
	colHi := make([]float64, r.h)
	colLo := make([]float64, r.h)
	var active []int
	next := 0
	lastKey := -1
	var cuts []float64
	for c := 0; c < r.w; c++ {
		xa := float64(c) * r.px
		xb := xa + r.px
		for next < len(prims) && prims[next].x0 < xb {
			active = append(active, next)
			next++
		}
		k := 0
		disc := false
		for _, i := range active {
			if prims[i].x1 > xa {
				active[k] = i
				k++
				disc = disc || prims[i].disc
			}
		}
		active = active[:k]
		j := sort.SearchFloat64s(xbreaks, xa) // first break >= xa
		idx := j
		if j < len(xbreaks) && xbreaks[j] == xa {
			idx = j + 1
		}
		cuts = cuts[:0]
		cuts = append(cuts, xa)
		for ; j < len(xbreaks) && xbreaks[j] < xb; j++ {
			if xbreaks[j] > xa {
				cuts = append(cuts, xbreaks[j])
			}
		}
		cuts = append(cuts, xb)
		dst := tHi[c*r.h : (c+1)*r.h]
		var dstLo []float32
		if tLo != nil {
			dstLo = tLo[c*r.h : (c+1)*r.h]
		}
		if len(cuts) == 2 && !disc {
			if idx == lastKey && c > 0 {
				copy(dst, tHi[(c-1)*r.h:c*r.h])
				if dstLo != nil {
					copy(dstLo, tLo[(c-1)*r.h:c*r.h])
				}
				continue
			}
			lastKey = idx
		} else {
			lastKey = -1
		}
		clear(colHi)
		clear(colLo)
		for q := 0; q+1 < len(cuts); q++ {
			seg := cuts[q+1] - cuts[q]
			if seg <= 0 {
				continue
			}
			n := 1
			if disc {
				n = 3
			}
			for m := 0; m < n; m++ {
				x := cuts[q] + seg*(float64(m)+0.5)/float64(n)
				r.profile(x, active)
				wgt := seg / float64(n) / r.px
				for i := range colHi {
					colHi[i] += wgt * r.profHi[i]
				}
				if dstLo != nil {
					for i := range colLo {
						colLo[i] += wgt * r.profLo[i]
					}
				}
			}
		}
		for i, v := range colHi {
			dst[i] = float32(v)
		}
		if dstLo != nil {
			for i, v := range colLo {
				dstLo[i] = float32(v)
			}
		}
	}
}

func uniq(a []float64) []float64 {
	if len(a) == 0 {
		return a
	}
	k := 1
	for i := 1; i < len(a); i++ {
		if a[i] != a[k-1] {
			a[k] = a[i]
			k++
		}
	}
	return a[:k]
}

func (r *renderer) proj(y, z float64) float64 {
	return r.ys + (y-r.ys)*r.sd/(z+r.sd)
}

// profile computes the per-row transmissions of the rays at scan position x
// into r.profHi / r.profLo.
func (r *renderer) profile(x float64, active []int) {
	prims := r.b.prims
	r.chords = r.chords[:0]
	for _, i := range active {
		p := &prims[i]
		if x < p.x0 || x >= p.x1 {
			continue
		}
		if !p.disc {
			r.addChord(p.y0, p.y1, p)
			continue
		}
		dx := x - p.cx
		if math.Abs(dx) >= p.ro {
			continue
		}
		ho := math.Sqrt(p.ro*p.ro - dx*dx)
		if math.Abs(dx) < p.ri {
			hi := math.Sqrt(p.ri*p.ri - dx*dx)
			r.addChord(p.cy-ho, p.cy-hi, p)
			r.addChord(p.cy+hi, p.cy+ho, p)
		} else {
			r.addChord(p.cy-ho, p.cy+ho, p)
		}
	}
	// Breakpoints in projected height.
	bps := r.bps[:0]
	bps = append(bps, 0, r.htop)
	for i := range r.chords {
		c := &r.chords[i]
		if r.fan {
			bps = append(bps, c.r0a, c.r0b, c.r1a, c.r1b)
		} else {
			bps = append(bps, c.y0, c.y1)
		}
	}
	for i, v := range bps {
		bps[i] = math.Min(math.Max(v, 0), r.htop)
	}
	sort.Float64s(bps)
	bps = uniq(bps)
	r.bps = bps
	// Segments.
	r.segY0, r.segY1, r.segHi, r.segLo = r.segY0[:0], r.segY1[:0], r.segHi[:0], r.segLo[:0]
	for k := 0; k+1 < len(bps); k++ {
		s0, s1 := bps[k], bps[k+1]
		n := 1
		if r.fan {
			for i := range r.chords {
				c := &r.chords[i]
				if c.ramp && s0 < math.Max(c.r0b, c.r1b) && s1 > math.Min(c.r0a, c.r1a) &&
					((s0 < c.r0b && s1 > c.r0a) || (s0 < c.r1b && s1 > c.r1a)) {
					n = int(math.Ceil((s1 - s0) / r.py))
					break
				}
			}
		}
		for q := 0; q < n; q++ {
			a := s0 + (s1-s0)*float64(q)/float64(n)
			e := s0 + (s1-s0)*float64(q+1)/float64(n)
			hi, lo := r.segment((a + e) / 2)
			r.segY0 = append(r.segY0, a)
			r.segY1 = append(r.segY1, e)
			r.segHi = append(r.segHi, hi)
			r.segLo = append(r.segLo, lo)
		}
	}
	// Rows: row i covers heights [htop-(i+1)py, htop-i·py].
	k := 0
	nseg := len(r.segY0)
	for row := r.h - 1; row >= 0; row-- {
		lo := r.htop - float64(row+1)*r.py
		hi := lo + r.py
		for k < nseg && r.segY1[k] <= lo {
			k++
		}
		var acc, accL float64
		for j := k; j < nseg && r.segY0[j] < hi; j++ {
			ov := math.Min(r.segY1[j], hi) - math.Max(r.segY0[j], lo)
			if ov > 0 {
				acc += ov * r.segHi[j]
				accL += ov * r.segLo[j]
			}
		}
		r.profHi[row] = acc / r.py
		r.profLo[row] = accL / r.py
	}
}

func (r *renderer) addChord(y0, y1 float64, p *prim) {
	c := chord{y0: y0, y1: y1, z0: p.z0, z1: p.z1, mat: p.mat, rho: p.rho}
	if r.fan {
		a, b := r.proj(y0, p.z0), r.proj(y0, p.z1)
		c.r0a, c.r0b = math.Min(a, b), math.Max(a, b)
		a, b = r.proj(y1, p.z0), r.proj(y1, p.z1)
		c.r1a, c.r1b = math.Min(a, b), math.Max(a, b)
		c.s0 = math.Min(c.r0a, c.r1a)
		c.s1 = math.Max(c.r0b, c.r1b)
		c.ramp = c.r0b-c.r0a > r.py/4 || c.r1b-c.r1a > r.py/4
	} else {
		c.s0, c.s1 = y0, y1
	}
	r.chords = append(r.chords, c)
}

// segment returns the transmissions of the ray reaching projected height y.
func (r *renderer) segment(y float64) (float64, float64) {
	var t [nMat]float64
	if r.fan {
		k := (y - r.ys) / r.sd
		// Slant path factor, quantised so that neighbouring rays share
		// their transmission (it is at most a few per cent).
		stretch := math.Round(math.Sqrt(1+k*k)*1024) / 1024
		for i := range r.chords {
			c := &r.chords[i]
			if y < c.s0 || y >= c.s1 {
				continue
			}
			var l float64
			if math.Abs(k) < 1e-12 {
				if c.y0 <= r.ys && r.ys < c.y1 {
					l = c.z1 - c.z0
				}
			} else {
				za := (c.y0-r.ys)/k - r.sd
				zb := (c.y1-r.ys)/k - r.sd
				if za > zb {
					za, zb = zb, za
				}
				l = math.Min(c.z1, zb) - math.Max(c.z0, za)
			}
			if l > 0 {
				t[c.mat] += c.rho * l * stretch * 100
			}
		}
	} else {
		for i := range r.chords {
			c := &r.chords[i]
			if y >= c.y0 && y < c.y1 {
				t[c.mat] += c.rho * (c.z1 - c.z0) * 100
			}
		}
	}
	if r.lastValid && t == r.lastT {
		return r.lastHi, r.lastLo
	}
	r.transCalls++
	hi := r.hi.transmission(&t)
	lo := 0.0
	if r.dual {
		lo = r.lo.transmission(&t)
	}
	r.lastT, r.lastHi, r.lastLo, r.lastValid = t, hi, lo, true
	return hi, lo
}

// addScatter lifts the signal where the beam is attenuated by a blurred
// share of what is transmitted nearby: T' = T + f·blur(T)·blur(1−T). The
// blur is low-frequency, so it is computed on a grid of cells about a
// quarter of the radius (rx, ry in pixels) and interpolated bilinearly.
func addScatter(t []float32, w, h int, f, rx, ry float64) {
	cx := max(1, int(rx/4))
	cy := max(1, int(ry/4))
	gw := (w + cx - 1) / cx
	gh := (h + cy - 1) / cy
	a := make([]float32, gw*gh) // column-major like t
	n := make([]float32, gw*gh)
	for c := 0; c < w; c++ {
		col := t[c*h : (c+1)*h]
		g := (c / cx) * gh
		for r, v := range col {
			a[g+r/cy] += v
			n[g+r/cy]++
		}
	}
	bb := make([]float32, gw*gh)
	for i := range a {
		a[i] /= n[i]
		bb[i] = 1 - a[i]
	}
	tmp := make([]float32, max(gw, gh))
	radX := int(rx/float64(cx)/2 + 0.5)
	radY := int(ry/float64(cy)/2 + 0.5)
	for _, img := range [][]float32{a, bb} {
		for pass := 0; pass < 2; pass++ {
			for c := 0; c < gw; c++ {
				boxBlur(img[c*gh:(c+1)*gh], 1, gh, radY, tmp)
			}
			for r := 0; r < gh; r++ {
				boxBlur(img[r:], gh, gw, radX, tmp)
			}
		}
	}
	for i := range a {
		a[i] *= bb[i] * float32(f)
	}
	// Bilinear interpolation between cell centres.
	ys := make([]int32, h)
	fy := make([]float32, h)
	for r := 0; r < h; r++ {
		p := (float64(r)+0.5)/float64(cy) - 0.5
		i := int(math.Floor(p))
		q := p - float64(i)
		if i < 0 {
			i, q = 0, 0
		}
		if i >= gh-1 {
			i, q = gh-1, 0
		}
		ys[r], fy[r] = int32(i), float32(q)
	}
	for c := 0; c < w; c++ {
		p := (float64(c)+0.5)/float64(cx) - 0.5
		i := int(math.Floor(p))
		q := float32(p - float64(i))
		if i < 0 {
			i, q = 0, 0
		}
		i1 := i + 1
		if i >= gw-1 {
			i, i1, q = gw-1, gw-1, 0
		}
		c0 := a[i*gh : (i+1)*gh]
		c1 := a[i1*gh : (i1+1)*gh]
		col := t[c*h : (c+1)*h]
		for r := range col {
			y := int(ys[r])
			y1 := min(y+1, gh-1)
			v0 := c0[y] + (c0[y1]-c0[y])*fy[r]
			v1 := c1[y] + (c1[y1]-c1[y])*fy[r]
			col[r] += v0 + (v1-v0)*q
		}
	}
}

// boxBlur blurs n values spaced stride apart with a box of radius rad,
// clamping at the ends.
func boxBlur(v []float32, stride, n, rad int, tmp []float32) {
	if rad < 1 || n < 2 {
		return
	}
	for i := 0; i < n; i++ {
		tmp[i] = v[i*stride]
	}
	at := func(i int) float32 {
		if i < 0 {
			return tmp[0]
		}
		if i >= n {
			return tmp[n-1]
		}
		return tmp[i]
	}
	var s float32
	for i := -rad; i <= rad; i++ {
		s += at(i)
	}
	inv := 1 / float32(2*rad+1)
	for i := 0; i < n; i++ {
		v[i*stride] = s * inv
		s += at(i+rad+1) - at(i-rad)
	}
}

type deadRow struct {
	row   int
	value float64 // <0: stuck at dark
}

func pickDeadRows(rng *rand.Rand, h, n int) []deadRow {
	if n > h/4 {
		n = h / 4
	}
	seen := map[int]bool{}
	var out []deadRow
	for len(out) < n {
		r := rng.IntN(h)
		if seen[r] {
			continue
		}
		seen[r] = true
		d := deadRow{row: r, value: -1}
		if rng.IntN(2) == 0 {
			d.value = 0.2 + 0.7*rng.Float64() // fraction of air
		}
		out = append(out, d)
	}
	return out
}

// applyNoise turns a transmission image into detector values.
func applyNoise(img *image.Gray16, t []float32, s *Scene, photons float64, rng *rand.Rand, dead []deadRow) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	span := s.Air - s.Dark
	gain := make([]float64, h)
	for i := range gain {
		gain[i] = 1 + s.RowGainSpread*rng.NormFloat64()
	}
	read2 := s.ReadNoise * s.ReadNoise
	invP := 1 / photons
	pix := img.Pix
	stride := img.Stride
	px := s.PixelMM.X / 1000
	for c := 0; c < w; c++ {
		pulse := 1 + s.PulseJitter*rng.NormFloat64()
		drift := 1 + s.GainDriftPerM*(float64(c)+0.5)*px
		col := t[c*h : (c+1)*h]
		for r := 0; r < h; r++ {
			T := float64(col[r])
			if T < 0 {
				T = 0
			}
			a := span * gain[r] * pulse * drift
			sigma := math.Sqrt(a*a*T*invP + read2)
			v := s.Dark + a*T + sigma*rng.NormFloat64()
			o := r*stride + 2*c
			u := clamp16(v)
			pix[o] = uint8(u >> 8)
			pix[o+1] = uint8(u)
		}
	}
	for _, d := range dead {
		for c := 0; c < w; c++ {
			v := s.Dark
			if d.value >= 0 {
				v = s.Dark + span*d.value
			}
			v += s.ReadNoise * rng.NormFloat64()
			u := clamp16(v)
			o := d.row*stride + 2*c
			pix[o] = uint8(u >> 8)
			pix[o+1] = uint8(u)
		}
	}
}

func clamp16(v float64) uint16 {
	if !(v > 0) {
		return 0
	}
	if v >= 65535 {
		return 65535
	}
	return uint16(v + 0.5)
}
