package scanin

/*
#cgo CFLAGS: -O3
#include <stdint.h>
#include <string.h>

// Helpers of unfilter16: a sample's two bytes filtered separately (PNG
// filters work on bytes), the high byte first in the file.
static inline int load_up(const uint8_t *up, long x, int *lo) {
	uint16_t u;
	memcpy(&u, up + 2 * x, 2);
	*lo = u & 0xff;
	return u >> 8;
}

static inline void store(uint8_t *dst, long x, int hi, int lo) {
	uint16_t v = (uint16_t)((hi & 0xff) << 8 | (lo & 0xff));
	memcpy(dst + 2 * x, &v, 2);
}

// paeth is the PNG Paeth predictor of left a, up b and up-left c: a if it
// is nearest the estimate a+b-c, else b, else c. Written with masks, not
// comparisons a compiler may turn into branches: on noisy scans the choice
// is random and a mispredicted branch costs more than the whole predictor.
static inline int paeth(int a, int b, int c) {
	int p = b - c, q = a - c, r = p + q;
	int pa = (p ^ (p >> 31)) - (p >> 31);
	int pb = (q ^ (q >> 31)) - (q >> 31);
	int pc = (r ^ (r >> 31)) - (r >> 31);
	int mc = (pc - pb) >> 31;           // all ones when pc < pb: c over b
	int t = b ^ ((b ^ c) & mc);
	int m = pb ^ ((pb ^ pc) & mc);
	int mt = (m - pa) >> 31;            // all ones when m < pa: t over a
	return a ^ ((a ^ t) & mt);
}

#ifdef __SSE2__
#include <emmintrin.h>

// paeth_sse2 is a Paeth row below row up: the high and the low bytes of a
// sample as two 16-bit lanes of one register, so that both go through one
// chain of vector instructions. Each pixel depends on its left neighbour,
// so the time is that chain's latency; keeping everything else (the up
// and up-left values, |b-c|) off it is what makes it short.
static void paeth_sse2(uint8_t *dst, const uint8_t *src, const uint8_t *up, long w) {
	const __m128i zero = _mm_setzero_si128();
	__m128i a = zero, c = zero;
	for (long x = 0; x < w; x++) {
		uint16_t u;
		memcpy(&u, up + 2 * x, 2);
		__m128i b = _mm_cvtsi32_si128((int)(u >> 8) | (int)(u & 0xff) << 16);
		__m128i f = _mm_cvtsi32_si128((int)src[2 * x] | (int)src[2 * x + 1] << 16);
		// Off the chain: |b-c|, and k = 2c-b, so that |a+b-2c| = |a-k|
		// and |a-c| come from a in parallel.
		__m128i p = _mm_sub_epi16(b, c);
		__m128i pa = _mm_max_epi16(p, _mm_sub_epi16(zero, p));
		__m128i k = _mm_sub_epi16(c, p);
		__m128i d = _mm_sub_epi16(a, c), e = _mm_sub_epi16(a, k);
		__m128i pb = _mm_max_epi16(d, _mm_sub_epi16(zero, d));
		__m128i pc = _mm_max_epi16(e, _mm_sub_epi16(zero, e));
		__m128i mc = _mm_cmpgt_epi16(pb, pc);          // c nearer than b
		__m128i m = _mm_min_epi16(pb, pc);
		__m128i t = _mm_or_si128(_mm_and_si128(mc, c), _mm_andnot_si128(mc, b));
		__m128i mt = _mm_cmpgt_epi16(pa, m);           // b or c nearer than a
		__m128i pred = _mm_or_si128(_mm_and_si128(mt, t), _mm_andnot_si128(mt, a));
		// Bytes added without carry: the high byte of each lane stays 0.
		a = _mm_add_epi8(f, pred);
		int v = _mm_cvtsi128_si32(a);
		store(dst, x, v, v >> 16);
		c = b;
	}
}
#endif

// unfilter16 undoes the PNG filters of h rows of w 16-bit pixels in place:
// buf holds the inflated image data (per row a filter type byte and 2w
// bytes, big-endian samples) and receives the image as native uint16 rows
// of 2w bytes from its start. Row y's output lies before its input (y*2w
// against y*(2w+1)+1), and each pixel is read before it is written, so one
// forward pass does it. It returns -1, or the first row whose filter type
// is unknown. One loop per filter type: the two bytes of a sample are two
// independent chains the CPU runs side by side, and Up, where pixels do not
// depend on each other, works on four pixels at a time.
static long unfilter16(uint8_t *buf, long w, long h) {
	const long stride = 2 * w + 1;
	uint8_t *up = NULL;
	for (long y = 0; y < h; y++) {
		const uint8_t *src = buf + y * stride + 1;
		const int ft = src[-1];
		uint8_t *dst = buf + y * 2 * w;
		int ah = 0, al = 0, bh = 0, bl = 0, ch = 0, cl = 0;
		long x = 0;
		switch (ft) {
		case 0:
			for (; x < w; x++)
				store(dst, x, src[2 * x], src[2 * x + 1]);
			break;
		case 1:
			for (; x < w; x++) {
				ah += src[2 * x], al += src[2 * x + 1];
				store(dst, x, ah, al);
			}
			break;
		case 2:
			if (!up) {
				for (; x < w; x++)
					store(dst, x, src[2 * x], src[2 * x + 1]);
				break;
			}
			for (; x + 4 <= w; x += 4) {
				// Four samples: the file's bytes swapped into native
				// order, then added byte by byte without carries.
				uint64_t f, u;
				memcpy(&f, src + 2 * x, 8);
				memcpy(&u, up + 2 * x, 8);
				if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
					f = (f >> 8 & 0x00ff00ff00ff00ffULL) | (f << 8 & 0xff00ff00ff00ff00ULL);
				uint64_t v = ((f & 0x7f7f7f7f7f7f7f7fULL) + (u & 0x7f7f7f7f7f7f7f7fULL)) ^ ((f ^ u) & 0x8080808080808080ULL);
				memcpy(dst + 2 * x, &v, 8);
			}
			for (; x < w; x++) {
				bh = load_up(up, x, &bl);
				store(dst, x, src[2 * x] + bh, src[2 * x + 1] + bl);
			}
			break;
		case 3:
			for (; x < w; x++) {
				if (up)
					bh = load_up(up, x, &bl);
				ah = (src[2 * x] + ((ah + bh) >> 1)) & 0xff;
				al = (src[2 * x + 1] + ((al + bl) >> 1)) & 0xff;
				store(dst, x, ah, al);
			}
			break;
		case 4:
#ifdef __SSE2__
			if (up) {
				paeth_sse2(dst, src, up, w);
				break;
			}
#endif
			for (; x < w; x++) {
				if (up)
					bh = load_up(up, x, &bl);
				ah = (src[2 * x] + paeth(ah, bh, ch)) & 0xff;
				al = (src[2 * x + 1] + paeth(al, bl, cl)) & 0xff;
				store(dst, x, ah, al);
				ch = bh, cl = bl;
			}
			break;
		default:
			return y;
		}
		up = dst;
	}
	return -1;
}
*/
import "C"

import (
	"bufio"
	"encoding/binary"
	"hash/crc32"
	"io"
	"unsafe"
)

// fastPNG16 decodes the PNG read from r if it is the layout scanners write
// and valid in every respect streamPNG16 checks: 16-bit grey, not
// interlaced, every chunk's CRC right, no critical chunk but IHDR, IDAT
// and IEND, the IDAT chunks together, exactly h rows of w pixels in a zlib
// stream whose checksum holds, known filter types. buf must hold at least
// (2w+1)*h bytes: the inflater writes the filtered rows into it and they
// are unfiltered in place, so that the image, the first 2*w*h bytes as
// native uint16 rows, is never copied. For anything else it reports false,
// having read part of r and written into buf: the caller then asks
// streamPNG16 from the start, which decodes what this leaves (or falls
// back) and says what is wrong with a bad file.
func fastPNG16(r io.Reader, w, h int, buf []byte) bool {
	if w <= 0 || h <= 0 || int64(w) > (1<<31)/int64(h)/2 {
		return false
	}
	n := (2*w + 1) * h
	if len(buf) < n {
		return false
	}
	buf = buf[:n]
	p := &pngReader{br: bufio.NewReaderSize(r, 64<<10), crc: crc32.NewIEEE()}
	if _, err := io.ReadFull(p.br, p.hdr[:]); err != nil || string(p.hdr[:]) != pngSignature {
		return false
	}
	size, typ, err := p.chunkHeader()
	if err != nil || typ != chunkIHDR || size != 13 {
		return false
	}
	ihdr := p.ihdr[:]
	if _, err := io.ReadFull(p.br, ihdr); err != nil {
		return false
	}
	p.crc.Write(ihdr)
	if p.checkCRC(typ) != nil || binary.BigEndian.Uint32(ihdr) != uint32(w) || binary.BigEndian.Uint32(ihdr[4:]) != uint32(h) ||
		ihdr[8] != 16 || ihdr[9] != 0 || ihdr[10] != 0 || ihdr[11] != 0 || ihdr[12] != 0 {
		return false
	}
	z, err := newInflater()
	if err != nil {
		return false
	}
	defer z.close()
	total, finished, seenIDAT := 0, false, false
	for {
		size, typ, skipped, err := p.nextCritical()
		if err != nil {
			return false
		}
		switch typ {
		case chunkIDAT:
			if seenIDAT && skipped { // IDAT chunks apart
				return false
			}
			seenIDAT = true
			// The chunk's data straight from the read buffer into the
			// inflater, whose output goes straight into buf.
			for left := int(size); left > 0; {
				in, _ := p.br.Peek(min(left, p.br.Size()))
				if len(in) == 0 {
					return false
				}
				p.crc.Write(in)
				left -= len(in)
				p.br.Discard(len(in))
				for len(in) > 0 && !finished {
					iu, ou, fin, err := z.step(in, buf[total:])
					if err != nil || iu == 0 && ou == 0 && !fin {
						return false // corrupt, or more data than the image
					}
					in, total, finished = in[iu:], total+ou, fin
				}
			}
			if p.checkCRC(typ) != nil {
				return false
			}
		case chunkIEND:
			return size == 0 && p.checkCRC(typ) == nil && finished && total == n && unfilterRows(buf, w, h)
		default:
			return false
		}
	}
}

// unfilterRows runs unfilter16 on buf, (2w+1)*h bytes; false means an
// unknown filter type.
func unfilterRows(buf []byte, w, h int) bool {
	return C.unfilter16((*C.uint8_t)(unsafe.Pointer(&buf[0])), C.long(w), C.long(h)) < 0
}
