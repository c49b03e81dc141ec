// No fused multiply-add anywhere: every value as the Go it replaces computes it.
#pragma GCC optimize ("fp-contract=off")
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "rows.h"

// have_avx2 says whether the processor runs the loops written for AVX2.
static int have_avx2;

__attribute__((constructor)) static void rows_init(void) {
	__builtin_cpu_init();
	have_avx2 = __builtin_cpu_supports("avx2");
}

// four raw values less dark, as floats.
static inline __m128 raw4(const uint16_t *p, __m128 dark) {
	__m128i v = _mm_unpacklo_epi16(_mm_loadl_epi64((const __m128i *)p), _mm_setzero_si128());
	return _mm_sub_ps(_mm_cvtepi32_ps(v), dark);
}

// four values of column c, one from each of four rows, less dark.
static inline __m128 col4(const uint16_t *p0, const uint16_t *p1, const uint16_t *p2, const uint16_t *p3, long c, float dark) {
	return _mm_set_ps((float)p3[c] - dark, (float)p2[c] - dark, (float)p1[c] - dark, (float)p0[c] - dark);
}

// put_sums sets rowSum[r + l] and rowSum2[r + l] to the n rows' sums sv
// and qv.
static void put_sums(const float *sv, const float *qv, int n, double *rowSum, double *rowSum2, long r) {
	for (int l = 0; l < n; l++) {
		rowSum[r + l] = sv[l];
		rowSum2[r + l] = qv[l];
	}
}

static void store4(__m128 s, __m128 q, double *rowSum, double *rowSum2, long r) {
	float sv[4], qv[4];
	_mm_storeu_ps(sv, s);
	_mm_storeu_ps(qv, q);
	put_sums(sv, qv, 4, rowSum, rowSum2, r);
}

// The row sums of four rows, the lanes of s and q: each lane adds its
// row's values one column after the other, as a loop over the row would.
#define ROW_STEP(s, q, v) do { s = _mm_add_ps(s, v); q = _mm_add_ps(q, _mm_mul_ps(v, v)); } while (0)

// col_sums adds to colSum[c], for c < cw, the values less dark of column
// c of the n rows p[0..n-1], one row after the other.
static inline void col_sums(float *colSum, long cw, const uint16_t *const *p, int n, float dark) {
	for (long c = 0; c < cw; c++) {
		float v = colSum[c];
		for (int l = 0; l < n; l++) v = v + ((float)p[l][c] - dark);
		colSum[c] = v;
	}
}

#pragma GCC push_options
#pragma GCC target("avx2")
#include "transpose8.h"

// sums8 is raw_sums's loop over blocks of eight rows [r, r1) with AVX2,
// each row in its own lane; it returns the first row left.
static long sums8(const uint16_t *px, long w, long r, long r1, float dark, float *colSum, long cw, long x0, long x1,
	double *rowSum, double *rowSum2) {
	const __m256 vd = _mm256_set1_ps(dark);
	for (; r + 8 <= r1; r += 8) {
		const uint16_t *p[8];
		for (int l = 0; l < 8; l++) p[l] = px + (r + l) * w;
		col_sums(colSum, cw, p, 8, dark);
		__m256 s = _mm256_setzero_ps(), q = _mm256_setzero_ps();
		long c = x0;
		for (; c + 8 <= x1; c += 8) {
			__m256 a[8];
			for (int l = 0; l < 8; l++)
				a[l] = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p[l] + c)))), vd);
			transpose8(a); // a[k]'s lane l: row l's value at c + k
			for (int k = 0; k < 8; k++) {
				s = _mm256_add_ps(s, a[k]);
				q = _mm256_add_ps(q, _mm256_mul_ps(a[k], a[k]));
			}
		}
		for (; c < x1; c++) {
			float v[8];
			for (int l = 0; l < 8; l++) v[l] = (float)p[l][c] - dark;
			__m256 a = _mm256_loadu_ps(v);
			s = _mm256_add_ps(s, a);
			q = _mm256_add_ps(q, _mm256_mul_ps(a, a));
		}
		float sv[8], qv[8];
		_mm256_storeu_ps(sv, s);
		_mm256_storeu_ps(qv, q);
		put_sums(sv, qv, 8, rowSum, rowSum2, r);
	}
	return r;
}
#pragma GCC pop_options


// raw_sums adds the raw values less dark of rows [r0, r1) of px (w
// columns): colSum[c] += each row's value in turn for c < cw, and the sum
// and the sum of squares of each row r over columns [x0, x1), in floats
// from the first column to the last, into rowSum[r] and rowSum2[r]. Eight
// rows (AVX2) or four are summed side by side, each in its own lane, then
// the last one at a time: the same additions in the same order.
void raw_sums(const uint16_t *px, long w, long r0, long r1, float dark, float *colSum, long cw, long x0, long x1,
	double *rowSum, double *rowSum2) {
	const __m128 vd = _mm_set1_ps(dark);
	long r = r0;
	if (have_avx2) r = sums8(px, w, r, r1, dark, colSum, cw, x0, x1, rowSum, rowSum2);
	for (; r + 4 <= r1; r += 4) {
		const uint16_t *p[4] = {px + r * w, px + (r + 1) * w, px + (r + 2) * w, px + (r + 3) * w};
		const uint16_t *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
		col_sums(colSum, cw, p, 4, dark);
		__m128 s = _mm_setzero_ps(), q = _mm_setzero_ps();
		long c = x0;
		for (; c + 4 <= x1; c += 4) {
			__m128 a0 = raw4(p0 + c, vd), a1 = raw4(p1 + c, vd), a2 = raw4(p2 + c, vd), a3 = raw4(p3 + c, vd);
			_MM_TRANSPOSE4_PS(a0, a1, a2, a3);
			ROW_STEP(s, q, a0);
			ROW_STEP(s, q, a1);
			ROW_STEP(s, q, a2);
			ROW_STEP(s, q, a3);
		}
		for (; c < x1; c++) {
			__m128 a = col4(p0, p1, p2, p3, c, dark);
			ROW_STEP(s, q, a);
		}
		store4(s, q, rowSum, rowSum2, r);
	}
	for (; r < r1; r++) {
		const uint16_t *p = px + r * w;
		for (long c = 0; c < cw; c++) {
			colSum[c] += (float)p[c] - dark;
		}
		float s = 0, q = 0;
		for (long c = x0; c < x1; c++) {
			float v = (float)p[c] - dark;
			s += v;
			q += v * v;
		}
		rowSum[r] = s;
		rowSum2[r] = q;
	}
}

// stuck_rows marks in stuck[r-y0-1] each row r of (y0, y1-1), none of it
// or its neighbours dead, that disagrees with both neighbours along
// columns [x0, x1): its corrected samples (every eighth column) are
// compared with the mean of the rows above and below where those two
// agree within 0.05; the row is stuck when more than (x1-x0)/32 samples
// are compared and at most half of them lie within limit. px is the raw
// image, rows w apart. ring holds three rows of samples.
// sample_row sets row[i] to (p[8i] - dark)·ri·cr[i] for i < ns, four at
// a time.
static void sample_row(float *row, const uint16_t *p, long ns, float dark, float ri, const float *cr) {
	const __m128 vd = _mm_set1_ps(dark), vr = _mm_set1_ps(ri);
	long i = 0;
	for (; i + 4 <= ns; i += 4, p += 32) {
		__m128 v = _mm_cvtepi32_ps(_mm_setr_epi32(p[0], p[8], p[16], p[24]));
		_mm_storeu_ps(row + i, _mm_mul_ps(_mm_mul_ps(_mm_sub_ps(v, vd), vr), _mm_loadu_ps(cr + i)));
	}
	for (; i < ns; i++, p += 8) row[i] = ((float)p[0] - dark) * ri * cr[i];
}

void stuck_rows(uint8_t *stuck, const uint16_t *px, long w, long x0, long x1, long y0, long y1,
	const float *rowInv, const float *colRef, const uint8_t *deadRow, float dark, double limit, float *ring) {
	long ns = (x1 - x0 + 7) / 8;
	float *up = ring, *mid = ring + ns, *lo = ring + 2 * ns, *cr = ring + 3 * ns;
	for (long i = 0; i < ns; i++) cr[i] = colRef[x0 + 8 * i];
#define SAMPLE(row, r) sample_row(row, px + (r) * w + x0, ns, dark, rowInv[r], cr)
	SAMPLE(up, y0);
	SAMPLE(mid, y0 + 1);
	long minN = (x1 - x0) / 32;
	// (double)e <= limit exactly when e <= limf, the largest float not
	// above limit; halving is exact, so (a+b)/2 is (a+b)*0.5.
	float limf = (float)limit;
	if ((double)limf > limit) limf = nextafterf(limf, -INFINITY);
	const __m128 near = _mm_set1_ps(0.05f), half = _mm_set1_ps(0.5f), lim = _mm_set1_ps(limf);
	const __m128 sign = _mm_set1_ps(-0.0f);
	for (long r = y0 + 1; r < y1 - 1; r++) {
		SAMPLE(lo, r + 1);
		uint8_t s = 0;
		if (!deadRow[r] && !deadRow[r - 1] && !deadRow[r + 1]) {
			// Four samples at a time, without a branch: a lane's mask
			// is -1 where it counts, subtracted from the counts.
			__m128i vn = _mm_setzero_si128(), vw = _mm_setzero_si128();
			long i = 0;
			for (; i + 4 <= ns; i += 4) {
				__m128 a = _mm_loadu_ps(up + i), b = _mm_loadu_ps(lo + i), m = _mm_loadu_ps(mid + i);
				__m128 diff = _mm_sub_ps(a, b);
				__m128 agree = _mm_and_ps(_mm_cmplt_ps(diff, near), _mm_cmpgt_ps(diff, _mm_sub_ps(_mm_setzero_ps(), near)));
				__m128 e = _mm_andnot_ps(sign, _mm_sub_ps(m, _mm_mul_ps(_mm_add_ps(a, b), half)));
				vn = _mm_sub_epi32(vn, _mm_castps_si128(agree));
				vw = _mm_sub_epi32(vw, _mm_castps_si128(_mm_and_ps(agree, _mm_cmple_ps(e, lim))));
			}
			int32_t cn[4], cw[4];
			_mm_storeu_si128((__m128i *)cn, vn);
			_mm_storeu_si128((__m128i *)cw, vw);
			long n = (long)cn[0] + cn[1] + cn[2] + cn[3], within = (long)cw[0] + cw[1] + cw[2] + cw[3];
			for (; i < ns; i++) {
				float diff = up[i] - lo[i];
				int agree = diff < 0.05f && diff > -0.05f;
				float e = mid[i] - (up[i] + lo[i]) / 2;
				if (e < 0) e = -e;
				n += agree;
				within += agree & (e <= limf);
			}
			s = n > minN && within <= n / 2;
		}
		stuck[r - y0 - 1] = s;
		float *t = up;
		up = mid;
		mid = lo;
		lo = t;
	}
#undef SAMPLE
}

// column_medians sets out[c], for each of the w columns, to the median
// (the (n/2)-th smallest) of (px[r*w+c] - dark) * rowInv[r] over the n rows
// r of rows: four columns at a time, each in its own lane, sorted by odd-even
// transposition. scratch holds 4n floats.
void column_medians(float *out, const uint16_t *px, long w, const long *rows, long n, const float *rowInv,
	float dark, float *scratch) {
	__m128 *v = (__m128 *)scratch;
	const __m128 vd = _mm_set1_ps(dark);
	long k = n / 2;
	for (long c = 0; c < w; c += 4) {
		long m = w - c < 4 ? w - c : 4;
		for (long i = 0; i < n; i++) {
			const uint16_t *p = px + rows[i] * w + c;
			__m128 a;
			if (m == 4) {
				a = raw4(p, vd);
			} else {
				float t[4] = {0, 0, 0, 0};
				for (long j = 0; j < m; j++) t[j] = (float)p[j] - dark;
				a = _mm_loadu_ps(t);
			}
			_mm_storeu_ps((float *)&v[i], _mm_mul_ps(a, _mm_set1_ps(rowInv[rows[i]])));
		}
		for (long pass = 0; pass < n; pass++) {
			for (long i = pass & 1; i + 1 < n; i += 2) {
				__m128 a = _mm_loadu_ps((float *)&v[i]), b = _mm_loadu_ps((float *)&v[i + 1]);
				_mm_storeu_ps((float *)&v[i], _mm_min_ps(a, b));
				_mm_storeu_ps((float *)&v[i + 1], _mm_max_ps(a, b));
			}
		}
		float t[4];
		_mm_storeu_ps(t, _mm_loadu_ps((float *)&v[k]));
		for (long j = 0; j < m; j++) out[c + j] = t[j];
	}
}

#pragma GCC push_options
#pragma GCC target("avx2")
// walls8 adds to *s the masses of row mr (w floats) strictly between flo
// and fhi, and for dual energy their two attenuations (ar, lr fixed
// point, less zero, times step) to *sa and *sl, eight at a time in double
// lanes, and returns how many there are. Only for sums that are exact
// (see mass_rows), which any order then gives alike.
static long walls8(const float *mr, const uint16_t *ar, const uint16_t *lr, long w, float flo, float fhi, float zero,
	float step, double *s, double *sa, double *sl) {
	const __m256 vlo = _mm256_set1_ps(flo), vhi = _mm256_set1_ps(fhi), vz = _mm256_set1_ps(zero),
		     vs = _mm256_set1_ps(step);
	__m256d ms = _mm256_setzero_pd(), as = ms, ls = ms;
	long n = 0, x = 0;
#define ADD8(acc, v) acc = _mm256_add_pd(_mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v))), \
		_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)))
#define ATT8(p) _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p)))), vz), vs)
	for (; x + 8 <= w; x += 8) {
		__m256 v = _mm256_loadu_ps(mr + x);
		__m256 in = _mm256_and_ps(_mm256_cmp_ps(v, vlo, _CMP_GT_OQ), _mm256_cmp_ps(v, vhi, _CMP_LT_OQ));
		n += __builtin_popcount(_mm256_movemask_ps(in));
		__m256 c = _mm256_and_ps(v, in); // +0 where it does not count
		ADD8(ms, c);
		if (lr) {
			__m256 ca = _mm256_and_ps(ATT8(ar + x), in), cl = _mm256_and_ps(ATT8(lr + x), in);
			ADD8(as, ca);
			ADD8(ls, cl);
		}
	}
#undef ADD8
#undef ATT8
	double t[4], sum = 0, suma = 0, suml = 0;
	_mm256_storeu_pd(t, ms);
	sum = (t[0] + t[1]) + (t[2] + t[3]);
	_mm256_storeu_pd(t, as);
	suma = (t[0] + t[1]) + (t[2] + t[3]);
	_mm256_storeu_pd(t, ls);
	suml = (t[0] + t[1]) + (t[2] + t[3]);
	for (; x < w; x++) {
		double v = mr[x];
		if (!(v > flo && v < fhi)) continue;
		n++;
		sum += v;
		if (lr) {
			suma += (double)(((float)ar[x] - zero) * step);
			suml += (double)(((float)lr[x] - zero) * step);
		}
	}
	*s += sum;
	*sa += suma;
	*sl += suml;
	return n;
}
#pragma GCC pop_options

// mass_rows sets m (w×h floats) to tab[a] for the w×h pixels of the
// attenuation plane a (rows astride apart), and over rows [top, bottom)
// adds up, in order along each row and row after row, the pixels whose
// mass lies strictly between lo and hi: their mass into sums[0] and, when
// al is given (the low-energy plane at the same pixels, rows alstride
// apart), the two attenuations ((value - zero) * step) into sums[1] and
// sums[2]; it returns how many. idx is scratch for w+3 indices.
long mass_rows(const uint16_t *a, long astride, const uint16_t *al, long alstride, const float *tab, float *m, long w, long h,
	long top, long bottom, double lo, double hi, float zero, float step, double *sums, int32_t *idx) {
	double s = sums[0], sa = sums[1], sl = sums[2];
	long n = 0;
	// A float is above the double lo exactly when it is above the
	// largest float not above lo, and below hi when below the least
	// float not below it.
	float flo = (float)lo, fhi = (float)hi;
	if ((double)flo > lo) flo = nextafterf(flo, -INFINITY);
	if ((double)fhi < hi) fhi = nextafterf(fhi, INFINITY);
	const __m128 vlo = _mm_set1_ps(flo), vhi = _mm_set1_ps(fhi);
	// The sums are exact in double, whatever their order, when every term
	// is a multiple of the least term's last bit (floats above flo > 0 are
	// multiples of its ulp; the attenuations, of step, a power of two) and
	// the largest sum such multiples can reach stays within 53 bits.
	int e;
	float fr = frexpf(step, &e);
	double ulp = (double)nextafterf(flo, INFINITY) - (double)flo;
	double most = (double)w * (double)(bottom - top > 0 ? bottom - top : 0);
	int exact = flo > 0 && fr == 0.5f && most * fhi / ulp < 0x1p53 && most * 65536.0 < 0x1p53;
	// pick[b] lists the lanes set in b, first to last.
	static const int8_t pick[16][4] = {{0}, {0}, {1}, {0, 1}, {2}, {0, 2}, {1, 2}, {0, 1, 2}, {3}, {0, 3}, {1, 3},
		{0, 1, 3}, {2, 3}, {0, 2, 3}, {1, 2, 3}, {0, 1, 2, 3}};
	static const int8_t lanes[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
	for (long y = 0; y < h; y++) {
		const uint16_t *ar = a + y * astride;
		float *mr = m + y * w;
		// Eight lookups in flight at a time.
		long x8 = 0;
		for (; x8 + 8 <= w; x8 += 8) {
			float t0 = tab[ar[x8]], t1 = tab[ar[x8 + 1]], t2 = tab[ar[x8 + 2]], t3 = tab[ar[x8 + 3]];
			float t4 = tab[ar[x8 + 4]], t5 = tab[ar[x8 + 5]], t6 = tab[ar[x8 + 6]], t7 = tab[ar[x8 + 7]];
			_mm_storeu_ps(mr + x8, _mm_set_ps(t3, t2, t1, t0));
			_mm_storeu_ps(mr + x8 + 4, _mm_set_ps(t7, t6, t5, t4));
		}
		for (; x8 < w; x8++) mr[x8] = tab[ar[x8]];
		if (y < top || y >= bottom) continue;
		if (exact && have_avx2) {
			n += walls8(mr, ar, al ? al + y * alstride : NULL, w, flo, fhi, zero, step, &s, &sa, &sl);
			continue;
		}
		// The pixels that count, listed four at a time without a branch,
		// then added.
		long k = 0, x = 0;
		for (; x + 4 <= w; x += 4) {
			__m128 v = _mm_loadu_ps(mr + x);
			int bits = _mm_movemask_ps(_mm_and_ps(_mm_cmpgt_ps(v, vlo), _mm_cmplt_ps(v, vhi)));
			idx[k] = (int32_t)x + pick[bits][0];
			idx[k + 1] = (int32_t)x + pick[bits][1];
			idx[k + 2] = (int32_t)x + pick[bits][2];
			idx[k + 3] = (int32_t)x + pick[bits][3];
			k += lanes[bits];
		}
		for (; x < w; x++) {
			double v = mr[x];
			idx[k] = (int32_t)x;
			k += (v > lo) & (v < hi);
		}
		const uint16_t *lr = al ? al + y * alstride : NULL;
		if (exact) {
			// Four sums side by side, added at the end: exact, so the
			// same as one after the other.
			double s4[4] = {0}, a4[4] = {0}, l4[4] = {0};
			long i = 0;
			for (; i + 4 <= k; i += 4)
				for (int j = 0; j < 4; j++) s4[j] += (double)mr[idx[i + j]];
			for (; i < k; i++) s4[0] += (double)mr[idx[i]];
			for (i = 0; lr && i + 4 <= k; i += 4)
				for (int j = 0; j < 4; j++) {
					a4[j] += (double)(((float)ar[idx[i + j]] - zero) * step);
					l4[j] += (double)(((float)lr[idx[i + j]] - zero) * step);
				}
			for (; lr && i < k; i++) {
				a4[0] += (double)(((float)ar[idx[i]] - zero) * step);
				l4[0] += (double)(((float)lr[idx[i]] - zero) * step);
			}
			s += (s4[0] + s4[1]) + (s4[2] + s4[3]);
			sa += (a4[0] + a4[1]) + (a4[2] + a4[3]);
			sl += (l4[0] + l4[1]) + (l4[2] + l4[3]);
		} else {
			for (long i = 0; i < k; i++) s += (double)mr[idx[i]];
			for (long i = 0; lr && i < k; i++) {
				sa += (double)(((float)ar[idx[i]] - zero) * step);
				sl += (double)(((float)lr[idx[i]] - zero) * step);
			}
		}
		n += k;
	}
	sums[0] = s;
	sums[1] = sa;
	sums[2] = sl;
	return n;
}

// select_kth returns the k-th smallest (from 0) of the n floats a,
// reordering them: quickselect with partitions that move values without a
// branch (a branch on each comparison mispredicts half the time), the
// values equal to the pivot set apart so that every round shrinks the
// range. The value is the one any selection finds.
static float select_kth(float *a, long n, long k) {
	long lo = 0, hi = n;
	while (hi - lo > 12) {
		float x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi - 1];
		float mn = x < y ? x : y, mx = x < y ? y : x;
		float p = z < mn ? mn : z > mx ? mx : z; // the median of the three
		// Lomuto's partition with an unconditional swap: [lo, i) holds
		// what is below p, [i, j) what is not, so the value swapped out
		// of i is never below p.
		long i = lo;
		for (long j = lo; j < hi; j++) {
			float v = a[j];
			a[j] = a[i];
			a[i] = v;
			i += v < p;
		}
		if (k < i) {
			hi = i;
			continue;
		}
		long e = i;
		for (long j = i; j < hi; j++) {
			float v = a[j];
			a[j] = a[e];
			a[e] = v;
			e += !(p < v);
		}
		if (k < e) return p;
		lo = e;
	}
	for (long i = lo + 1; i < hi; i++) {
		float v = a[i];
		long j = i;
		for (; j > lo && a[j - 1] > v; j--) a[j] = a[j - 1];
		a[j] = v;
	}
	return a[k];
}

// row_medians sets out[i], for each row y = y0+i of [y0, y1) of f (rows w
// floats apart), to the k-th smallest (k = n/2) of f[y*w + cols[j]] over
// the n columns cols. Neighbouring rows have close medians: the values
// within a bracket about the last row's median are set apart as they are
// gathered, and when the median is among them (counting those below) it
// is selected from those few; otherwise from all. Either way it is the
// k-th smallest. The bracket narrows while it holds the median and widens
// when it misses. scratch holds 2n floats.
void row_medians(float *out, const float *f, long w, long y0, long y1, const long *cols, long n, float *scratch) {
	float *all = scratch, *near = scratch + n;
	long k = n / 2;
	float prev = 0, delta = 0;
	int have = 0;
	for (long y = y0; y < y1; y++) {
		const float *r = f + y * w;
		float lo = prev - delta, hi = prev + delta, med;
		long below = 0, m = 0;
		for (long j = 0; j < n; j++) {
			float v = r[cols[j]];
			all[j] = v;
			below += v < lo;
			near[m] = v;
			m += (v >= lo) & (v <= hi);
		}
		if (have && below <= k && k < below + m) {
			med = select_kth(near, m, k - below);
			delta *= 0.75f;
		} else {
			med = select_kth(all, n, k);
			float jump = med > prev ? med - prev : prev - med;
			delta = have ? 2 * delta + jump : 0;
			if (!(delta > 1e-6f * (med > 0 ? med : -med))) delta = 1e-6f * (med > 0 ? med : -med) + 1e-30f;
		}
		out[y - y0] = med;
		prev = med;
		have = 1;
	}
}

// The running minimum (or maximum) of in[x-r .. x+r] clipped to [0, w),
// for every x: the row padded with what never wins, then the extremes of
// windows of 2, 4, 8, … pixels, each from two of the last (a minimum may
// count a pixel twice), and the window of 2r+1 from two overlapping
// windows of the largest power of two in it. Each step is a plain pass
// the compiler vectorizes. p and q hold w + 2r floats.
#define RUN_EXTREME(name, PAD, PICK) \
static inline __attribute__((always_inline)) void name(float *out, const float *in, long w, long r, float *p, float *q) { \
	long k = 2 * r + 1, n = w + 2 * r, s = 1; \
	for (long i = 0; i < r; i++) p[i] = p[n - 1 - i] = PAD; \
	memcpy(p + r, in, w * sizeof(float)); \
	for (; 2 * s <= k; s *= 2) { \
		for (long x = 0; x + 2 * s <= n; x++) q[x] = PICK(p[x], p[x + s]); \
		float *t = p; p = q; q = t; \
	} \
	/* p[x] is the extreme of [x, x+s); the window is [x, x+k). */ \
	for (long x = 0; x < w; x++) out[x] = PICK(p[x], p[x + k - s]); \
}
#define MIN2(a, b) ((a) < (b) ? (a) : (b))
#define MAX2(a, b) ((a) > (b) ? (a) : (b))
RUN_EXTREME(run_min, INFINITY, MIN2)
RUN_EXTREME(run_max, -INFINITY, MAX2)

// open_rows sets dst to the morphological opening of each of the h rows
// of src (w floats) by a horizontal window of 2r+1 pixels, what lies
// outside the row ignored: the least over each window, then the greatest
// of those; dst may be src (each row is copied before it is written).
// scratch holds 3(w + 2r) floats.
__attribute__((target_clones("avx2", "default"))) void open_rows(float *dst, const float *src, long w, long h, long r, float *scratch) {
	long n = w + 2 * r;
	float *e = scratch, *p = scratch + n, *q = scratch + 2 * n;
	for (long y = 0; y < h; y++) {
		run_min(e, src + y * w, w, r, p, q);
		run_max(dst + y * w, e, w, r, p, q);
	}
}

// count_below adds one to below[x] for each row y = y0, y0+step, … under
// y1 of f (w floats a row) whose value in column x is under lim, eight
// columns at a time (the compiler vectorizes it), and returns how many
// rows it looked at.
__attribute__((target_clones("avx2", "default"))) long count_below(int32_t *below, const float *f, long w, long y0,
	long y1, long step, float lim) {
	long n = 0;
	for (long y = y0; y < y1; y += step, n++) {
		const float *r = f + y * w;
		for (long x = 0; x < w; x++) below[x] += r[x] < lim;
	}
	return n;
}

// subtract_rows subtracts base[y], as a float, from every pixel of row y
// of m (w×h) and returns the sum of what is left: each row's in float
// from its first pixel to its last, the rows' in double one after the
// other. Four rows go side by side, each row's sum in its own lane.
double subtract_rows(float *m, long w, long h, const double *base) {
	double sum = 0;
	long y = 0;
	for (; y + 4 <= h; y += 4) {
		float *r0 = m + y * w, *r1 = r0 + w, *r2 = r1 + w, *r3 = r2 + w;
		float b0 = (float)base[y], b1 = (float)base[y + 1], b2 = (float)base[y + 2], b3 = (float)base[y + 3];
		const __m128 v0 = _mm_set1_ps(b0), v1 = _mm_set1_ps(b1), v2 = _mm_set1_ps(b2), v3 = _mm_set1_ps(b3);
		__m128 s = _mm_setzero_ps();
		long x = 0;
		for (; x + 4 <= w; x += 4) {
			__m128 a0 = _mm_sub_ps(_mm_loadu_ps(r0 + x), v0), a1 = _mm_sub_ps(_mm_loadu_ps(r1 + x), v1);
			__m128 a2 = _mm_sub_ps(_mm_loadu_ps(r2 + x), v2), a3 = _mm_sub_ps(_mm_loadu_ps(r3 + x), v3);
			_mm_storeu_ps(r0 + x, a0);
			_mm_storeu_ps(r1 + x, a1);
			_mm_storeu_ps(r2 + x, a2);
			_mm_storeu_ps(r3 + x, a3);
			_MM_TRANSPOSE4_PS(a0, a1, a2, a3);
			s = _mm_add_ps(_mm_add_ps(_mm_add_ps(_mm_add_ps(s, a0), a1), a2), a3);
		}
		for (; x < w; x++) {
			r0[x] -= b0;
			r1[x] -= b1;
			r2[x] -= b2;
			r3[x] -= b3;
			s = _mm_add_ps(s, _mm_set_ps(r3[x], r2[x], r1[x], r0[x]));
		}
		float t[4];
		_mm_storeu_ps(t, s);
		for (int l = 0; l < 4; l++) sum += (double)t[l];
	}
	for (; y < h; y++) {
		float *r = m + y * w, b = (float)base[y], s = 0;
		for (long x = 0; x < w; x++) {
			r[x] -= b;
			s += r[x];
		}
		sum += (double)s;
	}
	return sum;
}

// row_max returns the greatest of the n values of px.
uint16_t row_max(const uint16_t *px, long n) {
	uint16_t m = 0;
	for (long i = 0; i < n; i++) m = px[i] > m ? px[i] : m;
	return m;
}

// row_quantiles returns the k1-th (low half) and the k2-th smallest (high
// half), from 0, of px[0], px[step], px[2·step], … below n, by counting:
// their high bytes, then the low bytes of those in each high byte's
// bucket.
uint32_t row_quantiles(const uint16_t *px, long n, long step, long k1, long k2) {
	int32_t hist[256] = {0}, lo1[256] = {0}, lo2[256] = {0};
	// A row's values are close to each other: four histograms, added
	// after, so that one bucket's count does not wait on the last.
	int32_t h4[4][256] = {{0}};
	long i = 0;
	for (; i + 3 * step < n; i += 4 * step) {
		h4[0][px[i] >> 8]++;
		h4[1][px[i + step] >> 8]++;
		h4[2][px[i + 2 * step] >> 8]++;
		h4[3][px[i + 3 * step] >> 8]++;
	}
	for (; i < n; i += step) h4[0][px[i] >> 8]++;
	for (int b = 0; b < 256; b++) hist[b] = h4[0][b] + h4[1][b] + h4[2][b] + h4[3][b];
	long ks[2] = {k1, k2};
	int hi[2];
	for (int q = 0; q < 2; q++) {
		long k = ks[q];
		int h = 0;
		for (; h < 255 && k >= hist[h]; h++) k -= hist[h];
		hi[q] = h;
		ks[q] = k;
	}
	for (long i = 0; i < n; i += step) {
		int h = px[i] >> 8, l = px[i] & 0xff;
		lo1[l] += h == hi[0];
		lo2[l] += h == hi[1];
	}
	int32_t *lo[2] = {lo1, lo2};
	uint32_t out = 0;
	for (int q = 0; q < 2; q++) {
		long k = ks[q];
		int l = 0;
		for (; l < 255 && k >= lo[q][l]; l++) k -= lo[q][l];
		out |= (uint32_t)(hi[q] << 8 | l) << (16 * q);
	}
	return out;
}

// air_levels adds up, for every fourth row r of [0, h) that is not dead,
// each column's gain-corrected value x = (px - dark)·rowInv[r] into
// ref[c] where x >= 0.6, counting them in n[c] (adding nothing is adding
// zero, which leaves a sum as it is).
__attribute__((target_clones("avx2", "default"))) void air_levels(const uint16_t *px, long w, long h, float dark, const float *rowInv, const uint8_t *deadRow, float *ref,
	int32_t *n) {
	for (long r = 0; r < h; r += 4) {
		if (deadRow[r]) continue;
		const uint16_t *p = px + r * w;
		float g = rowInv[r];
		for (long c = 0; c < w; c++) {
			float x = ((float)p[c] - dark) * g;
			int air = x >= 0.6f;
			ref[c] += air ? x : 0.0f;
			n[c] += air;
		}
	}
}

// air_rows sets pass[r] for each row r of [0, h): not dead, and no pixel's
// gain-corrected value (px - dark)·rowInv[r] below its column's ref[c].
void air_rows(uint8_t *pass, const uint16_t *px, long w, long h, float dark, const float *rowInv, const uint8_t *deadRow,
	const float *ref) {
	const __m128 vd = _mm_set1_ps(dark);
	for (long r = 0; r < h; r++) {
		int ok = !deadRow[r];
		const uint16_t *p = px + r * w;
		const __m128 g = _mm_set1_ps(rowInv[r]);
		long c = 0;
		for (; ok && c + 8 <= w; c += 8) {
			__m128 below = _mm_or_ps(_mm_cmplt_ps(_mm_mul_ps(raw4(p + c, vd), g), _mm_loadu_ps(ref + c)),
				_mm_cmplt_ps(_mm_mul_ps(raw4(p + c + 4, vd), g), _mm_loadu_ps(ref + c + 4)));
			ok = !_mm_movemask_ps(below);
		}
		for (; ok && c < w; c++) ok = !(((float)p[c] - dark) * rowInv[r] < ref[c]);
		pass[r] = (uint8_t)ok;
	}
}

// col_q10 returns the (n/10)-th smallest of the n values f[y*w + x] for
// y = y0, y0+2, … below y1 (n > 0). scratch holds n floats.
float col_q10(const float *f, long w, long x, long y0, long y1, float *scratch) {
	long n = 0;
	for (long y = y0; y < y1; y += 2) scratch[n++] = f[y * w + x];
	return select_kth(scratch, n, n / 10);
}
