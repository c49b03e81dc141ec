package scanin

import (
	"fmt"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/drivers/inbox"
)

// decodeChecked decodes an image as Scan.Decode does, against the header
// it has now.
func decodeChecked(path string) (gocv.Mat, error) {
	h, err := ReadHeader(path)
	if err != nil {
		return gocv.Mat{}, err
	}
	return decode(path, h, io.Discard, nil)
}

// decodeOpenCVChecked decodes an image with OpenCV from a descriptor, as
// decode's fallback does.
func decodeOpenCVChecked(path string) (gocv.Mat, error) {
	h, err := ReadHeader(path)
	if err != nil {
		return gocv.Mat{}, err
	}
	f, _, err := inbox.OpenRegular(path)
	if err != nil {
		return gocv.Mat{}, err
	}
	defer f.Close()
	return decodeOpenCV(f, filepath.Base(path), h)
}

// putScan writes a dual-energy scan of w×h pixels into dir: s.png,
// s.low.png and the sidecar s.json.
func putScan(t *testing.T, dir string, w, h int) string {
	t.Helper()
	pix := randPixels(rand.New(rand.NewPCG(1, 2)), w, h, true)
	for _, n := range []string{"s.png", "s.low.png"} {
		if err := os.WriteFile(filepath.Join(dir, n), stdPNG(t, w, h, pix, png.DefaultCompression), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sc := `{"scan_id":"s","lane":"L1","scanned_at":"2026-12-06T07:00:00Z","images":{"high":"s.png","low":"s.low.png"},"pixel_mm":{"x":5,"y":5},"air":60000}`
	p := filepath.Join(dir, "s.json")
	if err := os.WriteFile(p, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var testLimits = Limits{MaxWidth: 4096, MaxHeight: 4096, MaxFileBytes: 64 << 20}

// TestDecodeFromCheckedFile: an image swapped after Open checked it, for a
// link out of the inbox, a FIFO, or an image of another size (on the
// OpenCV path), is refused by Decode, which never follows the link, never
// blocks, and never hands the detector images of two sizes.
func TestDecodeFromCheckedFile(t *testing.T) {
	const w, h = 64, 32
	elsewhere := t.TempDir()
	outside := filepath.Join(elsewhere, "secret.png")
	os.WriteFile(outside, stdPNG(t, w, h, make([]uint16, w*h), png.DefaultCompression), 0o644)
	bigger := filepath.Join(elsewhere, "bigger.png")
	os.WriteFile(bigger, adam7PNG(w+8, h, make([]uint16, (w+8)*h)), 0o644)
	for _, tc := range []struct {
		name, file string
		swap       func(p string) error
		want       string
	}{
		{"link out of the inbox", "s.png", func(p string) error { os.Remove(p); return os.Symlink(outside, p) }, "symbolic link"},
		{"FIFO", "s.low.png", func(p string) error { os.Remove(p); return syscall.Mkfifo(p, 0o644) }, "FIFO"},
		{"other size, OpenCV layout", "s.low.png", func(p string) error { return os.Rename(bigger, p) }, "72x32 pixels; it was 64x32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			scan, err := Open(putScan(t, dir, w, h), testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.swap(filepath.Join(dir, tc.file)); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- scan.Decode() }()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Decode blocked on the swapped file")
			}
			if err == nil {
				scan.Close()
				t.Fatalf("decoded the swapped %s", tc.file)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestOpenCVDimensionsChecked: what OpenCV decodes must have the size the
// header checked said.
func TestOpenCVDimensionsChecked(t *testing.T) {
	const w, h = 40, 24
	p := filepath.Join(t.TempDir(), "i.png")
	os.WriteFile(p, adam7PNG(w, h, make([]uint16, w*h)), 0o644)
	f, _, err := inbox.OpenRegular(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := decodeOpenCV(f, "i.png", Header{Width: w, Height: h})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if m, err := decodeOpenCV(f, "i.png", Header{Width: w, Height: h - 8}); err == nil || !strings.Contains(err.Error(), "decoded as 40x24 pixels, its header said 40x16") {
		if err == nil {
			m.Close()
		}
		t.Errorf("error %v", err)
	}
}

// TestScanDigest: the digest is of the images' bytes, the same read from
// the files before decoding and from the descriptors decoded.
func TestScanDigest(t *testing.T) {
	dir := t.TempDir()
	scan, err := Open(putScan(t, dir, 32, 32), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	before, err := scan.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := scan.Decode(); err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	after, _ := scan.Digest()
	hi, _ := os.ReadFile(filepath.Join(dir, "s.png"))
	lo, _ := os.ReadFile(filepath.Join(dir, "s.low.png"))
	want := fmt.Sprintf("%016x", xxhash.Sum64(append(hi, lo...)))
	if before != after || after != want {
		t.Errorf("digest %s before decoding, %s after, want %s", before, after, want)
	}
}

// BenchmarkScanDigest: the identity hash over a 40 ft scan's worth of
// image bytes (5080×1243 16-bit pixels), read from the page cache.
func BenchmarkScanDigest(b *testing.B) {
	dir := b.TempDir()
	data := make([]byte, 5080*1243*2)
	for i := range data {
		data[i] = byte(i * 7)
	}
	os.WriteFile(filepath.Join(dir, "s.png"), data, 0o644)
	s := &Scan{Files: []string{filepath.Join(dir, "s.png"), filepath.Join(dir, "s.json")}}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := s.Digest(); err != nil {
			b.Fatal(err)
		}
	}
}
