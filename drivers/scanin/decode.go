package scanin

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/klauspost/compress/zlib"
	"hash"
	"hash/crc32"
	"image"
	"io"
	"math/bits"
	"os"
	"unsafe"

	"gocv.io/x/gocv"
)

// Streaming decoders for the image layouts scanners actually write: 16-bit
// grey PNG without interlace and uncompressed 16-bit grey TIFF in strips.
// They write straight into the pixel memory of the destination Mat, so a
// decode never holds a second full-size copy of the image, and they keep
// OpenCV's imgcodecs module (whose first use costs ~10 MB of resident
// memory, because Debian's OpenCV registers every GDAL driver) out of the
// common path. Anything else falls back to OpenCV.

// errNotStreamable marks a valid image whose layout the streaming decoders
// do not handle (interlaced PNG, compressed or tiled TIFF, ...): the caller
// falls back to OpenCV instead of rejecting the image.
var errNotStreamable = errors.New("layout not handled by the streaming decoder")

// hostLittleEndian tells whether 16-bit samples in "II" order can be used
// as they are read.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

const pngSignature = "\x89PNG\r\n\x1a\n"

// chunkType is a PNG chunk's four-letter type as a big-endian number: a
// value, so that reading a chunk allocates nothing.
type chunkType uint32

const (
	chunkIHDR chunkType = 'I'<<24 | 'H'<<16 | 'D'<<8 | 'R'
	chunkIDAT chunkType = 'I'<<24 | 'D'<<16 | 'A'<<8 | 'T'
	chunkIEND chunkType = 'I'<<24 | 'E'<<16 | 'N'<<8 | 'D'
)

func (c chunkType) String() string {
	return string([]byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)})
}

// critical tells a chunk a decoder must understand (its first letter is
// upper case) from an ancillary one it may skip.
func (c chunkType) critical() bool { return c&(0x20<<24) == 0 }

// pngReader walks the chunks of a PNG, checking each chunk's CRC.
type pngReader struct {
	br   *bufio.Reader
	crc  hash.Hash32
	hdr  [8]byte  // a chunk's length and type, or the signature
	sum  [4]byte  // a chunk's CRC
	ihdr [13]byte // IHDR's data
	// The header of the chunk after the last IDAT, read by the IDAT reader
	// to find where the image data ends.
	nextLen  uint32
	nextType chunkType
	hasNext  bool
}

// chunkHeader reads a chunk's length and type and starts its CRC.
func (p *pngReader) chunkHeader() (uint32, chunkType, error) {
	if p.hasNext {
		p.hasNext = false
		return p.nextLen, p.nextType, nil
	}
	if _, err := io.ReadFull(p.br, p.hdr[:]); err != nil {
		return 0, 0, fmt.Errorf("PNG truncated before a chunk header: %w", noEOF(err))
	}
	n := binary.BigEndian.Uint32(p.hdr[:4])
	typ := chunkType(binary.BigEndian.Uint32(p.hdr[4:8]))
	if n > 1<<31-1 {
		return 0, typ, fmt.Errorf("PNG chunk %q claims %d bytes, more than 2^31-1", typ, n)
	}
	p.crc.Reset()
	p.crc.Write(p.hdr[4:8])
	return n, typ, nil
}

// checkCRC reads the CRC that ends a chunk and compares it with the one
// computed over the chunk's type and data.
func (p *pngReader) checkCRC(typ chunkType) error {
	if _, err := io.ReadFull(p.br, p.sum[:]); err != nil {
		return fmt.Errorf("PNG truncated in the CRC of chunk %q: %w", typ, noEOF(err))
	}
	if got, want := binary.BigEndian.Uint32(p.sum[:]), p.crc.Sum32(); got != want {
		return &crcError{typ, got, want}
	}
	return nil
}

// crcError is a chunk whose CRC does not match its contents.
type crcError struct {
	typ            chunkType
	stored, actual uint32
}

func (e *crcError) Error() string {
	return fmt.Sprintf("PNG chunk %q is corrupt: CRC %08x stored, %08x computed", e.typ, e.stored, e.actual)
}

// skip reads a chunk's data through the CRC without keeping it.
func (p *pngReader) skip(n uint32, typ chunkType) error {
	for n > 0 {
		b, err := p.br.Peek(min(int(n), p.br.Size()))
		p.crc.Write(b)
		p.br.Discard(len(b))
		n -= uint32(len(b))
		if n > 0 && err != nil {
			return fmt.Errorf("PNG truncated in chunk %q: %w", typ, noEOF(err))
		}
	}
	return p.checkCRC(typ)
}

// idatReader presents the data of consecutive IDAT chunks as one stream,
// checking each chunk's CRC as its end is reached, so the compressed image
// is never held whole.
type idatReader struct {
	p    *pngReader
	left uint32 // data bytes left in the current IDAT chunk
	done bool   // the chunk after the last IDAT has been reached
}

func (d *idatReader) Read(b []byte) (int, error) {
	for d.left == 0 {
		if d.done {
			return 0, io.EOF
		}
		if err := d.p.checkCRC(chunkIDAT); err != nil {
			return 0, err
		}
		n, typ, err := d.p.chunkHeader()
		if err != nil {
			return 0, err
		}
		if typ != chunkIDAT {
			d.p.nextLen, d.p.nextType, d.p.hasNext = n, typ, true
			d.done = true
			return 0, io.EOF
		}
		d.left = n
	}
	if uint32(len(b)) > d.left {
		b = b[:d.left]
	}
	n, err := d.p.br.Read(b)
	d.p.crc.Write(b[:n])
	d.left -= uint32(n)
	if err == io.EOF {
		err = fmt.Errorf("PNG truncated inside an IDAT chunk: %w", io.ErrUnexpectedEOF)
	}
	return n, err
}

// blame returns the CRC error of the current or a later IDAT chunk, if
// there is one, in place of err: image data is inflated before the CRC of
// its chunk is read, so a damaged chunk usually shows first as bad deflate
// data, and the CRC says better what is wrong.
func (d *idatReader) blame(err error) error {
	var c *crcError
	if errors.As(err, &c) {
		return err
	}
	if _, derr := io.Copy(io.Discard, d); errors.As(derr, &c) {
		return derr
	}
	return err
}

// decodePNG decodes the 16-bit grey PNG file f (w×h pixels) into a
// CV_16UC1 Mat: by fastPNG16, straight into the Mat's memory, for the
// layout scanners write; else, from the start again, by streamPNG16, which
// decodes the rest and says what is wrong with a bad file. The inflated
// rows are a byte longer each than the image's, so the Mat is allocated a
// few rows longer and the image is a view of its first h rows. A valid PNG
// of another layout gives an error wrapping errNotStreamable.
func decodePNG(f *os.File, w, h int) (gocv.Mat, error) {
	extra := (h + 2*w - 1) / (2 * w) // rows that hold (2w+1)*h bytes
	m := gocv.NewMatWithSize(h+extra, w, gocv.MatTypeCV16UC1)
	defer m.Close()
	raw, err := m.DataPtrUint8()
	if err != nil {
		return gocv.Mat{}, err
	}
	if !fastPNG16(f, w, h, raw) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return gocv.Mat{}, err
		}
		px, err := m.DataPtrUint16()
		if err == nil {
			err = streamPNG16(f, w, h, px[:w*h])
		}
		if err != nil {
			return gocv.Mat{}, err
		}
	}
	return m.Region(image.Rect(0, 0, w, h)), nil
}

// streamPNG16 decodes a 16-bit grey, non-interlaced PNG of w×h pixels from
// r into dst (len w*h, row after row), one row at a time: it holds the
// inflate window and two rows, never the whole image or its compressed
// data. A valid PNG of another layout gives an error wrapping
// errNotStreamable; corrupt or truncated data a plain error.
func streamPNG16(r io.Reader, w, h int, dst []uint16) error {
	if w <= 0 || h <= 0 || len(dst)/w != h || len(dst)%w != 0 {
		return fmt.Errorf("PNG destination of %d pixels does not fit %dx%d", len(dst), w, h)
	}
	p := &pngReader{br: bufio.NewReaderSize(r, 32<<10), crc: crc32.NewIEEE()}
	if err := p.header(w, h); err != nil {
		return err
	}
	n, err := p.firstIDAT()
	if err != nil {
		return err
	}
	if err := inflateRows16(&idatReader{p: p, left: n}, w, h, dst); err != nil {
		return err
	}
	return p.trailer()
}

// header reads the signature and the IHDR chunk and checks that they
// describe a w×h 16-bit grey, non-interlaced image.
func (p *pngReader) header(w, h int) error {
	if _, err := io.ReadFull(p.br, p.hdr[:]); err != nil {
		return fmt.Errorf("PNG truncated in its signature: %w", noEOF(err))
	}
	if string(p.hdr[:]) != pngSignature {
		return fmt.Errorf("not a PNG (starts %q)", p.hdr[:])
	}
	n, typ, err := p.chunkHeader()
	if err != nil {
		return err
	}
	if typ != chunkIHDR || n != 13 {
		return fmt.Errorf("PNG starts with chunk %q of %d bytes; want IHDR of 13", typ, n)
	}
	if _, err := io.ReadFull(p.br, p.ihdr[:]); err != nil {
		return fmt.Errorf("PNG truncated in IHDR: %w", noEOF(err))
	}
	p.crc.Write(p.ihdr[:])
	if err := p.checkCRC(typ); err != nil {
		return err
	}
	ihdr := p.ihdr[:]
	iw, ih := binary.BigEndian.Uint32(ihdr[0:]), binary.BigEndian.Uint32(ihdr[4:])
	depth, colour, comp, filter, interlace := ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]
	if uint64(iw) != uint64(w) || uint64(ih) != uint64(h) {
		return fmt.Errorf("PNG IHDR says %dx%d pixels, expected %dx%d", iw, ih, w, h)
	}
	if comp != 0 || filter != 0 || interlace > 1 {
		return fmt.Errorf("PNG IHDR has compression %d, filter %d, interlace %d; only 0, 0, 0 or 1 exist", comp, filter, interlace)
	}
	if depth != 16 || colour != 0 {
		return fmt.Errorf("PNG is %d bit of colour type %d, not 16-bit grey (type 0): %w", depth, colour, errNotStreamable)
	}
	if interlace != 0 {
		return fmt.Errorf("PNG is interlaced (Adam7): %w", errNotStreamable)
	}
	return nil
}

// nextCritical skips the ancillary chunks up to the next critical one
// (their CRCs checked), whose length and type it returns with its header
// read; skipped reports whether there were any.
func (p *pngReader) nextCritical() (n uint32, typ chunkType, skipped bool, err error) {
	for {
		n, typ, err = p.chunkHeader()
		if err != nil || typ.critical() {
			return n, typ, skipped, err
		}
		if err := p.skip(n, typ); err != nil {
			return 0, typ, skipped, err
		}
		skipped = true
	}
}

// firstIDAT skips the ancillary chunks before the image data and returns
// the length of the first IDAT chunk, whose header it has read.
func (p *pngReader) firstIDAT() (uint32, error) {
	n, typ, _, err := p.nextCritical()
	switch {
	case err != nil:
		return 0, err
	case typ == chunkIDAT:
		return n, nil
	case typ == chunkIEND:
		return 0, errors.New("PNG ends (IEND) without image data (IDAT)")
	}
	// PLTE, or one this decoder does not know.
	return 0, fmt.Errorf("PNG has critical chunk %q before its image data: %w", typ, errNotStreamable)
}

// inflateRows16 inflates and unfilters the image data of idat into dst, one
// row at a time, reusing two row buffers, and reads the data's end
// through the last IDAT chunk's CRC.
func inflateRows16(idat *idatReader, w, h int, dst []uint16) error {
	zr, err := zlib.NewReader(bufio.NewReaderSize(idat, 32<<10))
	if err != nil {
		return fmt.Errorf("PNG image data has no valid zlib header: %w", idat.blame(noEOF(err)))
	}
	defer zr.Close()
	stride := 2*w + 1
	cur, prev := make([]byte, stride), make([]byte, stride)
	for y := 0; y < h; y++ {
		if _, err := io.ReadFull(zr, cur); err != nil {
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("PNG image data truncated at row %d of %d: %w", y, h, err)
			}
			return fmt.Errorf("PNG image data corrupt at row %d of %d: %w", y, h, idat.blame(err))
		}
		if err := unfilter16(cur, prev); err != nil {
			return fmt.Errorf("PNG row %d: %w", y, idat.blame(err))
		}
		row, c := dst[y*w:(y+1)*w], cur[1:]
		_ = c[2*len(row)-1]
		for x := range row {
			row[x] = uint16(c[2*x])<<8 | uint16(c[2*x+1])
		}
		cur, prev = prev, cur
	}
	// The end of the zlib stream carries its checksum; data beyond the
	// image is valid enough for libpng (a warning) but not for this decoder.
	if k, err := zr.Read(cur[:1]); k > 0 {
		return fmt.Errorf("PNG has more image data than %dx%d pixels: %w", w, h, errNotStreamable)
	} else if err != io.EOF {
		return fmt.Errorf("PNG image data corrupt at its end: %w", idat.blame(noEOF(err)))
	}
	if _, err := io.Copy(io.Discard, idat); err != nil { // the CRCs of the last IDAT chunks
		return err
	}
	return nil
}

// trailer checks the chunks after the image data, up to IEND.
func (p *pngReader) trailer() error {
	n, typ, _, err := p.nextCritical()
	switch {
	case err != nil:
		return err
	case typ == chunkIDAT:
		return errors.New("PNG has IDAT chunks separated by other chunks")
	case typ != chunkIEND:
		return fmt.Errorf("PNG has critical chunk %q after its image data: %w", typ, errNotStreamable)
	case n != 0:
		return fmt.Errorf("PNG IEND chunk has %d bytes of data; want 0", n)
	}
	return p.checkCRC(typ)
}

// unfilter16 undoes the PNG filter of row cur (filter type byte first)
// given the previous, already unfiltered, row prev, for 2 bytes per pixel.
func unfilter16(cur, prev []byte) error {
	const bpp = 2
	c, p := cur[1:], prev[1:len(cur)]
	switch cur[0] {
	case 0: // None
	case 1: // Sub
		for i := bpp; i < len(c); i++ {
			c[i] += c[i-bpp]
		}
	case 2: // Up
		for i, v := range p {
			c[i] += v
		}
	case 3: // Average
		for i := 0; i < bpp; i++ {
			c[i] += p[i] / 2
		}
		for i := bpp; i < len(c); i++ {
			c[i] += uint8((int(c[i-bpp]) + int(p[i])) / 2)
		}
	case 4: // Paeth
		for i := 0; i < bpp; i++ {
			c[i] += p[i] // Paeth(0, up, 0) is up
		}
		for i := bpp; i < len(c); i++ {
			c[i] += paeth(c[i-bpp], p[i], p[i-bpp])
		}
	default:
		return fmt.Errorf("unknown filter type %d", cur[0])
	}
	return nil
}

// paeth is the PNG Paeth predictor of left a, up b and up-left c.
func paeth(a, b, c uint8) uint8 {
	pa, pb := int(b)-int(c), int(a)-int(c)
	pc := abs(pa + pb)
	pa, pb = abs(pa), abs(pb)
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: wherever these decoders
// read, the data was expected to go on.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// TIFF tags the streaming decoder reads or refuses.
const (
	tagImageWidth      = 256
	tagImageLength     = 257
	tagBitsPerSample   = 258
	tagCompression     = 259
	tagPhotometric     = 262
	tagStripOffsets    = 273
	tagSamplesPerPixel = 277
	tagRowsPerStrip    = 278
	tagStripByteCounts = 279
	tagPlanarConfig    = 284
	tagPredictor       = 317
	tagTileWidth       = 322
	tagTileByteCounts  = 325
	tagSampleFormat    = 339
)

const (
	tiffShort = 3
	tiffLong  = 4
)

// tiffEntry is one IFD entry: its type, count and 4-byte value field.
type tiffEntry struct {
	tag, typ uint16
	count    uint32
	field    [4]byte
	present  bool
}

// tiffFile reads the values of IFD entries, checking every offset against
// the file's size.
type tiffFile struct {
	r    io.ReaderAt
	size int64
	bo   binary.ByteOrder
}

// values returns the raw bytes of an entry's SHORT or LONG values (in the
// file's byte order) and the size of one, reading them from their offset
// when they do not fit the entry.
func (t *tiffFile) values(e *tiffEntry) ([]byte, int, error) {
	var sz int
	switch e.typ {
	case tiffShort:
		sz = 2
	case tiffLong:
		sz = 4
	default:
		return nil, 0, fmt.Errorf("TIFF tag %d has type %d; want SHORT (3) or LONG (4)", e.tag, e.typ)
	}
	if e.count == 0 {
		return nil, 0, fmt.Errorf("TIFF tag %d has no value", e.tag)
	}
	n := int64(e.count) * int64(sz)
	if n <= 4 {
		return e.field[:n], sz, nil
	}
	off := int64(t.bo.Uint32(e.field[:]))
	if off > t.size || n > t.size-off {
		return nil, 0, fmt.Errorf("TIFF tag %d: %d values at offset %d lie outside the %d-byte file", e.tag, e.count, off, t.size)
	}
	b := make([]byte, n)
	if _, err := t.r.ReadAt(b, off); err != nil {
		return nil, 0, fmt.Errorf("TIFF tag %d: reading %d values at offset %d: %w", e.tag, e.count, off, noEOF(err))
	}
	return b, sz, nil
}

// value returns value i of values read by values.
func (t *tiffFile) value(b []byte, sz, i int) uint32 {
	if sz == 2 {
		return uint32(t.bo.Uint16(b[2*i:]))
	}
	return t.bo.Uint32(b[4*i:])
}

// scalar returns the first value of e, or def when e is absent.
func (t *tiffFile) scalar(e *tiffEntry, def uint32) (uint32, error) {
	if !e.present {
		return def, nil
	}
	b, sz, err := t.values(e)
	if err != nil {
		return 0, err
	}
	return t.value(b, sz, 0), nil
}

// decodeTIFF decodes the TIFF file f (size bytes, w×h pixels) into a
// CV_16UC1 Mat with decodeTIFF16.
func decodeTIFF(f *os.File, size int64, w, h int) (gocv.Mat, error) {
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV16UC1)
	px, err := m.DataPtrUint16()
	if err == nil {
		err = decodeTIFF16(f, size, w, h, px)
	}
	if err != nil {
		m.Close()
		return gocv.Mat{}, err
	}
	return m, nil
}

// decodeTIFF16 decodes an uncompressed, stripped, 16-bit grey classic TIFF
// of w×h pixels from r (size bytes) into dst (len w*h): each strip is read
// straight into dst's memory and its byte order fixed in place. A valid
// TIFF of another layout (compressed, tiled, several samples, ...) gives an
// error wrapping errNotStreamable; corrupt or truncated data a plain error.
func decodeTIFF16(r io.ReaderAt, size int64, w, h int, dst []uint16) error {
	if w <= 0 || h <= 0 || len(dst)/w != h || len(dst)%w != 0 {
		return fmt.Errorf("TIFF destination of %d pixels does not fit %dx%d", len(dst), w, h)
	}
	t := &tiffFile{r: r, size: size}
	if size < 8 {
		return fmt.Errorf("TIFF of %d bytes is shorter than its header", size)
	}
	ifd, err := t.header()
	if err != nil {
		return err
	}
	d, err := t.readIFD(ifd)
	if err != nil {
		return err
	}
	if err := t.checkLayout(&d, w, h); err != nil {
		return err
	}
	st, err := t.strips(&d, h)
	if err != nil {
		return err
	}
	return t.readStrips(st, w, h, dst)
}

// header reads the file's byte order and version and returns the offset
// of its first IFD.
func (t *tiffFile) header() (int64, error) {
	var buf [8]byte
	if _, err := t.r.ReadAt(buf[:8], 0); err != nil {
		return 0, fmt.Errorf("TIFF header: %w", noEOF(err))
	}
	switch string(buf[:2]) {
	case "II":
		t.bo = binary.LittleEndian
	case "MM":
		t.bo = binary.BigEndian
	default:
		return 0, fmt.Errorf("not a TIFF (starts %q)", buf[:2])
	}
	if v := t.bo.Uint16(buf[2:]); v != 42 {
		if v == 43 {
			return 0, fmt.Errorf("TIFF is a BigTIFF: %w", errNotStreamable)
		}
		return 0, fmt.Errorf("TIFF version is %d; want 42", v)
	}
	ifd := int64(t.bo.Uint32(buf[4:]))
	if ifd < 8 || ifd > t.size-2 {
		return 0, fmt.Errorf("TIFF IFD offset %d lies outside the %d-byte file", ifd, t.size)
	}
	return ifd, nil
}

// tiffIFD holds the entries of the IFD tags the decoder reads; an absent
// tag's entry is not present.
type tiffIFD struct {
	width, length, bps, comp, photo, offsets, spp, rps, counts, planar, pred, format tiffEntry
}

// readIFD reads the entries of the IFD at offset ifd; a tiled TIFF is not
// streamable.
func (t *tiffFile) readIFD(ifd int64) (tiffIFD, error) {
	var d tiffIFD
	var buf [12]byte
	if _, err := t.r.ReadAt(buf[:2], ifd); err != nil {
		return d, fmt.Errorf("TIFF IFD at %d: %w", ifd, noEOF(err))
	}
	count := int64(t.bo.Uint16(buf[:2]))
	if ifd+2+12*count > t.size {
		return d, fmt.Errorf("TIFF IFD at %d with %d entries runs past the %d-byte file", ifd, count, t.size)
	}
	for i := int64(0); i < count; i++ {
		if _, err := t.r.ReadAt(buf[:12], ifd+2+12*i); err != nil {
			return d, fmt.Errorf("TIFF IFD entry %d: %w", i, noEOF(err))
		}
		e := tiffEntry{tag: t.bo.Uint16(buf[0:]), typ: t.bo.Uint16(buf[2:]), count: t.bo.Uint32(buf[4:]), present: true}
		copy(e.field[:], buf[8:12])
		switch {
		case e.tag == tagImageWidth:
			d.width = e
		case e.tag == tagImageLength:
			d.length = e
		case e.tag == tagBitsPerSample:
			d.bps = e
		case e.tag == tagCompression:
			d.comp = e
		case e.tag == tagPhotometric:
			d.photo = e
		case e.tag == tagStripOffsets:
			d.offsets = e
		case e.tag == tagSamplesPerPixel:
			d.spp = e
		case e.tag == tagRowsPerStrip:
			d.rps = e
		case e.tag == tagStripByteCounts:
			d.counts = e
		case e.tag == tagPlanarConfig:
			d.planar = e
		case e.tag == tagPredictor:
			d.pred = e
		case e.tag == tagSampleFormat:
			d.format = e
		case e.tag >= tagTileWidth && e.tag <= tagTileByteCounts:
			return d, fmt.Errorf("TIFF is tiled (tag %d): %w", e.tag, errNotStreamable)
		}
	}
	return d, nil
}

// checkLayout checks that the IFD d describes a w×h, uncompressed,
// 16-bit grey image the streaming decoder handles.
func (t *tiffFile) checkLayout(d *tiffIFD, w, h int) error {
	if !d.width.present || !d.length.present {
		return errors.New("TIFF without ImageWidth or ImageLength")
	}
	iw, err := t.scalar(&d.width, 0)
	if err != nil {
		return err
	}
	ih, err := t.scalar(&d.length, 0)
	if err != nil {
		return err
	}
	if uint64(iw) != uint64(w) || uint64(ih) != uint64(h) {
		return fmt.Errorf("TIFF says %dx%d pixels, expected %dx%d", iw, ih, w, h)
	}
	// Every layout check: the value read, its default when the tag is
	// absent, and what the streaming decoder handles.
	for _, c := range []struct {
		e    *tiffEntry
		name string
		def  uint32
		ok   func(uint32) bool
	}{
		{&d.bps, "BitsPerSample", 1, func(v uint32) bool { return v == 16 }},
		{&d.spp, "SamplesPerPixel", 1, func(v uint32) bool { return v == 1 }},
		{&d.comp, "Compression", 1, func(v uint32) bool { return v == 1 }},
		{&d.photo, "PhotometricInterpretation", 0xffff, func(v uint32) bool { return v <= 1 }},
		{&d.planar, "PlanarConfiguration", 1, func(v uint32) bool { return v == 1 }},
		{&d.pred, "Predictor", 1, func(v uint32) bool { return v == 1 }},
		{&d.format, "SampleFormat", 1, func(v uint32) bool { return v == 1 }},
	} {
		v, err := t.scalar(c.e, c.def)
		if err != nil {
			return err
		}
		if !c.ok(v) {
			if !c.e.present {
				return fmt.Errorf("TIFF without %s: %w", c.name, errNotStreamable)
			}
			return fmt.Errorf("TIFF %s is %d: %w", c.name, v, errNotStreamable)
		}
	}
	// WhiteIsZero (0) is taken as it is stored, like MinIsBlack: the
	// values are detector counts, and the sidecar's air and dark levels
	// are in those same stored units (OpenCV, the fallback, does the same).
	return nil
}

// tiffStrips is where the image's strips are: rows per strip, how many,
// and the raw StripOffsets and StripByteCounts values with their sizes.
type tiffStrips struct {
	rowsPerStrip, n int
	offv, cntv      []byte
	offsz, cntsz    int
}

// strips reads and checks the strip layout of the IFD d for h rows.
func (t *tiffFile) strips(d *tiffIFD, h int) (tiffStrips, error) {
	rows, err := t.scalar(&d.rps, uint32(h))
	if err != nil {
		return tiffStrips{}, err
	}
	if rows == 0 {
		return tiffStrips{}, errors.New("TIFF RowsPerStrip is 0")
	}
	rowsPerStrip := h
	if uint64(rows) < uint64(h) {
		rowsPerStrip = int(rows)
	}
	nstrips := (h + rowsPerStrip - 1) / rowsPerStrip
	if !d.offsets.present {
		return tiffStrips{}, errors.New("TIFF without StripOffsets")
	}
	if !d.counts.present {
		return tiffStrips{}, fmt.Errorf("TIFF without StripByteCounts: %w", errNotStreamable)
	}
	if uint64(d.offsets.count) != uint64(nstrips) || uint64(d.counts.count) != uint64(nstrips) {
		return tiffStrips{}, fmt.Errorf("TIFF has %d StripOffsets and %d StripByteCounts; %d rows in strips of %d need %d",
			d.offsets.count, d.counts.count, h, rowsPerStrip, nstrips)
	}
	offv, offsz, err := t.values(&d.offsets)
	if err != nil {
		return tiffStrips{}, err
	}
	cntv, cntsz, err := t.values(&d.counts)
	if err != nil {
		return tiffStrips{}, err
	}
	return tiffStrips{rowsPerStrip: rowsPerStrip, n: nstrips, offv: offv, cntv: cntv, offsz: offsz, cntsz: cntsz}, nil
}

// readStrips reads each strip of st straight into dst's memory and fixes
// its byte order in place.
func (t *tiffFile) readStrips(st tiffStrips, w, h int, dst []uint16) error {
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 2*len(dst))
	swap := (t.bo == binary.BigEndian) == hostLittleEndian
	rowBytes := int64(2 * w)
	for i := 0; i < st.n; i++ {
		y0 := i * st.rowsPerStrip
		y1 := min(h, y0+st.rowsPerStrip)
		need := int64(y1-y0) * rowBytes
		off, cnt := int64(t.value(st.offv, st.offsz, i)), int64(t.value(st.cntv, st.cntsz, i))
		if cnt < need {
			return fmt.Errorf("TIFF strip %d has %d bytes; its %d rows of %d pixels need %d", i, cnt, y1-y0, w, need)
		}
		if off > t.size || cnt > t.size-off {
			return fmt.Errorf("TIFF strip %d of %d bytes at offset %d lies outside the %d-byte file", i, cnt, off, t.size)
		}
		b := raw[int64(y0)*rowBytes : int64(y1)*rowBytes]
		if k, err := t.r.ReadAt(b, off); k < len(b) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("TIFF strip %d truncated: %d of %d bytes at offset %d: %w", i, k, len(b), off, noEOF(err))
		}
		px := dst[y0*w : y1*w]
		if swap {
			for j, v := range px {
				px[j] = bits.ReverseBytes16(v)
			}
		}
	}
	return nil
}
