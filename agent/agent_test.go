package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/indicatorsim"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/mqtttest"
	"github.com/gatescan/gatescan/internal/testbroker"
)

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
	sim := agenttest.Indicator(t, 0)
	cfg := testConfig(t, broker.URL(), sim.Path())
	rec := mqtttest.Listen(t, broker.URL(), "", "gatescan/v1/test-port/#")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := agenttest.Start(t, agent.New(cfg, testLogger(t), agent.Options{}))
	base := "gatescan/v1/test-port/g1"
	rec.Wait(t, 10*time.Second, func(topic string, p []byte) bool {
		return topic == base+"/status" && strings.Contains(string(p), `"online"`)
	})

	// The truck: declared 10 t, truly 15 t.
	scene, decls, grossKg := agenttest.OverweightTruck(t)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := sim.Weigh(wctx, indicatorsim.Truck{GrossKg: grossKg, Settle: 2 * time.Second}); err != nil {
		t.Fatalf("weigh: %v", err)
	}
	rec.Wait(t, 5*time.Second, func(topic string, p []byte) bool { return topic == base+"/weight/L1" })

	agenttest.PutDeclarations(t, cfg.Declarations.Inbox, decls)
	if _, err := xraysim.Write(cfg.Scanner.Inbox, "scan-0001", scene, xraysim.SidecarMeta{ScanID: "scan-0001", Lane: "L1", ScannedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	var results []inspection.Result
	for range decls {
		m := rec.Wait(t, 60*time.Second, func(topic string, p []byte) bool {
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
		if r.Weights.GrossKg == nil || abs(*r.Weights.GrossKg-grossKg) > 60 {
			t.Errorf("gross %v, want the weighbridge's %.0f", r.Weights.GrossKg, grossKg)
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
	rec.Wait(t, 10*time.Second, func(topic string, p []byte) bool {
		return topic == base+"/alerts" && bytes.Contains(p, []byte(over.InspectionID))
	})
	img := rec.Wait(t, 10*time.Second, func(topic string, p []byte) bool {
		return topic == base+"/inspections/"+over.InspectionID+"/image"
	})
	if p := img.Payload(); len(p) < 1000 || p[0] != 0xFF || p[1] != 0xD8 {
		t.Errorf("image is not a JPEG (%d bytes)", len(p))
	}
	// The scan leaves the inbox once stored (the publisher may have sent
	// its result a moment before); nothing was rejected.
	agenttest.Eventually(t, 10*time.Second, "sidecar removed from the inbox", func() bool {
		_, err := os.Stat(filepath.Join(cfg.Scanner.Inbox, "scan-0001.json"))
		return os.IsNotExist(err)
	})

	// A newcomer sees the retained status.
	late := mqtttest.Listen(t, broker.URL(), "", base+"/status")
	late.Wait(t, 5*time.Second, func(_ string, p []byte) bool { return strings.Contains(string(p), `"online"`) })

	// Clean shutdown says offline.
	stop()
	rec.Wait(t, 5*time.Second, func(topic string, p []byte) bool {
		return topic == base+"/status" && strings.Contains(string(p), `"offline"`)
	})
	if n := rec.Count(base + "/inspections"); n != len(decls) {
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
	bin := agenttest.BuildBinary(t)
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
	rec := mqtttest.Listen(t, broker.URL(), "", "gatescan/v1/will/g1/status")
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	rec.Wait(t, 20*time.Second, func(_ string, p []byte) bool { return strings.Contains(string(p), `"online"`) })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// Keepalive 1 s: the broker notices within 1.5 × keepalive.
	rec.Wait(t, 15*time.Second, func(_ string, p []byte) bool { return strings.Contains(string(p), `"offline"`) })
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
