// No fused multiply-add anywhere: every value as OpenCV computes it.
#pragma GCC optimize ("fp-contract=off")
#include <immintrin.h>
#include <math.h>
#include "area.h"

// Each row of cells is the sum over its taps (rows of pixels, in order) of
// the tap's weight times that row's horizontal sums; a row's horizontal
// sum for a cell is, from zero, each of the cell's taps (pixels, in order)
// times its weight. Eight rows of pixels (AVX2) or four are summed at
// once, each in its own lane (the same operations, in the same order, as
// one at a time); a boundary row, a tap of two rows of cells, is summed
// once for both.

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

// mask_tail writes the mask of columns [x, n) of the g rows r,
// interleaved, and says whether any is opaque.
static int mask_tail(const uint16_t *const *r, int g, long x, long n, uint16_t thr, float *il) {
	int some = 0;
	for (; x < n; x++)
		for (int l = 0; l < g; l++) {
			int o = r[l][x] >= thr;
			il[g * x + l] = o ? 65535.0f : 0.0f;
			some |= o;
		}
	return some;
}

// mask4 writes 65535 where rows r[0..3] (n values) are at or above thr and
// 0 elsewhere to il, interleaved as interleave4 does, and reports whether
// any is.
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
	return mask_tail(r, 4, x, n, thr, il) | (_mm_movemask_epi8(any) != 0);
}

#define G 4
#define VF __m128
#define P(op) _mm_##op
#define TAPS taps4
#define REGROUP regroup4
#define AREA_F32 area_f32_4
#define AREA_OPAQUE area_opaque_4
#define INTERLEAVE interleave4
#define MASK mask4
#include "area_rows.h"

// Eight rows side by side with AVX2.
#pragma GCC push_options
#pragma GCC target("avx2")
#include "transpose8.h"

// interleave8 writes rows r[0..7] (n floats) to il, il[8x + l] = r[l][x].
static void interleave8(const float *const r[8], long n, float *il) {
	long x = 0;
	for (; x + 8 <= n; x += 8) {
		__m256 a[8];
		for (int l = 0; l < 8; l++) a[l] = _mm256_loadu_ps(r[l] + x);
		transpose8(a);
		for (int k = 0; k < 8; k++) _mm256_storeu_ps(il + 8 * (x + k), a[k]);
	}
	for (; x < n; x++)
		for (int l = 0; l < 8; l++) il[8 * x + l] = r[l][x];
}

// mask8 is mask4 for rows r[0..7], interleaved as interleave8 does.
static int mask8(const uint16_t *const r[8], long n, uint16_t thr, float *il) {
	const __m256i lim = _mm256_set1_epi32((int)thr - 1);
	const __m256 full = _mm256_set1_ps(65535.0f);
	__m256i any = _mm256_setzero_si256();
	long x = 0;
	for (; x + 8 <= n; x += 8) {
		__m256 a[8];
		for (int l = 0; l < 8; l++) {
			__m256i m = _mm256_cmpgt_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(r[l] + x))), lim);
			any = _mm256_or_si256(any, m);
			a[l] = _mm256_and_ps(_mm256_castsi256_ps(m), full);
		}
		transpose8(a);
		for (int k = 0; k < 8; k++) _mm256_storeu_ps(il + 8 * (x + k), a[k]);
	}
	return mask_tail(r, 8, x, n, thr, il) | !_mm256_testz_si256(any, any);
}

#define INTERLEAVE interleave8
#define MASK mask8
#define G 8
#define AREA_F32 area_f32_8
#define AREA_OPAQUE area_opaque_8
#define VF __m256
#define TAPS taps8
#define P(op) _mm256_##op
#define REGROUP regroup8
#include "area_rows.h"
#pragma GCC pop_options

static int rows8;

__attribute__((constructor)) static void area_init(void) {
	__builtin_cpu_init();
	rows8 = __builtin_cpu_supports("avx2");
}

int area_rows(int rows) {
	int was = rows8 ? 8 : 4;
	__builtin_cpu_init();
	rows8 = rows >= 8 && __builtin_cpu_supports("avx2");
	return was;
}

// area_f32 averages the float image src (sh rows stride floats apart)
// into the dw×dh cells of dst. scratch holds 8·(sw + dw) floats.
void area_f32(const float *src, long stride, long sw, long sh, float *dst, long dstride, long dw, long dh,
	const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch) {
	(rows8 ? area_f32_8 : area_f32_4)(src, stride, sw, sh, dst, dstride, dw, dh, xstart, xsrc, xalpha, ystart, ysrc,
		yalpha, scratch);
}

// area_opaque sets each of the dw×dh cells of dst to the fraction of the
// 16-bit image src (sw×sh) at or above thr, as OpenCV has it from a mask
// of 0 and 65535 averaged in 16 bits (rounded to the nearest, ties to
// even) and scaled by scale. Rows of which none is opaque add nothing
// and are not summed. scratch holds 8·(sw + dw) + dw floats.
void area_opaque(const uint16_t *src, long stride, long sw, long sh, uint16_t thr, float scale, float *dst, long dstride,
	long dw, long dh, const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch) {
	(rows8 ? area_opaque_8 : area_opaque_4)(src, stride, sw, sh, thr, scale, dst, dstride, dw, dh, xstart, xsrc, xalpha,
		ystart, ysrc, yalpha, scratch);
}
