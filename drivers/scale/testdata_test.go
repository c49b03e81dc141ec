package scale

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	genStreams = flag.Bool("gen", false, "regenerate the captured-style streams testdata/<protocol>/*.bin")
	update     = flag.Bool("update", false, "rewrite the .golden decodings of testdata/<protocol>/*.bin")
)

// A streamVariant is one captured-style stream of a protocol.
type streamVariant struct {
	file   string
	enc    Encoder
	parity bool // sent as 7 bits with even parity, read as 8N1
}

func streamVariants(t testing.TB, name string) []streamVariant {
	v := []streamVariant{{file: "truck.bin", enc: protocol(t, name).(Encoder)}}
	switch name {
	case "toledo":
		v = append(v,
			streamVariant{file: "truck-nochecksum.bin", enc: Toledo{OmitChecksum: true}},
			streamVariant{file: "truck-7e1.bin", enc: Toledo{}, parity: true})
	case "stgs":
		v = append(v, streamVariant{file: "truck-7e1.bin", enc: STGS, parity: true})
	}
	return v
}

// truckStream is what a port on the lane's indicator receives while a
// truck crosses the weighbridge, with the faults of real lines: the port
// opened in mid-frame, line noise, a dropped byte, a corrupted byte, a
// burst at the wrong baud rate, and a frame cut off at the end.
func truckStream(name string, enc Encoder, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []byte
	frame := func(r Reading) []byte { return enc.Encode(r) }
	add := func(r Reading) { out = append(out, frame(r)...) }
	gross := func(v float64, stable bool) Reading {
		return Reading{Gross: kg(v), Tare: kg(0), Stable: stable, Zero: v == 0 && stable, Unit: "kg"}
	}
	net := func(g, t float64) Reading {
		return Reading{Gross: kg(g), Tare: kg(t), Net: kg(g - t), Stable: true, Unit: "kg"}
	}
	noise := func(n int) {
		for range n {
			out = append(out, byte(rng.Uint32()))
		}
	}

	first := frame(gross(0, true))
	out = append(out, first[len(first)/2:]...) // opened in mid-frame
	for range 4 {
		add(gross(0, true))
	}
	for _, v := range []float64{3120, 9870, 15640, 22010, 27950, 29110, 29230} {
		add(gross(v, false))
	}
	out = append(out, 0x00, 0xff, 0x13, 0x80, '~') // line noise
	for range 5 {
		add(gross(29180, true))
	}
	f := frame(gross(29180, true)) // a dropped byte
	out = append(out, append(f[:len(f)/2:len(f)/2], f[len(f)/2+1:]...)...)
	f = frame(gross(29180, true)) // a corrupted byte: '8' becomes 'x'
	if i := bytes.IndexByte(f, '8'); i >= 0 {
		f[i] ^= 0x40
	}
	out = append(out, f...)
	for range 3 {
		add(net(29180, 14500))
	}
	noise(24) // the wrong baud rate, for a moment
	for _, v := range []float64{29180, 21040, 8830, 1260, 0} {
		add(gross(v, false))
	}
	add(Reading{Gross: kg(80000), Tare: kg(0), Stable: true, Overload: true, Unit: "kg"})
	add(gross(0, true))
	switch name {
	case "sics":
		out = append(out, "S I\r\nES\r\n"...)
	case "sma":
		out = append(out, "\n?\r\n!\r"...)
	}
	add(gross(0, true))
	last := frame(gross(0, true))
	return append(out, last[:len(last)-3]...) // cut off
}

func withParity(b []byte) []byte { return []byte(parity(string(b))) }

// stream is a captured-style byte stream under testdata.
type stream struct {
	file string
	data []byte
}

// streams reads the streams of protocol name, testdata/NAME/*.bin; there
// must be at least one.
func streams(t testing.TB, name string) []stream {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", name, "*.bin"))
	if len(files) == 0 {
		t.Fatalf("no streams under testdata/%s (go test -run TestTestdata -gen writes them)", name)
	}
	var out []stream
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stream{file, b})
	}
	return out
}

// TestTestdata decodes the captured-style streams and compares the
// results with their golden files. With -gen it first writes the streams,
// with -update the golden files.
func TestTestdata(t *testing.T) {
	for _, name := range Names() {
		dir := filepath.Join("testdata", name)
		if *genStreams {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i, v := range streamVariants(t, name) {
				b := truckStream(name, v.enc, uint64(i+1))
				if v.parity {
					b = withParity(b)
				}
				if err := os.WriteFile(filepath.Join(dir, v.file), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, s := range streams(t, name) {
			file := s.file
			var b strings.Builder
			for _, o := range decodeAll(t, protocol(t, name), s.data, nil) {
				b.WriteString(o.String() + "\n")
			}
			golden := strings.TrimSuffix(file, ".bin") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("%s decodes as\n%s\nwant\n%s", file, b.String(), want)
			}
		}
	}
}
