package agent_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/mqtttest"
	"github.com/gatescan/gatescan/internal/testbroker"
)

// TestHostileConditions is the fault suite of issue 15 on the built
// binary (with -tags faulthooks, whose hooks do nothing unless a test sets
// their variables): a scan id reused on another lane, SIGTERM with scans
// waiting, a poisonous scan that kills the agent, a scan that hangs it at
// shutdown, half-written declarations and special files in the inboxes.
// Every scan ends inspected or quarantined and alerted, every declaration
// stored, the daemon alive.
func TestHostileConditions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := agenttest.BuildBinary(t, "faulthooks")
	b := testbroker.Start(t)

	t.Run("reused scan id on another lane", func(t *testing.T) {
		g := newGate(t, bin, b.URL(), "")
		d := g.start()
		agenttest.TinyScan(t, g.spare, "first", "0042", "L1", time.Now())
		g.deliver("first")
		agenttest.Eventually(t, 30*time.Second, "first inspection", func() bool { return len(g.inspections()) == 1 })
		agenttest.TinyScan(t, g.inbox, "second", "0042", "L2", time.Now())
		agenttest.Eventually(t, 30*time.Second, "the other lane's scan under the same id inspected", func() bool { return len(g.inspections()) == 2 })
		g.deliver("first") // the first one's files again
		g.waitInboxEmpty()
		time.Sleep(500 * time.Millisecond) // anything queued would be on its way
		rs := g.inspections()
		if len(rs) != 2 || rs[0].InspectionID == rs[1].InspectionID || rs[0].Lane != "L1" || rs[1].Lane != "L2" {
			t.Fatalf("inspections %+v: want one per scan, each its own id", brief(rs))
		}
		if rs[0].InspectionID != inspection.ID(g.site, "g1", "0042", 0) {
			t.Errorf("the first scan's inspection id %s is not the one derived from its scan id", rs[0].InspectionID)
		}
		if n := scrape(t, g.http, "gatescan_scan_id_reused_total"); n != 1 {
			t.Errorf("gatescan_scan_id_reused_total %v, want 1", n)
		}
		g.alive(d)
	})

	t.Run("SIGTERM with scans waiting", func(t *testing.T) {
		sim := agenttest.Indicator(t, 0)
		g := newGate(t, bin, b.URL(), fmt.Sprintf(`
  - id: WB
    weighbridge: {port: %q, protocol: toledo, stable_for: 1s}`, sim.Path()))
		d := g.start("GATESCAN_FAULT_SCAN=large", "GATESCAN_FAULT=slow")
		containers := []string{"CSQU3054383", "MSCU1234566", "TGHU8761127"}
		for i, c := range containers {
			agenttest.TinyScan(t, g.inbox, fmt.Sprint("decl-", i), fmt.Sprint("wait-decl-", i), "L1", time.Now(), c)
		}
		agenttest.TinyScan(t, g.inbox, "weight", "wait-weight", "WB", time.Now())
		agenttest.Eventually(t, 20*time.Second, "scans waiting", func() bool {
			return strings.Count(d.log.String(), "scan waiting for its declaration or weight") >= 4
		})
		before := g.files()
		// A large scan is being inspected when a declaration for another
		// truck wakes the waiting scans, just before systemd stops the
		// agent.
		agenttest.TinyScan(t, g.inbox, "large", "large", "L1", time.Now())
		time.Sleep(300 * time.Millisecond)
		agenttest.Put(t, g.decl, "other.json", []byte(fmt.Sprintf(declJSON, "OTHER", "CAIU2345678")))
		for end := time.Now().Add(10 * time.Second); !strings.Contains(d.log.String(), "declaration stored"); time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("other declaration not stored")
			}
		}
		t.Logf("stopped %v after SIGTERM", g.stop(d).Round(time.Millisecond))
		if code := d.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit code %d", code)
		}
		time.Sleep(300 * time.Millisecond)
		if rs := g.inspections(); len(distinctIDs(rs)) != 1 || rs[0].ScanID != "large" {
			t.Fatalf("inspected at shutdown: %v; want only the scan in progress", brief(rs))
		}
		if after := g.files(); !sameTree(before, after) {
			t.Fatalf("inbox touched at shutdown:\nbefore %v\nafter  %v", names(before), names(after))
		}

		// Next start: the declarations and the truck's weight come, every
		// scan is inspected with them.
		d = g.start()
		for i, c := range containers {
			agenttest.Put(t, g.decl, fmt.Sprint("d", i, ".json"), []byte(fmt.Sprintf(declJSON, fmt.Sprint(i), c)))
		}
		sim.Set(31000, false)
		agenttest.Eventually(t, 30*time.Second, "every waiting scan inspected", func() bool { return len(distinctIDs(g.inspections())) == 5 })
		for _, r := range g.inspections() {
			switch {
			case r.Lane == "WB" && (r.Weights.GrossKg == nil || r.Has(inspection.NoWeight)):
				t.Errorf("%s inspected without its weight: %v", r.ScanID, r.Codes())
			case r.Lane == "L1" && r.ScanID != "large" && (r.DeclarationID == "" || r.Has(inspection.NoDeclaration)):
				t.Errorf("%s inspected without its declaration: %v", r.ScanID, r.Codes())
			}
		}
		g.alive(d)
	})

	t.Run("poisonous scan", func(t *testing.T) {
		g := newGate(t, bin, b.URL(), "")
		agenttest.TinyScan(t, g.inbox, "a-poison", "poison-1", "L1", time.Now()) // first in the inbox's order
		for i := range 3 {
			agenttest.TinyScan(t, g.inbox, fmt.Sprint("ok-", i), fmt.Sprint("ok-", i), "L1", time.Now())
		}
		crashes := 0
		var d *daemon
		for start := 0; ; start++ {
			if start > 6 {
				t.Fatalf("still crashing after %d starts: the gate is down", start)
			}
			d = g.start("GATESCAN_FAULT_SCAN=poison", "GATESCAN_FAULT=kill")
			select {
			case <-d.done:
				crashes++
				continue
			case <-g.until(func() bool { return len(g.alertsOf("poison-1")) > 0 }, 20*time.Second):
			}
			break
		}
		if crashes != 3 {
			t.Errorf("quarantined after %d crashes, want scanner.max_attempts = 3", crashes)
		}
		a := g.alertsOf("poison-1")[0]
		if a.ScanID != "poison-1" || a.Verdict != inspection.Alert || len(a.Findings) != 1 || a.Findings[0].Code != inspection.ImageQuality ||
			a.Findings[0].Severity != inspection.Critical || !strings.Contains(a.Findings[0].Message, "could not be inspected: ") {
			t.Errorf("alert %+v", a)
		}
		t.Logf("alert: %s", a.Findings[0].Message)
		agenttest.Eventually(t, 30*time.Second, "the other scans inspected", func() bool { return len(distinctIDs(g.inspections())) == 4 })
		for _, n := range []string{"a-poison.png", "a-poison.json"} {
			if _, err := os.Stat(filepath.Join(g.inbox, "quarantine", n)); err != nil {
				t.Errorf("%s not quarantined: %v", n, err)
			}
		}
		if n := scrape(t, g.http, "gatescan_scans_quarantined_total"); n != 1 {
			t.Errorf("gatescan_scans_quarantined_total %v", n)
		}
		g.alive(d)
	})

	t.Run("killed between the result and its image", func(t *testing.T) {
		g := newGate(t, bin, b.URL(), "")
		d := g.start("GATESCAN_FAULT_SCAN=pic", "GATESCAN_FAULT=kill-committed")
		agenttest.TinyScan(t, g.inbox, "pic", "pic-1", "L1", time.Now())
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			t.Fatal("the daemon was not killed after the scan's commit")
		}
		if _, err := os.Stat(filepath.Join(g.inbox, "pic.json")); err != nil {
			t.Fatalf("the scan left the inbox before its image was made: %v", err)
		}
		id := inspection.ID(g.site, "g1", "pic-1", 0)
		images := func() int { return g.in.Count(g.topics.Image(id)) }
		d = g.start()
		agenttest.Eventually(t, 30*time.Second, "the image after the restart", func() bool { return images() == 1 })
		g.waitInboxEmpty()
		time.Sleep(500 * time.Millisecond) // anything more would be on its way
		rs := g.inspections()
		if n := images(); n != 1 || len(distinctIDs(rs)) != 1 {
			t.Fatalf("%d images and %d inspections (%v) published: want the image once, one inspection", n, len(distinctIDs(rs)), brief(rs))
		}
		for _, r := range rs[1:] { // a redelivery of the committed result, not a second inspection
			if !r.InspectedAt.Equal(rs[0].InspectedAt) {
				t.Errorf("the scan was inspected again: at %v and %v", rs[0].InspectedAt, r.InspectedAt)
			}
		}
		if n := scrape(t, g.http, "gatescan_annotated_images_remade_total"); n != 1 {
			t.Errorf("gatescan_annotated_images_remade_total %v, want 1", n)
		}
		g.alive(d)
	})

	t.Run("scan hanging at shutdown", func(t *testing.T) {
		g := newGate(t, bin, b.URL(), "")
		d := g.start("GATESCAN_FAULT_SCAN=hang", "GATESCAN_FAULT=hang")
		agenttest.TinyScan(t, g.inbox, "hang", "hang-1", "L1", time.Now())
		time.Sleep(time.Second) // taken up, and hung
		took := g.stop(d)
		t.Logf("stopped %v after SIGTERM with a scan hung (shutdown_timeout %v)", took.Round(time.Millisecond), g.shutdown)
		if took > g.shutdown+7*time.Second {
			t.Errorf("stopping took %v: over shutdown_timeout + 7s", took)
		}
		if _, err := os.Stat(filepath.Join(g.inbox, "hang.json")); err != nil {
			t.Errorf("hung scan's files touched: %v", err)
		}
	})

	t.Run("declarations written in place and special files", func(t *testing.T) {
		g := newGate(t, bin, b.URL(), "")
		d := g.start()
		time.Sleep(300 * time.Millisecond) // watching
		for _, dir := range []string{g.inbox, g.decl} {
			if err := syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644); err != nil {
				t.Skip(err)
			}
		}
		decl := []byte(fmt.Sprintf(declJSON, "SLOW", "CSQU3054383"))
		p := filepath.Join(g.decl, "slow.json")
		os.WriteFile(p, decl[:len(decl)/3], 0o644)
		time.Sleep(300 * time.Millisecond) // a slow customs system
		f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		f.Write(decl[len(decl)/3:])
		f.Close()
		agenttest.TinyScan(t, g.inbox, "s", "after-garbage", "L1", time.Now(), "CSQU3054383")
		agenttest.Eventually(t, 30*time.Second, "scan inspected", func() bool { return len(g.inspections()) == 1 })
		if r := g.inspections()[0]; r.DeclarationID != "D-SLOW" {
			t.Errorf("inspected with declaration %q, want D-SLOW", r.DeclarationID)
		}
		for _, dir := range []string{g.inbox, g.decl} {
			if _, err := os.Stat(filepath.Join(dir, "rejected", "fifo.error")); err != nil {
				t.Errorf("FIFO in %s not rejected: %v", dir, err)
			}
		}
		if _, err := os.Stat(filepath.Join(g.decl, "rejected", "slow.json")); err == nil {
			t.Error("declaration written in place rejected")
		}
		g.alive(d)
	})
}

const declJSON = `{"declaration_id":"D-%s","container_id":"%s","container_type":"22G1","container_tare_kg":2200,"declared_gross_kg":5200,"items":[{"hs_code":"610910","description":"t-shirts","gross_kg":3000}]}`

// gate is one gate's directories, config and what its control room got.
type gate struct {
	t                        *testing.T
	bin, cfgPath, site, http string
	inbox, decl, spare       string
	shutdown                 time.Duration
	in                       *mqtttest.Recorder
	topics                   publish.Topics
}

// newGate writes a config of two scanner-only lanes and moreLanes, with a
// site of its own on the broker.
func newGate(t *testing.T, bin, broker, moreLanes string) *gate {
	t.Helper()
	dir := t.TempDir()
	g := &gate{t: t, bin: bin, site: fmt.Sprintf("hostile-%d", time.Now().UnixNano()), http: agenttest.FreeAddr(t),
		inbox: filepath.Join(dir, "scans"), decl: filepath.Join(dir, "decl"), spare: t.TempDir(), shutdown: 3 * time.Second}
	yaml := fmt.Sprintf(`site: %s
gate: g1
mqtt: {broker: %q, keepalive: 2s, reconnect_min: 100ms, reconnect_max: 1s}
buffer: {dir: %q, sync_writes: true}
scanner: {inbox: %q, rescan_interval: 300ms, settle_time: 10ms}
declarations: {inbox: %q, settle_time: 500ms}
rules: {grace: 60s}
lanes:
  - id: L1
  - id: L2%s
http: {listen: %q}
log: {level: debug, format: text}
shutdown_timeout: %s
`, g.site, broker, filepath.Join(dir, "buffer"), g.inbox, g.decl, moreLanes, g.http, g.shutdown)
	g.cfgPath = filepath.Join(dir, "gatescan.yaml")
	if err := os.WriteFile(g.cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{g.inbox, g.decl} {
		os.MkdirAll(d, 0o755)
	}
	g.topics = publish.NewTopics(g.site, "g1")
	g.in = mqtttest.Listen(t, broker, "", g.topics.Base+"/#")
	return g
}

// start runs the daemon, ready once it serves HTTP (or has died).
func (g *gate) start(env ...string) *daemon {
	g.t.Helper()
	d := startDaemon(g.t, g.bin, g.cfgPath, env...)
	g.t.Cleanup(func() {
		if g.t.Failed() {
			g.t.Logf("daemon log:\n%s", tail(d.log.String(), 30))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return d
		default:
		}
		if resp, err := http.Get("http://" + g.http + "/healthz"); err == nil {
			resp.Body.Close()
			return d
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatal("daemon not serving within 20s")
	return d
}

// stop sends the daemon SIGTERM, as systemd stops it, and returns how
// long it took to exit; over shutdown_timeout and 10 s fails the test.
func (g *gate) stop(d *daemon) time.Duration {
	g.t.Helper()
	start := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(g.shutdown + 10*time.Second):
		g.t.Fatalf("not stopped %v after SIGTERM", time.Since(start))
	}
	return time.Since(start)
}

// until is closed once cond holds, or never (d later).
func (g *gate) until(cond func() bool, d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if cond() {
				close(c)
				return
			}
		}
	}()
	return c
}

// alive checks the daemon still runs and answers.
func (g *gate) alive(d *daemon) {
	g.t.Helper()
	select {
	case <-d.done:
		g.t.Fatalf("daemon died: %v", d.cmd.ProcessState)
	default:
	}
	resp, err := http.Get("http://" + g.http + "/healthz")
	if err != nil {
		g.t.Fatalf("daemon not answering: %v", err)
	}
	resp.Body.Close()
}

// deliver copies a scan written in spare into the inbox, sidecar last.
func (g *gate) deliver(name string) {
	g.t.Helper()
	for _, n := range []string{name + ".png", name + ".json"} {
		b, err := os.ReadFile(filepath.Join(g.spare, n))
		if err != nil {
			g.t.Fatal(err)
		}
		agenttest.Put(g.t, g.inbox, n, b)
	}
}

func (g *gate) waitInboxEmpty() {
	g.t.Helper()
	agenttest.Eventually(g.t, 30*time.Second, "inbox empty", func() bool { return inboxEmpty(g.t, g.inbox) })
}

func (g *gate) inspections() []inspection.Result { return results(g.t, g.in, g.topics.Inspections()) }

// alertsOf returns the alerts about one scan.
func (g *gate) alertsOf(scanID string) []inspection.Result {
	var out []inspection.Result
	for _, r := range results(g.t, g.in, g.topics.Alerts()) {
		if r.ScanID == scanID {
			out = append(out, r)
		}
	}
	return out
}

// files reads every file of the inbox (not its subdirectories).
func (g *gate) files() map[string][]byte {
	g.t.Helper()
	m := map[string][]byte{}
	es, _ := os.ReadDir(g.inbox)
	for _, e := range es {
		if e.Type().IsRegular() {
			b, _ := os.ReadFile(filepath.Join(g.inbox, e.Name()))
			m[e.Name()] = b
		}
	}
	return m
}

func sameTree(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for n, v := range a {
		if !bytes.Equal(b[n], v) {
			return false
		}
	}
	return true
}

func names(m map[string][]byte) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}

func brief(rs []inspection.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %s %s %v", r.ScanID, r.Lane, r.InspectionID, r.Codes()))
	}
	return out
}
