package vision

/*
#cgo CFLAGS: -O3
#include "area.h"
*/
import "C"

import (
	"image"
	"math"
	"unsafe"

	"gocv.io/x/gocv"
)

// The cell grids are averaged from the full-resolution images exactly as
// gocv.Resize with InterpolationArea averages them when a cell is not a
// whole number of pixels (the usual case): OpenCV's weights (each pixel's
// share of the cell, computed in double and kept as float), its float
// sums in its order, its rounding. Doing it here is a pass over the pixels
// with no intermediate image: the opaque mask is never made, only counted
// into its cells. Any other case (a whole number of pixels a cell, a grid
// finer than the image) is left to gocv.Resize itself.

// areaTaps are the taps of one axis: cell i averages the pixels src[k],
// weighted alpha[k], for k in [start[i], start[i+1]).
type areaTaps struct {
	start, src []int32
	alpha      []float32
}

// build computes the taps of ssize pixels into dsize cells, scale pixels
// a cell, as OpenCV computes them (the explicit float64 conversions keep
// every operation rounded on its own, as in C).
func (t *areaTaps) build(ssize, dsize int, scale float64) {
	t.start, t.src, t.alpha = t.start[:0], t.src[:0], t.alpha[:0]
	add := func(sx int, a float32) {
		t.src = append(t.src, int32(sx))
		t.alpha = append(t.alpha, a)
	}
	for dx := range dsize {
		t.start = append(t.start, int32(len(t.src)))
		fsx1 := float64(float64(dx) * scale)
		fsx2 := float64(fsx1 + scale)
		cell := min(scale, float64(float64(ssize)-fsx1))
		sx1, sx2 := int(math.Ceil(fsx1)), int(math.Floor(fsx2))
		sx2 = min(sx2, ssize-1)
		sx1 = min(sx1, sx2)
		if float64(float64(sx1)-fsx1) > 1e-3 {
			add(sx1-1, float32((float64(sx1)-fsx1)/cell))
		}
		for sx := sx1; sx < sx2; sx++ {
			add(sx, float32(1.0/cell))
		}
		if float64(fsx2-float64(sx2)) > 1e-3 {
			add(sx2, float32(min(min(float64(fsx2-float64(sx2)), 1), cell)/cell))
		}
	}
	t.start = append(t.start, int32(len(t.src)))
}

// areaGrid is the averaging of one image size into one grid size, kept
// while the sizes stay.
type areaGrid struct {
	from, to image.Point
	ok       bool // OpenCV takes the general path: the taps apply
	x, y     areaTaps
	scratch  []float32
}

// set prepares the averaging of from pixels into to cells and reports
// whether it is the general path the taps reproduce.
func (g *areaGrid) set(from, to image.Point) bool {
	if from == g.from && to == g.to && g.x.start != nil {
		return g.ok
	}
	g.from, g.to = from, to
	// OpenCV's own test, in its arithmetic: the scale is the reciprocal
	// of the cells a pixel, and a whole-number scale on both axes takes
	// its integer path.
	sx := 1 / (float64(to.X) / float64(from.X))
	sy := 1 / (float64(to.Y) / float64(from.Y))
	whole := math.Abs(sx-math.RoundToEven(sx)) < 0x1p-52 && math.Abs(sy-math.RoundToEven(sy)) < 0x1p-52
	g.ok = from != to && sx >= 1 && sy >= 1 && !whole && to.X > 0 && to.Y > 0
	g.x.build(from.X, to.X, sx)
	g.y.build(from.Y, to.Y, sy)
	g.scratch = grow32(g.scratch, 8*(from.X+to.X)+to.X)
	return g.ok
}

func (t *areaTaps) c() (*C.int32_t, *C.int32_t, *C.float) {
	return (*C.int32_t)(unsafe.Pointer(&t.start[0])), (*C.int32_t)(unsafe.Pointer(&t.src[0])), (*C.float)(unsafe.Pointer(&t.alpha[0]))
}

// areaRows sets how many rows the averaging sums side by side (8 where
// the processor has AVX2, else 4) and returns what it was.
func areaRows(rows int) int { return int(C.area_rows(C.int(rows))) }

// scratch makes *dst an h×w Mat of type t, keeping it when it is one. A
// new one is not cleared: it is for images written whole before they are
// read (clearing a container's float image costs a pass over it).
func scratch(dst *gocv.Mat, h, w int, t gocv.MatType) {
	if dst.Rows() != h || dst.Cols() != w || dst.Type() != t {
		dst.Close()
		*dst = gocv.NewMatWithSizes([]int{h, w}, t)
	}
}

// cellMat makes *dst a CV_32F Mat of sz, keeping it when it is one.
func cellMat(dst *gocv.Mat, sz image.Point) {
	if dst.Rows() != sz.Y || dst.Cols() != sz.X || dst.Type() != gocv.MatTypeCV32F {
		dst.Close()
		*dst = gocv.NewMatWithSize(sz.Y, sz.X, gocv.MatTypeCV32F)
	}
}

// resizeArea sets dst to src (continuous CV_32F) averaged into sz cells:
// the values gocv.Resize with InterpolationArea gives.
func (d *Detector) resizeArea(src gocv.Mat, dst *gocv.Mat, sz image.Point) {
	g := &d.area
	if !src.IsContinuous() || src.Type() != gocv.MatTypeCV32F || !g.set(image.Pt(src.Cols(), src.Rows()), sz) {
		gocv.Resize(src, dst, sz, 0, 0, gocv.InterpolationArea)
		return
	}
	cellMat(dst, sz)
	s, _ := src.DataPtrFloat32()
	o, _ := dst.DataPtrFloat32()
	xs, xi, xa := g.x.c()
	ys, yi, ya := g.y.c()
	C.area_f32((*C.float)(unsafe.Pointer(&s[0])), C.long(src.Cols()), C.long(src.Cols()), C.long(src.Rows()),
		(*C.float)(unsafe.Pointer(&o[0])), C.long(sz.X), C.long(sz.X), C.long(sz.Y), xs, xi, xa, ys, yi, ya,
		(*C.float)(unsafe.Pointer(&g.scratch[0])))
}

// opaqueCells sets dst (CV_32F, size sz) to the fraction of each cell of
// the part r (in a's own coordinates) of the fixed-point attenuation plane
// a that the beam did not get through (attenuation from opaque up). It is
// what a 0/65535 mask averaged into the cells in 16 bits, to 1/65535,
// gives: a single opaque pixel still shows in its cell (materials skips
// such cells). The mask itself is never made: each pixel is compared as
// the cells are summed.
func (d *Detector) opaqueCells(a gocv.Mat, r image.Rectangle, opaque float64, sz image.Point, dst *gocv.Mat) {
	thr := attFix(opaque)
	g := &d.area
	if !a.IsContinuous() || !g.set(r.Size(), sz) {
		d.opaqueCellsCV(a, r, thr, sz, dst)
		return
	}
	cellMat(dst, sz)
	px, _ := a.DataPtrUint16()
	stride := a.Cols()
	o, _ := dst.DataPtrFloat32()
	xs, xi, xa := g.x.c()
	ys, yi, ya := g.y.c()
	if r.Empty() || (r.Max.Y-1)*stride+r.Max.X > len(px) {
		panic("opaqueCells: the part is outside the plane")
	}
	C.area_opaque((*C.uint16_t)(unsafe.Pointer(&px[r.Min.Y*stride+r.Min.X])), C.long(stride), C.long(r.Dx()), C.long(r.Dy()),
		C.uint16_t(thr), C.float(float32(1.0/65535)), (*C.float)(unsafe.Pointer(&o[0])), C.long(sz.X), C.long(sz.X), C.long(sz.Y),
		xs, xi, xa, ys, yi, ya, (*C.float)(unsafe.Pointer(&g.scratch[0])))
}

// opaqueCellsCV is opaqueCells through OpenCV: the mask, in 16 bits in
// d.cm's place (the cargo is in its cells by then), averaged by
// gocv.Resize.
func (d *Detector) opaqueCellsCV(a gocv.Mat, r image.Rectangle, thr uint16, sz image.Point, dst *gocv.Mat) {
	roi := a.Region(r)
	defer roi.Close()
	gocv.InRangeWithScalar(roi, gocv.NewScalar(float64(thr), 0, 0, 0), gocv.NewScalar(math.MaxUint16, 0, 0, 0), &d.mask)
	d.mask.ConvertToWithParams(&d.cm, gocv.MatTypeCV16U, 257, 0)
	gocv.Resize(d.cm, &d.tmp, sz, 0, 0, gocv.InterpolationArea)
	d.tmp.ConvertToWithParams(dst, gocv.MatTypeCV32F, 1.0/65535, 0)
}
