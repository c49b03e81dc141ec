package scale

import (
	"bytes"
	"io"
	"testing"
)

// benchStream is frames enough for a few hundred trucks: ramps up and
// down in motion, stable gross and net weights.
func benchStream(enc Encoder, frames int) []byte {
	var out []byte
	for i := 0; i < frames; i++ {
		g := float64(i%400) * 97.5
		r := Reading{Gross: kg(g), Tare: kg(0), Stable: i%5 == 0, Unit: "kg"}
		if i%7 == 0 {
			r.Tare, r.Net = kg(14500), kg(g-14500)
		}
		out = append(out, enc.Encode(r)...)
	}
	return out
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			p := protocol(b, name)
			stream := benchStream(p.(Encoder), 4096)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				rd := NewReader(bytes.NewReader(stream), p)
				for {
					_, err := rd.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
