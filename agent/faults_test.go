package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/agent/assess"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/mqtttest"
	"github.com/gatescan/gatescan/internal/testbroker"
	"github.com/gatescan/gatescan/vision"
)

// The fault tests drive the real agent (in process, or the built binary
// killed with SIGKILL) against a real mosquitto, with small synthetic
// scans so that the buffer and publisher path, not the detector, is what
// takes the time.

// writeTinyScan writes a 160×48 scan of a dark block in air on lane L1,
// image first and sidecar last (renamed into place), as a scanner does.
func writeTinyScan(t testing.TB, inbox, id string) {
	t.Helper()
	agenttest.TinyScan(t, inbox, id, id, "L1", time.Now())
}

// faultConfig is a scanner-only gate (no weighbridge to wait for) with
// quick reconnects and housekeeping.
func faultConfig(t testing.TB, dir, broker, extraBuffer string) (*config.Config, string) {
	t.Helper()
	yaml := fmt.Sprintf(`site: faults
gate: g1
mqtt: {broker: %q, keepalive: 2s, reconnect_min: 100ms, reconnect_max: 1s}
buffer: {dir: %q, sync_writes: true, housekeeping_interval: 200ms%s}
scanner: {inbox: %q, rescan_interval: 300ms, settle_time: 10ms}
declarations: {inbox: %q}
rules: {grace: 1s}
lanes: [{id: L1}]
http: {listen: "127.0.0.1:0"}
log: {level: debug, format: text}
`, broker, filepath.Join(dir, "buffer"), extraBuffer, filepath.Join(dir, "scans"), filepath.Join(dir, "decl"))
	path := filepath.Join(dir, "gatescan.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse([]byte(yaml), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{c.Scanner.Inbox, c.Declarations.Inbox} {
		os.MkdirAll(d, 0o755)
	}
	return c, path
}

// results returns the inspection results received on topic, in arrival
// order, duplicates included.
func results(t *testing.T, in *mqtttest.Recorder, topic string) []inspection.Result {
	t.Helper()
	var out []inspection.Result
	for _, p := range in.Payloads(topic) {
		var r inspection.Result
		if err := json.Unmarshal(p, &r); err != nil {
			t.Fatalf("%s: not a result: %v", topic, err)
		}
		out = append(out, r)
	}
	return out
}

// distinct checks results against the scans expected: every scan's
// inspection arrived, with the id derived from gate and scan id; copies
// (redeliveries, re-inspections after a crash) carry the same verdict. It
// returns the first arrival of each, in arrival order.
func distinct(t *testing.T, cfg *config.Config, got []inspection.Result, scans []string) []inspection.Result {
	t.Helper()
	first := map[string]inspection.Result{}
	var order []inspection.Result
	for _, r := range got {
		if f, ok := first[r.InspectionID]; ok {
			if f.Verdict != r.Verdict || f.Risk != r.Risk || f.ScanID != r.ScanID {
				t.Errorf("inspection %s arrived as %s/%v (scan %s) and as %s/%v (scan %s)", r.InspectionID, f.Verdict, f.Risk, f.ScanID, r.Verdict, r.Risk, r.ScanID)
			}
			continue
		}
		first[r.InspectionID] = r
		order = append(order, r)
	}
	for _, s := range scans {
		id := inspection.ID(cfg.Site, cfg.Gate, s, 0)
		if f, ok := first[id]; !ok {
			t.Errorf("scan %s: its inspection %s never arrived", s, id)
		} else if f.ScanID != s {
			t.Errorf("inspection %s is of scan %s, want %s", id, f.ScanID, s)
		}
	}
	if len(first) != len(scans) {
		t.Errorf("%d distinct inspections for %d scans", len(first), len(scans))
	}
	return order
}

// runAgent runs the agent in process until the test ends.
func runAgent(t *testing.T, cfg *config.Config) (*agent.Agent, func()) {
	t.Helper()
	a := agent.New(cfg, testLogger(t), agent.Options{})
	return a, agenttest.Start(t, a)
}

func apiStatus(t *testing.T, a *agent.Agent) (st struct {
	Outbox buffer.Stats  `json:"outbox"`
	MQTT   publish.State `json:"mqtt"`
}) {
	t.Helper()
	resp, err := http.Get("http://" + a.HTTPAddr() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func inboxEmpty(t *testing.T, dir string) bool {
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".json") {
			return false
		}
	}
	return true
}

// TestBrokerDownWhileScanning: the broker goes away, 200 scans are
// inspected meanwhile (the outbox grows, nothing waits for the network),
// the broker comes back: all 200 inspections arrive, in the order they were
// inspected.
func TestBrokerDownWhileScanning(t *testing.T) {
	b := testbroker.StartOpts(t, testbroker.Options{Persist: true})
	cfg, _ := faultConfig(t, t.TempDir(), b.URL(), "")
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	in := mqtttest.Listen(t, b.URL(), "control-room", topics.Base+"/#")
	a, _ := runAgent(t, cfg)
	agenttest.Eventually(t, 10*time.Second, "agent connected", func() bool { return apiStatus(t, a).MQTT.Connected })

	b.Shutdown() // clean: the control room's session survives
	agenttest.Eventually(t, 10*time.Second, "agent noticing", func() bool { return !apiStatus(t, a).MQTT.Connected })
	var scans []string
	for i := range 200 {
		id := fmt.Sprintf("down-%03d", i)
		writeTinyScan(t, cfg.Scanner.Inbox, id)
		scans = append(scans, id)
	}
	agenttest.Eventually(t, 90*time.Second, "200 scans inspected with the broker down", func() bool { return inboxEmpty(t, cfg.Scanner.Inbox) })
	st := apiStatus(t, a)
	if st.Outbox.Pending < 200 || st.MQTT.Connected {
		t.Fatalf("with the broker down: %d pending (want at least 200), connected %v", st.Outbox.Pending, st.MQTT.Connected)
	}
	t.Logf("outbox with the broker down: %d messages, oldest %.1fs old, %d bytes on disk", st.Outbox.Pending, st.Outbox.OldestAgeS, st.Outbox.DiskBytes)

	b.Restart()
	agenttest.Eventually(t, 60*time.Second, "200 inspections delivered", func() bool {
		return len(results(t, in, topics.Inspections())) >= 200 && apiStatus(t, a).Outbox.Pending == 0
	})
	order := distinct(t, cfg, results(t, in, topics.Inspections()), scans)
	for i := 1; i < len(order); i++ {
		if order[i].InspectedAt.Before(order[i-1].InspectedAt) {
			t.Errorf("arrival %d (%s, inspected %v) before arrival %d (%s, inspected %v): order lost",
				i, order[i].ScanID, order[i].InspectedAt, i-1, order[i-1].ScanID, order[i-1].InspectedAt)
		}
	}
	// Alerts follow their inspections on their own topic.
	alerts := 0
	for _, r := range order {
		if r.Verdict != inspection.Clear {
			alerts++
		}
	}
	if n := len(distinctIDs(results(t, in, topics.Alerts()))); n != alerts {
		t.Errorf("%d alerts arrived, want %d (one per review/alert verdict)", n, alerts)
	}
}

func distinctIDs(rs []inspection.Result) map[string]bool {
	m := map[string]bool{}
	for _, r := range rs {
		m[r.InspectionID] = true
	}
	return m
}

// TestCrashBeforeCleanup: a scan whose files are still in the inbox after
// its result was committed (the agent died in between) is cleaned up, not
// queued again; and a scan inspected again from scratch (its commit lost)
// gets the same inspection id and verdict.
func TestCrashBeforeCleanup(t *testing.T) {
	b := testbroker.Start(t)
	dir := t.TempDir()
	cfg, _ := faultConfig(t, dir, b.URL(), "")
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	in := mqtttest.Listen(t, b.URL(), "", topics.Inspections())
	spare := t.TempDir()
	writeTinyScan(t, spare, "crash-1")
	restore := func(inbox string) {
		for _, n := range []string{"crash-1.png", "crash-1.json"} { // sidecar last
			data, err := os.ReadFile(filepath.Join(spare, n))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(inbox, n), data, 0o644)
		}
	}
	restore(cfg.Scanner.Inbox)
	a, stop := runAgent(t, cfg)
	agenttest.Eventually(t, 30*time.Second, "first inspection", func() bool { return len(results(t, in, topics.Inspections())) == 1 })
	// Its annotated image is queued after the result, before the clean-up.
	agenttest.Eventually(t, 30*time.Second, "first scan cleaned up", func() bool { return inboxEmpty(t, cfg.Scanner.Inbox) })
	queued := apiStatus(t, a).Outbox.LastSeq
	stop()

	// As if the agent had died between commit and clean-up.
	restore(cfg.Scanner.Inbox)
	a, stop = runAgent(t, cfg)
	agenttest.Eventually(t, 30*time.Second, "files cleaned up", func() bool { return inboxEmpty(t, cfg.Scanner.Inbox) })
	if st := apiStatus(t, a).Outbox; st.LastSeq != queued || queued == 0 {
		t.Errorf("outbox at message %d after the restart, %d before: the committed scan was queued again", st.LastSeq, queued)
	}
	stop()

	// As if the commit itself had been lost: a fresh buffer inspects it again.
	cfg2 := *cfg
	cfg2.Buffer.Dir = filepath.Join(dir, "buffer-2")
	restore(cfg2.Scanner.Inbox)
	runAgent(t, &cfg2)
	agenttest.Eventually(t, 30*time.Second, "second inspection", func() bool { return len(results(t, in, topics.Inspections())) == 2 })
	rs := results(t, in, topics.Inspections())
	if rs[0].InspectionID != rs[1].InspectionID || rs[0].Verdict != rs[1].Verdict || rs[0].Risk != rs[1].Risk ||
		rs[0].InspectionID != inspection.ID(cfg.Site, cfg.Gate, "crash-1", 0) {
		t.Errorf("re-inspection gave %s/%s/%v, first %s/%s/%v: want the same id and verdict",
			rs[1].InspectionID, rs[1].Verdict, rs[1].Risk, rs[0].InspectionID, rs[0].Verdict, rs[0].Risk)
	}
}

// daemon is the agent binary running.
type daemon struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *agenttest.LogBuffer
}

// startDaemon starts the binary with the config at cfgPath, env added to
// the test's environment.
func startDaemon(t *testing.T, bin, cfgPath string, env ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(bin, "run", "--config", cfgPath), done: make(chan struct{}), log: &agenttest.LogBuffer{}}
	d.cmd.Stderr = d.log
	d.cmd.Env = append(os.Environ(), env...)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.kill() })
	return d
}

func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// TestSIGKILLWhileScanning kills the agent binary with SIGKILL at random
// moments while scans keep coming, a dozen times, restarting it each time:
// every scan's inspection arrives, with the same id and verdict however
// often it was re-sent or re-inspected.
func TestSIGKILLWhileScanning(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := agenttest.BuildBinary(t)
	b := testbroker.Start(t)
	cfg, cfgPath := faultConfig(t, t.TempDir(), b.URL(), "")
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	in := mqtttest.Listen(t, b.URL(), "", topics.Inspections())

	var mu sync.Mutex
	var scans []string
	stopWriting := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stopWriting:
				return
			case <-time.After(time.Duration(20+rand.IntN(60)) * time.Millisecond):
			}
			id := fmt.Sprintf("kill-%04d", i)
			writeTinyScan(t, cfg.Scanner.Inbox, id)
			mu.Lock()
			scans = append(scans, id)
			mu.Unlock()
		}
	}()
	const kills = 12
	for k := range kills {
		d := startDaemon(t, bin, cfgPath)
		// Kill at a random moment once it is up, or during its start-up.
		time.Sleep(time.Duration(150+rand.IntN(900)) * time.Millisecond)
		d.kill()
		if k == 0 && !strings.Contains(d.log.String(), "gatescan running") {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	}
	close(stopWriting)
	<-writerDone
	d := startDaemon(t, bin, cfgPath)
	mu.Lock()
	want := slices.Clone(scans)
	mu.Unlock()
	agenttest.Eventually(t, 90*time.Second, fmt.Sprintf("all %d scans' inspections", len(want)), func() bool {
		return len(distinctIDs(results(t, in, topics.Inspections()))) >= len(want) && inboxEmpty(t, cfg.Scanner.Inbox)
	})
	got := results(t, in, topics.Inspections())
	distinct(t, cfg, got, want)
	t.Logf("%d scans, %d kills: %d inspections received (%d duplicates)", len(want), kills, len(got), len(got)-len(want))
	d.kill()
	if t.Failed() {
		t.Logf("last daemon log:\n%s", tail(d.log.String(), 40))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestDiskBudget fills the buffer past its budget while the broker is
// away: the agent drops what the policy says (undelivered images first,
// alerts never while anything else is left), reports it on …/dropped, and
// goes on inspecting. Every message queued either arrives or is listed in
// the report: nothing disappears silently.
func TestDiskBudget(t *testing.T) {
	b := testbroker.StartOpts(t, testbroker.Options{Persist: true})
	dir := t.TempDir()
	cfg, _ := faultConfig(t, dir, b.URL(), ", max_disk_mb: 64")
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	in := mqtttest.Listen(t, b.URL(), "budget-room", topics.Base+"/#")
	b.Shutdown()

	// 90 MB of a backlog, as hours without a broker would leave: images
	// of clear inspections, and alerts with their images.
	s, err := buffer.Open(cfg.Buffer.Dir, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := bytes.Repeat([]byte{0xFF, 0xD8, 0x42}, 200<<10) // 600 kB
	var images, alerts []string
	for i := range 150 {
		id := fmt.Sprintf("old-%03d", i)
		msgs := []buffer.Message{{Topic: topics.Image(id), QoS: 1, Payload: img, Image: true, Ref: id}}
		if i%10 == 0 {
			msgs = append(msgs, buffer.Message{Topic: topics.Alerts(), QoS: 1, Payload: []byte(`{"inspection_id":"` + id + `"}`), Alert: true, Ref: id})
			alerts = append(alerts, id)
		} else {
			images = append(images, id)
		}
		if _, err := s.CommitScan(id, nil, msgs); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	du, _ := buffer.DiskUsage(cfg.Buffer.Dir)
	t.Logf("backlog: %.1f MB on disk", float64(du.Total)/(1<<20))

	a, _ := runAgent(t, cfg)
	agenttest.Eventually(t, 30*time.Second, "budget applied", func() bool {
		st := apiStatus(t, a).Outbox
		return st.Dropped > 0 && st.DiskBytes <= 64<<20
	})
	t.Logf("after the budget: %+v", apiStatus(t, a).Outbox)
	// Still inspecting.
	writeTinyScan(t, cfg.Scanner.Inbox, "after-budget")
	agenttest.Eventually(t, 30*time.Second, "scan inspected after the drop", func() bool { return inboxEmpty(t, cfg.Scanner.Inbox) })

	b.Restart()
	agenttest.Eventually(t, 60*time.Second, "outbox delivered", func() bool {
		return len(in.Payloads(topics.Dropped())) > 0 && apiStatus(t, a).Outbox.Pending == 0
	})
	var dropped []string
	for _, p := range in.Payloads(topics.Dropped()) {
		var r agent.DropReport
		if err := json.Unmarshal(p, &r); err != nil {
			t.Fatal(err)
		}
		if r.Reason != "disk_budget" || r.UndeliveredCount != len(r.Undelivered) || r.BudgetBytes != 64<<20 {
			t.Errorf("report %+v", r)
		}
		for _, d := range r.Undelivered {
			if d.Alert {
				t.Errorf("alert %s dropped while images were left", d.Ref)
			}
			dropped = append(dropped, d.Ref)
		}
	}
	for _, id := range alerts {
		if len(in.Payloads(topics.Alerts())) == 0 || !containsPayload(in.Payloads(topics.Alerts()), id) {
			t.Errorf("alert %s lost", id)
		}
	}
	arrived := map[string]bool{}
	for _, id := range images {
		if len(in.Payloads(topics.Image(id))) > 0 {
			arrived[id] = true
		}
	}
	for i, id := range images {
		rep := slices.Contains(dropped, id)
		switch {
		case arrived[id] && rep:
			t.Errorf("image %s reported dropped but arrived", id)
		case !arrived[id] && !rep:
			t.Errorf("image %s neither arrived nor reported dropped: lost silently", id)
		case rep && i > 0 && !slices.Contains(dropped, images[i-1]):
			t.Errorf("image %s dropped before the older %s: oldest first", id, images[i-1])
		}
	}
	t.Logf("%d of %d images dropped and reported, %d alerts all delivered", len(dropped), len(images), len(alerts))
	if len(dropped) == 0 || len(dropped) == len(images) {
		t.Errorf("%d of %d images dropped: the budget should take some, not all", len(dropped), len(images))
	}
	if m := metric(t, a, "gatescan_outbox_dropped_total"); m < float64(len(dropped)) {
		t.Errorf("gatescan_outbox_dropped_total %v, want at least %d", m, len(dropped))
	}
}

func containsPayload(ps [][]byte, s string) bool {
	for _, p := range ps {
		if bytes.Contains(p, []byte(s)) {
			return true
		}
	}
	return false
}

// metric sums a metric's series from /metrics.
func metric(t *testing.T, a *agent.Agent, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// TestDaemonMemoryUnderLoad runs the binary with the broker away (the
// outbox growing) on a burst of small scans, far above a gate's rate, then
// on full-size 40 ft scans one after the other, single and dual energy (up
// to 2 × 6.3 Mpx), and checks the target: the daemon's resident
// memory never above maxRSS over the whole run (VmHWM: OpenCV's and every
// library's pages included, as a box's memory sees them).
func TestDaemonMemoryUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and inspects full-size scans")
	}
	const maxRSS = 150 << 10 // kB
	bin := agenttest.BuildBinary(t)
	b := testbroker.Start(t)
	b.Stop()
	dir := t.TempDir()
	addr := agenttest.FreeAddr(t)
	cfg, cfgPath := faultConfig(t, dir, b.URL(), "")
	yaml, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, bytes.Replace(yaml, []byte(`listen: "127.0.0.1:0"`), []byte(`listen: "`+addr+`"`), 1), 0o644)
	inbox := cfg.Scanner.Inbox
	d := startDaemon(t, bin, cfgPath)
	agenttest.Eventually(t, 20*time.Second, "daemon serving", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	idle := procMem(t, d.cmd.Process.Pid)

	const small = 600
	start := time.Now()
	for i := range small {
		writeTinyScan(t, inbox, fmt.Sprintf("small-%04d", i))
	}
	agenttest.Eventually(t, 90*time.Second, "small scans inspected", func() bool { return inboxEmpty(t, inbox) })
	elapsed := time.Since(start)
	burst := procMem(t, d.cmd.Process.Pid)
	pending := scrape(t, addr, "gatescan_outbox_messages")
	t.Logf("idle: RSS %d MB (%d MB of it file-backed: the binary and the ~260 shared libraries Debian's OpenCV pulls in)", idle.rss>>10, idle.file>>10)
	t.Logf("after %d small scans in %.1f s (outbox %v messages, broker away): peak RSS %d MB, Go heap in use %d MB",
		small, elapsed.Seconds(), pending, burst.hwm>>10, int64(scrape(t, addr, "go_memstats_heap_inuse_bytes"))>>20)
	if pending < small {
		t.Errorf("outbox holds %v messages, want at least %d with the broker away", pending, small)
	}

	for i, sc := range []struct {
		seed int64
		dual bool
	}{{7, false}, {13, true}, {7, true}, {9, true}, {14, false}} {
		dual := sc.dual
		scene, _, err := xraysim.Scenario("overweight", mrand.New(mrand.NewSource(sc.seed)))
		if err != nil {
			t.Fatal(err)
		}
		// A full-size 40 ft scan: 4 mm pixels over the whole vehicle.
		scene.PixelMM.X, scene.PixelMM.Y, scene.DualEnergy = 4, 4, dual
		id := fmt.Sprintf("full-%d", i)
		if _, err := xraysim.Write(inbox, id, scene, xraysim.SidecarMeta{ScanID: id, Lane: "L1", ScannedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		h, err := scanin.ReadHeader(filepath.Join(inbox, id+".png"))
		if err != nil {
			t.Fatal(err)
		}
		agenttest.Eventually(t, 120*time.Second, "full-size scan inspected", func() bool { return inboxEmpty(t, inbox) })
		m := procMem(t, d.cmd.Process.Pid)
		t.Logf("after a %dx%d scan (dual energy %v): peak RSS %d MB; RSS now %d MB, %d MB of it file-backed",
			h.Width, h.Height, dual, m.hwm>>10, m.rss>>10, m.file>>10)
	}
	if m := procMem(t, d.cmd.Process.Pid); m.hwm > maxRSS {
		t.Errorf("peak RSS %d MB, over the %d MB target", m.hwm>>10, maxRSS>>10)
	}
}

// scrape reads one unlabelled metric of the daemon at addr.
func scrape(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// memKB is a process's resident memory in kB: peak, now, and the part of
// now that is file-backed (mapped binaries and libraries).
type memKB struct{ hwm, rss, file int64 }

// procMem reads a process's VmHWM, VmRSS and RssFile.
func procMem(t *testing.T, pid int) memKB {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var m memKB
	into := map[string]*int64{"VmHWM:": &m.hwm, "VmRSS:": &m.rss, "RssFile:": &m.file}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && into[f[0]] != nil {
			*into[f[0]], _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return m
}

// TestImageFitsMaxBytes: annotated images, sent as their own messages, are
// downscaled to fit mqtt.image_max_bytes.
func TestImageFitsMaxBytes(t *testing.T) {
	cfg := config.Default()
	dir := t.TempDir()
	scene, _, err := xraysim.Scenario("overweight", mrand.New(mrand.NewSource(7)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xraysim.Write(dir, "img", scene, xraysim.SidecarMeta{ScanID: "img", Lane: "L1", ScannedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	scan, err := scanin.Load(filepath.Join(dir, "img.json"), scanin.Limits{MaxWidth: 20000, MaxHeight: 4096, MaxFileBytes: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	det := vision.New(cfg.Detector, cfg.Containers)
	defer det.Close()
	var c assess.Case
	results := assess.Inspect(cfg, det, scan, &c)
	if c.Analysis == nil || len(c.Analysis.Containers) == 0 {
		t.Fatalf("no container found (%v): nothing to annotate", c.AnalysisErr)
	}
	prev := 0
	for _, max := range []int{cfg.MQTT.ImageMaxBytes, 128 << 10, 48 << 10, 16 << 10, 6 << 10} {
		jpg, err := det.Annotate(c.Analysis, 0, assess.Caption(&results[0]), cfg.Detector.AnnotateMaxWidth, max)
		if err != nil {
			t.Fatalf("annotate within %d bytes: %v", max, err)
		}
		t.Logf("image_max_bytes %7d: %7d bytes", max, len(jpg))
		if len(jpg) > max {
			t.Errorf("image of %d bytes for image_max_bytes %d", len(jpg), max)
		}
		if len(jpg) < 2 || jpg[0] != 0xFF || jpg[1] != 0xD8 {
			t.Errorf("not a JPEG")
		}
		if prev > 0 && len(jpg) > prev {
			t.Errorf("a smaller limit gave a bigger image (%d > %d)", len(jpg), prev)
		}
		prev = len(jpg)
	}
}

// TestBufferOptions: the agent opens its buffer encrypted with a key from a
// systemd credential, and refuses a disk budget too small to hold anything.
func TestBufferOptions(t *testing.T) {
	b := testbroker.Start(t)
	t.Run("encrypted with a credential", func(t *testing.T) {
		creds := t.TempDir()
		key := bytes.Repeat([]byte{0x5a}, 32)
		os.WriteFile(filepath.Join(creds, "buffer.key"), key, 0o600)
		t.Setenv("CREDENTIALS_DIRECTORY", creds)
		cfg, _ := faultConfig(t, t.TempDir(), b.URL(), ", encryption_key_file: buffer.key")
		topics := publish.NewTopics(cfg.Site, cfg.Gate)
		in := mqtttest.Listen(t, b.URL(), "", topics.Inspections())
		_, stop := runAgent(t, cfg)
		writeTinyScan(t, cfg.Scanner.Inbox, "enc-1")
		agenttest.Eventually(t, 30*time.Second, "inspection", func() bool { return len(results(t, in, topics.Inspections())) == 1 })
		stop()
		if s, err := buffer.Open(cfg.Buffer.Dir, buffer.Options{}); err == nil {
			s.Close()
			t.Fatal("the buffer opens without its key: not encrypted")
		}
		s, err := buffer.Open(cfg.Buffer.Dir, buffer.Options{EncryptionKey: key})
		if err != nil {
			t.Fatalf("open with the key: %v", err)
		}
		defer s.Close()
		if done, _ := s.ScanDone("enc-1"); !done {
			t.Error("scan not in the encrypted buffer")
		}
	})
	t.Run("budget too small", func(t *testing.T) {
		cfg, _ := faultConfig(t, t.TempDir(), b.URL(), ", max_disk_mb: 10")
		err := agent.New(cfg, testLogger(t), agent.Options{}).Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "buffer.max_disk_mb 10") {
			t.Errorf("run: %v, want an error about buffer.max_disk_mb", err)
		}
	})
}
