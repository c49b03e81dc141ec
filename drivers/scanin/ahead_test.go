package scanin

import (
	"fmt"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// putPair writes a dual-energy scan of w×h pixels into dir, images of
// different pixels (s.png, s.low.png) renamed into place and the sidecar
// s.json, and returns the sidecar's path and the two images' pixels.
func putPair(t *testing.T, dir string, w, h int, seed uint64) (string, [2][]uint16) {
	t.Helper()
	var pix [2][]uint16
	for i, n := range []string{"s.png", "s.low.png"} {
		pix[i] = randPixels(rand.New(rand.NewPCG(seed, uint64(i))), w, h, true)
		replace(t, filepath.Join(dir, n), stdPNG(t, w, h, pix[i], png.DefaultCompression))
	}
	sc := `{"scan_id":"s","lane":"L1","scanned_at":"2026-12-06T07:00:00Z","images":{"high":"s.png","low":"s.low.png"},"pixel_mm":{"x":5,"y":5},"air":60000}`
	p := filepath.Join(dir, "s.json")
	replace(t, p, []byte(sc))
	return p, pix
}

// replace writes data to path as a scanner does: to a temporary name,
// renamed over path.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func pairDigest(t *testing.T, dir string) string {
	t.Helper()
	hi, _ := os.ReadFile(filepath.Join(dir, "s.png"))
	lo, _ := os.ReadFile(filepath.Join(dir, "s.low.png"))
	return fmt.Sprintf("%016x", xxhash.Sum64(append(hi, lo...)))
}

// TestDecodeWith: images decoded ahead, either, both or none, give the
// scan the same pixels and digest as decoding them then; an image taken
// is used only while its file is the version decoded.
func TestDecodeWith(t *testing.T) {
	before := matCount()
	const w, h = 41, 23
	for _, tc := range []struct {
		name      string
		high, low bool // decoded ahead
		replace   string
		wantUsed  int
	}{
		{name: "none", wantUsed: 0},
		{name: "high", high: true, wantUsed: 1},
		{name: "low", low: true, wantUsed: 1},
		{name: "both", high: true, low: true, wantUsed: 2},
		{name: "high replaced", high: true, low: true, replace: "s.png", wantUsed: 1},
		{name: "low replaced", high: true, low: true, replace: "s.low.png", wantUsed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, pix := putPair(t, dir, w, h, 3)
			ahead := map[string]*Image{}
			for i, n := range []string{"s.png", "s.low.png"} {
				if !(i == 0 && tc.high || i == 1 && tc.low) {
					continue
				}
				im, err := DecodeImage(filepath.Join(dir, n), testLimits)
				if err != nil {
					t.Fatal(err)
				}
				checkMat(t, im.Mat, w, h, pix[i])
				ahead[n] = im
			}
			if tc.replace != "" {
				// Other pixels of the same size under the same name.
				i := 0
				if tc.replace == "s.low.png" {
					i = 1
				}
				pix[i] = randPixels(rand.New(rand.NewPCG(99, 99)), w, h, true)
				replace(t, filepath.Join(dir, tc.replace), stdPNG(t, w, h, pix[i], png.DefaultCompression))
			}
			scan, err := Open(path, testLimits)
			if err != nil {
				t.Fatal(err)
			}
			used, err := scan.DecodeWith(func(p string) *Image {
				im := ahead[filepath.Base(p)]
				delete(ahead, filepath.Base(p))
				return im
			})
			if err != nil {
				t.Fatal(err)
			}
			defer scan.Close()
			if len(ahead) != 0 {
				t.Errorf("images not asked for: %v", ahead)
			}
			if used != tc.wantUsed {
				t.Errorf("%d images used, want %d", used, tc.wantUsed)
			}
			checkMat(t, scan.High, w, h, pix[0])
			checkMat(t, scan.Low, w, h, pix[1])
			if got, want := scan.digest, pairDigest(t, dir); got != want {
				t.Errorf("digest %s, want %s (of the files now)", got, want)
			}
		})
	}
	if before >= 0 && matCount() != before {
		t.Errorf("%d Mats open after the tests, %d before", matCount(), before)
	}
}

// TestDecodeImageErrors: an image refused or corrupt ahead of its sidecar
// gives the error decoding it with its scan gives.
func TestDecodeImageErrors(t *testing.T) {
	dir := t.TempDir()
	const w, h = 41, 23
	good := stdPNG(t, w, h, randPixels(rand.New(rand.NewPCG(5, 6)), w, h, true), png.DefaultCompression)
	trunc := good[:len(good)/2]
	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		want string
	}{
		{"truncated", trunc, testLimits, "could not be decoded"},
		{"too wide", good, Limits{MaxWidth: 32, MaxHeight: 4096}, "scanner.max_width"},
		{"not a png", []byte("GIF89a"), testLimits, "not a readable PNG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "x.png")
			replace(t, p, tc.data)
			im, err := DecodeImage(p, tc.lim)
			if err == nil {
				im.Close()
				t.Fatal("decoded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
	if _, err := DecodeImage(filepath.Join(dir, "gone.png"), testLimits); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want not-exist", err)
	}
}
