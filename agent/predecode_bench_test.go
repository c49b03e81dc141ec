package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/benchscan"
)

// BenchmarkSidecarToCommit40ft runs the daemon on the 40 ft scans of the
// benchmark set, each put into the inbox as scanners write it: images
// first, renamed into place, then the sidecar (once the images are
// decoded ahead, when they are). It reports the medians of the scans'
// gatescan_sidecar_to_commit_seconds (commit-ms), of their detector's own
// time from timings_ms (detector-ms) and of the difference, scan by scan
// (over-detector-ms, the steadier on a busy machine), with
// images decoded ahead (predecode) and without (scanner.predecode_images
// 0: after, the images decoded once the sidecar is there).
func BenchmarkSidecarToCommit40ft(b *testing.B) {
	scans := benchscan.Scans40ft(b)
	for _, pre := range []int{2, 0} {
		name := map[bool]string{true: "predecode", false: "after"}[pre > 0]
		b.Run(name, func(b *testing.B) {
			cfg := predecodeConfig(b, time.Minute)
			cfg.Scanner.PredecodeImages = pre
			cfg.Buffer.SyncWrites = true // as a gate runs it
			a := New(cfg, quietLog(), Options{})
			agenttest.Start(b, a)
			stage := b.TempDir()
			var commit, detector, over []float64
			n := 0
			for b.Loop() {
				for _, s := range scans {
					n++
					c, d := putScan(b, a, stage, filepath.Dir(s.Sidecar), fmt.Sprintf("bench-%d", n), s.Dual)
					commit, detector, over = append(commit, c), append(detector, d), append(over, c-d)
				}
			}
			b.ReportMetric(medianOf(commit), "commit-ms")
			b.ReportMetric(medianOf(detector), "detector-ms")
			b.ReportMetric(medianOf(over), "over-detector-ms")
			b.ReportMetric(float64(len(scans)), "scans")
		})
	}
}

// putScan puts the xraygen case in dir into a's inbox under scan id id
// and returns its sidecar-to-commit latency and detector time, in ms.
func putScan(b *testing.B, a *Agent, stage, dir, id string, dual bool) (commitMS, detectorMS float64) {
	b.Helper()
	cfg := a.Config()
	decl, err := os.ReadFile(filepath.Join(dir, "declaration.json"))
	if err != nil {
		b.Fatal(err)
	}
	var d struct {
		ContainerID string `json:"container_id"`
	}
	json.Unmarshal(decl, &d)
	agenttest.Put(b, cfg.Declarations.Inbox, "d.json", decl)
	agenttest.Eventually(b, 10*time.Second, "declaration stored", func() bool {
		v, err := a.store.Declaration(d.ContainerID)
		return err == nil && v != nil
	})
	var sc map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "scan.json"))
	if err != nil {
		b.Fatal(err)
	}
	json.Unmarshal(raw, &sc)
	sc["scan_id"] = id
	side, _ := json.Marshal(sc)
	images := []string{"scan.png"}
	if dual {
		images = append(images, "scan.low.png")
	}
	// Staged on the inbox's file system, renamed into place.
	for _, n := range images {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stage, n), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	before := value(b, a.metrics.Predecoded)
	count0, sum0 := sidecarToCommit(b, a)
	for _, n := range images {
		if err := os.Rename(filepath.Join(stage, n), filepath.Join(cfg.Scanner.Inbox, n)); err != nil {
			b.Fatal(err)
		}
	}
	if cfg.Scanner.PredecodeImages > 0 {
		agenttest.Eventually(b, 20*time.Second, "images decoded ahead", func() bool {
			return value(b, a.metrics.Predecoded) == before+float64(len(images))
		})
	}
	agenttest.Put(b, cfg.Scanner.Inbox, "scan.json", side)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Millisecond) {
		if n, _ := sidecarToCommit(b, a); n > count0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("scan %s not committed within 60 s", id)
		}
	}
	_, sum := sidecarToCommit(b, a)
	raw, err = a.store.Result(inspection.ID(cfg.Site, cfg.Gate, id, 0))
	if err != nil {
		b.Fatal(err)
	}
	var r inspection.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		b.Fatal(err)
	}
	agenttest.Eventually(b, 20*time.Second, "scan cleaned up", func() bool {
		_, err := os.Stat(filepath.Join(cfg.Scanner.Inbox, "scan.json"))
		return os.IsNotExist(err)
	})
	return (sum - sum0) * 1000, r.TimingsMS["detector"]
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}
