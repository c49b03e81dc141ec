package scanin

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/cespare/xxhash/v2"
	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/drivers/inbox"
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
	digest          string // of the images decoded, set by Decode
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
	data, err := inbox.ReadRegular(path, MaxSidecarBytes)
	if errors.Is(err, inbox.ErrTooLarge) {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a sidecar", filepath.Base(path), MaxSidecarBytes)
	}
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
// decoded. Each image is decoded from one descriptor, the one its digest
// is read from (see Digest), and must still have the size Open checked.
// With more than one CPU for Go the two energies of a dual-energy scan are
// decoded side by side; the low energy's bytes go into the digest after
// the high energy's, as Digest reads them.
func (s *Scan) Decode() error {
	h := xxhash.New()
	var low gocv.Mat
	var errLow error
	hasLow := s.Sidecar.Images.Low != ""
	var done chan struct{}
	highHashed := make(chan struct{})
	var once sync.Once
	hashed := func() { once.Do(func() { close(highHashed) }) }
	if hasLow && runtime.GOMAXPROCS(0) > 1 {
		done = make(chan struct{})
		go func() {
			defer close(done)
			// Open checked that both images have the same size.
			low, errLow = decode(s.Files[1], s.header, afterWriter{highHashed, h}, nil)
		}()
	}
	high, err := decode(s.Files[0], s.header, h, hashed)
	hashed()
	switch {
	case done != nil:
		<-done
	case hasLow && err == nil:
		low, errLow = decode(s.Files[1], s.header, h, nil)
	case hasLow:
		errLow = err
	}
	if err == nil {
		s.High, s.hasHigh = high, true
	}
	if errLow == nil && hasLow {
		s.Low, s.hasLow, s.dual = low, true, true
	}
	if err == nil {
		err = errLow
	}
	if err != nil {
		s.Close()
		return err
	}
	s.digest = hexSum(h)
	return nil
}

func hexSum(h *xxhash.Digest) string { return hex.EncodeToString(h.Sum(nil)) }

// afterWriter writes to w once ready is closed.
type afterWriter struct {
	ready <-chan struct{}
	w     io.Writer
}

func (a afterWriter) Write(b []byte) (int, error) {
	<-a.ready
	return a.w.Write(b)
}

// Digest returns the XXH64, in hex, of the scan's image files, the high
// energy's bytes then the low energy's: with the sidecar's lane, scan id
// and time, it tells a scan delivered again from another scan under a
// reused id. After Decode it is the digest of the bytes decoded; before,
// the files are read for it. XXH64 rather than a cryptographic hash: it
// runs near memory speed (5 ms for a 40 ft scan's 12.6 MB where SHA-256
// takes 35 ms, on a shared 2-core box), and the identity guards against
// scanners that reuse ids, not against someone who can write the inbox
// (who could as well delete a scan).
func (s *Scan) Digest() (string, error) {
	if s.digest != "" {
		return s.digest, nil
	}
	h := xxhash.New()
	for _, p := range s.Files[:len(s.Files)-1] { // the sidecar is last
		f, _, err := inbox.OpenRegular(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("read %s: %w", filepath.Base(p), err)
		}
	}
	return hexSum(h), nil
}

func checkImage(dir, name string, lim Limits) (string, Header, error) {
	p, err := resolve(dir, name)
	if err != nil {
		return "", Header{}, err
	}
	f, fi, err := inbox.OpenRegular(p)
	if err != nil {
		return "", Header{}, fmt.Errorf("image %q: %w", name, err)
	}
	defer f.Close()
	h, err := readHeader(f, filepath.Base(p))
	if err != nil {
		return "", Header{}, err
	}
	if err := lim.Check(name, h, fi.Size()); err != nil {
		return "", Header{}, err
	}
	return p, h, nil
}
