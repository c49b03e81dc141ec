package scanin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cespare/xxhash/v2"
	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/drivers/inbox"
)

// Scanners write a scan's images first and its sidecar last. An image
// decoded as it lands (DecodeImage) is handed to its scan once the sidecar
// has come (Scan.DecodeWith), if its file is still the version decoded:
// the scan then waits only for the detector.

// FileID tells one version of a file from another: the same inode with the
// same size, modification and change times. A file replaced (renamed over)
// has another inode; one rewritten in place another change time, which no
// writer can set back.
type FileID struct {
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64 // ns since the epoch
}

func fileID(fi os.FileInfo) FileID {
	id := FileID{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Dev, id.Ino = uint64(st.Dev), st.Ino
		id.Ctime = st.Ctim.Nano()
	}
	return id
}

// StatFile returns the FileID of the file at path as it is now, without
// following a symbolic link.
func StatFile(path string) (FileID, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return FileID{}, err
	}
	return fileID(fi), nil
}

// ErrChanged marks a file that changed while it was read, or since.
var ErrChanged = errors.New("file changed")

// Image is one image file decoded ahead of its scan's sidecar: its pixels,
// its header, the version of the file they are of, and the XXH64 state
// after its bytes (the start of its scan's digest when it is the high
// energy). Whoever holds it closes it, or hands it to a scan with
// Scan.DecodeWith, which then owns it.
type Image struct {
	Mat    gocv.Mat // CV_16UC1
	Header Header
	File   FileID
	sum    xxhash.Digest
}

// Close releases the pixels.
func (im *Image) Close() { im.Mat.Close() }

// Bytes is the size of the pixels held.
func (im *Image) Bytes() int64 { return 2 * int64(im.Header.Width) * int64(im.Header.Height) }

// DecodeImage decodes the image file at path, checked against lim first as
// Open checks a scan's images, from one descriptor (inbox.OpenRegular); a
// file that changed while it was decoded gives an error wrapping
// ErrChanged. The caller closes the Image, or hands it to its scan.
func DecodeImage(path string, lim Limits) (*Image, error) {
	f, fi, err := inbox.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := filepath.Base(path)
	h, err := readHeader(f, name)
	if err != nil {
		return nil, err
	}
	if err := lim.Check(name, h, fi.Size()); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	im := &Image{Header: h, File: fileID(fi)}
	im.sum.Reset() // the zero Digest is not a fresh one
	if im.Mat, err = decodeFrom(f, fi, h, &im.sum, nil); err != nil {
		return nil, err
	}
	if after, err := f.Stat(); err != nil || fileID(after) != im.File {
		im.Close()
		return nil, fmt.Errorf("%s was written to while it was decoded: %w", name, ErrChanged)
	}
	return im, nil
}

// DecodeWith is Decode taking the images decoded ahead: take returns the
// Image decoded from the file at path (as Open resolved it), or nil, and
// hands it over. An Image is used only if its file is still the version
// decoded and has the size Open checked; otherwise it is closed and the
// file decoded as Decode does, which also says what is wrong with it. The
// digest is the one Decode makes (the low energy's file is read again
// for it). It returns how many images it used (closed again on error).
func (s *Scan) DecodeWith(take func(path string) *Image) (int, error) {
	hasLow := s.Sidecar.Images.Low != ""
	var hi, lo *Image
	if take != nil {
		hi = s.ahead(take, 0)
		if hasLow {
			lo = s.ahead(take, 1)
		}
	}
	if hi == nil && lo == nil {
		return 0, s.Decode()
	}
	used := 0
	h := xxhash.New()
	var err error
	if hi != nil {
		*h = hi.sum
		s.High, s.hasHigh, used = hi.Mat, true, 1
	} else if m, e := decode(s.Files[0], s.header, h, nil); e == nil {
		s.High, s.hasHigh = m, true
	} else {
		err = e
	}
	if err == nil && lo != nil {
		err = hashFile(s.Files[1], lo.File, h)
		if err == nil {
			s.Low, s.hasLow, s.dual, used = lo.Mat, true, true, used+1
			lo = nil
		} else if errors.Is(err, ErrChanged) {
			err = nil // decoded again below
		}
	}
	if lo != nil {
		lo.Close()
	}
	if err == nil && hasLow && !s.hasLow {
		if m, e := decode(s.Files[1], s.header, h, nil); e == nil {
			s.Low, s.hasLow, s.dual = m, true, true
		} else {
			err = e
		}
	}
	if err != nil {
		s.Close()
		return used, err
	}
	s.digest = hexSum(h)
	return used, nil
}

// ahead takes the Image decoded ahead from the scan's i-th file if it is
// still that file, as Open checked it; nil otherwise.
func (s *Scan) ahead(take func(string) *Image, i int) *Image {
	im := take(s.Files[i])
	if im == nil {
		return nil
	}
	if id, err := StatFile(s.Files[i]); err != nil || id != im.File ||
		im.Header.Width != s.header.Width || im.Header.Height != s.header.Height {
		im.Close()
		return nil
	}
	return im
}

// hashFile writes the bytes of the file at path to h if it is still the
// version want; otherwise it writes nothing and returns an error wrapping
// ErrChanged.
func hashFile(path string, want FileID, h io.Writer) error {
	f, fi, err := inbox.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if fileID(fi) != want {
		return fmt.Errorf("%s: %w", filepath.Base(path), ErrChanged)
	}
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return nil
}
