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

	hasHigh, hasLow bool
}

// Close releases the decoded images.
func (s *Scan) Close() {
	if s.hasHigh {
		s.High.Close()
		s.hasHigh = false
	}
	if s.hasLow {
		s.Low.Close()
		s.hasLow = false
	}
}

// Dual reports whether the scan has a low-energy image.
func (s *Scan) Dual() bool { return s.hasLow }

// Load reads the sidecar at path and the images it names, checking every
// limit before decoding.
func Load(path string, lim Limits) (*Scan, error) {
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
		return nil, err
	}
	s.Files = append(s.Files, hp)
	var lp string
	if sc.Images.Low != "" {
		var lh Header
		lp, lh, err = checkImage(dir, sc.Images.Low, lim)
		if err != nil {
			return nil, err
		}
		if lh.Width != hh.Width || lh.Height != hh.Height {
			return nil, fmt.Errorf("low-energy image is %dx%d but the high-energy image is %dx%d; they must agree",
				lh.Width, lh.Height, hh.Width, hh.Height)
		}
		s.Files = append(s.Files, lp)
	}
	s.Files = append(s.Files, path)
	if s.High, err = decode(hp); err != nil {
		return nil, err
	}
	s.hasHigh = true
	if lp != "" {
		if s.Low, err = decode(lp); err != nil {
			s.Close()
			return nil, err
		}
		s.hasLow = true
	}
	if s.High.Cols() != hh.Width || s.High.Rows() != hh.Height {
		s.Close()
		return nil, fmt.Errorf("%s decoded as %dx%d, its header said %dx%d", sc.Images.High, s.High.Cols(), s.High.Rows(), hh.Width, hh.Height)
	}
	return s, nil
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
