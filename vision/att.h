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

// att_wide says whether att_rows uses eight lanes (AVX2 and FMA);
// att_set_wide turns them off (0) or back on where the processor has them
// (1), for the tests to hold both paths to the same results.
int att_wide(void);
void att_set_wide(int on);
