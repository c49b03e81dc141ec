package vision

import (
	"image"
	"math"
	"math/rand"
	"slices"
	"testing"

	"gocv.io/x/gocv"
)

// The C loops must give every value the Go or the OpenCV call they
// replace gives, to the last bit: these tests hold each against its
// reference on random data of awkward sizes (widths not a multiple of the
// vector width, windows wider than the row, ties, rows of one value).

func randRaw(rng *rand.Rand, w, h int) raw {
	px := make([]uint16, w*h)
	for i := range px {
		px[i] = uint16(rng.Intn(1 << 16))
		if i%7 == 3 {
			px[i] = px[i-1] // ties
		}
	}
	return raw{px: px, w: w, h: h, dark: float32(rng.Intn(300)) + 0.25}
}

// randPlane is randRaw with a plane sized for it: row gains of 1 over
// 30000 to 30000+spread, rows dead where dead says.
func randPlane(rng *rand.Rand, w, h, spread int, dead func(int) bool) (raw, *plane) {
	src := randRaw(rng, w, h)
	p := &plane{}
	p.size(h, w)
	for r := range h {
		p.rowInv[r] = 1 / float32(30000+rng.Intn(spread))
		p.deadRow[r] = dead(r)
	}
	return src, p
}

func TestDetectorRawSumsAsGo(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, sz := range [][2]int{{1, 1}, {3, 9}, {17, 13}, {64, 8}, {501, 37}} {
		src := randRaw(rng, sz[0], sz[1])
		for _, part := range [][4]int{{0, 0, src.w, src.h}, {1, 2, src.w / 2, src.h - 1}} {
			x0, r0, x1, r1 := part[0], part[1], max(part[0], part[2]), max(part[1], part[3])
			cw := min(src.w, 5)
			want, got := make([]float32, cw), make([]float32, cw)
			wantS, wantQ := make([]float64, src.h), make([]float64, src.h)
			gotS, gotQ := make([]float64, src.h), make([]float64, src.h)
			for r := r0; r < r1; r++ {
				var s, q float32
				for c := range src.w {
					v := src.v(r*src.w + c)
					if c < cw {
						want[c] += v
					}
					if c >= x0 && c < x1 {
						s += v
						q += v * v
					}
				}
				wantS[r], wantQ[r] = float64(s), float64(q)
			}
			rawSums(src, r0, r1, got, x0, x1, gotS, gotQ)
			for c := range want {
				if math.Float32bits(want[c]) != math.Float32bits(got[c]) {
					t.Fatalf("%v %v: column %d sum %v, want %v", sz, part, c, got[c], want[c])
				}
			}
			for r := range wantS {
				if wantS[r] != gotS[r] || wantQ[r] != gotQ[r] {
					t.Fatalf("%v %v: row %d sums %v %v, want %v %v", sz, part, r, gotS[r], gotQ[r], wantS[r], wantQ[r])
				}
			}
		}
	}
}

func TestDetectorMediansAsSelectK(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	src := randRaw(rng, 103, 40)
	rowInv := make([]float32, src.h)
	for r := range rowInv {
		rowInv[r] = 1 / (1000 + 500*rng.Float32())
	}
	f := make([]float32, src.w*src.h)
	for i := range f {
		f[i] = float32(rng.NormFloat64())
		if i%5 == 0 {
			f[i] = 0.5 // many equal values
		}
	}
	// Rows alike but for noise and a slow drift, as a container's are,
	// after the rows of random values: the medians' bracket both holds
	// and misses.
	drift := make([]float32, src.w*src.h)
	for i := range drift {
		drift[i] = float32(i/src.w)*0.05 + float32(rng.NormFloat64())
		if i/src.w == 30 {
			drift[i] += 5 // a jump
		}
	}
	for _, data := range [][]float32{drift} {
		cols := rng.Perm(src.w)[:60]
		med := make([]float32, src.h)
		rowMedians(med, data, src.w, 0, src.h, cols, nil)
		for y := range src.h {
			var buf []float32
			for _, x := range cols {
				buf = append(buf, data[y*src.w+x])
			}
			if want := selectK(buf, len(buf)/2); med[y] != want {
				t.Fatalf("drifting rows: row %d median %v, want %v", y, med[y], want)
			}
		}
	}
	for _, n := range []int{1, 2, 3, 12, 24, 33, 40} {
		rows := rng.Perm(src.h)[:n]
		got := make([]float32, src.w)
		columnMedians(got, src, rows, rowInv, nil)
		for c := range src.w {
			var buf []float32
			for _, r := range rows {
				buf = append(buf, src.v(r*src.w+c)*rowInv[r])
			}
			if want := selectK(buf, len(buf)/2); got[c] != want {
				t.Fatalf("%d rows: column %d median %v, want %v", n, c, got[c], want)
			}
		}
		cols := rng.Perm(src.w)[:min(src.w, 7*n)]
		med := make([]float32, src.h)
		rowMedians(med, f, src.w, 3, src.h, cols, nil)
		for y := 3; y < src.h; y++ {
			var buf []float32
			for _, x := range cols {
				buf = append(buf, f[y*src.w+x])
			}
			if want := selectK(buf, len(buf)/2); med[y-3] != want {
				t.Fatalf("%d columns: row %d median %v, want %v", len(cols), y, med[y-3], want)
			}
		}
	}
}

func TestDetectorQuantiles16AsSelectK(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, n := range []int{1, 2, 7, 300, 2161} {
		row := make([]uint16, n)
		for i := range row {
			row[i] = uint16(4096 + rng.Intn(3000))
			if i%3 == 0 {
				row[i] = uint16(rng.Intn(1 << 16))
			}
		}
		for _, step := range []int{1, 4, 9} {
			var buf []float32
			for i := 0; i < n; i += step {
				buf = append(buf, float32(row[i]))
			}
			k1, k2 := int(0.1*float64(len(buf)-1)), int(0.5*float64(len(buf)-1))
			v1, v2 := rowQuantiles16(row, step, k1, k2)
			w1, w2 := selectK(buf, k1), selectK(buf, k2)
			if float32(v1) != w1 || float32(v2) != w2 {
				t.Fatalf("%d values every %d: quantiles %d %d, want %v %v", n, step, v1, v2, w1, w2)
			}
		}
	}
}

func TestDetectorOpeningAsOpenCV(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, sz := range [][3]int{{1, 1, 1}, {5, 3, 4}, {30, 7, 13}, {257, 9, 13}, {1000, 4, 22}, {64, 2, 1}} {
		w, h, r := sz[0], sz[1], sz[2]
		src := gocv.NewMatWithSize(h, w, gocv.MatTypeCV32F)
		f, _ := src.DataPtrFloat32()
		for i := range f {
			f[i] = float32(math.Round(rng.NormFloat64()*8) / 4)
		}
		kernel := gocv.GetStructuringElement(gocv.MorphRect, image.Pt(2*r+1, 1))
		want := gocv.NewMat()
		gocv.MorphologyEx(src, &want, gocv.MorphOpen, kernel)
		got := make([]float32, w*h)
		openRows(got, f, w, h, r, nil)
		wf, _ := want.DataPtrFloat32()
		for i := range wf {
			if math.Float32bits(wf[i]) != math.Float32bits(got[i]) {
				t.Fatalf("%v: pixel (%d, %d) opened to %v, OpenCV %v", sz, i%w, i/w, got[i], wf[i])
			}
		}
		kernel.Close()
		want.Close()
		src.Close()
	}
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		u := math.Float32bits(x)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b
}

func TestDetectorStuckRowsAsGo(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	w, h := 203, 60
	src := randRaw(rng, w, h)
	// Rows of an even level with noise, some stuck away from it.
	for r := range h {
		level := 20000.0
		if r%11 == 5 {
			level = 20000 * (1 + 0.1*rng.Float64())
		}
		for c := range w {
			src.px[r*w+c] = uint16(level * (1 + 0.01*rng.NormFloat64()))
		}
	}
	var p plane
	p.size(h, w)
	for r := range h {
		p.rowInv[r] = 1 / 20000.0
		p.deadRow[r] = r == 30
	}
	for c := range w {
		p.colRef[c] = 1
	}
	u := image.Rect(3, 1, w-2, h-1)
	for _, limit := range []float64{0.02, 0.03, 0.1} {
		got := make([]bool, u.Dy()-2)
		stuckSamples(got, src, &p, u, limit, nil)
		// The Go it replaces.
		sample := func(r int) []float32 {
			var row []float32
			for c := u.Min.X; c < u.Max.X; c += 8 {
				row = append(row, (float32(src.px[r*w+c])-src.dark)*p.rowInv[r]*p.colRef[c])
			}
			return row
		}
		stuck := 0
		for r := u.Min.Y + 1; r < u.Max.Y-1; r++ {
			up, mid, lo := sample(r-1), sample(r), sample(r+1)
			want := false
			if !p.deadRow[r] && !p.deadRow[r-1] && !p.deadRow[r+1] {
				n, within := 0, 0
				for i, v := range mid {
					if diff := up[i] - lo[i]; diff < 0.05 && diff > -0.05 {
						e := v - (up[i]+lo[i])/2
						if e < 0 {
							e = -e
						}
						n++
						if float64(e) <= limit {
							within++
						}
					}
				}
				want = n > u.Dx()/32 && within <= n/2
			}
			if got[r-u.Min.Y-1] != want {
				t.Fatalf("limit %v: row %d stuck %v, want %v", limit, r, got[r-u.Min.Y-1], want)
			}
			if want {
				stuck++
			}
		}
		if limit == 0.02 && stuck == 0 {
			t.Fatal("no stuck row found: the test data test nothing")
		}
	}
}

// TestDetectorAttenuation holds attRows to the attenuation computed in
// double precision from the same transmission (the raw value less dark,
// times the row's and the column's reciprocal gains, at least the floor):
// at most one fixed-point step off, and exact but for the few values that
// lie within float rounding of a step; dead rows and pixels outside the
// part are left alone. The 8- and 16-lane paths (FMA) give the same bits,
// the 4-lane one (SSE2) the same but for a rare step; in place or into
// another plane, the same bits.
func TestDetectorAttenuation(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	w, h := 131, 40
	src, p := randPlane(rng, w, h, 20000, func(r int) bool { return r == 4 })
	for c := range w {
		p.colRef[c] = 1 + 0.05*float32(rng.NormFloat64())
	}
	// Transmissions over the whole range: air, cargo, opaque, below dark.
	for i := range src.px {
		switch rng.Intn(4) {
		case 0:
			src.px[i] = uint16(rng.Intn(65536))
		case 1:
			src.px[i] = uint16(float64(src.dark) + 20000*math.Exp(-rng.Float64()*9))
		}
	}
	floor := float32(0.003)
	u := image.Rect(5, 1, w-3, h)
	run := func(lanes int, inPlace bool) []uint16 {
		defer setAttWide(setAttWide(lanes))
		out := make([]uint16, w*h)
		for i := range out {
			out[i] = 7
		}
		s := src
		if inPlace {
			s.px = slices.Clone(src.px)
			out = s.px
		}
		attRows(out, w, image.Point{}, s, p, u.Min.X, u.Max.X, u.Min.Y, u.Max.Y, floor)
		return out
	}
	narrow := run(4, false)
	off := 0
	for r := range h {
		for c := range w {
			got := narrow[r*w+c]
			if r < u.Min.Y || c < u.Min.X || c >= u.Max.X || p.deadRow[r] {
				if got != 7 {
					t.Fatalf("pixel (%d, %d) outside the part or in a dead row written: %d", c, r, got)
				}
				continue
			}
			tr := max((float32(src.px[r*w+c])-src.dark)*p.rowInv[r]*p.colRef[c], floor)
			want := attFix(-math.Log(float64(tr)))
			switch d := int(got) - int(want); {
			case d < -1 || d > 1:
				t.Fatalf("pixel (%d, %d), transmission %v: %d, want %d", c, r, tr, got, want)
			case d != 0:
				off++
			}
		}
	}
	if n := u.Dx() * u.Dy(); off > n/200 {
		t.Errorf("%d of %d pixels a step off the exact attenuation: the logarithm is not accurate", off, n)
	}
	most := attWide()
	t.Logf("the processor computes %d lanes at once", most)
	if most >= 8 {
		wide, differ := run(8, false), 0
		for i := range wide {
			if d := int(wide[i]) - int(narrow[i]); d != 0 {
				if d < -1 || d > 1 {
					t.Fatalf("pixel %d: 8 lanes %d, 4 lanes %d", i, wide[i], narrow[i])
				}
				differ++
			}
		}
		if differ > len(wide)/1000 {
			t.Errorf("8 and 4 lanes differ in %d of %d pixels", differ, len(wide))
		}
		if most >= 16 && !slices.Equal(run(16, false), wide) {
			t.Error("16 and 8 lanes differ")
		}
	}
	inPlace := run(attWide(), true)
	for r := u.Min.Y; r < u.Max.Y; r++ {
		if !p.deadRow[r] && !slices.Equal(inPlace[r*w+u.Min.X:r*w+u.Max.X], narrow[r*w+u.Min.X:r*w+u.Max.X]) {
			t.Fatalf("row %d: in place, the attenuation differs", r)
		}
	}
}

// TestAttLn holds the logarithm of attRows to math.Log: within a few
// float roundings over every transmission a plane can hold, at the
// binades' and the √2 switch's edges too.
func TestAttLn(t *testing.T) {
	var x []float32
	for v := float32(1e-7); v < 8; v *= 1.0013 {
		x = append(x, v)
	}
	for e := -24; e <= 3; e++ {
		for _, m := range []float64{1, math.Sqrt2} {
			v := float32(math.Ldexp(m, e))
			x = append(x, math.Nextafter32(v, 0), v, math.Nextafter32(v, 10))
		}
	}
	got := make([]float32, len(x))
	attLn(got, x)
	for i, v := range x {
		want := math.Log(float64(v))
		if e := math.Abs(float64(got[i]) - want); e > 2.5e-7+1.2e-7*math.Abs(want) {
			t.Fatalf("ln %v = %v, want %v (error %.2g)", v, got[i], want, e)
		}
	}
}

// TestDetectorAirRowsAsGo holds airLevels and airPass to the Go loops of
// airRows they replace.
func TestDetectorAirRowsAsGo(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	w, h := 77, 41
	src, p := randPlane(rng, w, h, 30000, func(r int) bool { return r%13 == 4 })
	for r := range h {
		for c := range w {
			if r < 20 && rng.Intn(50) != 0 { // mostly air above
				src.px[r*w+c] = uint16(50000 + rng.Intn(3000))
			}
		}
	}
	ref, n := make([]float32, w), make([]int32, w)
	airLevels(src, p, ref, n)
	wantRef, wantN := make([]float32, w), make([]int32, w)
	for r := 0; r < h; r += 4 {
		if !p.deadRow[r] {
			g := p.rowInv[r]
			for c, v := range src.px[r*w : (r+1)*w] {
				if x := (float32(v) - src.dark) * g; x >= 0.6 {
					wantRef[c] += x
					wantN[c]++
				}
			}
		}
	}
	for c := range w {
		if math.Float32bits(ref[c]) != math.Float32bits(wantRef[c]) || n[c] != wantN[c] {
			t.Fatalf("column %d: level %v of %d, want %v of %d", c, ref[c], n[c], wantRef[c], wantN[c])
		}
		ref[c] *= 0.85 / float32(max(1, n[c]))
	}
	pass := make([]bool, h)
	airPass(pass, src, p, ref)
	some := false
	for r := range h {
		ok := !p.deadRow[r]
		for c, v := range src.px[r*w : (r+1)*w] {
			if ok && (float32(v)-src.dark)*p.rowInv[r] < ref[c] {
				ok = false
			}
		}
		if pass[r] != ok {
			t.Fatalf("row %d: air %v, want %v", r, pass[r], ok)
		}
		some = some || ok
	}
	if !some {
		t.Fatal("no air row: the test data test nothing")
	}
}

// TestDetectorSubtractRowsAsGo holds subtractRows and colQ10 to the Go
// loops they replace.
func TestDetectorSubtractRowsAsGo(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, sz := range [][2]int{{1, 1}, {3, 5}, {37, 11}, {260, 9}} {
		w, h := sz[0], sz[1]
		m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV32F)
		f, _ := m.DataPtrFloat32()
		want := make([]float32, w*h)
		for i := range f {
			f[i] = float32(rng.NormFloat64() * 30)
		}
		copy(want, f)
		base := make([]float64, h)
		var wantSum float64
		for y := range h {
			base[y] = rng.NormFloat64() * 10
			var rs float32
			for x := range w {
				want[y*w+x] -= float32(base[y])
				rs += want[y*w+x]
			}
			wantSum += float64(rs)
		}
		if got := subtractRows(&m, base); got != wantSum {
			t.Fatalf("%v: sum %v, want %v", sz, got, wantSum)
		}
		for i := range f {
			if math.Float32bits(f[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: pixel %d = %v, want %v", sz, i, f[i], want[i])
			}
		}
		for x := range w {
			for _, ys := range [][2]int{{0, h}, {1, h}, {h / 2, h}} {
				var buf []float32
				for y := ys[0]; y < ys[1]; y += 2 {
					buf = append(buf, f[y*w+x])
				}
				if len(buf) == 0 {
					continue
				}
				if got, want := colQ10(f, w, x, ys[0], ys[1], make([]float32, len(buf))), float64(selectK(buf, len(buf)/10)); got != want {
					t.Fatalf("%v: column %d rows %v: q10 %v, want %v", sz, x, ys, got, want)
				}
			}
		}
		m.Close()
	}
}

// TestCountBelowAsGo holds countBelow to the Go loop it replaces.
func TestCountBelowAsGo(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	w, h := 37, 29
	f := make([]float32, w*h)
	for i := range f {
		f[i] = float32(rng.NormFloat64())
	}
	for _, step := range []int{1, 3, 7} {
		got, want := make([]int32, w), make([]int32, w)
		n := countBelow(got, f, w, 2, h-1, step, 0.3)
		wantN := 0
		for y := 2; y < h-1; y += step {
			wantN++
			for x := range w {
				if f[y*w+x] < 0.3 {
					want[x]++
				}
			}
		}
		if n != wantN || !slices.Equal(got, want) {
			t.Fatalf("step %d: %d rows %v, want %d rows %v", step, n, got, wantN, want)
		}
	}
}

// TestMassRowsAsGo holds massRows to the Go loop it replaces: every mass
// to the bit, and the walls' sums, in double one pixel after the other,
// to the bit too (they are exact, so their order does not matter), with
// and without a low-energy plane, and for a lower bound at zero (the
// sums then taken in order).
func TestMassRowsAsGo(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	w, h, stride := 203, 41, 211
	tab := make([]float32, 1<<16)
	for v := range tab {
		tab[v] = float32(attOf(uint16(v))) * 31.7
	}
	a, al := make([]uint16, h*stride), make([]uint16, h*stride)
	for i := range a {
		a[i] = attFix(rng.Float64() * 0.3)
		al[i] = attFix(rng.Float64() * 0.45)
	}
	for _, lo := range []float64{2.1, 0} {
		for _, low := range [][]uint16{nil, al} {
			m := make([]float32, w*h)
			var sums [3]float64
			n := massRows(a, stride, low, stride, tab, m, w, h, 5, h-4, lo, 7.9, &sums, make([]int32, w+3))
			var want [3]float64
			wantN := 0
			for y := range h {
				for x := range w {
					v := tab[a[y*stride+x]]
					if m[y*w+x] != v {
						t.Fatalf("mass (%d, %d) %v, want %v", x, y, m[y*w+x], v)
					}
					if y < 5 || y >= h-4 || !(float64(v) > lo && float64(v) < 7.9) {
						continue
					}
					wantN++
					want[0] += float64(v)
					if low != nil {
						want[1] += float64((float32(a[y*stride+x]) - attZero) * (1.0 / attScale))
						want[2] += float64((float32(low[y*stride+x]) - attZero) * (1.0 / attScale))
					}
				}
			}
			if n != wantN || sums != want {
				t.Fatalf("lo %v, low %v: %d pixels, sums %v; want %d, %v", lo, low != nil, n, sums, wantN, want)
			}
			if n < w*h/4 {
				t.Fatalf("only %d pixels counted: the test tests little", n)
			}
		}
	}
}
