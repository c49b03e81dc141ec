package vision

import (
	"image"
	"math/rand"
	"slices"
	"testing"

	"gocv.io/x/gocv"
)

// TestPendingAsWhole holds the pending plane to the plane converted at
// once: whatever parts are asked for, in whatever order, overlapping or
// not, each pixel asked for is the one attenuate writes, dead rows filled
// from their good neighbours alike, and what is not asked for is still
// raw.
func TestPendingAsWhole(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	w, h := 97, 61
	dead := func(r int) bool { return r == 0 || r == 7 || r == 8 || r == 30 || r == h-1 }
	src, p := randPlane(rng, w, h, 20000, dead)
	for c := range w {
		p.colRef[c] = 1 + 0.05*float32(rng.NormFloat64())
	}
	for r := range h {
		if p.deadRow[r] {
			p.dead++
		}
	}
	all := image.Rect(0, 0, w, h)

	whole := Detector{a: gocv.NewMat()}
	defer whole.a.Close()
	whole.attenuate(src, p, all, &whole.a, all)
	want, _ := whole.a.DataPtrUint16()

	for trial := range 20 {
		d := Detector{}
		m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV16U, uint16Bytes(src.px))
		if err != nil {
			t.Fatal(err)
		}
		d.a = m.Clone()
		m.Close()
		px, _ := d.a.DataPtrUint16()
		own := raw{px: px, w: w, h: h, dark: src.dark}
		d.pending.start(own, p)
		asked := make([]bool, w*h)
		for range 1 + rng.Intn(6) {
			x0, y0 := rng.Intn(w), rng.Intn(h)
			r := image.Rect(x0, y0, x0+1+rng.Intn(w), y0+1+rng.Intn(h/2))
			d.attNeed(r)
			r = r.Intersect(all)
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					asked[y*w+x] = true
				}
			}
		}
		for i, v := range px {
			switch {
			case asked[i] && v != want[i]:
				t.Fatalf("trial %d: pixel (%d, %d) asked for: %d, converted at once %d", trial, i%w, i/w, v, want[i])
			case !asked[i] && !dead(i/w) && v != src.px[i] && !d.pendingConverted(i%w, i/w):
				t.Fatalf("trial %d: pixel (%d, %d) changed though not asked for", trial, i%w, i/w)
			}
		}
		d.attNeedAll()
		if !slices.Equal(px, want) {
			t.Fatalf("trial %d: the whole pending plane differs from the plane converted at once", trial)
		}
		d.a.Close()
	}
}

// pendingConverted says whether the pending plane converted pixel (x, y)
// while widening a row's interval (the columns between two requests).
func (d *Detector) pendingConverted(x, y int) bool {
	s := d.pending.done[y]
	return x >= s.a && x < s.b
}

func uint16Bytes(v []uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		b[2*i], b[2*i+1] = byte(x), byte(x>>8)
	}
	return b
}
