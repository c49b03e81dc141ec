package vision_test

import (
	"slices"
	"testing"

	"github.com/gatescan/gatescan/internal/benchscan"
)

func BenchmarkZZMin(b *testing.B) {
	for _, dual := range []bool{false, true} {
		in, _ := scan40(b, dual)
		det := defaultDetector()
		det.Analyze(in)
		var cpu, fl []float64
		for range 60 {
			sw := benchscan.Start()
			plainPass(in.High)
			if dual {
				plainPass(in.Low)
			}
			fl = append(fl, float64(sw.Stop().CPU.Microseconds())/1000)
			sw = benchscan.Start()
			det.Analyze(in)
			cpu = append(cpu, float64(sw.Stop().CPU.Microseconds())/1000)
		}
		slices.Sort(cpu)
		slices.Sort(fl)
		b.Logf("dual=%v detector min %.2f p25 %.2f med %.2f | floor min %.2f p25 %.2f med %.2f", dual, cpu[0], cpu[15], cpu[30], fl[0], fl[15], fl[30])
		det.Close()
	}
}
