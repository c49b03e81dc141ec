package scanin

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"gocv.io/x/gocv"
)

// randPixels returns w*h 16-bit samples: noise, or a gradient with a little
// noise when smooth (compressible, like a scan).
func randPixels(rng *rand.Rand, w, h int, smooth bool) []uint16 {
	pix := make([]uint16, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint16(rng.Uint32())
			if smooth {
				v = uint16(1000 + 50000*x/max(w, 1) + 5000*y/max(h, 1) + rng.IntN(64))
			}
			pix[y*w+x] = v
		}
	}
	return pix
}

// stdPNG encodes pix with image/png, which picks a filter per row.
func stdPNG(t testing.TB, w, h int, pix []uint16, level png.CompressionLevel) []byte {
	t.Helper()
	img := image.NewGray16(image.Rect(0, 0, w, h))
	for i, v := range pix {
		img.SetGray16(i%w, i/w, color.Gray16{Y: v})
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngChunk appends a chunk with its length and CRC.
func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

func ihdr(w, h int, depth, colour, interlace byte) []byte {
	d := binary.BigEndian.AppendUint32(nil, uint32(w))
	d = binary.BigEndian.AppendUint32(d, uint32(h))
	return append(d, depth, colour, 0, 0, interlace)
}

// filterRow applies PNG filter ft (bpp 2) to raw row cur given the raw
// previous row prev, the encoder's side of unfilter16.
func filterRow(ft byte, cur, prev []byte) []byte {
	out := make([]byte, 1+len(cur))
	out[0] = ft
	for i, v := range cur {
		var a, b, c byte
		if i >= 2 {
			a, c = cur[i-2], prev[i-2]
		}
		b = prev[i]
		var pred byte
		switch ft {
		case 1:
			pred = a
		case 2:
			pred = b
		case 3:
			pred = byte((int(a) + int(b)) / 2)
		case 4:
			pred = paeth(a, b, c)
		}
		out[1+i] = v - pred
	}
	return out
}

// rawRows returns the image's rows as big-endian bytes.
func rawRows(w, h int, pix []uint16) [][]byte {
	rows := make([][]byte, h)
	for y := range rows {
		for x := 0; x < w; x++ {
			rows[y] = binary.BigEndian.AppendUint16(rows[y], pix[y*w+x])
		}
	}
	return rows
}

// handPNG encodes a 16-bit grey PNG with the filter of each row chosen by
// filter, its zlib stream split into IDAT chunks of idatSize bytes, and
// extra chunks before and after the image data.
func handPNG(w, h int, pix []uint16, filter func(y int) byte, idatSize int, before, after [][2]string) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	rows := rawRows(w, h, pix)
	prev := make([]byte, 2*w)
	for y, r := range rows {
		zw.Write(filterRow(filter(y), r, prev))
		prev = r
	}
	zw.Close()
	return assemblePNG(ihdr(w, h, 16, 0, 0), z.Bytes(), idatSize, before, after)
}

func assemblePNG(hdr, z []byte, idatSize int, before, after [][2]string) []byte {
	b := pngChunk([]byte(pngSignature), "IHDR", hdr)
	for _, c := range before {
		b = pngChunk(b, c[0], []byte(c[1]))
	}
	for len(z) > 0 {
		n := min(idatSize, len(z))
		b = pngChunk(b, "IDAT", z[:n])
		z = z[n:]
	}
	for _, c := range after {
		b = pngChunk(b, c[0], []byte(c[1]))
	}
	return pngChunk(b, "IEND", nil)
}

// adam7PNG encodes an interlaced 16-bit grey PNG (filter None), a valid
// image the streaming decoder leaves to OpenCV.
func adam7PNG(w, h int, pix []uint16) []byte {
	passes := [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	for _, p := range passes {
		for y := p[1]; y < h; y += p[3] {
			if p[0] >= w {
				break
			}
			row := []byte{0}
			for x := p[0]; x < w; x += p[2] {
				row = binary.BigEndian.AppendUint16(row, pix[y*w+x])
			}
			zw.Write(row)
		}
	}
	zw.Close()
	return assemblePNG(ihdr(w, h, 16, 0, 1), z.Bytes(), 1<<16, nil, nil)
}

// zlibRows returns the image data of a black w×h image, filter None.
func zlibRows(w, h int) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, (2*w+1)*h))
	zw.Close()
	return z.Bytes()
}

type chunkPos struct {
	typ        string
	start, end int // from the length field to the end of the CRC
}

// pngChunks lists the chunks of a well-formed PNG.
func pngChunks(b []byte) []chunkPos {
	var cs []chunkPos
	for i := 8; i+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]) & (1<<31 - 1))
		cs = append(cs, chunkPos{string(b[i+4 : i+8]), i, i + 12 + n})
		i += 12 + n
	}
	return cs
}

func findChunk(t testing.TB, b []byte, typ string) chunkPos {
	for _, c := range pngChunks(b) {
		if c.typ == typ {
			return c
		}
	}
	t.Fatalf("no %s chunk", typ)
	return chunkPos{}
}

// fixCRC recomputes the CRC of chunk c after its data was changed.
func fixCRC(b []byte, c chunkPos) {
	binary.BigEndian.PutUint32(b[c.end-4:], crc32.ChecksumIEEE(b[c.start+4:c.end-4]))
}

// decodePNG16 decodes a PNG from r into dst (w×h) the way decodePNG does
// a file: fastPNG16 on the whole file, else streamPNG16 from the start.
func decodePNG16(r io.Reader, w, h int, dst []uint16) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if w > 0 && h > 0 && len(dst) == w*h {
		buf := make([]byte, (2*w+1)*h)
		if fastPNG16(bytes.NewReader(data), w, h, buf) {
			for i := range dst {
				dst[i] = binary.NativeEndian.Uint16(buf[2*i:])
			}
			return nil
		}
	}
	return streamPNG16(bytes.NewReader(data), w, h, dst)
}

// fastAgrees checks that the fast decoder accepts data only when the
// streaming one does, with the same pixels, and reports whether it did.
func fastAgrees(t *testing.T, data []byte, w, h int) bool {
	t.Helper()
	if w <= 0 || h <= 0 {
		return false
	}
	buf := make([]byte, (2*w+1)*h)
	if !fastPNG16(bytes.NewReader(data), w, h, buf) {
		return false
	}
	want := make([]uint16, w*h)
	if err := streamPNG16(bytes.NewReader(data), w, h, want); err != nil {
		t.Fatalf("the fast decoder accepts what the streaming one refuses: %v", err)
	}
	for i, v := range want {
		if got := binary.NativeEndian.Uint16(buf[2*i:]); got != v {
			t.Fatalf("pixel (%d,%d): fast decoder %d, streaming %d", i%w, i/w, got, v)
		}
	}
	return true
}

func TestDecodePNG16RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := [][2]int{{1, 1}, {2, 1}, {1, 7}, {3, 3}, {5, 2}, {16, 16}, {17, 301}, {301, 17}, {64, 33}}
	type enc struct {
		name string
		fn   func(w, h int, pix []uint16) []byte
	}
	encs := []enc{
		{"std-default", func(w, h int, pix []uint16) []byte { return stdPNG(t, w, h, pix, png.DefaultCompression) }},
		{"std-none", func(w, h int, pix []uint16) []byte { return stdPNG(t, w, h, pix, png.NoCompression) }},
		{"std-best", func(w, h int, pix []uint16) []byte { return stdPNG(t, w, h, pix, png.BestCompression) }},
		{"std-speed", func(w, h int, pix []uint16) []byte { return stdPNG(t, w, h, pix, png.BestSpeed) }},
	}
	for ft := byte(0); ft < 5; ft++ {
		encs = append(encs, enc{fmt.Sprintf("filter%d", ft), func(w, h int, pix []uint16) []byte {
			return handPNG(w, h, pix, func(int) byte { return ft }, 1<<20, nil, nil)
		}})
	}
	encs = append(encs,
		enc{"filters-cycling-tiny-idat", func(w, h int, pix []uint16) []byte {
			return handPNG(w, h, pix, func(y int) byte { return byte(y % 5) }, 1, nil, nil)
		}},
		enc{"ancillary-chunks", func(w, h int, pix []uint16) []byte {
			return handPNG(w, h, pix, func(y int) byte { return byte((y * 3) % 5) }, 7,
				[][2]string{{"gAMA", "\x00\x00\xb1\x8f"}, {"tEXt", "Comment\x00scan"}},
				[][2]string{{"tIME", "\x07\xea\x04\x01\x0a\x00\x00"}, {"zzZz", strings.Repeat("x", 70000)}})
		}},
	)
	for _, sz := range sizes {
		for _, smooth := range []bool{false, true} {
			w, h := sz[0], sz[1]
			pix := randPixels(rng, w, h, smooth)
			for _, e := range encs {
				t.Run(fmt.Sprintf("%dx%d/smooth=%v/%s", w, h, smooth, e.name), func(t *testing.T) {
					data := e.fn(w, h, pix)
					if !fastAgrees(t, data, w, h) {
						t.Error("the fast decoder refuses a valid PNG of the common layout")
					}
					got := make([]uint16, w*h)
					if err := decodePNG16(bytes.NewReader(data), w, h, got); err != nil {
						t.Fatal(err)
					}
					if i := firstDiff(got, pix); i >= 0 {
						t.Fatalf("pixel (%d,%d) = %d, want %d", i%w, i/w, got[i], pix[i])
					}
				})
			}
		}
	}
}

func firstDiff(a, b []uint16) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func TestDecodePNG16Errors(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const w, h = 13, 9
	pix := randPixels(rng, w, h, true)
	good := handPNG(w, h, pix, func(y int) byte { return byte(y % 5) }, 50, [][2]string{{"tEXt", "a\x00b"}}, nil)
	if err := decodePNG16(bytes.NewReader(good), w, h, make([]uint16, w*h)); err != nil {
		t.Fatalf("the good PNG does not decode: %v", err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }

	var grey8, rgb bytes.Buffer
	png.Encode(&grey8, image.NewGray(image.Rect(0, 0, w, h)))
	png.Encode(&rgb, image.NewRGBA64(image.Rect(0, 0, w, h)))
	// A zlib stream with one row too many.

	for _, tc := range []struct {
		name          string
		data          []byte
		w, h, n       int
		notStreamable bool
		want          string // in the error
	}{
		{"8-bit grey", grey8.Bytes(), w, h, w * h, true, "8 bit of colour type 0"},
		{"RGB", rgb.Bytes(), w, h, w * h, true, "colour type"},
		{"interlaced", adam7PNG(w, h, pix), w, h, w * h, true, "interlaced"},
		{"critical chunk", handPNG(w, h, pix, func(int) byte { return 0 }, 50, [][2]string{{"PLTE", "\x00\x00\x00"}}, nil), w, h, w * h, true, `"PLTE"`},
		{"extra image data", assemblePNG(ihdr(w, h, 16, 0, 0), zlibRows(w, h+1), 100, nil, nil), w, h, w * h, true, "more image data"},
		{"wrong width", good, w + 1, h, (w + 1) * h, false, "IHDR says 13x9 pixels, expected 14x9"},
		{"wrong dst", good, w, h, w*h - 1, false, "destination of 116 pixels"},
		{"not a PNG", []byte("GIF89a......"), w, h, w * h, false, "not a PNG"},
		{"empty", nil, w, h, w * h, false, "truncated"},
		{"IHDR CRC", mutate(func(b []byte) []byte { b[29]++; return b }), w, h, w * h, false, `"IHDR" is corrupt: CRC`},
		{"tEXt CRC", mutate(func(b []byte) []byte { c := findChunk(t, b, "tEXt"); b[c.end-1]++; return b }), w, h, w * h, false, `"tEXt" is corrupt: CRC`},
		{"IDAT CRC in zlib header", mutate(func(b []byte) []byte { c := findChunk(t, b, "IDAT"); b[c.start+9] ^= 0x40; return b }), w, h, w * h, false, `"IDAT" is corrupt: CRC`},
		{"IDAT CRC in deflate data", mutate(func(b []byte) []byte { c := findChunk(t, b, "IDAT"); b[c.start+30] ^= 0xff; return b }), w, h, w * h, false, `"IDAT" is corrupt: CRC`},
		{"IDAT CRC in last chunk", mutate(func(b []byte) []byte { c := findChunk(t, b, "IEND"); b[c.start-1] ^= 0xff; return b }), w, h, w * h, false, `"IDAT" is corrupt: CRC`},
		{"deflate data", mutate(func(b []byte) []byte { c := findChunk(t, b, "IDAT"); b[c.start+30] ^= 0xff; fixCRC(b, c); return b }), w, h, w * h, false, "corrupt at row"},
		{"IEND CRC", mutate(func(b []byte) []byte { b[len(b)-1]++; return b }), w, h, w * h, false, `"IEND" is corrupt: CRC`},
		{"bad depth", mutate(func(b []byte) []byte { c := findChunk(t, b, "IHDR"); b[c.start+8+10] = 1; fixCRC(b, c); return b }), w, h, w * h, false, "compression 1"},
		{"adler32", mutate(func(b []byte) []byte {
			cs := pngChunks(b)
			var last chunkPos
			for _, c := range cs {
				if c.typ == "IDAT" {
					last = c
				}
			}
			b[last.end-5] ^= 1
			fixCRC(b, last)
			return b
		}), w, h, w * h, false, "checksum"},
		{"filter 5", assemblePNG(ihdr(1, 1, 16, 0, 0), func() []byte {
			var z bytes.Buffer
			zw := zlib.NewWriter(&z)
			zw.Write([]byte{5, 1, 2})
			zw.Close()
			return z.Bytes()
		}(), 100, nil, nil), 1, 1, 1, false, "unknown filter type 5"},
		{"no IDAT", assemblePNG(ihdr(w, h, 16, 0, 0), nil, 1, nil, nil), w, h, w * h, false, "without image data"},
		{"no IEND", good[:len(good)-12], w, h, w * h, false, "truncated"},
		{"IDAT after the image", assemblePNG(ihdr(w, h, 16, 0, 0), zlibRows(w, h), 100, nil, [][2]string{{"tEXt", "a\x00b"}, {"IDAT", "xx"}}), w, h, w * h, false, "separated"},
		{"split IDAT", mutate(func(b []byte) []byte {
			// tEXt moved between the first and the second IDAT.
			cs := pngChunks(b)
			text := findChunk(t, b, "tEXt")
			var idats []chunkPos
			for _, c := range cs {
				if c.typ == "IDAT" {
					idats = append(idats, c)
				}
			}
			out := slices.Clone(b[:text.start])
			out = append(out, b[idats[0].start:idats[0].end]...)
			out = append(out, b[text.start:text.end]...)
			return append(out, b[idats[1].start:]...)
		}), w, h, w * h, false, "truncated at row 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkDecodeError(t, decodePNG16(bytes.NewReader(tc.data), tc.w, tc.h, make([]uint16, tc.n)), tc.notStreamable, tc.want)
		})
	}

	// Every truncation is an error, never a panic nor a fallback.
	for n := 0; n < len(good); n++ {
		err := decodePNG16(bytes.NewReader(good[:n]), w, h, make([]uint16, w*h))
		if err == nil || errors.Is(err, errNotStreamable) {
			t.Fatalf("PNG cut at %d of %d bytes: error %v", n, len(good), err)
		}
		if !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("PNG cut at %d of %d bytes: error %q does not say truncated", n, len(good), err)
		}
	}
}

// tiffSpec describes a hand-made uncompressed 16-bit grey TIFF.
type tiffSpec struct {
	bo          binary.ByteOrder
	w, h        int
	pix         []uint16 // stored as they are
	rps         int      // 0: no RowsPerStrip tag
	short       bool     // StripOffsets and StripByteCounts as SHORT
	photometric int
	set         map[uint16]uint32 // more tags, or other values for the usual ones (LONG)
	omit        []uint16
}

type tiffTag struct {
	tag  uint16
	typ  uint16
	vals []uint32
}

// handTIFF writes s: header, strips, IFD, then the values that do not fit
// their entries.
func handTIFF(s tiffSpec) []byte {
	bo := s.bo.(interface {
		binary.ByteOrder
		binary.AppendByteOrder
	})
	b := []byte("II*\x00\x00\x00\x00\x00")
	if bo == binary.BigEndian {
		b = []byte("MM\x00*\x00\x00\x00\x00")
	}
	rps := s.rps
	if rps <= 0 || rps > s.h {
		rps = s.h
	}
	var offs, counts []uint32
	for y0 := 0; y0 < s.h; y0 += rps {
		offs = append(offs, uint32(len(b)))
		y1 := min(s.h, y0+rps)
		for _, v := range s.pix[y0*s.w : y1*s.w] {
			b = bo.AppendUint16(b, v)
		}
		counts = append(counts, uint32(len(b))-offs[len(offs)-1])
	}
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	stripType := uint16(tiffLong)
	if s.short {
		stripType = tiffShort
	}
	tags := []tiffTag{
		{tagImageWidth, tiffShort, []uint32{uint32(s.w)}},
		{tagImageLength, tiffLong, []uint32{uint32(s.h)}},
		{tagBitsPerSample, tiffShort, []uint32{16}},
		{tagCompression, tiffShort, []uint32{1}},
		{tagPhotometric, tiffShort, []uint32{uint32(s.photometric)}},
		{tagStripOffsets, stripType, offs},
		{tagSamplesPerPixel, tiffShort, []uint32{1}},
		{tagStripByteCounts, stripType, counts},
	}
	if s.rps != 0 {
		tags = append(tags, tiffTag{tagRowsPerStrip, tiffLong, []uint32{uint32(s.rps)}})
	}
	for tag, v := range s.set {
		tags = slices.DeleteFunc(tags, func(t tiffTag) bool { return t.tag == tag })
		tags = append(tags, tiffTag{tag, tiffLong, []uint32{v}})
	}
	tags = slices.DeleteFunc(tags, func(t tiffTag) bool { return slices.Contains(s.omit, t.tag) })
	sort.Slice(tags, func(i, j int) bool { return tags[i].tag < tags[j].tag })

	ifd := len(b)
	bo.PutUint32(b[4:], uint32(ifd))
	b = bo.AppendUint16(b, uint16(len(tags)))
	extra := ifd + 2 + 12*len(tags) + 4
	var tail []byte
	for _, t := range tags {
		b = bo.AppendUint16(b, t.tag)
		b = bo.AppendUint16(b, t.typ)
		b = bo.AppendUint32(b, uint32(len(t.vals)))
		var v []byte
		for _, x := range t.vals {
			if t.typ == tiffShort {
				v = bo.AppendUint16(v, uint16(x))
			} else {
				v = bo.AppendUint32(v, x)
			}
		}
		if len(v) <= 4 {
			b = append(b, append(v, make([]byte, 4-len(v))...)...)
		} else {
			b = bo.AppendUint32(b, uint32(extra+len(tail)))
			tail = append(tail, v...)
		}
	}
	b = append(b, 0, 0, 0, 0) // no next IFD
	return append(b, tail...)
}

func TestDecodeTIFF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][2]int{{1, 1}, {3, 1}, {1, 5}, {7, 10}, {31, 17}} {
		w, h := sz[0], sz[1]
		pix := randPixels(rng, w, h, false)
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			for _, rps := range []int{0, h, 1, 2, 3, 4, 7, h + 5} {
				for _, short := range []bool{false, true} {
					s := tiffSpec{bo: order, w: w, h: h, pix: pix, rps: rps, short: short, photometric: 1}
					t.Run(fmt.Sprintf("%dx%d/%v/rps=%d/short=%v", w, h, order, rps, short), func(t *testing.T) {
						data := handTIFF(s)
						got := make([]uint16, w*h)
						if err := decodeTIFF16(bytes.NewReader(data), int64(len(data)), w, h, got); err != nil {
							t.Fatal(err)
						}
						if i := firstDiff(got, pix); i >= 0 {
							t.Fatalf("pixel (%d,%d) = %d, want %d", i%w, i/w, got[i], pix[i])
						}
					})
				}
			}
		}
	}
	t.Run("huge RowsPerStrip", func(t *testing.T) {
		pix := randPixels(rng, 4, 3, false)
		data := handTIFF(tiffSpec{bo: binary.BigEndian, w: 4, h: 3, pix: pix, photometric: 1, set: map[uint16]uint32{tagRowsPerStrip: 1<<32 - 1}})
		got := make([]uint16, 12)
		if err := decodeTIFF16(bytes.NewReader(data), int64(len(data)), 4, 3, got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, pix) {
			t.Fatalf("got %v, want %v", got, pix)
		}
	})
	// WhiteIsZero values are taken as stored: they are detector counts in
	// the units of the sidecar's air and dark, as OpenCV reads them too.
	t.Run("WhiteIsZero", func(t *testing.T) {
		pix := randPixels(rng, 5, 4, false)
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			data := handTIFF(tiffSpec{bo: order, w: 5, h: 4, pix: pix, rps: 3, photometric: 0})
			got := make([]uint16, 20)
			if err := decodeTIFF16(bytes.NewReader(data), int64(len(data)), 5, 4, got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, pix) {
				t.Fatalf("%v: got %v, want %v", order, got, pix)
			}
		}
	})
}

func TestDecodeTIFF16Errors(t *testing.T) {
	const w, h = 6, 5
	pix := randPixels(rand.New(rand.NewPCG(7, 8)), w, h, false)
	spec := func(f func(*tiffSpec)) []byte {
		s := tiffSpec{bo: binary.LittleEndian, w: w, h: h, pix: pix, rps: 2, photometric: 1}
		f(&s)
		return handTIFF(s)
	}
	set := func(tag uint16, v uint32) []byte {
		return spec(func(s *tiffSpec) { s.rps, s.set = 0, map[uint16]uint32{tag: v} })
	}
	good := spec(func(*tiffSpec) {})
	single := spec(func(s *tiffSpec) { s.rps = 0 })
	for _, tc := range []struct {
		name          string
		data          []byte
		w, h          int
		notStreamable bool
		want          string
	}{
		{"LZW", set(tagCompression, 5), w, h, true, "Compression is 5"},
		{"tiled", set(tagTileWidth, 16), w, h, true, "tiled"},
		{"8 bit", set(tagBitsPerSample, 8), w, h, true, "BitsPerSample is 8"},
		{"RGB", set(tagSamplesPerPixel, 3), w, h, true, "SamplesPerPixel is 3"},
		{"predictor", set(tagPredictor, 2), w, h, true, "Predictor is 2"},
		{"planar", set(tagPlanarConfig, 2), w, h, true, "PlanarConfiguration is 2"},
		{"signed", set(tagSampleFormat, 2), w, h, true, "SampleFormat is 2"},
		{"palette", set(tagPhotometric, 3), w, h, true, "PhotometricInterpretation is 3"},
		{"no photometric", spec(func(s *tiffSpec) { s.omit = []uint16{tagPhotometric} }), w, h, true, "without PhotometricInterpretation"},
		{"no byte counts", spec(func(s *tiffSpec) { s.omit = []uint16{tagStripByteCounts} }), w, h, true, "without StripByteCounts"},
		{"BigTIFF", []byte("II+\x00\x08\x00\x00\x00\x00\x00\x00\x00"), w, h, true, "BigTIFF"},
		{"no offsets", spec(func(s *tiffSpec) { s.omit = []uint16{tagStripOffsets} }), w, h, false, "without StripOffsets"},
		{"strip offset out of file", set(tagStripOffsets, 1<<20), w, h, false, "lies outside the"},
		{"strip count out of file", set(tagStripByteCounts, 1<<20), w, h, false, "lies outside the"},
		{"short strip", set(tagStripByteCounts, 10), w, h, false, "has 10 bytes; its 5 rows of 6 pixels need 60"},
		{"strip count", spec(func(s *tiffSpec) { s.set = map[uint16]uint32{tagRowsPerStrip: 1} }), w, h, false, "3 StripOffsets and 3 StripByteCounts; 5 rows in strips of 1 need 5"},
		{"zero rows per strip", set(tagRowsPerStrip, 0), w, h, false, "RowsPerStrip is 0"},
		{"wrong size", good, w, h + 1, false, "TIFF says 6x5 pixels, expected 6x6"},
		{"not a TIFF", []byte("P5 6 5 65535\n"), w, h, false, "not a TIFF"},
		{"version", []byte("II\x2b\x01\x08\x00\x00\x00\x00\x00"), w, h, false, "version is 299"},
		{"short file", []byte("II*\x00"), w, h, false, "shorter than its header"},
		{"IFD out of file", []byte("MM\x00*\x7f\x00\x00\x00\x00\x00"), w, h, false, "IFD offset 2130706432 lies outside"},
		{"IFD past end", single[:len(single)-8], w, h, false, "runs past the"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkDecodeError(t, decodeTIFF16(bytes.NewReader(tc.data), int64(len(tc.data)), tc.w, tc.h, make([]uint16, tc.w*tc.h)), tc.notStreamable, tc.want)
		})
	}
	t.Run("file shrunk after its size was taken", func(t *testing.T) {
		// Only the strip is missing: the file was cut after the IFD was read.
		err := decodeTIFF16(&cutReaderAt{single, 8 + 2*w*h - 4}, int64(len(single)), w, h, make([]uint16, w*h))
		if err == nil || !strings.Contains(err.Error(), "TIFF strip 0 truncated: 56 of 60 bytes at offset 8") {
			t.Fatalf("error %v", err)
		}
	})
	// Every truncation is an error, never a panic nor a fallback.
	for n := 0; n < len(good); n++ {
		err := decodeTIFF16(bytes.NewReader(good[:n]), int64(n), w, h, make([]uint16, w*h))
		if err == nil || errors.Is(err, errNotStreamable) {
			t.Fatalf("TIFF cut at %d of %d bytes: error %v", n, len(good), err)
		}
	}
}

// cutReaderAt reads b as if it ended at cut, except for the bytes from
// cut on that are read where the strip is not.
type cutReaderAt struct {
	b   []byte
	cut int
}

func (c *cutReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(c.cut) {
		return bytes.NewReader(c.b).ReadAt(p, off)
	}
	return bytes.NewReader(c.b[:c.cut]).ReadAt(p, off)
}

// matCount returns the number of open Mats with -tags matprofile, or -1.
func matCount() int {
	if p := pprof.Lookup("gocv.io/x/gocv.Mat"); p != nil {
		return p.Count()
	}
	return -1
}

func checkMat(t *testing.T, m gocv.Mat, w, h int, want []uint16) {
	t.Helper()
	if m.Type() != gocv.MatTypeCV16UC1 || m.Cols() != w || m.Rows() != h {
		t.Fatalf("Mat is %v %dx%d; want CV_16UC1 %dx%d", m.Type(), m.Cols(), m.Rows(), w, h)
	}
	got, err := m.DataPtrUint16()
	if err != nil {
		t.Fatal(err)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("pixel (%d,%d) = %d, want %d", i%w, i/w, got[i], want[i])
	}
}

func TestDecode(t *testing.T) {
	before := matCount()
	dir := t.TempDir()
	const w, h = 37, 21
	pix := randPixels(rand.New(rand.NewPCG(9, 10)), w, h, true)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lzw := filepath.Join(dir, "cv.tif")
	func() {
		m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV16UC1, rawLE(pix))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if !gocv.IMWrite(lzw, m) {
			t.Fatal("IMWrite failed")
		}
	}()
	for _, tc := range []struct {
		name, path string
		streamed   bool // decoded by the Go decoders, not OpenCV
	}{
		{"png", write("a.png", stdPNG(t, w, h, pix, png.DefaultCompression)), true},
		{"tiff", write("a.TIF", handTIFF(tiffSpec{bo: binary.BigEndian, w: w, h: h, pix: pix, rps: 8, photometric: 1})), true},
		{"interlaced png", write("i.png", adam7PNG(w, h, pix)), false},
		{"opencv lzw tiff", lzw, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, _ := f.Stat()
			dst := make([]uint16, w*h)
			if strings.HasSuffix(tc.path, ".png") {
				err = decodePNG16(f, w, h, dst)
			} else {
				err = decodeTIFF16(f, fi.Size(), w, h, dst)
			}
			if tc.streamed && err != nil || !tc.streamed && !errors.Is(err, errNotStreamable) {
				t.Fatalf("streaming decoder: %v; want streamed = %v", err, tc.streamed)
			}
			m, err := decodeChecked(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			checkMat(t, m, w, h, pix)
		})
	}
	t.Run("corrupt", func(t *testing.T) {
		b := stdPNG(t, w, h, pix, png.DefaultCompression)
		c := findChunk(t, b, "IDAT")
		b[c.start+20] ^= 0xff
		fixCRC(b, c)
		_, err := decodeChecked(write("bad.png", b))
		if err == nil || !strings.Contains(err.Error(), "bad.png could not be decoded (corrupt or truncated): PNG image data corrupt") {
			t.Fatalf("error %v", err)
		}
		_, err = decodeChecked(write("bad.tif", handTIFF(tiffSpec{bo: binary.LittleEndian, w: w, h: h, pix: pix, photometric: 1, set: map[uint16]uint32{tagStripOffsets: 1 << 30}})))
		if err == nil || !strings.Contains(err.Error(), "bad.tif could not be decoded (corrupt or truncated): TIFF strip 0") {
			t.Fatalf("error %v", err)
		}
		if _, err := decodeChecked(write("grey8.png", func() []byte {
			var b bytes.Buffer
			png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)))
			return b.Bytes()
		}())); err == nil || !strings.Contains(err.Error(), "need one channel of 16 bit") {
			t.Fatalf("8-bit PNG: error %v", err)
		}
	})
	if after := matCount(); after != before {
		t.Errorf("%d Mats open before, %d after", before, after)
	}
}

// rawLE returns pix in the host's (little-endian) byte order.
func rawLE(pix []uint16) []byte {
	b := make([]byte, 0, 2*len(pix))
	for _, v := range pix {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

// fuzzMaxPixels keeps each fuzz input cheap.
const fuzzMaxPixels = 1 << 16

// checkFuzz decodes twice, into zeros and into ones: a nil error must come
// with every pixel written, so both destinations must agree.
func checkFuzz(t *testing.T, w, h int, dec func(dst []uint16) error) {
	a, b := make([]uint16, w*h), make([]uint16, w*h)
	for i := range b {
		b[i] = 0xffff
	}
	errA, errB := dec(a), dec(b)
	if (errA == nil) != (errB == nil) {
		t.Fatalf("decoding twice gave %v, then %v", errA, errB)
	}
	if errA == nil {
		if i := firstDiff(a, b); i >= 0 {
			t.Fatalf("no error, but pixel (%d,%d) was not written", i%w, i/w)
		}
	}
}

func FuzzDecodePNG16(f *testing.F) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, sz := range [][2]int{{1, 1}, {3, 2}, {8, 5}} {
		pix := randPixels(rng, sz[0], sz[1], true)
		f.Add(stdPNG(f, sz[0], sz[1], pix, png.DefaultCompression))
		f.Add(stdPNG(f, sz[0], sz[1], pix, png.NoCompression))
		f.Add(handPNG(sz[0], sz[1], pix, func(y int) byte { return byte(y % 5) }, 5, [][2]string{{"tEXt", "a\x00b"}}, nil))
	}
	f.Add(adam7PNG(3, 3, randPixels(rng, 3, 3, false)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 24 {
			return
		}
		w, h := int(binary.BigEndian.Uint32(data[16:])), int(binary.BigEndian.Uint32(data[20:]))
		if w <= 0 || h <= 0 || w > fuzzMaxPixels || h > fuzzMaxPixels/w {
			return
		}
		checkFuzz(t, w, h, func(dst []uint16) error { return decodePNG16(bytes.NewReader(data), w, h, dst) })
		// Most mutations break a CRC, which stops the decoder early: also
		// decode the input with its CRCs made right, to reach inflate and
		// the filters.
		fixed := slices.Clone(data)
		for _, c := range pngChunks(fixed) {
			if c.end <= len(fixed) {
				fixCRC(fixed, c)
			}
		}
		checkFuzz(t, w, h, func(dst []uint16) error { return decodePNG16(bytes.NewReader(fixed), w, h, dst) })
		fastAgrees(t, data, w, h)
		fastAgrees(t, fixed, w, h)
	})
}

func FuzzDecodeTIFF16(f *testing.F) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, sz := range [][2]int{{1, 1}, {3, 5}, {8, 7}} {
		pix := randPixels(rng, sz[0], sz[1], false)
		f.Add(handTIFF(tiffSpec{bo: binary.LittleEndian, w: sz[0], h: sz[1], pix: pix, photometric: 1}))
		f.Add(handTIFF(tiffSpec{bo: binary.BigEndian, w: sz[0], h: sz[1], pix: pix, rps: 2, short: true, photometric: 0}))
		f.Add(handTIFF(tiffSpec{bo: binary.LittleEndian, w: sz[0], h: sz[1], pix: pix, rps: 3, photometric: 1}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hd, err := readTIFFHeader(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		w, h := hd.Width, hd.Height
		if w <= 0 || h <= 0 || w > fuzzMaxPixels || h > fuzzMaxPixels/w {
			return
		}
		checkFuzz(t, w, h, func(dst []uint16) error {
			return decodeTIFF16(bytes.NewReader(data), int64(len(data)), w, h, dst)
		})
	})
}

const benchW, benchH = 4885, 1181

var benchPNG = sync.OnceValue(func() []byte {
	pix := randPixels(rand.New(rand.NewPCG(15, 16)), benchW, benchH, true)
	return stdPNG(&testing.B{}, benchW, benchH, pix, png.DefaultCompression)
})

// BenchmarkDecodePNG16 decodes a 4885×1181 scan-like PNG: in Go from memory
// into a slice, in Go from a file into a Mat (decode), and with OpenCV.
func BenchmarkDecodePNG16(b *testing.B) {
	data := benchPNG()
	path := filepath.Join(b.TempDir(), "bench.png")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("%dx%d PNG of %d bytes", benchW, benchH, len(data))
	b.Run("go-memory", func(b *testing.B) {
		dst := make([]uint16, benchW*benchH)
		b.SetBytes(2 * benchW * benchH)
		b.ReportAllocs()
		for b.Loop() {
			if err := decodePNG16(bytes.NewReader(data), benchW, benchH, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, tc := range []struct {
		name string
		dec  func(string) (gocv.Mat, error)
	}{{"go-file-mat", decodeChecked}, {"opencv-file-mat", decodeOpenCVChecked}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(2 * benchW * benchH)
			b.ReportAllocs()
			for b.Loop() {
				m, err := tc.dec(path)
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		})
	}
}

// checkDecodeError checks that a decoder refused its input with an error
// mentioning want, marked errNotStreamable or not as expected.
func checkDecodeError(t *testing.T, err error, notStreamable bool, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if errors.Is(err, errNotStreamable) != notStreamable {
		t.Errorf("errors.Is(errNotStreamable) = %v, want %v: %v", !notStreamable, notStreamable, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not mention %q", err, want)
	}
}
