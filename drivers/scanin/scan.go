package scanin

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gocv.io/x/gocv"
)

// Scan is a complete scan: its sidecar and decoded images. Close releases
// the images.
type Scan struct {
	Sidecar *Sidecar
	Path    string   // the sidecar's path
	High    gocv.Mat // CV_16UC1
	Low     gocv.Mat // CV_16UC1, empty when single energy
	Files   []string // every file of the scan, sidecar last

	header          Header // the high-energy image's, checked by Open
	hasHigh, hasLow bool   // decoded and not yet released
	dual            bool
}

// Close releases the decoded images.
func (s *Scan) Close() {
	s.Release(false)
	s.Release(true)
}

// Release closes the high-energy image, or the low-energy one when low is
// set, before the rest of the scan is done with: the detector calls it
// once it has read an image (see vision.Input.Release).
func (s *Scan) Release(low bool) {
	switch {
	case low && s.hasLow:
		s.Low.Close()
		s.hasLow = false
	case !low && s.hasHigh:
		s.High.Close()
		s.hasHigh = false
	}
}

// Dual reports whether the scan has a low-energy image.
func (s *Scan) Dual() bool { return s.dual }

// Load reads the sidecar at path and the images it names, checking every
// limit before decoding: Open, then Decode.
func Load(path string, lim Limits) (*Scan, error) {
	s, err := Open(path, lim)
	if err != nil {
		return nil, err
	}
	if err := s.Decode(); err != nil {
		return nil, err
	}
	return s, nil
}

// Open reads and checks the sidecar at path and the headers of the images
// it names, without decoding a pixel: enough to know whether the scan is
// acceptable and what it is, cheaply, before it is worth decoding. When the
// sidecar parses but an image does not pass, the returned Scan still
// carries the Sidecar (so the caller can reject its files) beside the error.
func Open(path string, lim Limits) (*Scan, error) {
	data, err := readLimited(path, MaxSidecarBytes)
	if err != nil {
		return nil, err
	}
	sc, err := ParseSidecar(data)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	s := &Scan{Sidecar: sc, Path: path}
	hp, hh, err := checkImage(dir, sc.Images.High, lim)
	if err != nil {
		return s, err
	}
	s.Files = append(s.Files, hp)
	s.header = hh
	if sc.Images.Low != "" {
		lp, lh, err := checkImage(dir, sc.Images.Low, lim)
		if err != nil {
			return s, err
		}
		if lh.Width != hh.Width || lh.Height != hh.Height {
			return s, fmt.Errorf("low-energy image is %dx%d but the high-energy image is %dx%d; they must agree",
				lh.Width, lh.Height, hh.Width, hh.Height)
		}
		s.Files = append(s.Files, lp)
	}
	s.Files = append(s.Files, path)
	return s, nil
}

// Decode decodes the images of an opened scan; on error nothing stays
// decoded.
func (s *Scan) Decode() error {
	var err error
	if s.High, err = decode(s.Files[0]); err != nil {
		return err
	}
	s.hasHigh = true
	if s.Sidecar.Images.Low != "" {
		if s.Low, err = decode(s.Files[1]); err != nil {
			s.Close()
			return err
		}
		s.hasLow, s.dual = true, true
	}
	if s.High.Cols() != s.header.Width || s.High.Rows() != s.header.Height {
		s.Close()
		return fmt.Errorf("%s decoded as %dx%d, its header said %dx%d", s.Sidecar.Images.High, s.High.Cols(), s.High.Rows(), s.header.Width, s.header.Height)
	}
	return nil
}

func checkImage(dir, name string, lim Limits) (string, Header, error) {
	p, fi, err := resolve(dir, name)
	if err != nil {
		return "", Header{}, err
	}
	h, err := ReadHeader(p)
	if err != nil {
		return "", Header{}, err
	}
	if err := lim.Check(name, h, fi.Size()); err != nil {
		return "", Header{}, err
	}
	return p, h, nil
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a sidecar", filepath.Base(path), max)
	}
	return b, nil
}
