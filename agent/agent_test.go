package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/indicatorsim"
	"github.com/gatescan/gatescan/internal/testbroker"
	"github.com/gatescan/gatescan/vision/xraysim"
)

// recorder subscribes to everything under a prefix and keeps it.
type recorder struct {
	mu   sync.Mutex
	msgs []mqtt.Message
	c    mqtt.Client
}

func subscribe(t *testing.T, broker, filter string) *recorder {
	t.Helper()
	r := &recorder{}
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("test-%d", rand.Int63()))
	r.c = mqtt.NewClient(o)
	if tok := r.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	if tok := r.c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
		r.mu.Lock()
		r.msgs = append(r.msgs, m)
		r.mu.Unlock()
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { r.c.Disconnect(100) })
	return r
}

// wait returns the first message on topic matching pred, failing after d.
func (r *recorder) wait(t *testing.T, d time.Duration, pred func(topic string, payload []byte) bool) mqtt.Message {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, m := range r.msgs {
			if pred(m.Topic(), m.Payload()) {
				r.mu.Unlock()
				return m
			}
		}
		r.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var topics []string
	for _, m := range r.msgs {
		topics = append(topics, m.Topic())
	}
	t.Fatalf("no matching message within %v; got %d messages on %v", d, len(r.msgs), topics)
	return nil
}

func (r *recorder) count(topic string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m.Topic() == topic {
			n++
		}
	}
	return n
}

func testConfig(t *testing.T, broker, port string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`site: test-port
gate: g1
mqtt: {broker: %q, keepalive: 2s}
buffer: {dir: %q, sync_writes: true}
scanner: {inbox: %q, rescan_interval: 1s, settle_time: 10ms}
declarations: {inbox: %q}
rules: {grace: 20s}
lanes:
  - id: L1
    weighbridge: {port: %q, protocol: toledo, stable_for: 1s}
    vehicle_tare_kg: 14500
http: {listen: "127.0.0.1:0"}
log: {level: debug}
`, broker, filepath.Join(dir, "buffer"), filepath.Join(dir, "scans"), filepath.Join(dir, "decl"), port)
	c, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestEndToEnd drives a whole gate: a Toledo indicator on a pseudo-terminal
// read through the real serial driver, a declaration in the inbox, a
// physics-simulated scan of an overweight container, a real mosquitto.
func TestEndToEnd(t *testing.T) {
	broker := testbroker.Start(t)
	sim, err := indicatorsim.NewPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	enc, err := indicatorsim.Encoder("toledo")
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(enc, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, broker.URL(), sim.Path())
	rec := subscribe(t, broker.URL(), "gatescan/v1/test-port/#")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := agent.New(cfg, testLogger(t))
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("agent stopped at start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("agent not ready within 20s")
	}
	base := "gatescan/v1/test-port/g1"
	rec.wait(t, 10*time.Second, func(topic string, p []byte) bool {
		return topic == base+"/status" && strings.Contains(string(p), `"online"`)
	})

	// The truck: declared 10 t, truly 15 t.
	scene, decls, err := xraysim.Scenario("overweight", rand.New(rand.NewSource(7)))
	if err != nil {
		t.Fatal(err)
	}
	// Render first to learn the truth (the gross the weighbridge must show).
	_, _, truth, err := xraysim.Render(scene)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := sim.Weigh(wctx, indicatorsim.Truck{GrossKg: truth.GrossKg, Settle: 2 * time.Second}); err != nil {
		t.Fatalf("weigh: %v", err)
	}
	rec.wait(t, 5*time.Second, func(topic string, p []byte) bool { return topic == base+"/weight/L1" })

	for i, d := range decls {
		b, err := d.JSON(fmt.Sprintf("DECL-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.Declarations.Inbox, fmt.Sprintf("d%d.json", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := xraysim.Write(cfg.Scanner.Inbox, "scan-0001", scene, xraysim.SidecarMeta{ScanID: "scan-0001", Lane: "L1", ScannedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	var results []inspection.Result
	for range decls {
		m := rec.wait(t, 60*time.Second, func(topic string, p []byte) bool {
			if topic != base+"/inspections" {
				return false
			}
			var r inspection.Result
			if json.Unmarshal(p, &r) != nil {
				return false
			}
			for _, have := range results {
				if have.InspectionID == r.InspectionID {
					return false
				}
			}
			return true
		})
		var r inspection.Result
		if err := json.Unmarshal(m.Payload(), &r); err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	var over *inspection.Result
	for i := range results {
		r := &results[i]
		if r.ScanID != "scan-0001" || r.Lane != "L1" || r.Site != "test-port" || r.Gate != "g1" || r.InspectionID == "" {
			t.Errorf("identity fields wrong: %+v", r)
		}
		if r.Weights.GrossKg == nil || abs(*r.Weights.GrossKg-truth.GrossKg) > 60 {
			t.Errorf("gross %v, want the weighbridge's %.0f", r.Weights.GrossKg, truth.GrossKg)
		}
		if r.DeclarationID == "" {
			t.Errorf("no declaration joined: %+v", r)
		}
		if r.Has(inspection.WeightMismatch) {
			over = r
		}
	}
	if over == nil {
		t.Fatalf("no WEIGHT_MISMATCH for the 15 t container declared as 10 t: %+v", results)
	}
	if over.Verdict != inspection.Alert {
		t.Errorf("overweight verdict %s (risk %v), want alert", over.Verdict, over.Risk)
	}
	rec.wait(t, 10*time.Second, func(topic string, p []byte) bool {
		return topic == base+"/alerts" && bytes.Contains(p, []byte(over.InspectionID))
	})
	img := rec.wait(t, 10*time.Second, func(topic string, p []byte) bool {
		return topic == base+"/inspections/"+over.InspectionID+"/image"
	})
	if p := img.Payload(); len(p) < 1000 || p[0] != 0xFF || p[1] != 0xD8 {
		t.Errorf("image is not a JPEG (%d bytes)", len(p))
	}
	// The scan left the inbox once stored; nothing was rejected.
	if _, err := os.Stat(filepath.Join(cfg.Scanner.Inbox, "scan-0001.json")); !os.IsNotExist(err) {
		t.Errorf("sidecar still in the inbox: %v", err)
	}

	// A newcomer sees the retained status.
	late := subscribe(t, broker.URL(), base+"/status")
	late.wait(t, 5*time.Second, func(_ string, p []byte) bool { return strings.Contains(string(p), `"online"`) })

	// Clean shutdown says offline.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop within 30s")
	}
	rec.wait(t, 5*time.Second, func(topic string, p []byte) bool {
		return topic == base+"/status" && strings.Contains(string(p), `"offline"`)
	})
	if n := rec.count(base + "/inspections"); n != len(decls) {
		t.Errorf("%d inspections published, want %d (no duplicates)", n, len(decls))
	}
}

// TestLastWill kills the daemon with SIGKILL: the broker must publish the
// retained "offline" status on its behalf.
func TestLastWill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	broker := testbroker.Start(t)
	bin := filepath.Join(t.TempDir(), "gatescan")
	build := exec.Command("go", "build", "-o", bin, "../cmd/gatescan")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gatescan.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`site: will
gate: g1
mqtt: {broker: %q, keepalive: 1s}
buffer: {dir: %q}
scanner: {inbox: %q}
declarations: {inbox: %q}
lanes: [{id: L1}]
http: {listen: "127.0.0.1:0"}
`, broker.URL(), dir+"/buf", dir+"/scans", dir+"/decl")), 0o644)
	rec := subscribe(t, broker.URL(), "gatescan/v1/will/g1/status")
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	rec.wait(t, 20*time.Second, func(_ string, p []byte) bool { return strings.Contains(string(p), `"online"`) })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// Keepalive 1 s: the broker notices within 1.5 × keepalive.
	rec.wait(t, 15*time.Second, func(_ string, p []byte) bool { return strings.Contains(string(p), `"offline"`) })
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
