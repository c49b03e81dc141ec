// The detector's per-pixel loops in C (see rows.go): the same operations
// in the same order as the Go they replace, no fused multiply-add, so that
// every value is the same to the last bit.
#include <stdint.h>

void raw_sums(const uint16_t *px, long w, long r0, long r1, float dark, float *colSum, long cw, long x0, long x1,
	double *rowSum, double *rowSum2);
void stuck_rows(uint8_t *stuck, const uint16_t *px, long w, long x0, long x1, long y0, long y1,
	const float *rowInv, const float *colRef, const uint8_t *deadRow, float dark, double limit, float *ring);
void column_medians(float *out, const uint16_t *px, long w, const long *rows, long n, const float *rowInv,
	float dark, float *scratch);
long mass_rows(const uint16_t *a, long astride, const uint16_t *al, long alstride, const float *tab, float *m, long w, long h,
	long top, long bottom, double lo, double hi, float zero, float step, double *sums, int32_t *idx);
void row_medians(float *out, const float *f, long w, long y0, long y1, const long *cols, long n, float *scratch);
void open_rows(float *dst, const float *src, long w, long h, long r, float *scratch);
double subtract_rows(float *m, long w, long h, const double *base);
long count_below(int32_t *below, const float *f, long w, long y0, long y1, long step, float lim);
uint16_t row_max(const uint16_t *px, long n);
uint32_t row_quantiles(const uint16_t *px, long n, long step, long k1, long k2);
void air_levels(const uint16_t *px, long w, long h, float dark, const float *rowInv, const uint8_t *deadRow, float *ref,
	int32_t *n);
void air_rows(uint8_t *pass, const uint16_t *px, long w, long h, float dark, const float *rowInv, const uint8_t *deadRow,
	const float *ref);
float col_q10(const float *f, long w, long x, long y0, long y1, float *scratch);
