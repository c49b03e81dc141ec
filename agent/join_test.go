package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/vision"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func storeAgent(t *testing.T) *Agent {
	t.Helper()
	st, err := buffer.Open(t.TempDir(), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := New(config.Default(), quietLog(), Options{})
	a.store = st
	a.scans = newScanQueue()
	return a
}

const declJSON = `{"declaration_id":"D-%s","container_id":"%s","container_type":"22G1","container_tare_kg":2200,"declared_gross_kg":5200,"items":[{"hs_code":"610910","description":"t-shirts","gross_kg":3000}]}`

func TestJoinWeights(t *testing.T) {
	a := storeAgent(t)
	t0 := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	put := func(at time.Time, kg float64) {
		if err := a.store.PutWeight(buffer.Weight{Lane: "L1", GrossKg: kg, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(id string, at time.Time) *scanin.Sidecar {
		return &scanin.Sidecar{ScanID: id, Lane: "L1", ScannedAt: at}
	}
	// Weighed before the portal.
	put(t0.Add(-40*time.Second), 30000)
	j, err := a.joiner().join(scan("A", t0), true, "A")
	if err != nil || j.Weight == nil || j.Weight.GrossKg != 30000 || j.missing {
		t.Fatalf("weight before the scan not joined: %+v %v", j, err)
	}
	if _, err := a.store.CommitScan("A", nil, nil, *j.Weight); err != nil {
		t.Fatal(err)
	}
	// The next truck's scan must not take truck A's weight...
	j, _ = a.joiner().join(scan("B", t0.Add(2*time.Minute)), true, "B")
	if j.Weight != nil || !j.missing {
		t.Fatalf("scan B took truck A's weight: %+v", j.Weight)
	}
	// ...but takes its own, weighed after the portal.
	put(t0.Add(2*time.Minute+30*time.Second), 25000)
	j, _ = a.joiner().join(scan("B", t0.Add(2*time.Minute)), true, "B")
	if j.Weight == nil || j.Weight.GrossKg != 25000 {
		t.Fatalf("weight after the scan not joined: %+v", j.Weight)
	}
	// Re-inspecting scan A after a crash joins the same weight again.
	j, _ = a.joiner().join(scan("A", t0), true, "A")
	if j.Weight == nil || j.Weight.GrossKg != 30000 {
		t.Fatalf("re-inspected scan lost its weight: %+v", j.Weight)
	}
	// Outside the window: nothing.
	j, _ = a.joiner().join(scan("C", t0.Add(time.Hour)), true, "C")
	if j.Weight != nil {
		t.Fatalf("weight joined across an hour: %+v", j.Weight)
	}
	// A scanner-only lane does not wait for a weight.
	if j, _ = a.joiner().join(scan("D", t0.Add(time.Hour)), false, "D"); j.missing {
		t.Fatal("scanner-only lane waits for a weight")
	}
}

func TestJoinDeclarations(t *testing.T) {
	a := storeAgent(t)
	// MSKU9070324 misreads MSKU9070323's check digit; twin is another valid
	// number one character away from the same misread.
	twin := ""
	for d := byte('0'); d <= '9' && twin == ""; d++ {
		b := []byte("MSKU9070324")
		b[9] = d
		if declaration.ValidContainerID(string(b)) == nil {
			twin = string(b)
		}
	}
	if twin == "" {
		t.Fatal("no twin number")
	}
	for _, id := range []string{"CSQU3054383", "MSKU9070323", twin} {
		if _, err := a.storeDeclaration([]byte(fmt.Sprintf(declJSON, id, id))); err != nil {
			t.Fatal(err)
		}
	}
	sc := &scanin.Sidecar{ScanID: "S", Lane: "L1", ScannedAt: time.Now(), ContainerIDs: []string{"csqu 305438-3", "CSQU3O54383", "MSKU9070324", "TGHU0000001"}}
	j, err := a.joiner().join(sc, false, sc.ScanID)
	if err != nil {
		t.Fatal(err)
	}
	if j.Declarations[0] == nil || j.Declarations[0].ContainerID != "CSQU3054383" || j.Corrected[0] != "" {
		t.Errorf("printed form not joined: %+v %q", j.Declarations[0], j.Corrected[0])
	}
	if j.Declarations[1] == nil || j.Corrected[1] != "CSQU3054383" {
		t.Errorf("O-for-0 misread not corrected: %q", j.Corrected[1])
	}
	// MSKU9070324 is one character from two declared numbers: no guess.
	if j.Declarations[2] != nil || j.Corrected[2] != "" {
		t.Errorf("ambiguous misread joined to %q", j.Corrected[2])
	}
	if j.Declarations[3] != nil || !j.missing {
		t.Errorf("unknown container joined: %+v", j.Declarations[3])
	}
	// A newer declaration replaces the older.
	newer := fmt.Sprintf(declJSON, "NEW", "CSQU3054383")
	a.storeDeclaration([]byte(newer))
	j, _ = a.joiner().join(&scanin.Sidecar{ContainerIDs: []string{"CSQU3054383"}}, false, "")
	if j.Declarations[0].DeclarationID != "D-NEW" {
		t.Errorf("older declaration kept: %s", j.Declarations[0].DeclarationID)
	}
}

func TestDeclarationExpiry(t *testing.T) {
	a := storeAgent(t)
	a.cfg.Declarations.Expiry = time.Second
	if _, err := a.storeDeclaration([]byte(fmt.Sprintf(declJSON, "X", "CSQU3054383"))); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.joiner().declaration("CSQU3054383"); d == nil {
		t.Fatal("declaration not stored")
	}
	time.Sleep(2100 * time.Millisecond)
	if d, _ := a.joiner().declaration("CSQU3054383"); d != nil {
		t.Fatal("declaration outlived its expiry")
	}
}

func TestPlateTareLearned(t *testing.T) {
	a := storeAgent(t)
	sc := &scanin.Sidecar{ScanID: "bare", Lane: "L1", ScannedAt: time.Now()}
	sc.Vehicle.Plate = "LU-42"
	w := buffer.Weight{Lane: "L1", GrossKg: 13210, At: time.Now()}
	a.afterCommit(sc, Joined{Weight: &w}, vision.ErrNoContainer)
	j, _ := a.joiner().join(&scanin.Sidecar{ScanID: "next", Lane: "L1", Vehicle: sc.Vehicle}, false, "next")
	if j.PlateTareKg != 13210 {
		t.Fatalf("tare not learned from a truck without container: %v", j.PlateTareKg)
	}
}

// runAgent runs the agent with no broker reachable (the outbox fills) and
// returns it once ready.
func runAgent(t *testing.T, cfg *config.Config) *Agent {
	t.Helper()
	a := New(cfg, quietLog(), Options{})
	agenttest.Start(t, a)
	return a
}

func deadBroker(t testing.TB) string {
	return "tcp://" + agenttest.FreeAddr(t)
}

func joinConfig(t *testing.T, grace time.Duration) *config.Config {
	dir := t.TempDir()
	c, err := config.Parse([]byte(fmt.Sprintf(`site: s
gate: g
mqtt: {broker: %q}
buffer: {dir: %q, sync_writes: false}
scanner: {inbox: %q, rescan_interval: 500ms, settle_time: 10ms}
declarations: {inbox: %q}
rules: {grace: %s}
lanes: [{id: L1}]
http: {listen: ""}
`, deadBroker(t), dir+"/buf", dir+"/scans", dir+"/decl", grace)), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeScan renders a small honest scan and returns its scan id and the
// declaration customs would send.
func writeScan(t *testing.T, cfg *config.Config, name string) []byte {
	t.Helper()
	scene, decls, err := xraysim.Scenario("honest-tshirts", rand.New(rand.NewSource(11)))
	if err != nil {
		t.Fatal(err)
	}
	scene.Containers = scene.Containers[:1]
	decls = decls[:1]
	if _, err := xraysim.Write(cfg.Scanner.Inbox, name, scene, xraysim.SidecarMeta{ScanID: name, Lane: "L1", ScannedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b, err := decls[0].JSON("D-" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitResult(t *testing.T, a *Agent, scanID string, d time.Duration) inspection.Result {
	t.Helper()
	id := inspection.ID(a.cfg.Site, a.cfg.Gate, scanID, 0)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if b, err := a.store.Result(id); err == nil {
			var r inspection.Result
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no result for %s within %v", scanID, d)
	return inspection.Result{}
}

func TestLateDeclarationJoinsWithinGrace(t *testing.T) {
	cfg := joinConfig(t, 20*time.Second)
	a := runAgent(t, cfg)
	decl := writeScan(t, cfg, "late")
	time.Sleep(1500 * time.Millisecond) // the scan waits for its declaration
	if _, err := a.store.Result(inspection.ID(cfg.Site, cfg.Gate, "late", 0)); err == nil {
		t.Fatal("scan inspected before its declaration and before the grace ended")
	}
	agenttest.Put(t, cfg.Declarations.Inbox, "late.json", decl)
	r := waitResult(t, a, "late", 20*time.Second)
	if r.DeclarationID != "D-late" || r.Has(inspection.NoDeclaration) {
		t.Fatalf("late declaration not joined: %+v", r)
	}
}

func TestMissingDeclarationAfterGrace(t *testing.T) {
	cfg := joinConfig(t, 2*time.Second)
	a := runAgent(t, cfg)
	writeScan(t, cfg, "orphan")
	r := waitResult(t, a, "orphan", 20*time.Second)
	if !r.Has(inspection.NoDeclaration) || r.DeclarationID != "" {
		t.Fatalf("missing declaration not reported: %+v", r)
	}
}

func TestInvalidDeclarationFileRejected(t *testing.T) {
	cfg := joinConfig(t, time.Second)
	runAgent(t, cfg)
	bad := []byte(fmt.Sprintf(declJSON, "BAD", "CSQU3054384")) // wrong check digit
	os.WriteFile(filepath.Join(cfg.Declarations.Inbox, "bad.json"), bad, 0o644)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(cfg.Declarations.Inbox, "rejected", "bad.error")); err == nil {
			if !json.Valid(bad) || len(b) == 0 {
				t.Fatal("empty .error")
			}
			if _, err := os.Stat(filepath.Join(cfg.Declarations.Inbox, "rejected", "bad.json")); err != nil {
				t.Fatal("rejected declaration not kept beside its .error")
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("invalid declaration not moved to rejected/ with a .error")
}
