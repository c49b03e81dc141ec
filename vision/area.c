// No fused multiply-add anywhere: every value as OpenCV computes it.
#pragma GCC optimize ("fp-contract=off")
#include <emmintrin.h>
#include <math.h>
#include "area.h"

// Each row of cells is the sum over its taps (rows of pixels, in order) of
// the tap's weight times that row's horizontal sums; a row's horizontal
// sum for a cell is, from zero, each of the cell's taps (pixels, in order)
// times its weight. Four rows of pixels are summed at once, each in its
// own lane (the same operations, in the same order, as one at a time);
// a boundary row, a tap of two rows of cells, is summed once for both.

// taps4 sets out[4·dx + l], for every cell column dx, to the horizontal
// sum of lane l of the four interleaved rows il (il[4x + l] is row l's
// pixel x).
static void taps4(const float *il, long dw, const int32_t *xstart, const int32_t *xsrc, const float *xalpha, float *out) {
	for (long dx = 0; dx < dw; dx++) {
		__m128 acc = _mm_setzero_ps();
		for (int32_t k = xstart[dx]; k < xstart[dx + 1]; k++)
			acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(il + 4 * xsrc[k]), _mm_set1_ps(xalpha[k])));
		_mm_storeu_ps(out + 4 * dx, acc);
	}
}

// interleave4 writes rows r[0..3] (n floats) to il, il[4x + l] = r[l][x].
static void interleave4(const float *const r[4], long n, float *il) {
	long x = 0;
	for (; x + 4 <= n; x += 4) {
		__m128 a0 = _mm_loadu_ps(r[0] + x), a1 = _mm_loadu_ps(r[1] + x), a2 = _mm_loadu_ps(r[2] + x), a3 = _mm_loadu_ps(r[3] + x);
		_MM_TRANSPOSE4_PS(a0, a1, a2, a3);
		_mm_storeu_ps(il + 4 * x, a0);
		_mm_storeu_ps(il + 4 * x + 4, a1);
		_mm_storeu_ps(il + 4 * x + 8, a2);
		_mm_storeu_ps(il + 4 * x + 12, a3);
	}
	for (; x < n; x++)
		for (int l = 0; l < 4; l++) il[4 * x + l] = r[l][x];
}

// mask4 writes 65535 where rows r[0..3] (n values) are at or above thr and
// 0 elsewhere to il, interleaved as interleave4 does, and reports whether
// any is.
static int mask4(const uint16_t *const r[4], long n, uint16_t thr, float *il);

// any4 says whether any of the n values of rows r[0..3] is at or above
// thr: the rows of a container the beam got through (most of them) are
// told apart without building their mask.
static int any4(const uint16_t *const r[4], long n, uint16_t thr) {
	// Unsigned v >= thr exactly when the saturating v - (thr - 1) is
	// not zero (thr > 0); thr 0 makes every value opaque.
	if (thr == 0) return n > 0;
	const __m128i t1 = _mm_set1_epi16((short)(thr - 1));
	__m128i acc = _mm_setzero_si128();
	long x = 0;
	for (; x + 8 <= n; x += 8)
		for (int l = 0; l < 4; l++)
			acc = _mm_or_si128(acc, _mm_subs_epu16(_mm_loadu_si128((const __m128i *)(r[l] + x)), t1));
	if (_mm_movemask_epi8(_mm_cmpeq_epi16(acc, _mm_setzero_si128())) != 0xffff) return 1;
	for (; x < n; x++)
		for (int l = 0; l < 4; l++)
			if (r[l][x] >= thr) return 1;
	return 0;
}

static int mask4(const uint16_t *const r[4], long n, uint16_t thr, float *il) {
	const __m128i lim = _mm_set1_epi32((int)thr - 1), zero = _mm_setzero_si128();
	const __m128 full = _mm_set1_ps(65535.0f);
	__m128i any = zero;
	long x = 0;
	for (; x + 4 <= n; x += 4) {
		__m128 a[4];
		for (int l = 0; l < 4; l++) {
			__m128i v = _mm_unpacklo_epi16(_mm_loadl_epi64((const __m128i *)(r[l] + x)), zero);
			__m128i m = _mm_cmpgt_epi32(v, lim);
			any = _mm_or_si128(any, m);
			a[l] = _mm_and_ps(_mm_castsi128_ps(m), full);
		}
		_MM_TRANSPOSE4_PS(a[0], a[1], a[2], a[3]);
		for (int l = 0; l < 4; l++) _mm_storeu_ps(il + 4 * x + 4 * l, a[l]);
	}
	int some = _mm_movemask_epi8(any) != 0;
	for (; x < n; x++)
		for (int l = 0; l < 4; l++) {
			int o = r[l][x] >= thr;
			il[4 * x + l] = o ? 65535.0f : 0.0f;
			some |= o;
		}
	return some;
}

// regroup makes row sy the first of the four rows of pixels held (g..g+3,
// none while g < 0) when it is not among them, and says so: those four
// rows are read and summed again.
static inline int regroup(long *g, long sy) {
	if (*g >= 0 && sy >= *g && sy < *g + 4) return 0;
	*g = sy;
	return 1;
}

// area_f32 averages the float image src (sh rows stride floats apart)
// into the dw×dh cells of dst. scratch holds 4·(sw + dw) floats.
void area_f32(const float *src, long stride, long sw, long sh, float *dst, long dstride, long dw, long dh,
	const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch) {
	float *il = scratch, *out = scratch + 4 * sw;
	long g = -1; // out holds the sums of rows g..g+3
	for (long dy = 0; dy < dh; dy++) {
		float *D = dst + dy * dstride;
		for (int32_t j = ystart[dy]; j < ystart[dy + 1]; j++) {
			long sy = ysrc[j];
			if (regroup(&g, sy)) {
				const float *r[4];
				for (int l = 0; l < 4; l++) r[l] = src + (g + l < sh ? g + l : sh - 1) * stride;
				interleave4(r, sw, il);
				taps4(il, dw, xstart, xsrc, xalpha, out);
			}
			const float *buf = out + (sy - g);
			float beta = yalpha[j];
			if (j == ystart[dy]) {
				for (long dx = 0; dx < dw; dx++) D[dx] = beta * buf[4 * dx];
			} else {
				for (long dx = 0; dx < dw; dx++) D[dx] += beta * buf[4 * dx];
			}
		}
	}
}

// area_opaque sets each of the dw×dh cells of dst to the fraction of the
// 16-bit image src (sw×sh) at or above thr, as OpenCV has it from a mask
// of 0 and 65535 averaged in 16 bits (rounded to the nearest, ties to
// even) and scaled by scale. Four rows of which none is opaque add
// nothing and are not summed. scratch holds 4·(sw + dw) + dw floats.
void area_opaque(const uint16_t *src, long stride, long sw, long sh, uint16_t thr, float scale, float *dst, long dstride,
	long dw, long dh, const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch) {
	float *il = scratch, *out = scratch + 4 * sw, *sum = out + 4 * dw;
	long g = -1;
	int any = 0; // out holds sums that are not all zero
	for (long dy = 0; dy < dh; dy++) {
		for (int32_t j = ystart[dy]; j < ystart[dy + 1]; j++) {
			long sy = ysrc[j];
			if (regroup(&g, sy)) {
				const uint16_t *r[4];
				for (int l = 0; l < 4; l++) r[l] = src + (g + l < sh ? g + l : sh - 1) * stride;
				any = any4(r, sw, thr) && mask4(r, sw, thr, il);
				if (any) taps4(il, dw, xstart, xsrc, xalpha, out);
			}
			const float *buf = out + (sy - g);
			float beta = yalpha[j];
			if (j == ystart[dy]) {
				if (any) {
					for (long dx = 0; dx < dw; dx++) sum[dx] = beta * buf[4 * dx];
				} else {
					for (long dx = 0; dx < dw; dx++) sum[dx] = 0.0f;
				}
			} else if (any) {
				for (long dx = 0; dx < dw; dx++) sum[dx] += beta * buf[4 * dx];
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
