// Averaging an image into cells as OpenCV's INTER_AREA resize does when the
// cells are not a whole number of pixels (see area.go). The taps of cell i
// of an axis are [start[i], start[i+1]): pixels src[k] (columns or rows)
// weighted alpha[k].
#include <stdint.h>

void area_f32(const float *src, long stride, long sw, long sh, float *dst, long dstride, long dw, long dh,
	const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch);
void area_opaque(const uint16_t *src, long stride, long sw, long sh, uint16_t thr, float scale, float *dst, long dstride,
	long dw, long dh, const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch);

// area_rows sets how many rows are summed side by side, 8 (where the
// processor has AVX2) or 4, and returns what it was: for the tests.
int area_rows(int rows);
