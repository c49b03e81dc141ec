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

	"github.com/gatescan/gatescan/drivers/inbox"
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
// header only. It opens only a regular file (inbox.OpenRegular).
func ReadHeader(path string) (Header, error) {
	f, _, err := inbox.OpenRegular(path)
	if err != nil {
		return Header{}, err
	}
	defer f.Close()
	return readHeader(f, filepath.Base(path))
}

// readHeader reads the header of the image file f, named name, from its
// start; it leaves f's offset anywhere.
func readHeader(f io.ReadSeeker, name string) (Header, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Header{}, err
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png":
		cfg, err := png.DecodeConfig(bufio.NewReader(f))
		if err != nil {
			return Header{}, fmt.Errorf("%s is not a readable PNG: %w", name, err)
		}
		h := Header{Width: cfg.Width, Height: cfg.Height, Channels: 1, BitDepth: 8}
		// image/png reports a colour model, not the bit depth: read IHDR.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return Header{}, err
		}
		var ihdr [26]byte
		if _, err := io.ReadFull(f, ihdr[:]); err != nil {
			return Header{}, fmt.Errorf("%s: short PNG header: %w", name, err)
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
		return readTIFFHeader(f, name)
	}
	return Header{}, fmt.Errorf("%s: not a .png or .tif image", name)
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

// resolve returns the path of an image named in a sidecar, refusing one
// that leads out of dir (a symlink to elsewhere). Whether it is a regular
// file is decided on the descriptor it is opened with.
func resolve(dir, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", name, err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	if filepath.Dir(real) != realDir {
		return "", fmt.Errorf("image %q leads out of the inbox to %s; refused", name, real)
	}
	return real, nil
}

// decode reads a checked image into a CV_16UC1 Mat, from one descriptor
// opened without following a link (inbox.OpenRegular): the bytes written
// to digest (then hashed is called, when set), the header read and the pixels decoded are those of one
// file, whatever happens to the name meanwhile. The header is read again,
// not taken from Open, and must still say what Open accepted (want): the
// Mat is sized for the file as it is now. The common layouts (16-bit grey
// PNG, uncompressed 16-bit grey TIFF) are decoded in Go straight into the
// Mat's pixels, without a second copy of the image and without waking
// OpenCV's imgcodecs; anything else goes to decodeOpenCV. The caller
// closes the Mat.
func decode(path string, want Header, digest io.Writer, hashed func()) (gocv.Mat, error) {
	f, fi, err := inbox.OpenRegular(path)
	if err != nil {
		return gocv.Mat{}, err
	}
	defer f.Close()
	return decodeFrom(f, fi, want, digest, hashed)
}

// decodeFrom is decode on the image file f, opened by inbox.OpenRegular
// (fi is its fstat).
func decodeFrom(f *os.File, fi os.FileInfo, want Header, digest io.Writer, hashed func()) (gocv.Mat, error) {
	path := f.Name()
	name := filepath.Base(path)
	if _, err := io.Copy(digest, f); err != nil {
		return gocv.Mat{}, fmt.Errorf("read %s: %w", name, err)
	}
	if hashed != nil {
		hashed()
	}
	h, err := readHeader(f, name)
	if err != nil {
		return gocv.Mat{}, err
	}
	if h.Width != want.Width || h.Height != want.Height {
		return gocv.Mat{}, fmt.Errorf("%s is now %dx%d pixels; it was %dx%d when checked (the file changed)", name, h.Width, h.Height, want.Width, want.Height)
	}
	if h.BitDepth != 16 || h.Channels != 1 {
		return decodeOpenCV(f, name, want)
	}
	if h.Width <= 0 || h.Height <= 0 || h.Width > math.MaxInt32/2/h.Height {
		return gocv.Mat{}, fmt.Errorf("%s is %dx%d pixels; too large to decode", name, h.Width, h.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return gocv.Mat{}, err
	}
	var m gocv.Mat
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		m, err = decodePNG(f, h.Width, h.Height)
	case ".tif", ".tiff":
		m, err = decodeTIFF(f, fi.Size(), h.Width, h.Height)
	default:
		err = fmt.Errorf("not a .png or .tif image: %w", errNotStreamable)
	}
	if err != nil {
		if errors.Is(err, errNotStreamable) {
			return decodeOpenCV(f, name, want)
		}
		return gocv.Mat{}, fmt.Errorf("%s could not be decoded (corrupt or truncated): %w", name, err)
	}
	return m, nil
}

// decodeOpenCV reads an image with OpenCV, for the layouts the streaming
// decoders leave alone (interlaced PNG, compressed or tiled TIFF, ...),
// from the descriptor decode opened: through its /proc/self/fd link, which
// opens that very file, or, without /proc, from its bytes (no bigger than
// scanner.max_file_mb allowed). OpenCV reads the dimensions itself: they
// are checked again against what the header said (want), so that an image
// whose compressed data or second directory disagrees with the header
// checked is refused.
func decodeOpenCV(f *os.File, name string, want Header) (gocv.Mat, error) {
	var m gocv.Mat
	if link := fmt.Sprintf("/proc/self/fd/%d", f.Fd()); fileExists(link) {
		m = gocv.IMRead(link, gocv.IMReadUnchanged)
	} else {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return gocv.Mat{}, err
		}
		b, err := io.ReadAll(f)
		if err != nil {
			return gocv.Mat{}, fmt.Errorf("read %s: %w", name, err)
		}
		if m, err = gocv.IMDecode(b, gocv.IMReadUnchanged); err != nil {
			return gocv.Mat{}, fmt.Errorf("%s could not be decoded: %w", name, err)
		}
	}
	if m.Empty() {
		m.Close()
		return gocv.Mat{}, fmt.Errorf("%s could not be decoded (corrupt or truncated)", name)
	}
	if m.Cols() != want.Width || m.Rows() != want.Height {
		w, h := m.Cols(), m.Rows()
		m.Close()
		return gocv.Mat{}, fmt.Errorf("%s decoded as %dx%d pixels, its header said %dx%d; refused", name, w, h, want.Width, want.Height)
	}
	if m.Type() != gocv.MatTypeCV16UC1 {
		t := m.Type()
		m.Close()
		return gocv.Mat{}, fmt.Errorf("%s decoded as %v; need one channel of 16 bit", name, t)
	}
	return m, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
