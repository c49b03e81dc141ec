#include <stdint.h>

// att_rows writes, for each row y of [y0, y1) that is not dead, the
// fixed-point attenuation of the n raw pixels px[y*pstride:] into
// out[y*ostride:], in one pass a row: the transmission (raw less dark,
// times the row's rowInv[y] and the column's inv[c], at least floor), its
// natural logarithm, and ln·scale + zero rounded to the nearest (ties to
// even) and saturated to [0, 65535]. Rows may be written in place (out ==
// px): each group of pixels is read before it is written.
void att_rows(uint16_t *out, long ostride, const uint16_t *px, long pstride, long n, long y0, long y1, const float *inv,
	const float *rowInv, const uint8_t *deadRow, float dark, float floor, float scale, float zero);

// att_ln is the logarithm att_rows takes, of n values, for the tests.
void att_ln(float *out, const float *x, long n);

// att_wide is how many lanes att_rows computes at once: 16 (AVX-512F), 8
// (AVX2 and FMA) or 4 (SSE2); att_set_wide sets it to at most lanes and
// at most what the processor has, for the tests to hold every path to
// the same results.
int att_wide(void);
void att_set_wide(int lanes);
