package scanin_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	kzlib "github.com/klauspost/compress/zlib"

	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/internal/benchscan"
)

// idatStream returns the zlib stream of a PNG (its IDAT chunks' data, one
// after the other) and the size of its filtered rows.
func idatStream(tb testing.TB, path string) ([]byte, int) {
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var z []byte
	w, h := 0, 0
	for i := 8; i+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		switch string(b[i+4 : i+8]) {
		case "IHDR":
			w, h = int(binary.BigEndian.Uint32(b[i+8:])), int(binary.BigEndian.Uint32(b[i+12:]))
		case "IDAT":
			z = append(z, b[i+8:i+8+n]...)
		}
		i += 12 + n
	}
	return z, (2*w + 1) * h
}

// BenchmarkDecode40ft decodes the images of a 40 ft scan as the agent
// does (scanin.Load: sidecar, headers, every image into its Mat) and, in
// the same iterations, the decode floor: one plain inflate of the same
// zlib streams into a buffer, with ISA-L (the floor), klauspost's and
// Go's inflaters (for comparison). Times are medians over the iterations, wall
// (-ms) and CPU (-cpu-ms); x-floor is decode over the floor, in CPU time.
func BenchmarkDecode40ft(b *testing.B) {
	for _, dual := range []bool{false, true} {
		s := benchscan.Pick(b, dual)
		name := "single"
		if dual {
			name = "dual"
		}
		b.Run(name, func(b *testing.B) {
			sc, err := scanin.Open(s.Sidecar, scanin.Limits{MaxWidth: 1 << 15, MaxHeight: 1 << 15})
			if err != nil {
				b.Fatal(err)
			}
			var streams, outs [][]byte
			for _, f := range sc.Files[:len(sc.Files)-1] {
				z, n := idatStream(b, f)
				streams, outs = append(streams, z), append(outs, make([]byte, n))
			}
			inflaters := []struct {
				name string
				f    func(z, out []byte) error
			}{
				{"floor", func(z, out []byte) error { _, err := scanin.Inflate(z, out); return err }},
				{"klauspost", func(z, out []byte) error {
					r, err := kzlib.NewReader(bytes.NewReader(z))
					if err == nil {
						_, err = io.ReadFull(r, out)
					}
					return err
				}},
				{"gostd", func(z, out []byte) error {
					r, err := zlib.NewReader(bytes.NewReader(z))
					if err == nil {
						_, err = io.ReadFull(r, out)
					}
					return err
				}},
			}
			laps := make([]benchscan.Laps, len(inflaters)+1)
			px := 0
			for b.Loop() {
				for k, inf := range inflaters {
					sw := benchscan.Start()
					for i := range streams {
						if err := inf.f(streams[i], outs[i]); err != nil {
							b.Fatalf("%s: %v", inf.name, err)
						}
					}
					laps[k] = append(laps[k], sw.Stop())
				}
				sw := benchscan.Start()
				scan, err := scanin.Load(s.Sidecar, scanin.Limits{MaxWidth: 1 << 15, MaxHeight: 1 << 15})
				if err != nil {
					b.Fatal(err)
				}
				laps[len(inflaters)] = append(laps[len(inflaters)], sw.Stop())
				px = scan.High.Rows() * scan.High.Cols()
				scan.Close()
			}
			var floor float64
			for k, inf := range inflaters {
				if c := laps[k].Report(b, inf.name); k == 0 {
					floor = c
				}
			}
			dec := laps[len(inflaters)].Report(b, "decode")
			b.ReportMetric(dec/floor, "x-floor")
			b.ReportMetric(float64(px)/1e6, "Mpx")
			b.Logf("%s: %s, %d image(s) of %.2f Mpx", s.Source, filepath.Base(filepath.Dir(s.Sidecar)), len(streams), float64(px)/1e6)
		})
	}
}
