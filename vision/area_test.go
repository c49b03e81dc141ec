package vision

import (
	"fmt"
	"image"
	"math"
	"math/rand"
	"testing"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/config"
)

// TestDetectorCellsAsOpenCV checks that the cell grids are averaged to the
// last bit as gocv.Resize with InterpolationArea averages them, over image
// and grid sizes of every kind (cells of a fraction of pixels, whole
// numbers of pixels, one axis whole), for float images and for the opaque
// mask of a 16-bit plane.
func TestDetectorCellsAsOpenCV(t *testing.T) {
	for _, rows := range []int{8, 4} {
		t.Run(fmt.Sprintf("%d rows", rows), func(t *testing.T) {
			defer areaRows(areaRows(rows))
			cellsAsOpenCV(t)
		})
	}
}

func cellsAsOpenCV(t *testing.T) {
	cfg := config.Default()
	d := New(cfg.Detector, cfg.Containers)
	defer d.Close()
	rng := rand.New(rand.NewSource(7))
	sizes := [][4]int{{1872, 479, 290, 72}, {1872, 479, 312, 74}, {9, 8, 2, 2}, {600, 300, 100, 50}, {600, 300, 100, 61},
		{601, 300, 100, 50}, {37, 911, 5, 130}, {1000, 1000, 999, 3}, {16, 16, 16, 16}, {40, 40, 80, 20}}
	for range 12 {
		w, h := 8+rng.Intn(2000), 8+rng.Intn(600)
		sizes = append(sizes, [4]int{w, h, max(2, int(float64(w)/(2+8*rng.Float64()))), max(2, int(float64(h)/(2+8*rng.Float64())))})
	}
	for _, s := range sizes {
		w, h, sz := s[0], s[1], image.Pt(s[2], s[3])
		src := gocv.NewMatWithSize(h, w, gocv.MatTypeCV32F)
		f, _ := src.DataPtrFloat32()
		for i := range f {
			f[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.Intn(5)-2)))
		}
		want, got := gocv.NewMat(), gocv.NewMat()
		gocv.Resize(src, &want, sz, 0, 0, gocv.InterpolationArea)
		d.resizeArea(src, &got, sz)
		sameBits(t, "float cells", s, want, got)

		// A plane with opaque pixels scattered, in blocks, and rows
		// without any; taken in part r.
		a := gocv.NewMatWithSize(h+3, w+5, gocv.MatTypeCV16U)
		px, _ := a.DataPtrUint16()
		thr := uint16(30000 + rng.Intn(20000))
		for i := range px {
			px[i] = uint16(rng.Intn(int(thr)))
			if rng.Intn(9) == 0 || (i/(w+5))%17 < 3 && (i%(w+5))%50 < 20 {
				px[i] = thr + uint16(rng.Intn(int(math.MaxUint16-thr)+1))
			}
		}
		for r := 0; r < h+3; r += 5 {
			clear(px[r*(w+5) : (r+1)*(w+5)])
		}
		r := image.Rect(2, 1, 2+w, 1+h)
		opaque := float64(attOf(thr)) + 0.3/attScale
		wantO, gotO := gocv.NewMat(), gocv.NewMat()
		d.opaqueCellsCV(a, r, attFix(opaque), sz, &wantO)
		d.opaqueCells(a, r, opaque, sz, &gotO)
		sameBits(t, "opaque cells", s, wantO, gotO)
		for _, m := range []*gocv.Mat{&src, &want, &got, &a, &wantO, &gotO} {
			m.Close()
		}
	}
}

func sameBits(t *testing.T, what string, s [4]int, want, got gocv.Mat) {
	t.Helper()
	if want.Rows() != got.Rows() || want.Cols() != got.Cols() || want.Type() != got.Type() {
		t.Fatalf("%s %v: %dx%d type %v, want %dx%d type %v", what, s, got.Cols(), got.Rows(), got.Type(), want.Cols(), want.Rows(), want.Type())
	}
	wf, _ := want.DataPtrFloat32()
	gf, _ := got.DataPtrFloat32()
	for i := range wf {
		if math.Float32bits(wf[i]) != math.Float32bits(gf[i]) {
			t.Fatalf("%s %v: cell (%d, %d) = %v, OpenCV %v", what, s, i%want.Cols(), i/want.Cols(), gf[i], wf[i])
		}
	}
}
