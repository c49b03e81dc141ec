package vision

/*
#cgo CFLAGS: -O3
#include "att.h"
*/
import "C"

import (
	"image"
	"unsafe"
)

// attRows writes the fixed-point attenuation of the columns [x0, x1) of
// rows [y0, y1) of src into out (rows stride apart, its element 0 at the
// image's pixel at), skipping dead rows (see att_rows). out may be src's
// own pixels.
func attRows(out []uint16, stride int, at image.Point, src raw, p *plane, x0, x1, y0, y1 int, floor float32) {
	n := x1 - x0
	if n <= 0 || y1 <= y0 {
		return
	}
	if x0 < 0 || x1 > src.w || y0 < 0 || y1 > src.h || x0 < at.X || y0 < at.Y ||
		(y1-1-at.Y)*stride+x1-at.X > len(out) || x1-at.X > stride || len(p.colRef) < x1 || len(p.rowInv) < y1 || len(p.deadRow) < y1 {
		panic("attRows: rows or columns outside the image or the plane")
	}
	C.att_rows((*C.uint16_t)(unsafe.Pointer(&out[(y0-at.Y)*stride+x0-at.X])), C.long(stride),
		(*C.uint16_t)(unsafe.Pointer(&src.px[y0*src.w+x0])), C.long(src.w), C.long(n), 0, C.long(y1-y0),
		(*C.float)(unsafe.Pointer(&p.colRef[x0])), (*C.float)(unsafe.Pointer(&p.rowInv[y0])), (*C.uint8_t)(unsafe.Pointer(&p.deadRow[y0])),
		C.float(src.dark), C.float(floor), C.float(-attScale), C.float(attZero))
}

// attLn is the natural logarithm attRows takes, of positive normal x.
func attLn(out, x []float32) {
	if len(out) < len(x) {
		panic("attLn: out shorter than x")
	}
	if len(x) > 0 {
		C.att_ln((*C.float)(unsafe.Pointer(&out[0])), (*C.float)(unsafe.Pointer(&x[0])), C.long(len(x)))
	}
}

// attWide is how many pixels attRows computes at once (16, 8 or 4, as
// the processor allows); setAttWide sets it to at most lanes and returns
// what it was.
func attWide() int { return int(C.att_wide()) }

func setAttWide(lanes int) (was int) {
	was = attWide()
	C.att_set_wide(C.int(lanes))
	return was
}
