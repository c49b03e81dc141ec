package agent

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/testkit"
)

// predecodeConfig is a gate of one scanner-only lane whose scanner renames
// its files into place (no settle time), holding images decoded ahead for
// keep.
func predecodeConfig(t testing.TB, keep time.Duration) *config.Config {
	t.Helper()
	dir := t.TempDir()
	c, err := config.Parse([]byte(fmt.Sprintf(`site: s
gate: g
mqtt: {broker: %q}
buffer: {dir: %q, sync_writes: false}
scanner: {inbox: %q, rescan_interval: 300ms, settle_time: 0s, predecode_images: 2, predecode_keep: %s}
declarations: {inbox: %q, settle_time: 0s}
rules: {grace: 30s}
lanes: [{id: L1}]
http: {listen: ""}
`, deadBroker(t), dir+"/buf", dir+"/scans", keep, dir+"/decl")), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stagedScan is a dual-energy scan rendered outside the inbox, to be put
// in the way a scanner writes it: images first, sidecar last.
type stagedScan struct {
	dir, name string
	images    []string
}

// rendered is the simulator's scan the predecoder's tests share (it takes
// seconds to render under -race): its files' bytes, its container and
// declaration.
var rendered struct {
	once        sync.Once
	files       map[string][]byte
	containerID string
	decl        []byte
	err         error
}

const stagedName = "early"

// renderedFiles renders the shared scan, once, and returns its files.
func renderedFiles(t *testing.T) map[string][]byte {
	t.Helper()
	rendered.once.Do(func() {
		rendered.err = func() error {
			scene, decls, err := xraysim.Scenario("honest-tshirts", rand.New(rand.NewSource(11)))
			if err != nil {
				return err
			}
			scene.Containers, decls = scene.Containers[:1], decls[:1]
			scene.DualEnergy = true
			dir, err := os.MkdirTemp("", "predecode")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			truth, err := xraysim.Write(dir, stagedName, scene, xraysim.SidecarMeta{ScanID: stagedName, Lane: "L1", ScannedAt: time.Now()})
			if err != nil {
				return err
			}
			rendered.files = map[string][]byte{}
			for _, n := range []string{stagedName + ".png", stagedName + ".low.png", stagedName + ".json"} {
				if rendered.files[n], err = os.ReadFile(filepath.Join(dir, n)); err != nil {
					return err
				}
			}
			rendered.containerID = truth.Containers[0].ID
			rendered.decl, err = decls[0].JSON("D-" + stagedName)
			return err
		}()
	})
	if rendered.err != nil {
		t.Fatal(rendered.err)
	}
	return rendered.files
}

// stageScan stages a one-container dual-energy scan, named stagedName,
// and stores its declaration in a's buffer through the declarations inbox.
func stageScan(t *testing.T, a *Agent) stagedScan {
	t.Helper()
	s := stagedScan{dir: t.TempDir(), name: stagedName, images: []string{stagedName + ".png", stagedName + ".low.png"}}
	for n, b := range renderedFiles(t) {
		if err := os.WriteFile(filepath.Join(s.dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	agenttest.Put(t, a.Config().Declarations.Inbox, "d.json", rendered.decl)
	agenttest.Eventually(t, 10*time.Second, "declaration stored", func() bool {
		d, err := a.store.Declaration(rendered.containerID)
		return err == nil && d != nil
	})
	return s
}

// put renames the staged file name into the inbox, as a scanner does.
func (s stagedScan) put(t *testing.T, a *Agent, name string) {
	t.Helper()
	if err := os.Rename(filepath.Join(s.dir, name), filepath.Join(a.Config().Scanner.Inbox, name)); err != nil {
		t.Fatal(err)
	}
}

// value reads a counter or gauge.
func value(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue() + d.GetGauge().GetValue()
}

func released(t *testing.T, a *Agent, why string) float64 {
	return value(t, a.metrics.PredecodeReleased.WithLabelValues(why))
}

// sidecarToCommit returns the count and sum (in seconds) of
// gatescan_sidecar_to_commit_seconds.
func sidecarToCommit(t testing.TB, a *Agent) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := a.metrics.SidecarToCommit.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// imagesAhead runs an agent holding images decoded ahead for keep, puts
// the staged scan's images into its inbox and returns once both are
// decoded ahead (seen on gatescan_images_predecoded_total).
func imagesAhead(t *testing.T, keep time.Duration) (*config.Config, *Agent, stagedScan) {
	t.Helper()
	cfg := predecodeConfig(t, keep)
	a := runAgent(t, cfg)
	s := stageScan(t, a)
	for _, im := range s.images {
		s.put(t, a, im)
	}
	agenttest.Eventually(t, 20*time.Second, "both images decoded ahead", func() bool {
		return value(t, a.metrics.Predecoded) == 2
	})
	return cfg, a, s
}

// TestSidecarToCommitAfterPredecode: images land, are decoded ahead (seen
// on gatescan_images_predecoded_total, not by sleeping), then the sidecar
// comes: the scan takes both images decoded ahead, and its latency from
// the sidecar's arrival to its committed result is within the detector's
// own time for it plus 10 ms, as measured in the same run.
func TestSidecarToCommitAfterPredecode(t *testing.T) {
	_, a, s := imagesAhead(t, time.Minute)
	if held := value(t, a.metrics.PredecodeHeld); held != 2 {
		t.Fatalf("gatescan_predecoded_images %v, want 2", held)
	}
	s.put(t, a, s.name+".json")
	r := waitResult(t, a, s.name, 30*time.Second)
	if used := released(t, a, "used"); used != 2 {
		t.Errorf("%v images decoded ahead used by the scan, want 2 (replaced %v)", used, released(t, a, "replaced"))
	}
	if held := value(t, a.metrics.PredecodeHeld); held != 0 {
		t.Errorf("gatescan_predecoded_images %v after the scan took them, want 0", held)
	}
	n, sum := sidecarToCommit(t, a)
	if n != 1 {
		t.Fatalf("%d latencies observed, want 1", n)
	}
	detector, decode := r.TimingsMS["detector"], r.TimingsMS["decode"]
	latency := sum * 1000
	t.Logf("sidecar to commit %.1f ms; detector %.1f ms, decode (taking the images decoded ahead) %.1f ms, assess %.1f ms",
		latency, detector, decode, r.TimingsMS["assess"])
	if detector <= 0 {
		t.Fatalf("no detector time in timings_ms: %v", r.TimingsMS)
	}
	// The race detector makes the Go code around the detector (reading
	// the sidecar, the buffer's transactions, JSON) several times slower;
	// a decode after the sidecar would still cost more than that.
	slack := 10.0
	if testkit.Race {
		slack *= 4
	}
	if latency > detector+slack {
		t.Errorf("sidecar to commit %.1f ms, over the detector's %.1f ms + %.0f ms", latency, detector, slack)
	}
}

// TestPredecodedImageReplaced: an image replaced after it was decoded
// ahead (same name, other pixels) is decoded afresh: the scan inspects
// the file as it is, and the stale decode is let go, counted.
func TestPredecodedImageReplaced(t *testing.T) {
	cfg, a, s := imagesAhead(t, time.Minute)
	// The scanner writes the low-energy image again: other pixels of the
	// same size (the high energy's), renamed over it. The stale decode is
	// let go and the new file decoded ahead in its turn.
	in := cfg.Scanner.Inbox
	agenttest.Put(t, in, s.images[1], rendered.files[s.images[0]])
	agenttest.Eventually(t, 20*time.Second, "the replaced image decoded ahead again", func() bool {
		return value(t, a.metrics.Predecoded) == 3
	})
	hi, _ := os.ReadFile(filepath.Join(in, s.images[0]))
	lo, _ := os.ReadFile(filepath.Join(in, s.images[1]))
	s.put(t, a, s.name+".json")
	waitResult(t, a, s.name, 30*time.Second)
	if used, stale := released(t, a, "used"), released(t, a, "replaced"); used != 2 || stale != 1 {
		t.Errorf("images decoded ahead: %v used, %v replaced; want 2 used (the low energy's decoded afresh) and the stale one replaced", used, stale)
	}
	// The scan is known by the images as they are now.
	rec, found, err := a.store.Committed(s.name)
	if err != nil || !found || rec.Identity == nil {
		t.Fatalf("scan not committed: %v %v", found, err)
	}
	if want := fmt.Sprintf("%016x", xxhash.Sum64(append(hi, lo...))); rec.Identity.Images != want {
		t.Errorf("scan committed with images digest %s, want %s (of the files inspected)", rec.Identity.Images, want)
	}
}

// TestPredecodedImageReleased: images whose sidecar does not come within
// scanner.predecode_keep are let go (counted expired, none held), and the
// scan that comes later is decoded and inspected as usual.
func TestPredecodedImageReleased(t *testing.T) {
	cfg, a, s := imagesAhead(t, 300*time.Millisecond)
	agenttest.Eventually(t, 10*time.Second, "images decoded ahead let go after predecode_keep", func() bool {
		return released(t, a, "expired") == 2 && value(t, a.metrics.PredecodeHeld) == 0
	})
	// The rescans report the images again: they are not decoded again.
	time.Sleep(3 * cfg.Scanner.Rescan)
	if n := value(t, a.metrics.Predecoded); n != 2 {
		t.Errorf("%v images decoded ahead, want 2: a version is decoded ahead once", n)
	}
	s.put(t, a, s.name+".json")
	waitResult(t, a, s.name, 30*time.Second)
	if used := released(t, a, "used"); used != 0 {
		t.Errorf("%v images used after they were let go", used)
	}
}

// TestPredecodeFailureLeavesTheScanItsError: an image that cannot be
// decoded ahead (truncated) is counted and left to its scan, which is
// rejected with the decoder's error as without decoding ahead; the other
// image decoded ahead is let go with it.
func TestPredecodeFailureLeavesTheScanItsError(t *testing.T) {
	cfg := predecodeConfig(t, time.Minute)
	a := runAgent(t, cfg)
	s := stageScan(t, a)
	hi := rendered.files[s.images[0]]
	if err := os.WriteFile(filepath.Join(s.dir, s.images[0]), hi[:len(hi)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, im := range s.images {
		s.put(t, a, im)
	}
	agenttest.Eventually(t, 20*time.Second, "one image decoded ahead, one failed", func() bool {
		return value(t, a.metrics.Predecoded) == 1 && value(t, a.metrics.PredecodeFailures) == 1
	})
	s.put(t, a, s.name+".json")
	why := filepath.Join(cfg.Scanner.Inbox, "rejected", s.name+".error")
	agenttest.Eventually(t, 20*time.Second, "scan rejected", func() bool { _, err := os.Stat(why); return err == nil })
	b, _ := os.ReadFile(why)
	if !strings.Contains(string(b), s.images[0]+" could not be decoded") {
		t.Errorf("rejected with %q, want the decoder's error naming %s", b, s.images[0])
	}
	if n := value(t, a.metrics.ScansRejected); n != 1 {
		t.Errorf("gatescan_scans_rejected_total %v, want 1", n)
	}
	if held := value(t, a.metrics.PredecodeHeld); held != 0 || released(t, a, "used") != 0 {
		t.Errorf("%v images still held, %v used by the rejected scan", held, released(t, a, "used"))
	}
}

// TestPredecodeMarkerFromLastRun: an image whose decode ahead did not end
// at the last run (the marker names it: the agent crashed or hung in it)
// is not decoded ahead again, so that it cannot take the agent down at
// every start; its scan decodes it, under its attempts.
func TestPredecodeMarkerFromLastRun(t *testing.T) {
	cfg := predecodeConfig(t, time.Minute)
	in := cfg.Scanner.Inbox
	if err := os.MkdirAll(in, 0o750); err != nil {
		t.Fatal(err)
	}
	s := stagedScan{dir: t.TempDir(), name: stagedName, images: []string{stagedName + ".png", stagedName + ".low.png"}}
	for _, n := range s.images {
		agenttest.Put(t, in, n, renderedFiles(t)[n])
	}
	high := filepath.Join(in, s.images[0])
	id, err := scanin.StatFile(high)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, markerName), markerText(high, id), 0o640); err != nil {
		t.Fatal(err)
	}
	a := runAgent(t, cfg)
	s = stageScan(t, a) // the declaration; the images are in place
	agenttest.Eventually(t, 20*time.Second, "the other image decoded ahead", func() bool {
		return value(t, a.metrics.Predecoded) == 1
	})
	time.Sleep(3 * cfg.Scanner.Rescan) // rescans report the image again
	if n := value(t, a.metrics.Predecoded); n != 1 {
		t.Errorf("%v images decoded ahead, want 1: not the one the marker names", n)
	}
	if _, err := os.Stat(filepath.Join(in, markerName)); !os.IsNotExist(err) {
		t.Errorf("marker left in the inbox: %v", err)
	}
	s.put(t, a, s.name+".json")
	waitResult(t, a, s.name, 30*time.Second)
	if used := released(t, a, "used"); used != 1 {
		t.Errorf("%v images decoded ahead used, want 1", used)
	}
}
