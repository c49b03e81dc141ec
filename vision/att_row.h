// The body of one width of att.c's row loop, included once a width with
// these defined (and undefined at the end): N (lanes), VF and VI (float
// and int vectors), ROW and LN (the names to define), P(op) (the width's
// intrinsic op: set1_ps, add_ps, max_ps, cvtepi32_ps, srli_epi32, …), and:
//
//   MULADD(a, b, c)  a·b + c (fused where the width has FMA)
//   CASTI CASTF      the bits of a float vector as ints, and back
//   ANDI ORI         int lanes
//   HALVE_BIG(m, e)  where m > √2, halves m and adds one to e
//   LOADRAW(p)       N raw values from p, as floats
//   P(loadu_ps)(p)         N floats from p
//   STOREFIX(p, v)   v rounded to the nearest (ties to even), saturated
//                    to [0, 65535], as N uint16 at p

static inline VF LN(VF x) {
	VI b = CASTI(x);
	VI e = P(sub_epi32)(P(srli_epi32)(b, 23), P(set1_epi32)(127));
	VF m = CASTF(ORI(ANDI(b, P(set1_epi32)(0x007fffff)), P(set1_epi32)(0x3f800000)));
	HALVE_BIG(m, e);
	VF f = P(sub_ps)(m, P(set1_ps)(1.0f));
	VF p = MULADD(P(set1_ps)(P7), f, P(set1_ps)(P6));
	p = MULADD(p, f, P(set1_ps)(P5));
	p = MULADD(p, f, P(set1_ps)(P4));
	p = MULADD(p, f, P(set1_ps)(P3));
	p = MULADD(p, f, P(set1_ps)(P2));
	p = MULADD(p, f, P(set1_ps)(P1));
	p = MULADD(p, f, P(set1_ps)(P0));
	VF fe = P(cvtepi32_ps)(e);
	return MULADD(fe, P(set1_ps)(LN2_HI), MULADD(fe, P(set1_ps)(LN2_LO), P(mul_ps)(f, p)));
}

static void ROW(uint16_t *out, const uint16_t *px, const float *inv, long n, float dark, float ri, float floor, float scale,
	float zero) {
	const VF vd = P(set1_ps)(dark), vr = P(set1_ps)(ri), vf = P(set1_ps)(floor), vs = P(set1_ps)(scale), vz = P(set1_ps)(zero);
	long c = 0;
	for (; c + N <= n; c += N) {
		// max(floor, t): floor where t < floor, else t.
		VF t = P(max_ps)(vf, P(mul_ps)(P(mul_ps)(P(sub_ps)(LOADRAW(px + c), vd), vr), P(loadu_ps)(inv + c)));
		STOREFIX(out + c, P(add_ps)(P(mul_ps)(LN(t), vs), vz));
	}
	if (c < n) {
		// The last pixels in lanes padded with zeros.
		uint16_t rp[N] = {0}, op[N];
		float ip[N] = {0};
		memcpy(rp, px + c, (n - c) * sizeof px[0]);
		memcpy(ip, inv + c, (n - c) * sizeof inv[0]);
		VF t = P(max_ps)(vf, P(mul_ps)(P(mul_ps)(P(sub_ps)(LOADRAW(rp), vd), vr), P(loadu_ps)(ip)));
		STOREFIX(op, P(add_ps)(P(mul_ps)(LN(t), vs), vz));
		memcpy(out + c, op, (n - c) * sizeof out[0]);
	}
}

#undef N
#undef VF
#undef VI
#undef P
#undef ROW
#undef LN
#undef MULADD
#undef CASTI
#undef CASTF
#undef ANDI
#undef ORI
#undef HALVE_BIG
#undef LOADRAW
#undef STOREFIX
