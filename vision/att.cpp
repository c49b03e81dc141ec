// attenuate's row loop (see att.go): transmission, OpenCV's own logarithm
// (the function cv::log calls for floats, so every value is cv::log's),
// fixed point, one row at a time while the row is in the cache.
#include <opencv2/core/hal/hal.hpp>

extern "C" {
#include "rows.h"
#include "att.h"
}

void att_rows(uint16_t *out, long ostride, const uint16_t *px, long pstride, long n, long y0, long y1, const float *inv,
	const float *rowInv, const uint8_t *deadRow, float dark, float floor, float scale, float zero, float *buf) {
	for (long y = y0; y < y1; y++) {
		if (deadRow[y]) continue; // filled from its neighbours afterwards
		transmission_row(buf, px + y * pstride, inv, n, dark, rowInv[y], floor);
		cv::hal::log32f(buf, buf, (int)n);
		att_fixed(out + y * ostride, buf, n, scale, zero);
	}
}
