package xraysim

import (
	"math/rand"
	"syscall"
	"testing"
	"time"
)

func benchScene(name string, seed int64, fan bool) Scene {
	s, _, _ := Scenario(name, rand.New(rand.NewSource(seed)))
	s.Containers = s.Containers[:1]
	s.Containers[0].Type = "42G1"
	s.Containers[0].Boxes = nil
	s.Containers[0].Coils = nil
	s.PixelMM.X, s.PixelMM.Y = 5, 5
	s.HeightM = 4.6
	s.Fan = fan
	s.DualEnergy = true
	s.Scatter = 0.05
	return s
}

func BenchmarkRender40(b *testing.B)    { benchRender(b, false) }
func BenchmarkRender40Fan(b *testing.B) { benchRender(b, true) }

func benchRender(b *testing.B, fan bool) {
	s, _, _ := Scenario("honest-masks", rand.New(rand.NewSource(5)))
	s.Containers = s.Containers[:1]
	for seed := int64(100); s.Containers[0].Type != "42G1"; seed++ {
		s, _, _ = Scenario("honest-masks", rand.New(rand.NewSource(seed)))
		s.Containers = s.Containers[:1]
	}
	s.PixelMM.X, s.PixelMM.Y = 5, 5
	s.HeightM = 4.6
	s.DualEnergy = true
	s.Scatter = 0.05
	s.Fan = fan
	s.SourceDistM, s.SourceHeightM = 14, 2.2
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for i := 0; i < b.N; i++ {
		Render(s)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()+ru1.Stime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu.Milliseconds()), "cpu-ms/op")
}
