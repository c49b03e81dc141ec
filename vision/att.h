#include <stdint.h>

// att_rows writes, for each row y of [y0, y1) that is not dead, the
// fixed-point attenuation of the n raw pixels px[y*pstride:] into
// out[y*ostride:]: transmission (transmission_row) with the column
// reciprocals inv and the row's rowInv[y], -ln by OpenCV, then att_fixed
// with scale and zero. buf holds n floats.
void att_rows(uint16_t *out, long ostride, const uint16_t *px, long pstride, long n, long y0, long y1, const float *inv,
	const float *rowInv, const uint8_t *deadRow, float dark, float floor, float scale, float zero, float *buf);
