package vision_test

import (
	"encoding/binary"
	"image"
	"sort"
	"testing"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/internal/benchscan"
	"github.com/gatescan/gatescan/vision"
)

// scan40 decodes the benchmark set's 40 ft scan (dual energy or single)
// into detector input, as the agent hands it over.
func scan40(tb testing.TB, dual bool) (vision.Input, benchscan.Scan) {
	tb.Helper()
	s := benchscan.Pick(tb, dual)
	scan, err := scanin.Load(s.Sidecar, scanin.Limits{MaxWidth: 1 << 15, MaxHeight: 1 << 15})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(scan.Close)
	sc := scan.Sidecar
	in := vision.Input{High: scan.High, Low: scan.Low, HasLow: scan.Dual(), PixelXMM: sc.PixelMM.X, PixelYMM: sc.PixelMM.Y,
		Air: sc.Air, Dark: sc.Dark, MuCm2G: sc.MuCm2G, EnergyHighMeV: sc.EnergyMeV.High, EnergyLowMeV: sc.EnergyMeV.Low,
		Containers: len(sc.ContainerIDs), Types: make([]string, len(sc.ContainerIDs))}
	// The declared types, as the agent joins them.
	copy(in.Types, s.Types)
	if !scan.Dual() {
		in.Low = gocv.NewMat()
		tb.Cleanup(func() { in.Low.Close() })
	}
	return in, s
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

// benchDetector times whole analyses of a decoded 40 ft scan, handed over
// as the agent hands them (the detector may work in the images' own
// pixels and release them), and, in the
// same iterations, the detector's floor: one plain pass over every pixel
// it is given (both images for dual energy), reading each as a number and
// summing. It reports the medians (wall -ms, CPU -cpu-ms), each stage's
// mean wall time, and x-floor, the analysis over the floor in CPU time.
func benchDetector(b *testing.B, dual bool) {
	in, s := scan40(b, dual)
	det := defaultDetector()
	defer det.Close()
	if _, err := det.Analyze(in); err != nil { // warm the buffers
		b.Fatal(err)
	}
	planes := []gocv.Mat{in.High}
	if dual {
		planes = append(planes, in.Low)
	}
	stages := map[string]float64{}
	var floor, total benchscan.Laps
	var sink uint64
	b.ReportAllocs()
	for b.Loop() {
		// As the agent does: the detector is given copies it may take
		// over (Release), made outside the timing; the floor is a pass
		// over the same copies, just made, as the detector's input is.
		own := in
		own.High = in.High.Clone()
		if dual {
			own.Low = in.Low.Clone()
		}
		own.Release = func(low bool) {
			if low {
				if dual {
					own.Low.Close()
				}
			} else {
				own.High.Close()
			}
		}
		sw := benchscan.Start()
		sink += plainPass(own.High)
		if dual {
			sink += plainPass(own.Low)
		}
		floor = append(floor, sw.Stop())
		sw = benchscan.Start()
		a, err := det.Analyze(own)
		if err != nil {
			b.Fatal(err)
		}
		total = append(total, sw.Stop())
		for k, v := range a.TimingsMS {
			stages[k] += v
		}
	}
	var names []string
	for k := range stages {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b.ReportMetric(stages[k]/float64(len(total)), k+"-ms")
	}
	f := floor.Report(b, "floor")
	d := total.Report(b, "detector")
	b.ReportMetric(d/f, "x-floor")
	b.ReportMetric(float64(in.High.Cols()*in.High.Rows())/1e6, "Mpx")
	b.Logf("%s scan %s, sum %d", s.Source, s.Sidecar, sink)
}

// plainPass is the detector's floor: every pixel read once and summed.
func plainPass(m gocv.Mat) uint64 {
	px, _ := m.DataPtrUint16()
	var s0, s1, s2, s3 uint64
	for len(px) >= 4 {
		s0 += uint64(px[0])
		s1 += uint64(px[1])
		s2 += uint64(px[2])
		s3 += uint64(px[3])
		px = px[4:]
	}
	for _, v := range px {
		s0 += uint64(v)
	}
	return s0 + s1 + s2 + s3
}
