package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/inbox"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/internal/agenttest"
)

// scanConfig is a gate of two scanner-only lanes and one with a
// weighbridge (never started here: the tests drive processScan
// themselves), waiting grace for what a scan lacks.
func scanConfig(t *testing.T, grace time.Duration, extraScanner string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	c, err := config.Parse([]byte(fmt.Sprintf(`site: s
gate: g
mqtt: {broker: %q}
buffer: {dir: %q}
scanner: {inbox: %q, rescan_interval: 300ms, settle_time: 10ms%s}
declarations: {inbox: %q, settle_time: 100ms}
rules: {grace: %s}
lanes:
  - {id: L1}
  - {id: L2}
  - id: WB
    weighbridge: {port: /dev/null-no-such-port, protocol: toledo}
http: {listen: ""}
`, deadBroker(t), dir+"/buf", dir+"/scans", extraScanner, dir+"/decl", grace)), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{c.Scanner.Inbox, c.Declarations.Inbox} {
		os.MkdirAll(d, 0o750)
	}
	return c
}

// directAgent is an agent with its buffer and publisher (never started)
// whose scan processing the test drives itself.
func directAgent(t *testing.T, cfg *config.Config) *Agent {
	t.Helper()
	st, err := buffer.Open(cfg.Buffer.Dir, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := New(cfg, quietLog(), Options{})
	a.store, a.scans = st, newScanQueue()
	if a.pub, err = publish.New(cfg, st, Version, a.log, a.declarationFromMQTT); err != nil {
		t.Fatal(err)
	}
	return a
}

// process runs one pass of processScan on a scan whose grace has passed.
func (a *Agent) process(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	time.Sleep(2 * a.Config().Scanner.SettleTime) // written just now
	det := newDetector(a.Config())
	defer det.Close()
	a.safeProcess(ctx, det, filepath.Join(a.Config().Scanner.Inbox, name+".json"), time.Time{})
}

func (a *Agent) resultOf(t *testing.T, id string) (inspection.Result, bool) {
	t.Helper()
	b, err := a.store.Result(id)
	if err != nil {
		return inspection.Result{}, false
	}
	var r inspection.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r, true
}

func (a *Agent) lastSeq(t *testing.T) uint64 {
	t.Helper()
	st, err := a.store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.LastSeq
}

// snapshot reads every file of a scan, to tell whether it was touched.
func snapshot(t *testing.T, dir, name string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, n := range []string{name + ".png", name + ".json"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatalf("scan %s: %v", name, err)
		}
		m[n] = b
	}
	return m
}

func sameFiles(t *testing.T, dir, name string, want map[string][]byte) {
	t.Helper()
	got := snapshot(t, dir, name)
	for n, b := range want {
		if !bytes.Equal(got[n], b) {
			t.Errorf("%s changed", n)
		}
	}
}

// TestReusedScanIDInspected: a scan whose id was committed for another
// scan (another lane; the same lane at another time; the same lane and
// time with other images) is inspected, under inspection ids of its own,
// and counted; a true re-delivery of any of them (the same files again)
// is only cleaned up.
func TestReusedScanIDInspected(t *testing.T) {
	cfg := scanConfig(t, 0, "")
	a := directAgent(t, cfg)
	ctx := context.Background()
	in := cfg.Scanner.Inbox
	at := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	spare := t.TempDir()
	scans := []struct {
		lane string
		at   time.Time
	}{
		{"L1", at},                // the first scan with id 0042
		{"L2", at},                // another lane's counter at the same number
		{"L1", at.Add(time.Hour)}, // the scanner's counter reset
		{"L1", at.Add(time.Hour)}, // same lane and time, other images
	}
	ids := map[string]bool{}
	for i, s := range scans {
		name := fmt.Sprintf("s%d", i)
		agenttest.TinyScan(t, spare, name, "0042", s.lane, s.at)
		if i == 3 { // the sidecar of scan 2, with other images
			b, _ := os.ReadFile(filepath.Join(spare, "s2.json"))
			os.WriteFile(filepath.Join(spare, name+".json"), bytes.ReplaceAll(b, []byte("s2.png"), []byte("s3.png")), 0o644)
		}
		copyScan(t, spare, in, name)
		before := a.lastSeq(t)
		a.process(t, ctx, name)
		if _, err := os.Stat(filepath.Join(in, name+".json")); err == nil {
			t.Fatalf("scan %d still in the inbox", i)
		}
		if a.lastSeq(t) == before {
			t.Fatalf("scan %d (lane %s, %v) not inspected: its id was committed for another scan", i, s.lane, s.at)
		}
	}
	msgs, err := a.store.Pending(0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Topic == a.pub.Topics().Inspections() {
			var r inspection.Result
			json.Unmarshal(m.Payload, &r)
			ids[r.InspectionID] = true
		}
	}
	if len(ids) != len(scans) {
		t.Errorf("%d distinct inspection ids for %d scans: %v", len(ids), len(scans), ids)
	}
	if _, ok := a.resultOf(t, inspection.ID(cfg.Site, cfg.Gate, "0042", 0)); !ok {
		t.Error("the first scan under an id does not keep the inspection id derived from it")
	}
	if n := count(a.metrics.ScanIDReused); n != 3 {
		t.Errorf("gatescan_scan_id_reused_total %v, want 3", n)
	}
	// Re-delivered, each is cleaned up and not queued again.
	for i := range scans {
		name := fmt.Sprintf("s%d", i)
		copyScan(t, spare, in, name)
		before := a.lastSeq(t)
		a.process(t, ctx, name)
		if a.lastSeq(t) != before {
			t.Errorf("re-delivered scan %d queued again", i)
		}
		if _, err := os.Stat(filepath.Join(in, name+".json")); err == nil {
			t.Errorf("re-delivered scan %d not cleaned up", i)
		}
	}
	if n := count(a.metrics.ScanIDReused); n != 3 {
		t.Errorf("gatescan_scan_id_reused_total %v after re-deliveries, want 3", n)
	}
}

func copyScan(t *testing.T, from, to, name string) {
	t.Helper()
	for _, n := range []string{name + ".png", name + ".json"} { // sidecar last
		b, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			t.Fatal(err)
		}
		agenttest.Put(t, to, n, b)
	}
}

// TestShutdownLeavesWaitingScans: once the agent is told to stop, a scan
// waiting for its declaration (scanner-only lane) or its weight
// (weighbridge lane) is neither inspected nor touched, whether the scan
// loop was about to take it up (woken by a declaration or weight just
// before the signal) or was already trying it.
func TestShutdownLeavesWaitingScans(t *testing.T) {
	cfg := scanConfig(t, time.Hour, "")
	a := directAgent(t, cfg)
	in := cfg.Scanner.Inbox
	now := time.Now()
	agenttest.TinyScan(t, in, "decl", "wait-decl", "L1", now, "CSQU3054383")
	agenttest.TinyScan(t, in, "weight", "wait-weight", "WB", now)
	files := map[string]map[string][]byte{"decl": snapshot(t, in, "decl"), "weight": snapshot(t, in, "weight")}
	time.Sleep(2 * cfg.Scanner.SettleTime) // written just now
	for _, n := range []string{"decl", "weight"} {
		a.scans.add(filepath.Join(in, n+".json"))
	}
	// Tried once, within the grace: they wait.
	det := newDetector(cfg)
	defer det.Close()
	for range 2 {
		if p, first, _ := a.scans.next(); p != "" {
			a.processScan(context.Background(), det, p, first)
		}
	}
	if n := a.lastSeq(t); n != 0 {
		t.Fatalf("%d messages queued while the scans wait", n)
	}
	a.wakeWaitingScans() // a declaration or weight came, for another truck
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // and SIGTERM

	done := make(chan struct{})
	go func() { a.processScans(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("scan loop did not stop")
	}
	// The scan the loop was trying when the signal came.
	a.processScan(ctx, det, filepath.Join(in, "weight.json"), now)
	if n := a.lastSeq(t); n != 0 {
		t.Errorf("%d messages queued at shutdown: a waiting scan was committed without what it waits for", n)
	}
	for n, want := range files {
		sameFiles(t, in, n, want)
		if done, _ := a.store.ScanDone("wait-" + n); done {
			t.Errorf("scan wait-%s committed at shutdown", n)
		}
	}
}

// TestPanickingScanQuarantined: a scan whose inspection panics is tried
// again up to scanner.max_attempts times, then quarantined: an alert with
// an IMAGE_QUALITY critical finding is queued, its files go to the
// quarantine directory; other scans are inspected meanwhile.
func TestPanickingScanQuarantined(t *testing.T) {
	cfg := scanConfig(t, 0, ", max_attempts: 2")
	a := directAgent(t, cfg)
	in := cfg.Scanner.Inbox
	inspectHook = func(s *scanin.Scan) {
		if s.Sidecar.ScanID == "poison" {
			panic("inside OpenCV")
		}
	}
	defer func() { inspectHook = nil }()
	agenttest.TinyScan(t, in, "poison", "poison", "L1", time.Now())
	ctx := context.Background()
	for i := range 2 {
		a.process(t, ctx, "poison")
		if _, ok := a.resultOf(t, inspection.ID(cfg.Site, cfg.Gate, "poison", 0)); ok {
			t.Fatalf("attempt %d: poisonous scan committed", i+1)
		}
		if _, err := os.Stat(filepath.Join(in, "poison.json")); err != nil {
			t.Fatalf("attempt %d: scan gone from the inbox: %v", i+1, err)
		}
		agenttest.TinyScan(t, in, fmt.Sprint("ok", i), fmt.Sprint("ok", i), "L1", time.Now())
		a.process(t, ctx, fmt.Sprint("ok", i))
		if _, ok := a.resultOf(t, inspection.ID(cfg.Site, cfg.Gate, fmt.Sprint("ok", i), 0)); !ok {
			t.Fatalf("scan ok%d not inspected beside the poisonous one", i)
		}
	}
	a.process(t, ctx, "poison")
	r, ok := a.resultOf(t, inspection.ID(cfg.Site, cfg.Gate, "poison", 0))
	if !ok {
		t.Fatal("poisonous scan not quarantined after max_attempts")
	}
	if r.Verdict != inspection.Alert || len(r.Findings) != 1 || r.Findings[0].Code != inspection.ImageQuality ||
		r.Findings[0].Severity != inspection.Critical || !strings.Contains(r.Findings[0].Message, "could not be inspected: internal error: inside OpenCV, 2 attempts") {
		t.Errorf("quarantine result %+v", r)
	}
	msgs, _ := a.store.Pending(0, 100, 0)
	alerted := false
	for _, m := range msgs {
		alerted = alerted || m.Topic == a.pub.Topics().Alerts() && bytes.Contains(m.Payload, []byte(r.InspectionID))
	}
	if !alerted {
		t.Error("quarantine not queued on the alerts topic")
	}
	for _, n := range []string{"poison.png", "poison.json"} {
		if _, err := os.Stat(filepath.Join(QuarantineDir(cfg), n)); err != nil {
			t.Errorf("%s not in quarantine: %v", n, err)
		}
	}
	if n := count(a.metrics.Quarantined); n != 1 {
		t.Errorf("gatescan_scans_quarantined_total %v", n)
	}
}

// TestKeepProcessedNeverOverwrites: scans kept under names already taken
// (a scanner naming its files by a counter that was reset) go into a
// directory of their own, each sidecar beside its own images; a
// processed_dir on another file system gets the files copied, synced and
// removed from the inbox.
func TestKeepProcessedNeverOverwrites(t *testing.T) {
	for _, tc := range []struct{ name, dir string }{{"same file system", ""}, {"another file system", "/dev/shm"}} {
		t.Run(tc.name, func(t *testing.T) {
			extra := ", keep_processed: true"
			if tc.dir != "" {
				d, err := os.MkdirTemp(tc.dir, "processed")
				if err != nil {
					t.Skip(err)
				}
				t.Cleanup(func() { os.RemoveAll(d) })
				if sameDevice(d, t.TempDir()) {
					t.Skipf("%s is on the same file system as the temporary directory", tc.dir)
				}
				extra += fmt.Sprintf(", processed_dir: %q", d)
			}
			cfg := scanConfig(t, 0, extra)
			a := directAgent(t, cfg)
			in := cfg.Scanner.Inbox
			var kept []map[string][]byte
			for i := range 3 {
				agenttest.TinyScan(t, in, "scan0001", fmt.Sprint("uuid-", i), "L1", time.Now())
				kept = append(kept, snapshot(t, in, "scan0001"))
				a.process(t, context.Background(), "scan0001")
				if _, err := os.Stat(filepath.Join(in, "scan0001.json")); err == nil {
					t.Fatalf("scan %d left in the inbox", i)
				}
			}
			pd := ProcessedDir(cfg)
			for i, dir := range []string{pd, filepath.Join(pd, "scan0001.2"), filepath.Join(pd, "scan0001.3")} {
				sameFiles(t, dir, "scan0001", kept[i])
			}
			if n := count(a.metrics.KeepErrors); n != 0 {
				t.Errorf("gatescan_keep_processed_errors_total %v", n)
			}
		})
	}
}

func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	return syscall.Stat(a, &sa) == nil && syscall.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}

func count(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// TestTransientErrors: what says the system failed (descriptors, memory,
// disk) retries a scan; what says the scan is bad rejects it.
func TestTransientErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "open", Path: "a.json", Err: syscall.EMFILE}, true},
		{fmt.Errorf("read a.png: %w", syscall.ENOMEM), true},
		{fmt.Errorf("image %q: %w", "a.png", syscall.ENOSPC), true},
		{&os.PathError{Op: "open", Path: "a.json", Err: syscall.ENOENT}, false},
		{fmt.Errorf("a.png is a FIFO: %w", inbox.ErrNotRegular), false},
		{errors.New("sidecar is not JSON"), false},
		{nil, false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestFullDiskDoesNotQuarantine: a scan whose commit a full disk refuses
// again and again waits in the inbox, and is inspected, not quarantined,
// once the disk has room: the refusals are not failed attempts.
func TestFullDiskDoesNotQuarantine(t *testing.T) {
	cfg := scanConfig(t, 0, ", max_attempts: 2")
	a := directAgent(t, cfg)
	free, err := a.store.FreeBytes()
	if err != nil {
		t.Skip(err)
	}
	a.store.SetReserve(2 * free) // commits refused, small records written
	agenttest.TinyScan(t, cfg.Scanner.Inbox, "s", "full-disk", "L1", time.Now())
	for i := range 4 {
		a.process(t, context.Background(), "s")
		if _, err := os.Stat(filepath.Join(cfg.Scanner.Inbox, "s.json")); err != nil {
			t.Fatalf("try %d with the disk full: scan left the inbox: %v", i+1, err)
		}
	}
	if n := count(a.metrics.CommitErrors); n < 4 {
		t.Fatalf("%v commit errors, want the disk full to refuse each of 4 tries", n)
	}
	a.store.SetReserve(0)
	a.process(t, context.Background(), "s")
	r, ok := a.resultOf(t, inspection.ID(cfg.Site, cfg.Gate, "full-disk", 0))
	quarantined := false
	for _, f := range r.Findings {
		quarantined = quarantined || (f.Code == inspection.ImageQuality && f.Severity == inspection.Critical)
	}
	if !ok || quarantined || count(a.metrics.Quarantined) != 0 {
		t.Fatalf("after the disk full: result %v (found %v), quarantined %v; want it inspected", r.Codes(), ok, count(a.metrics.Quarantined))
	}
}
