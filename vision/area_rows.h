// The body of area.c's averaging for one width, included once a width
// with these defined (and undefined at the end): G (rows summed side by
// side, one a lane), VF (a vector of G floats), P(op) (the width's
// intrinsic op: setzero_ps, add_ps, mul_ps, set1_ps, loadu_ps, storeu_ps),
// the names TAPS, REGROUP, AREA_F32 and AREA_OPAQUE to define, and
// INTERLEAVE(r, n, il) (il[G·x + l] = r[l][x]) and MASK(r, n, thr, il)
// (65535 where r[l][x] >= thr, else 0, interleaved; says whether any is).

// TAPS sets out[G·dx + l], for every cell column dx, to the horizontal
// sum of lane l of the G interleaved rows il.
static void TAPS(const float *il, long dw, const int32_t *xstart, const int32_t *xsrc, const float *xalpha, float *out) {
	for (long dx = 0; dx < dw; dx++) {
		VF acc = P(setzero_ps)();
		for (int32_t k = xstart[dx]; k < xstart[dx + 1]; k++)
			acc = P(add_ps)(acc, P(mul_ps)(P(loadu_ps)(il + G * xsrc[k]), P(set1_ps)(xalpha[k])));
		P(storeu_ps)(out + G * dx, acc);
	}
}

// REGROUP makes row sy the first of the G rows of pixels held (g..g+G-1,
// none while g < 0) when it is not among them, and says so: those rows
// are read and summed again.
static inline int REGROUP(long *g, long sy) {
	if (*g >= 0 && sy >= *g && sy < *g + G) return 0;
	*g = sy;
	return 1;
}

static void AREA_F32(const float *src, long stride, long sw, long sh, float *dst, long dstride, long dw, long dh,
	const int32_t *xstart, const int32_t *xsrc, const float *xalpha, const int32_t *ystart, const int32_t *ysrc,
	const float *yalpha, float *scratch) {
	float *il = scratch, *out = scratch + G * sw;
	long g = -1; // out holds the sums of rows g..g+G-1
	for (long dy = 0; dy < dh; dy++) {
		float *D = dst + dy * dstride;
		for (int32_t j = ystart[dy]; j < ystart[dy + 1]; j++) {
			long sy = ysrc[j];
			if (REGROUP(&g, sy)) {
				const float *r[G];
				for (int l = 0; l < G; l++) r[l] = src + (g + l < sh ? g + l : sh - 1) * stride;
				INTERLEAVE(r, sw, il);
				TAPS(il, dw, xstart, xsrc, xalpha, out);
			}
			const float *buf = out + (sy - g);
			float beta = yalpha[j];
			if (j == ystart[dy]) {
				for (long dx = 0; dx < dw; dx++) D[dx] = beta * buf[G * dx];
			} else {
				for (long dx = 0; dx < dw; dx++) D[dx] += beta * buf[G * dx];
			}
		}
	}
}

static void AREA_OPAQUE(const uint16_t *src, long stride, long sw, long sh, uint16_t thr, float scale, float *dst,
	long dstride, long dw, long dh, const int32_t *xstart, const int32_t *xsrc, const float *xalpha,
	const int32_t *ystart, const int32_t *ysrc, const float *yalpha, float *scratch) {
	float *il = scratch, *out = scratch + G * sw, *sum = out + G * dw;
	long g = -1;
	int any = 0; // out holds sums that are not all zero
	for (long dy = 0; dy < dh; dy++) {
		for (int32_t j = ystart[dy]; j < ystart[dy + 1]; j++) {
			long sy = ysrc[j];
			if (REGROUP(&g, sy)) {
				const uint16_t *r[G];
				for (int l = 0; l < G; l++) r[l] = src + (g + l < sh ? g + l : sh - 1) * stride;
				any = MASK(r, sw, thr, il);
				if (any) TAPS(il, dw, xstart, xsrc, xalpha, out);
			}
			const float *buf = out + (sy - g);
			float beta = yalpha[j];
			if (j == ystart[dy]) {
				if (any) {
					for (long dx = 0; dx < dw; dx++) sum[dx] = beta * buf[G * dx];
				} else {
					for (long dx = 0; dx < dw; dx++) sum[dx] = 0.0f;
				}
			} else if (any) {
				for (long dx = 0; dx < dw; dx++) sum[dx] += beta * buf[G * dx];
			}
		}
		float *D = dst + dy * dstride;
		for (long dx = 0; dx < dw; dx++) {
			long v = lrintf(sum[dx]);
			v = v < 0 ? 0 : v > 65535 ? 65535 : v;
			D[dx] = (float)v * scale;
		}
	}
}

#undef G
#undef VF
#undef P
#undef TAPS
#undef REGROUP
#undef AREA_F32
#undef AREA_OPAQUE
#undef INTERLEAVE
#undef MASK
