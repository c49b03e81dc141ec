package scanin

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gocv.io/x/gocv"
)

// Limits bounds what is decoded, so that a corrupt or hostile file cannot
// exhaust the box's memory.
type Limits struct {
	MaxWidth, MaxHeight int
	MaxFileBytes        int64
}

// Header is what an image file says about itself before decoding.
type Header struct {
	Width, Height int
	BitDepth      int
	Channels      int
}

// ReadHeader reads the dimensions and bit depth of a PNG or TIFF from its
// header only.
func ReadHeader(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, err
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		cfg, err := png.DecodeConfig(bufio.NewReader(f))
		if err != nil {
			return Header{}, fmt.Errorf("%s is not a readable PNG: %w", filepath.Base(path), err)
		}
		h := Header{Width: cfg.Width, Height: cfg.Height, Channels: 1, BitDepth: 8}
		// image/png reports a colour model, not the bit depth: read IHDR.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return Header{}, err
		}
		var ihdr [26]byte
		if _, err := io.ReadFull(f, ihdr[:]); err != nil {
			return Header{}, fmt.Errorf("%s: short PNG header: %w", filepath.Base(path), err)
		}
		h.BitDepth = int(ihdr[24])
		switch ihdr[25] {
		case 0:
			h.Channels = 1
		case 4:
			h.Channels = 2
		case 2:
			h.Channels = 3
		case 6:
			h.Channels = 4
		case 3:
			h.Channels, h.BitDepth = 3, 8
		}
		return h, nil
	case ".tif", ".tiff":
		return readTIFFHeader(f, filepath.Base(path))
	}
	return Header{}, fmt.Errorf("%s: not a .png or .tif image", filepath.Base(path))
}

// readTIFFHeader reads the first IFD's width, height, bits per sample and
// samples per pixel.
func readTIFFHeader(r io.ReadSeeker, name string) (Header, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Header{}, fmt.Errorf("%s: short TIFF header: %w", name, err)
	}
	var bo binary.ByteOrder
	switch string(hdr[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return Header{}, fmt.Errorf("%s is not a TIFF (starts %q)", name, hdr[:2])
	}
	if bo.Uint16(hdr[2:]) != 42 {
		return Header{}, fmt.Errorf("%s: not a classic TIFF (BigTIFF is not supported)", name)
	}
	if _, err := r.Seek(int64(bo.Uint32(hdr[4:])), io.SeekStart); err != nil {
		return Header{}, err
	}
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return Header{}, fmt.Errorf("%s: IFD out of the file: %w", name, err)
	}
	count := int(bo.Uint16(n[:]))
	if count > 1000 {
		return Header{}, fmt.Errorf("%s: IFD with %d entries is corrupt", name, count)
	}
	h := Header{Channels: 1, BitDepth: 1}
	ent := make([]byte, 12)
	for i := 0; i < count; i++ {
		if _, err := io.ReadFull(r, ent); err != nil {
			return Header{}, fmt.Errorf("%s: truncated IFD: %w", name, err)
		}
		tag, typ := bo.Uint16(ent), bo.Uint16(ent[2:])
		var val int
		switch typ {
		case 3: // SHORT
			val = int(bo.Uint16(ent[8:]))
		case 4: // LONG
			val = int(bo.Uint32(ent[8:]))
		default:
			continue
		}
		switch tag {
		case 256:
			h.Width = val
		case 257:
			h.Height = val
		case 258:
			h.BitDepth = val
		case 277:
			h.Channels = val
		}
	}
	if h.Width == 0 || h.Height == 0 {
		return Header{}, fmt.Errorf("%s: TIFF without image width or length", name)
	}
	return h, nil
}

// ErrLimits marks an image rejected for its size before decoding.
var ErrLimits = errors.New("image exceeds the configured limits")

// Check verifies an image header against the limits and the contract: one
// channel, 16 bit.
func (l Limits) Check(name string, h Header, size int64) error {
	if l.MaxFileBytes > 0 && size > l.MaxFileBytes {
		return fmt.Errorf("%s is %d bytes, more than scanner.max_file_mb allows: %w", name, size, ErrLimits)
	}
	if h.Width < 16 || h.Height < 16 || h.Width > l.MaxWidth || h.Height > l.MaxHeight {
		return fmt.Errorf("%s is %dx%d pixels; accepted 16x16 to %dx%d (scanner.max_width, max_height): %w",
			name, h.Width, h.Height, l.MaxWidth, l.MaxHeight, ErrLimits)
	}
	if h.BitDepth != 16 || h.Channels != 1 {
		return fmt.Errorf("%s has %d channel(s) of %d bit; the scanner must write one channel of 16 bit", name, h.Channels, h.BitDepth)
	}
	return nil
}

// resolve returns the path of an image named in a sidecar, refusing one that
// is not a regular file in dir itself (a symlink leading elsewhere).
func resolve(dir, name string) (string, os.FileInfo, error) {
	if err := checkName(name); err != nil {
		return "", nil, err
	}
	p := filepath.Join(dir, name)
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", nil, fmt.Errorf("image %q: %w", name, err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", nil, err
	}
	if filepath.Dir(real) != realDir {
		return "", nil, fmt.Errorf("image %q leads out of the inbox to %s; refused", name, real)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", nil, err
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("image %q is not a regular file", name)
	}
	return real, fi, nil
}

// decode reads a checked image into a CV_16UC1 Mat. The caller closes it.
// The header is read again, not taken from Open: the Mat is sized for the
// file as it is now, and Decode then checks it against what Open accepted.
// The common layouts (16-bit grey PNG, uncompressed 16-bit grey TIFF) are
// decoded in Go straight into the Mat's pixels, without a second copy of
// the image and without waking OpenCV's imgcodecs; anything else goes to
// decodeOpenCV.
func decode(path string) (gocv.Mat, error) {
	name := filepath.Base(path)
	h, err := ReadHeader(path)
	if err != nil {
		return gocv.Mat{}, err
	}
	if h.BitDepth != 16 || h.Channels != 1 {
		return decodeOpenCV(path)
	}
	if h.Width <= 0 || h.Height <= 0 || h.Width > math.MaxInt32/2/h.Height {
		return gocv.Mat{}, fmt.Errorf("%s is %dx%d pixels; too large to decode", name, h.Width, h.Height)
	}
	f, err := os.Open(path)
	if err != nil {
		return gocv.Mat{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return gocv.Mat{}, err
	}
	m := gocv.NewMatWithSize(h.Height, h.Width, gocv.MatTypeCV16UC1)
	px, err := m.DataPtrUint16()
	if err == nil {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".png":
			err = decodePNG16(f, h.Width, h.Height, px)
		case ".tif", ".tiff":
			err = decodeTIFF16(f, fi.Size(), h.Width, h.Height, px)
		default:
			err = fmt.Errorf("not a .png or .tif image: %w", errNotStreamable)
		}
	}
	if err != nil {
		m.Close()
		if errors.Is(err, errNotStreamable) {
			return decodeOpenCV(path)
		}
		return gocv.Mat{}, fmt.Errorf("%s could not be decoded (corrupt or truncated): %w", name, err)
	}
	return m, nil
}

// decodeOpenCV reads an image with OpenCV, for the layouts the streaming
// decoders leave alone (interlaced PNG, compressed or tiled TIFF, ...).
func decodeOpenCV(path string) (gocv.Mat, error) {
	m := gocv.IMRead(path, gocv.IMReadUnchanged)
	if m.Empty() {
		m.Close()
		return gocv.Mat{}, fmt.Errorf("%s could not be decoded (corrupt or truncated)", filepath.Base(path))
	}
	if m.Type() != gocv.MatTypeCV16UC1 {
		t := m.Type()
		m.Close()
		return gocv.Mat{}, fmt.Errorf("%s decoded as %v; need one channel of 16 bit", filepath.Base(path), t)
	}
	return m, nil
}
