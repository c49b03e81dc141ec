package xraysim

import (
	"syscall"
	"testing"
	"time"
)

// benchScene is a loaded 40 ft dual-energy scan at 5 mm: 3500×920 px.
func benchScene(fan bool) Scene {
	var boxes []Box
	for x := 0.0; x+1.1 < 12; x += 1.15 {
		boxes = append(boxes, Box{X0: x, X1: x + 1.1, Y0: 0, Y1: 2.1, Depth: 2.25, Material: Organic, Density: 130, Label: "masks"})
	}
	s := quiet("42G1", boxes, nil)
	s.DualEnergy = true
	s.Scatter = 0.005
	s.RowGainSpread, s.PulseJitter, s.DeadRows, s.ReadNoise = 0.03, 0.02, 2, 5
	s.Fan = fan
	s.SourceDistM, s.SourceHeightM = 14, 2.2
	return s
}

func BenchmarkRender40ft(b *testing.B)    { benchRender(b, false) }
func BenchmarkRender40ftFan(b *testing.B) { benchRender(b, true) }

func benchRender(b *testing.B, fan bool) {
	s := benchScene(fan)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for i := 0; i < b.N; i++ {
		if _, _, _, err := Render(s); err != nil {
			b.Fatal(err)
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()+ru1.Stime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu.Milliseconds()), "cpu-ms/op")
}
