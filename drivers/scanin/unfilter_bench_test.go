package scanin

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func threadCPU() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

// BenchmarkUnfilter16 unfilters a 40 ft image's worth of rows of each
// filter type (random data: the predictors cost the same whatever the
// values).
func BenchmarkUnfilter16(b *testing.B) {
	const w, h = 3800, 1000
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rng := rand.New(rand.NewPCG(1, 2))
	orig := make([]byte, (2*w+1)*h)
	for i := range orig {
		orig[i] = byte(rng.Uint32())
	}
	for _, ft := range []byte{1, 2, 3, 4} {
		b.Run(string("0123456789"[ft]), func(b *testing.B) {
			buf := make([]byte, len(orig))
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				copy(buf, orig)
				for y := range h {
					buf[y*(2*w+1)] = ft
				}
				b.StartTimer()
				t0 := threadCPU()
				unfilterRows(buf, w, h)
				cpu += threadCPU() - t0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/(w*h), "cpu-ns/px")
		})
	}
}
