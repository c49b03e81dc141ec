package benchscan

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Lap is the wall time and the process's CPU time of one timed section.
// On a machine shared with other work the CPU time is the steadier
// measure: it leaves out the time the section waited for a core.
type Lap struct{ Wall, CPU time.Duration }

// Stopwatch times a section: Start, then Stop.
type Stopwatch struct {
	wall time.Time
	cpu  time.Duration
}

// Start starts a stopwatch.
func Start() Stopwatch { return Stopwatch{time.Now(), processCPU()} }

// Stop returns the time since Start.
func (s Stopwatch) Stop() Lap { return Lap{time.Since(s.wall), processCPU() - s.cpu} }

func processCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// Laps are the laps of one section over a benchmark's iterations.
type Laps []Lap

// Median returns the median wall and CPU times in milliseconds.
func (l Laps) Median() (wallMS, cpuMS float64) {
	med := func(get func(Lap) time.Duration) float64 {
		v := make([]time.Duration, len(l))
		for i, x := range l {
			v[i] = get(x)
		}
		slices.Sort(v)
		if len(v) == 0 {
			return 0
		}
		return float64(v[len(v)/2].Microseconds()) / 1000
	}
	return med(func(x Lap) time.Duration { return x.Wall }), med(func(x Lap) time.Duration { return x.CPU })
}

// Report reports the medians as name-ms and name-cpu-ms and returns the
// CPU median.
func (l Laps) Report(b *testing.B, name string) float64 {
	w, c := l.Median()
	b.ReportMetric(w, name+"-ms")
	b.ReportMetric(c, name+"-cpu-ms")
	return c
}
