// transpose8 transposes eight rows of eight floats in AVX2 registers:
// afterwards a[k]'s lane l is what a[l]'s lane k was. Included by the C
// files that need it, inside their AVX2 part.
static inline void transpose8(__m256 *a) {
	__m256 t[8], u[8];
	for (int l = 0; l < 8; l += 2) {
		t[l] = _mm256_unpacklo_ps(a[l], a[l + 1]);
		t[l + 1] = _mm256_unpackhi_ps(a[l], a[l + 1]);
	}
	for (int l = 0; l < 8; l += 4) {
		u[l] = _mm256_shuffle_ps(t[l], t[l + 2], _MM_SHUFFLE(1, 0, 1, 0));
		u[l + 1] = _mm256_shuffle_ps(t[l], t[l + 2], _MM_SHUFFLE(3, 2, 3, 2));
		u[l + 2] = _mm256_shuffle_ps(t[l + 1], t[l + 3], _MM_SHUFFLE(1, 0, 1, 0));
		u[l + 3] = _mm256_shuffle_ps(t[l + 1], t[l + 3], _MM_SHUFFLE(3, 2, 3, 2));
	}
	for (int k = 0; k < 4; k++) {
		a[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
		a[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
	}
}
