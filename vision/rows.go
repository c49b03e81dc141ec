package vision

/*
#cgo CFLAGS: -O3
#include <stdint.h>

// transmission_row is attenuate's inner loop: each raw value less dark,
// times the row's and the column's reciprocal gains, at least floor. In C
// so that the compiler works on four pixels at a time; the operations and
// their order are those of the Go it replaces (no fused multiply-add), so
// every value is the same to the last bit.
__attribute__((optimize("fp-contract=off")))
static void transmission_row(float *out, const uint16_t *px, const float *inv, long n, float dark, float ri, float floor) {
	for (long c = 0; c < n; c++) {
		float t = ((float)px[c] - dark) * ri * inv[c];
		out[c] = t < floor ? floor : t;
	}
}
*/
import "C"

import "unsafe"

// transmissionRow sets row[c] = max((px[c]-dark)*ri*inv[c], floor) for
// every c of px (row and inv are at least as long).
func transmissionRow(row []float32, px []uint16, inv []float32, dark, ri, floor float32) {
	if len(px) == 0 {
		return
	}
	_, _ = row[len(px)-1], inv[len(px)-1]
	C.transmission_row((*C.float)(unsafe.Pointer(&row[0])), (*C.uint16_t)(unsafe.Pointer(&px[0])),
		(*C.float)(unsafe.Pointer(&inv[0])), C.long(len(px)), C.float(dark), C.float(ri), C.float(floor))
}

// kthSmallest16 returns the k-th smallest (from 0) of v, values of 16
// bits, by counting: their high bytes, then the low bytes of those in the
// high byte's bucket. The same value selectK finds, without sorting.
func kthSmallest16(v []int32, k int) int32 {
	var hist [256]int32
	for _, x := range v {
		hist[x>>8&0xff]++
	}
	hi := int32(0)
	for ; hi < 255 && k >= int(hist[hi]); hi++ {
		k -= int(hist[hi])
	}
	hist = [256]int32{}
	for _, x := range v {
		if x>>8&0xff == hi {
			hist[x&0xff]++
		}
	}
	lo := int32(0)
	for ; lo < 255 && k >= int(hist[lo]); lo++ {
		k -= int(hist[lo])
	}
	return hi<<8 | lo
}
