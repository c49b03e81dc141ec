// attenuate's row loop (see att.go): transmission, logarithm and fixed
// point in one pass over each row, sixteen pixels at a time on processors
// with AVX-512, eight with AVX2 and FMA, four otherwise. No contraction
// but where written.
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
// positive and normal: a transmission is never below its floor. The AVX2
// path adds with fused multiply-adds, so it may differ from the others in
// the last bit of the logarithm, which rounds to the same fixed point but
// for values within that bit of a step.
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

static inline float ln1(float x) {
	uint32_t b;
	memcpy(&b, &x, 4);
	int e = (int)(b >> 23) - 127;
	uint32_t mb = (b & 0x007fffff) | 0x3f800000;
	float m;
	memcpy(&m, &mb, 4);
	if (m > SQRT2) {
		m = m * 0.5f;
		e++;
	}
	float f = m - 1.0f;
	float p = P7 * f + P6;
	p = p * f + P5;
	p = p * f + P4;
	p = p * f + P3;
	p = p * f + P2;
	p = p * f + P1;
	p = p * f + P0;
	float fe = (float)e;
	return (fe * LN2_LO + f * p) + fe * LN2_HI;
}

static inline __m128 ln4(__m128 x) {
	__m128i b = _mm_castps_si128(x);
	__m128i e = _mm_sub_epi32(_mm_srli_epi32(b, 23), _mm_set1_epi32(127));
	__m128 m = _mm_castsi128_ps(_mm_or_si128(_mm_and_si128(b, _mm_set1_epi32(0x007fffff)), _mm_set1_epi32(0x3f800000)));
	__m128 big = _mm_cmpgt_ps(m, _mm_set1_ps(SQRT2));
	m = _mm_or_ps(_mm_and_ps(big, _mm_mul_ps(m, _mm_set1_ps(0.5f))), _mm_andnot_ps(big, m));
	e = _mm_sub_epi32(e, _mm_castps_si128(big)); // big is -1 where true
	__m128 f = _mm_sub_ps(m, _mm_set1_ps(1.0f));
#define STEP4(p, c) _mm_add_ps(_mm_mul_ps(p, f), _mm_set1_ps(c))
	__m128 p = STEP4(_mm_set1_ps(P7), P6);
	p = STEP4(p, P5);
	p = STEP4(p, P4);
	p = STEP4(p, P3);
	p = STEP4(p, P2);
	p = STEP4(p, P1);
	p = STEP4(p, P0);
	__m128 fe = _mm_cvtepi32_ps(e);
	return _mm_add_ps(_mm_add_ps(_mm_mul_ps(fe, _mm_set1_ps(LN2_LO)), _mm_mul_ps(f, p)), _mm_mul_ps(fe, _mm_set1_ps(LN2_HI)));
}

__attribute__((target("avx2,fma"))) static inline __m256 ln8(__m256 x) {
	__m256i b = _mm256_castps_si256(x);
	__m256i e = _mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127));
	__m256 m = _mm256_castsi256_ps(
		_mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
	__m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(SQRT2), _CMP_GT_OQ);
	m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
	e = _mm256_sub_epi32(e, _mm256_castps_si256(big));
	__m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
#define STEP8(p, c) _mm256_fmadd_ps(p, f, _mm256_set1_ps(c))
	__m256 p = STEP8(_mm256_set1_ps(P7), P6);
	p = STEP8(p, P5);
	p = STEP8(p, P4);
	p = STEP8(p, P3);
	p = STEP8(p, P2);
	p = STEP8(p, P1);
	p = STEP8(p, P0);
	__m256 fe = _mm256_cvtepi32_ps(e);
	return _mm256_fmadd_ps(fe, _mm256_set1_ps(LN2_HI), _mm256_fmadd_ps(fe, _mm256_set1_ps(LN2_LO), _mm256_mul_ps(f, p)));
}

// ln16 is ln8 in sixteen lanes: the same operations in the same order.
__attribute__((target("avx512f"))) static inline __m512 ln16(__m512 x) {
	__m512i b = _mm512_castps_si512(x);
	__m512i e = _mm512_sub_epi32(_mm512_srli_epi32(b, 23), _mm512_set1_epi32(127));
	__m512 m = _mm512_castsi512_ps(
		_mm512_or_si512(_mm512_and_si512(b, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f800000)));
	__mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(SQRT2), _CMP_GT_OQ);
	m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
	e = _mm512_mask_add_epi32(e, big, e, _mm512_set1_epi32(1));
	__m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
#define STEP16(p, c) _mm512_fmadd_ps(p, f, _mm512_set1_ps(c))
	__m512 p = STEP16(_mm512_set1_ps(P7), P6);
	p = STEP16(p, P5);
	p = STEP16(p, P4);
	p = STEP16(p, P3);
	p = STEP16(p, P2);
	p = STEP16(p, P1);
	p = STEP16(p, P0);
	__m512 fe = _mm512_cvtepi32_ps(e);
	return _mm512_fmadd_ps(fe, _mm512_set1_ps(LN2_HI), _mm512_fmadd_ps(fe, _mm512_set1_ps(LN2_LO), _mm512_mul_ps(f, p)));
}

// fixed1 is one pixel, the way the vector paths do four or eight.
static inline uint16_t fixed1(uint16_t v, float inv, float dark, float ri, float floor, float scale, float zero) {
	float t = ((float)v - dark) * ri * inv;
	t = t < floor ? floor : t;
	int r = _mm_cvtss_si32(_mm_set_ss(ln1(t) * scale + zero));
	return r < 0 ? 0 : r > 65535 ? 65535 : (uint16_t)r;
}

static void row4(uint16_t *out, const uint16_t *px, const float *inv, long n, float dark, float ri, float floor, float scale,
	float zero) {
	const __m128 vd = _mm_set1_ps(dark), vr = _mm_set1_ps(ri), vf = _mm_set1_ps(floor), vs = _mm_set1_ps(scale),
		     vz = _mm_set1_ps(zero);
	const __m128i lo = _mm_set1_epi32(-32768), top = _mm_set1_epi32(65535), zero4 = _mm_setzero_si128();
	long c = 0;
	for (; c + 8 <= n; c += 8) {
		__m128i v = _mm_loadu_si128((const __m128i *)(px + c));
		__m128 a = _mm_cvtepi32_ps(_mm_unpacklo_epi16(v, zero4)), b = _mm_cvtepi32_ps(_mm_unpackhi_epi16(v, zero4));
		// max(floor, t): where t < floor, floor; else t (as t < floor ? floor : t).
		a = _mm_max_ps(vf, _mm_mul_ps(_mm_mul_ps(_mm_sub_ps(a, vd), vr), _mm_loadu_ps(inv + c)));
		b = _mm_max_ps(vf, _mm_mul_ps(_mm_mul_ps(_mm_sub_ps(b, vd), vr), _mm_loadu_ps(inv + c + 4)));
		__m128i r0 = _mm_cvtps_epi32(_mm_add_ps(_mm_mul_ps(ln4(a), vs), vz));
		__m128i r1 = _mm_cvtps_epi32(_mm_add_ps(_mm_mul_ps(ln4(b), vs), vz));
		// Saturate to [0, 65535] as signed integers, then pack the
		// offset values with signed saturation (which no longer bites).
		r0 = _mm_and_si128(r0, _mm_cmpgt_epi32(r0, zero4));
		r1 = _mm_and_si128(r1, _mm_cmpgt_epi32(r1, zero4));
		__m128i g0 = _mm_cmpgt_epi32(r0, top), g1 = _mm_cmpgt_epi32(r1, top);
		r0 = _mm_or_si128(_mm_andnot_si128(g0, r0), _mm_and_si128(g0, top));
		r1 = _mm_or_si128(_mm_andnot_si128(g1, r1), _mm_and_si128(g1, top));
		__m128i p = _mm_packs_epi32(_mm_add_epi32(r0, lo), _mm_add_epi32(r1, lo));
		_mm_storeu_si128((__m128i *)(out + c), _mm_xor_si128(p, _mm_set1_epi16((short)0x8000)));
	}
	for (; c < n; c++) out[c] = fixed1(px[c], inv[c], dark, ri, floor, scale, zero);
}

__attribute__((target("avx2,fma"))) static void row8(uint16_t *out, const uint16_t *px, const float *inv, long n, float dark,
	float ri, float floor, float scale, float zero) {
	const __m256 vd = _mm256_set1_ps(dark), vr = _mm256_set1_ps(ri), vf = _mm256_set1_ps(floor),
		     vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zero);
	long c = 0;
	for (; c + 8 <= n; c += 8) {
		__m256 a = _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(px + c))));
		a = _mm256_max_ps(vf, _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(a, vd), vr), _mm256_loadu_ps(inv + c)));
		__m256i r = _mm256_cvtps_epi32(_mm256_add_ps(_mm256_mul_ps(ln8(a), vs), vz));
		_mm_storeu_si128((__m128i *)(out + c), _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
	}
	for (; c < n; c++) out[c] = fixed1(px[c], inv[c], dark, ri, floor, scale, zero);
}

__attribute__((target("avx512f"))) static void row16(uint16_t *out, const uint16_t *px, const float *inv, long n,
	float dark, float ri, float floor, float scale, float zero) {
	const __m512 vd = _mm512_set1_ps(dark), vr = _mm512_set1_ps(ri), vf = _mm512_set1_ps(floor),
		     vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps(zero);
	long c = 0;
	for (; c + 16 <= n; c += 16) {
		__m512 a = _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(px + c))));
		a = _mm512_max_ps(vf, _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(a, vd), vr), _mm512_loadu_ps(inv + c)));
		__m512i r = _mm512_cvtps_epi32(_mm512_add_ps(_mm512_mul_ps(ln16(a), vs), vz));
		// Negative (and out of range, which converts to the least int)
		// to 0, then down to 16 bits with unsigned saturation: packus.
		r = _mm512_max_epi32(r, _mm512_setzero_si512());
		_mm256_storeu_si256((__m256i *)(out + c), _mm512_cvtusepi32_epi16(r));
	}
	for (; c < n; c++) out[c] = fixed1(px[c], inv[c], dark, ri, floor, scale, zero);
}

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
	long i = 0;
	for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, ln4(_mm_loadu_ps(x + i)));
	for (; i < n; i++) out[i] = ln1(x[i]);
}
