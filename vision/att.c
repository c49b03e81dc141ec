// attenuate's row loop (see att.go): transmission, logarithm and fixed
// point in one pass over each row, sixteen pixels at a time on processors
// with AVX-512, eight with AVX2 and FMA, four otherwise: one body
// (att_row.h) for every width, with its operations.
// No contraction but where written (MULADD in the wider paths).
#pragma GCC optimize ("fp-contract=off")
#include <immintrin.h>
#include <string.h>
#include "att.h"

// The logarithm: x = 2^e·m with m in [√½, √2), ln m = f·P(f) with
// f = m − 1 and P the degree-7 polynomial fitted to ln(1+f)/f over that
// range by weighted least squares on 2000 Chebyshev nodes (this project's
// fit: its error is under 1e-7 in float arithmetic, far below the fixed
// point's step of 1/4096), and e·ln 2 added in two parts (Cody and Waite)
// so that the exponent's share is exact to float precision. x must be
// positive and normal: a transmission is never below its floor.
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
#define SQRT2 1.41421356f
#define P7 (-0.09913656115531921f)
#define P6 0.1633855551481247f
#define P5 (-0.17363153398036957f)
#define P4 0.19885361194610596f
#define P3 (-0.24957780539989471f)
#define P2 0.3333568871021271f
#define P1 (-0.5000069737434387f)
#define P0 0.9999998211860657f

// SSE2: four lanes.
#define N 4
#define VF __m128
#define VI __m128i
#define P(op) _mm_##op
#define HALVE_BIG(m, e)                                                                           \
	do {                                                                                      \
		__m128 big_ = _mm_cmpgt_ps(m, _mm_set1_ps(SQRT2));                                \
		m = _mm_or_ps(_mm_and_ps(big_, _mm_mul_ps(m, _mm_set1_ps(0.5f))), _mm_andnot_ps(big_, m)); \
		e = _mm_sub_epi32(e, _mm_castps_si128(big_)); /* big_ is -1 where true */        \
	} while (0)
#define ROW row4
#define LN ln4
#define CASTI _mm_castps_si128
#define CASTF _mm_castsi128_ps
#define LOADRAW(p) _mm_cvtepi32_ps(_mm_unpacklo_epi16(_mm_loadl_epi64((const __m128i *)(p)), _mm_setzero_si128()))
#define ANDI _mm_and_si128
#define ORI _mm_or_si128
#define MULADD(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
// Saturated to [0, 65535] as signed ints (an out-of-range float converts
// to the least int, so to 0), then packed offset by 32768 with signed
// saturation, which no longer bites.
#define STOREFIX(p, v)                                                                              \
	do {                                                                                        \
		__m128i r_ = _mm_cvtps_epi32(v);                                                    \
		r_ = _mm_and_si128(r_, _mm_cmpgt_epi32(r_, _mm_setzero_si128()));                   \
		__m128i g_ = _mm_cmpgt_epi32(r_, _mm_set1_epi32(65535));                            \
		r_ = _mm_or_si128(_mm_andnot_si128(g_, r_), _mm_and_si128(g_, _mm_set1_epi32(65535))); \
		r_ = _mm_packs_epi32(_mm_add_epi32(r_, _mm_set1_epi32(-32768)), _mm_setzero_si128()); \
		_mm_storel_epi64((__m128i *)(p), _mm_xor_si128(r_, _mm_set1_epi16((short)0x8000)));    \
	} while (0)
#include "att_row.h"

// AVX2 and FMA: eight lanes.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define N 8
#define VF __m256
#define VI __m256i
#define P(op) _mm256_##op
#define HALVE_BIG(m, e)                                                                 \
	do {                                                                            \
		__m256 big_ = _mm256_cmp_ps(m, _mm256_set1_ps(SQRT2), _CMP_GT_OQ);      \
		m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big_);  \
		e = _mm256_sub_epi32(e, _mm256_castps_si256(big_));                     \
	} while (0)
#define ROW row8
#define LN ln8
#define CASTI _mm256_castps_si256
#define CASTF _mm256_castsi256_ps
#define LOADRAW(p) _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))))
#define ANDI _mm256_and_si256
#define ORI _mm256_or_si256
#define MULADD _mm256_fmadd_ps
#define STOREFIX(p, v)                                                                                          \
	do {                                                                                                    \
		__m256i r_ = _mm256_cvtps_epi32(v);                                                             \
		_mm_storeu_si128((__m128i *)(p), _mm_packus_epi32(_mm256_castsi256_si128(r_), _mm256_extracti128_si256(r_, 1))); \
	} while (0)
#include "att_row.h"
#pragma GCC pop_options

// AVX-512F: sixteen lanes, the AVX2 path's operations in the same order.
#pragma GCC push_options
#pragma GCC target("avx512f")
#define N 16
#define HALVE_BIG(m, e)                                                                 \
	do {                                                                            \
		__mmask16 big_ = _mm512_cmp_ps_mask(m, _mm512_set1_ps(SQRT2), _CMP_GT_OQ); \
		m = _mm512_mask_mul_ps(m, big_, m, _mm512_set1_ps(0.5f));               \
		e = _mm512_mask_add_epi32(e, big_, e, _mm512_set1_epi32(1));            \
	} while (0)
#define VF __m512
#define VI __m512i
#define P(op) _mm512_##op
#define ROW row16
#define LN ln16
#define LOADRAW(p) _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))))
#define CASTI _mm512_castps_si512
#define CASTF _mm512_castsi512_ps
#define ANDI _mm512_and_si512
#define ORI _mm512_or_si512
#define MULADD _mm512_fmadd_ps
#define STOREFIX(p, v)                                                                             \
	_mm256_storeu_si256((__m256i *)(p), _mm512_cvtusepi32_epi16(_mm512_max_epi32(_mm512_cvtps_epi32(v), _mm512_setzero_si512())))
#include "att_row.h"
#pragma GCC pop_options

// wide is the widest path the processor has: 16 lanes (AVX-512F), 8
// (AVX2 and FMA) or 4 (SSE2).
static int wide;

static int widest(void) {
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f")) return 16;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
	return 4;
}

__attribute__((constructor)) static void att_init(void) { wide = widest(); }

int att_wide(void) { return wide; }

void att_set_wide(int lanes) {
	int most = widest();
	wide = lanes > most ? most : lanes >= 16 ? 16 : lanes >= 8 ? 8 : 4;
}

void att_rows(uint16_t *out, long ostride, const uint16_t *px, long pstride, long n, long y0, long y1, const float *inv,
	const float *rowInv, const uint8_t *deadRow, float dark, float floor, float scale, float zero) {
	for (long y = y0; y < y1; y++) {
		if (deadRow[y]) continue; // filled from its neighbours afterwards
		if (wide == 16)
			row16(out + y * ostride, px + y * pstride, inv, n, dark, rowInv[y], floor, scale, zero);
		else if (wide == 8)
			row8(out + y * ostride, px + y * pstride, inv, n, dark, rowInv[y], floor, scale, zero);
		else
			row4(out + y * ostride, px + y * pstride, inv, n, dark, rowInv[y], floor, scale, zero);
	}
}

void att_ln(float *out, const float *x, long n) {
	for (long i = 0; i < n; i += 4) {
		float v[4] = {1, 1, 1, 1};
		long k = n - i < 4 ? n - i : 4;
		memcpy(v, x + i, k * sizeof x[0]);
		_mm_storeu_ps(v, ln4(_mm_loadu_ps(v)));
		memcpy(out + i, v, k * sizeof x[0]);
	}
}
