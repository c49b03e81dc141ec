// No fused multiply-add anywhere: every value as OpenCV computes it.
#pragma GCC optimize ("fp-contract=off")
#include <math.h>
#include "area.h"

// Each row of cells is the sum over its taps (rows of pixels, in order) of
// the tap's weight times that row's horizontal sums; a row's horizontal
// sum for a cell is, from zero, each of the cell's taps (pixels, in order)
// times its weight. A boundary row is a tap of two rows of cells, one
// after the other: its sums are kept for the second.

// hsums sets buf[dx] for every cell column of one row of pixels S.
static void hsums(const float *S, long dw, const int32_t *xstart, const int32_t *xsrc, const float *xalpha, float *buf) {
	for (long dx = 0; dx < dw; dx++) {
		float acc = 0.0f;
		for (int32_t k = xstart[dx]; k < xstart[dx + 1]; k++) acc += S[xsrc[k]] * xalpha[k];
		buf[dx] = acc;
	}
}

// area_f32 averages the float image src (rows stride floats apart) into
// the dw×dh cells of dst. scratch holds 2·dw floats.
void area_f32(const float *src, long stride, float *dst, long dstride, long dw, long dh,
	const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch) {
	float *buf = scratch;
	long have = -1; // the row of pixels buf holds
	for (long dy = 0; dy < dh; dy++) {
		float *D = dst + dy * dstride;
		for (int32_t j = ystart[dy]; j < ystart[dy + 1]; j++) {
			long sy = ysrc[j];
			if (sy != have) {
				hsums(src + sy * stride, dw, xstart, xsrc, xalpha, buf);
				have = sy;
			}
			float beta = yalpha[j];
			if (j == ystart[dy]) {
				for (long dx = 0; dx < dw; dx++) D[dx] = beta * buf[dx];
			} else {
				for (long dx = 0; dx < dw; dx++) D[dx] += beta * buf[dx];
			}
		}
	}
}

// opaque_hsums is hsums of the row whose pixel is 65535 where px >= thr
// and 0 elsewhere; it returns 0, leaving buf alone, when the row has no
// such pixel (its sums would all be zero). A cell none of whose pixels is
// opaque sums to zero, one all of whose pixels are to full[dx] (the same
// additions); only the cells on an edge are added up pixel by pixel. cnt
// holds sw+1 counts.
static int opaque_hsums(const uint16_t *px, long sw, uint16_t thr, long dw, const int32_t *xstart, const int32_t *xsrc,
	const float *xalpha, const float *full, int32_t *cnt, float *buf) {
	uint16_t top = 0;
	for (long x = 0; x < sw; x++) top = px[x] > top ? px[x] : top;
	if (top < thr) return 0;
	cnt[0] = 0;
	for (long x = 0; x < sw; x++) cnt[x + 1] = cnt[x] + (px[x] >= thr);
	for (long dx = 0; dx < dw; dx++) {
		int32_t k0 = xstart[dx], k1 = xstart[dx + 1];
		if (k1 == k0) {
			buf[dx] = 0.0f;
			continue;
		}
		int32_t n = cnt[xsrc[k1 - 1] + 1] - cnt[xsrc[k0]]; // the cell's taps are consecutive pixels
		if (n == 0) {
			buf[dx] = 0.0f;
		} else if (n == k1 - k0) {
			buf[dx] = full[dx];
		} else {
			float acc = 0.0f;
			for (int32_t k = k0; k < k1; k++) acc += (px[xsrc[k]] >= thr ? 65535.0f : 0.0f) * xalpha[k];
			buf[dx] = acc;
		}
	}
	return 1;
}

// area_opaque sets each of the dw×dh cells of dst to the fraction of the
// 16-bit image src (sw columns) at or above thr, as OpenCV has it from a
// mask of 0 and 65535 averaged in 16 bits (rounded to the nearest, ties to
// even) and scaled by scale. scratch holds 3·dw floats, cnt sw+1 counts.
void area_opaque(const uint16_t *src, long stride, uint16_t thr, float scale, float *dst, long dstride, long dw, long dh,
	const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch, long sw, int32_t *cnt) {
	float *buf = scratch, *sum = scratch + dw, *full = scratch + 2 * dw;
	for (long dx = 0; dx < dw; dx++) {
		float acc = 0.0f;
		for (int32_t k = xstart[dx]; k < xstart[dx + 1]; k++) acc += 65535.0f * xalpha[k];
		full[dx] = acc;
	}
	long have = -1;
	int any = 0; // buf holds sums that are not all zero
	for (long dy = 0; dy < dh; dy++) {
		for (int32_t j = ystart[dy]; j < ystart[dy + 1]; j++) {
			long sy = ysrc[j];
			if (sy != have) {
				any = opaque_hsums(src + sy * stride, sw, thr, dw, xstart, xsrc, xalpha, full, cnt, buf);
				have = sy;
			}
			float beta = yalpha[j];
			if (j == ystart[dy]) {
				if (any) {
					for (long dx = 0; dx < dw; dx++) sum[dx] = beta * buf[dx];
				} else {
					for (long dx = 0; dx < dw; dx++) sum[dx] = 0.0f;
				}
			} else if (any) {
				for (long dx = 0; dx < dw; dx++) sum[dx] += beta * buf[dx];
			}
		}
		float *D = dst + dy * dstride;
		for (long dx = 0; dx < dw; dx++) {
			long v = lrintf(sum[dx]);
			v = v < 0 ? 0 : v > 65535 ? 65535 : v;
			D[dx] = (float)v * scale;
		}
	}
}
