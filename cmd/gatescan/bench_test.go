package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/internal/benchscan"
)

// BenchmarkInspect40ft inspects every 40 ft scan of the benchmark set as
// a batch inspect does (one process, one detector, declarations and
// weighbridge beside each sidecar) and reports the median of each scan's
// timings_ms: total (sidecar read to result), decode and detector; and
// scan-ms, scan-cpu-ms, the same total's wall and CPU time timed around
// it (the CPU time is the steadier on a busy machine).
func BenchmarkInspect40ft(b *testing.B) {
	scans := benchscan.Scans40ft(b)
	ins := newInspector(config.Default())
	defer ins.det.Close()
	var total, decode, detector []float64
	var laps benchscan.Laps
	for b.Loop() {
		for _, s := range scans {
			sw := benchscan.Start()
			results, _, err := ins.run(s.Sidecar, besideJoin(filepath.Dir(s.Sidecar), nil, nil))
			laps = append(laps, sw.Stop())
			if err != nil {
				b.Fatal(err)
			}
			ins.det.Free()
			t := results[0].TimingsMS
			total, decode, detector = append(total, t["total"]), append(decode, t["decode"]), append(detector, t["detector"])
		}
	}
	b.ReportMetric(median(total), "total-ms")
	laps.Report(b, "scan") // the same, timed here: wall and CPU
	b.ReportMetric(median(decode), "decode-ms")
	b.ReportMetric(median(detector), "detector-ms")
	b.ReportMetric(float64(len(scans)), "scans")
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}
