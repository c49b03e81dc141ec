package vision_test

import (
	"encoding/binary"
	"image"
	"math/rand"
	"sort"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/vision"
)

var (
	scans40   [2]vision.Input
	scans40Mu sync.Mutex
)

// scan40 renders a 40 ft container of masks on a tractor, about 3500 × 900
// pixels, once per energy mode, and returns it as detector input; the
// Mats live as long as the test binary.
func scan40(tb testing.TB, dual bool) vision.Input {
	tb.Helper()
	k := 0
	if dual {
		k = 1
	}
	scans40Mu.Lock()
	defer scans40Mu.Unlock()
	if scans40[k].High.Ptr() == nil {
		scans40[k] = renderScan40(tb, dual)
	}
	return scans40[k]
}

func renderScan40(tb testing.TB, dual bool) vision.Input {
	var s xraysim.Scene
	var decl []xraysim.Declared
	for seed := int64(1); ; seed++ {
		var err error
		s, decl, err = xraysim.Scenario("honest-masks", rand.New(rand.NewSource(seed)))
		if err != nil {
			tb.Fatal(err)
		}
		if len(s.Containers) == 1 && s.Containers[0].Type == "42G1" && !s.Fan {
			break
		}
	}
	s.PixelMM.X, s.PixelMM.Y = 5.7, 5.3
	s.HeightM = 4.75
	s.DualEnergy = dual
	hi, lo, _, err := xraysim.Render(s)
	if err != nil {
		tb.Fatal(err)
	}
	in := vision.Input{High: toMat(tb, hi), PixelXMM: s.PixelMM.X, PixelYMM: s.PixelMM.Y, Air: s.Air, Dark: s.Dark,
		MuCm2G: xraysim.EffectiveMu(6), EnergyHighMeV: 6, Containers: 1, Types: []string{decl[0].Type}}
	in.Low = gocv.NewMat()
	if lo != nil {
		in.Low.Close()
		in.Low, in.HasLow, in.EnergyLowMeV = toMat(tb, lo), true, 4
	}
	return in
}

func toMat(tb testing.TB, img *image.Gray16) gocv.Mat {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	buf := make([]byte, 2*w*h)
	for i := 0; i < w*h; i++ {
		binary.NativeEndian.PutUint16(buf[2*i:], binary.BigEndian.Uint16(img.Pix[2*i:]))
	}
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV16UC1, buf)
	if err != nil {
		tb.Fatal(err)
	}
	// A copy owns its pixels, as a decoded scan does.
	defer m.Close()
	return m.Clone()
}

func BenchmarkDetector40ft(b *testing.B)     { benchDetector(b, false) }
func BenchmarkDetector40ftDual(b *testing.B) { benchDetector(b, true) }

// benchDetector times whole analyses and reports each stage's mean time.
func benchDetector(b *testing.B, dual bool) {
	in := scan40(b, dual)
	det := defaultDetector()
	defer det.Close()
	if _, err := det.Analyze(in); err != nil { // warm the buffers
		b.Fatal(err)
	}
	stages := map[string]float64{}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		a, err := det.Analyze(in)
		if err != nil {
			b.Fatal(err)
		}
		for k, v := range a.TimingsMS {
			stages[k] += v
		}
	}
	b.StopTimer()
	var names []string
	for k := range stages {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b.ReportMetric(stages[k]/float64(b.N), k+"-ms")
	}
	b.ReportMetric(float64(in.High.Cols()*in.High.Rows())/1e6, "Mpx")
}

// BenchmarkPlainPass is the floor the detector is measured against: one
// pass over the same pixels, 16-bit to float and a sum, decode excluded.
func BenchmarkPlainPass(b *testing.B) {
	in := scan40(b, false)
	f := gocv.NewMat()
	defer f.Close()
	b.ReportAllocs()
	b.ResetTimer()
	var sink float64
	t0 := time.Now()
	for range b.N {
		in.High.ConvertTo(&f, gocv.MatTypeCV32F)
		p, _ := f.DataPtrFloat32()
		var s float32
		for _, v := range p {
			s += v
		}
		sink += float64(s)
	}
	b.ReportMetric(float64(time.Since(t0).Microseconds())/1000/float64(b.N), "pass-ms")
	_ = sink
}
