// Averaging an image into cells as OpenCV's INTER_AREA resize does when the
// cells are not a whole number of pixels (see area.go).
#include <stdint.h>

typedef struct {
	const int32_t *start; // taps of cell i: [start[i], start[i+1])
	const int32_t *src;   // the pixel (column or row) of each tap
	const float *alpha;   // its weight
} area_taps;

void area_f32(const float *src, long stride, float *dst, long dstride, long dw, long dh,
	const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch);
void area_opaque(const uint16_t *src, long stride, uint16_t thr, float scale, float *dst, long dstride, long dw, long dh,
	const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch, long sw, int32_t *cnt);
