package vision

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include "rows.h"
*/
import "C"

import (
	"image"
	"unsafe"

	"gocv.io/x/gocv"
)

// rawSums adds the raw values less dark of rows [r0, r1) of src: colSum[c]
// += each row's value in turn, for every c of colSum, and the sum and the
// sum of squares of each row r over columns [x0, x1), in float32 from the
// first column to the last, into rowSum[r] and rowSum2[r] (both as long as
// the image is high). The additions and their order are those of a loop
// over each row.
func rawSums(src raw, r0, r1 int, colSum []float32, x0, x1 int, rowSum, rowSum2 []float64) {
	if r1 <= r0 {
		return
	}
	x1 = max(x0, x1)
	_, _, _ = src.px[r1*src.w-1], rowSum[r1-1], rowSum2[r1-1]
	if x0 < 0 || x1 > src.w || len(colSum) > src.w {
		panic("rawSums: columns outside the image")
	}
	var cs *C.float
	if len(colSum) > 0 {
		cs = (*C.float)(unsafe.Pointer(&colSum[0]))
	}
	C.raw_sums((*C.uint16_t)(unsafe.Pointer(&src.px[0])), C.long(src.w), C.long(r0), C.long(r1), C.float(src.dark),
		cs, C.long(len(colSum)), C.long(x0), C.long(x1),
		(*C.double)(unsafe.Pointer(&rowSum[0])), (*C.double)(unsafe.Pointer(&rowSum2[0])))
}

// stuckSamples marks in stuck[r-u.Min.Y-1] each row r strictly inside u
// that stuckRows finds stuck (see the C), from every eighth raw value of
// u's rows. ring is scratch, grown to four rows of samples.
func stuckSamples(stuck []bool, src raw, p *plane, u image.Rectangle, limit float64, ring []float32) []float32 {
	ns := (u.Dx() + 7) / 8
	ring = grow32(ring, 4*ns)
	if len(stuck) != u.Dy()-2 || u.Max.Y > src.h || u.Max.X > src.w || u.Min.X < 0 || u.Min.Y < 0 || u.Dx() <= 0 {
		panic("stuckSamples: rows or columns outside the image")
	}
	_, _, _ = p.rowInv[u.Max.Y-1], p.deadRow[u.Max.Y-1], p.colRef[u.Max.X-1]
	C.stuck_rows((*C.uint8_t)(unsafe.Pointer(&stuck[0])), (*C.uint16_t)(unsafe.Pointer(&src.px[0])), C.long(src.w),
		C.long(u.Min.X), C.long(u.Max.X), C.long(u.Min.Y), C.long(u.Max.Y),
		(*C.float)(unsafe.Pointer(&p.rowInv[0])), (*C.float)(unsafe.Pointer(&p.colRef[0])),
		(*C.uint8_t)(unsafe.Pointer(&p.deadRow[0])), C.float(src.dark), C.double(limit), (*C.float)(unsafe.Pointer(&ring[0])))
	return ring
}

// columnMedians sets out[c] to the median, the (len(rows)/2)-th smallest,
// of src.v(r*w+c)*rowInv[r] over rows, for every column c; scratch is
// grown to 4·len(rows) floats and returned.
func columnMedians(out []float32, src raw, rows []int, rowInv []float32, scratch []float32) []float32 {
	scratch = grow32(scratch, 4*len(rows))
	if len(out) != src.w || len(rows) == 0 {
		panic("columnMedians: one median a column, of at least one row")
	}
	for _, r := range rows {
		if r < 0 || r >= src.h || r >= len(rowInv) {
			panic("columnMedians: a row outside the image")
		}
	}
	C.column_medians((*C.float)(unsafe.Pointer(&out[0])), (*C.uint16_t)(unsafe.Pointer(&src.px[0])), C.long(src.w),
		(*C.long)(unsafe.Pointer(&rows[0])), C.long(len(rows)), (*C.float)(unsafe.Pointer(&rowInv[0])), C.float(src.dark),
		(*C.float)(unsafe.Pointer(&scratch[0])))
	return scratch
}

// massRows sets m (w×h) to tab[v] for each value v of the w×h pixels of
// the plane a (rows stride apart) and adds up, over rows [top, bottom),
// the pixels whose mass lies strictly between lo and hi, in order: their
// mass into sums[0] and, when al (the low-energy plane at the same pixels,
// rows strideLo apart) is given, the two planes' attenuations into sums[1]
// and sums[2]. It returns how many pixels were added. idx is scratch for
// w+3 indices.
func massRows(a []uint16, stride int, al []uint16, strideLo int, tab, m []float32, w, h, top, bottom int, lo, hi float64, sums *[3]float64, idx []int32) int {
	if w <= 0 || h <= 0 {
		return 0
	}
	_, _, _, _ = a[(h-1)*stride+w-1], m[h*w-1], idx[w+2], tab[1<<16-1]
	var pl *C.uint16_t
	if al != nil {
		_ = al[(h-1)*strideLo+w-1]
		pl = (*C.uint16_t)(unsafe.Pointer(&al[0]))
	}
	n := C.mass_rows((*C.uint16_t)(unsafe.Pointer(&a[0])), C.long(stride), pl, C.long(strideLo), (*C.float)(unsafe.Pointer(&tab[0])),
		(*C.float)(unsafe.Pointer(&m[0])), C.long(w), C.long(h), C.long(top), C.long(bottom), C.double(lo), C.double(hi),
		C.float(attZero), C.float(1.0/attScale), (*C.double)(unsafe.Pointer(&sums[0])), (*C.int32_t)(unsafe.Pointer(&idx[0])))
	return int(n)
}

// rowMedians sets out[y-y0], for each row y of [y0, y1) of f (rows w
// apart), to the (len(cols)/2)-th smallest of f[y*w+x] over the columns
// cols: the value selectK finds. scratch is grown and returned.
func rowMedians(out, f []float32, w, y0, y1 int, cols []int, scratch []float32) []float32 {
	scratch = grow32(scratch, 2*len(cols))
	if y1 <= y0 {
		return scratch
	}
	if len(cols) == 0 || len(out) < y1-y0 || y0 < 0 || y1*w > len(f) {
		panic("rowMedians: rows outside the image or no columns")
	}
	for _, x := range cols {
		if x < 0 || x >= w {
			panic("rowMedians: a column outside the image")
		}
	}
	C.row_medians((*C.float)(unsafe.Pointer(&out[0])), (*C.float)(unsafe.Pointer(&f[0])), C.long(w), C.long(y0), C.long(y1),
		(*C.long)(unsafe.Pointer(&cols[0])), C.long(len(cols)), (*C.float)(unsafe.Pointer(&scratch[0])))
	return scratch
}

// openRows sets dst to the opening of each row of src (w×h) by a
// horizontal window of 2r+1 pixels, what lies outside the row ignored: the
// values OpenCV's MorphologyEx gives with a (2r+1)×1 rectangle (minima and
// maxima are exact); dst may be src. scratch is grown and returned.
func openRows(dst, src []float32, w, h, r int, scratch []float32) []float32 {
	scratch = grow32(scratch, 3*(w+2*r))
	if w <= 0 || h <= 0 {
		return scratch
	}
	_, _ = dst[w*h-1], src[w*h-1]
	C.open_rows((*C.float)(unsafe.Pointer(&dst[0])), (*C.float)(unsafe.Pointer(&src[0])), C.long(w), C.long(h), C.long(r),
		(*C.float)(unsafe.Pointer(&scratch[0])))
	return scratch
}

// subtractRows subtracts base[y] from each row y of m and returns the sum
// of the result (each row summed in float32, the rows in float64, in
// order; in C, four rows side by side).
func subtractRows(m *gocv.Mat, base []float64) float64 {
	f, _ := m.DataPtrFloat32()
	return subtractRowsOf(f, m.Cols(), m.Rows(), base)
}

// subtractRowsOf is subtractRows on the h rows of f, w floats each.
func subtractRowsOf(f []float32, w, h int, base []float64) float64 {
	if w*h == 0 {
		return 0
	}
	_, _ = f[w*h-1], base[h-1]
	return float64(C.subtract_rows((*C.float)(unsafe.Pointer(&f[0])), C.long(w), C.long(h), (*C.double)(unsafe.Pointer(&base[0]))))
}

// countBelow adds one to below[x] for each of the rows [y0, y1) of f (w
// floats each), every step-th, whose value in column x is under lim, and
// returns how many rows it looked at.
func countBelow(below []int32, f []float32, w, y0, y1, step int, lim float32) int {
	if y1 <= y0 || w == 0 {
		return 0
	}
	_, _ = below[w-1], f[(y1-1)*w+w-1]
	return int(C.count_below((*C.int32_t)(unsafe.Pointer(&below[0])), (*C.float)(unsafe.Pointer(&f[0])), C.long(w),
		C.long(y0), C.long(y1), C.long(step), C.float(lim)))
}

// airLevels adds up, over every fourth live row, each column's
// gain-corrected values (src.v·rowInv) of 0.6 and more into ref[c] and
// counts them in n[c], row after row (see airRows).
func airLevels(src raw, p *plane, ref []float32, n []int32) {
	if src.w == 0 || src.h == 0 {
		return
	}
	_, _, _, _ = ref[src.w-1], n[src.w-1], p.rowInv[src.h-1], p.deadRow[src.h-1]
	C.air_levels((*C.uint16_t)(unsafe.Pointer(&src.px[0])), C.long(src.w), C.long(src.h), C.float(src.dark),
		(*C.float)(unsafe.Pointer(&p.rowInv[0])), (*C.uint8_t)(unsafe.Pointer(&p.deadRow[0])),
		(*C.float)(unsafe.Pointer(&ref[0])), (*C.int32_t)(unsafe.Pointer(&n[0])))
}

// airPass sets pass[r]: row r is live and none of its gain-corrected
// values lies below its column's ref.
func airPass(pass []bool, src raw, p *plane, ref []float32) {
	if src.w == 0 || src.h == 0 {
		return
	}
	_, _, _, _ = pass[src.h-1], ref[src.w-1], p.rowInv[src.h-1], p.deadRow[src.h-1]
	C.air_rows((*C.uint8_t)(unsafe.Pointer(&pass[0])), (*C.uint16_t)(unsafe.Pointer(&src.px[0])), C.long(src.w), C.long(src.h),
		C.float(src.dark), (*C.float)(unsafe.Pointer(&p.rowInv[0])), (*C.uint8_t)(unsafe.Pointer(&p.deadRow[0])),
		(*C.float)(unsafe.Pointer(&ref[0])))
}

// colQ10 is the (n/10)-th smallest of f[y*w+x] for y = y0, y0+2, …
// below y1 (n of them, n > 0), selected in C; scratch holds n floats.
func colQ10(f []float32, w, x, y0, y1 int, scratch []float32) float64 {
	if x < 0 || x >= w || y0 < 0 || y1 <= y0 || (y1-1)*w+x >= len(f) || len(scratch) < (y1-y0+1)/2 {
		panic("colQ10: a column or rows outside the image")
	}
	return float64(C.col_q10((*C.float)(unsafe.Pointer(&f[0])), C.long(w), C.long(x), C.long(y0), C.long(y1),
		(*C.float)(unsafe.Pointer(&scratch[0]))))
}

// rowMax is the greatest value of row.
func rowMax(row []uint16) uint16 {
	if len(row) == 0 {
		return 0
	}
	return uint16(C.row_max((*C.uint16_t)(unsafe.Pointer(&row[0])), C.long(len(row))))
}

// rowQuantiles16 returns the k1-th and the k2-th smallest (from 0) of
// row[0], row[step], row[2·step], …, counted in C: the values selectK
// finds among the same samples.
func rowQuantiles16(row []uint16, step, k1, k2 int) (uint16, uint16) {
	n := (len(row) + step - 1) / step
	if n == 0 || step < 1 || k1 < 0 || k2 < 0 || k1 >= n || k2 >= n {
		panic("rowQuantiles16: ranks outside the samples")
	}
	v := C.row_quantiles((*C.uint16_t)(unsafe.Pointer(&row[0])), C.long(len(row)), C.long(step), C.long(k1), C.long(k2))
	return uint16(v), uint16(v >> 16)
}
