package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/xraysim"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// replayBase is the time the replay test's scans are taken from; the
// report prints times, so they are fixed.
var replayBase = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// gateYAML is the config of the replay test's gate: scanner only, scans
// kept after inspection, a short grace so that the scan without a
// declaration does not hold the test up.
func gateYAML(dir, extra string) string {
	return fmt.Sprintf(`site: replay-port
gate: g1
mqtt: {broker: embedded, embedded_listen: "127.0.0.1:0"}
buffer: {dir: %q, sync_writes: false}
scanner: {inbox: %q, rescan_interval: 1s, settle_time: 10ms, keep_processed: true}
declarations: {inbox: %q}
http: {listen: ""}
lanes: [{id: L1}]
rules: {grace: 1s}
log: {level: warn}
%s`, filepath.Join(dir, "buffer"), filepath.Join(dir, "scans"), filepath.Join(dir, "decl"), extra)
}

// TestReplay inspects three scans with a running daemon (real agent,
// buffer and inbox), then replays them with a config that moves face
// masks off the controlled-goods list and puts t-shirts on it: first
// while the daemon holds the buffer (replay copies it), then after it
// stopped; both reports are the golden one.
func TestReplay(t *testing.T) {
	dir := t.TempDir()
	running := filepath.Join(dir, "gatescan.yaml")
	if err := os.WriteFile(running, []byte(gateYAML(dir, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	candidate := filepath.Join(dir, "new.yaml")
	if err := os.WriteFile(candidate, []byte(gateYAML(dir, `controlled_goods:
  - {hs_prefix: "6109", name: t-shirts, documents: [compliance_report]}
`)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(running)
	if err != nil {
		t.Fatal(err)
	}
	a := agent.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), agent.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- a.Run(ctx) }()
	defer func() { cancel(); <-stopped }()
	select {
	case <-a.Ready():
	case err := <-stopped:
		t.Fatalf("agent: %v", err)
	}

	for i, s := range []struct {
		name, scenario string
		seed           int64
		declared       bool
	}{
		{"masks", "honest-masks", 1, true},
		{"tshirts", "honest-tshirts", 11, true},
		{"undeclared", "honest-paper", 5, false},
	} {
		scene, decls, err := xraysim.Scenario(s.scenario, rand.New(rand.NewSource(s.seed)))
		if err != nil {
			t.Fatal(err)
		}
		scene.Containers, decls = scene.Containers[:1], decls[:1]
		if s.declared {
			b, err := decls[0].JSON("D-" + s.name)
			if err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(cfg.Declarations.Inbox, "."+s.name+".tmp")
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(cfg.Declarations.Inbox, s.name+".json")); err != nil {
				t.Fatal(err)
			}
		}
		at := replayBase.Add(time.Duration(i) * 10 * time.Minute)
		if _, err := xraysim.Write(cfg.Scanner.Inbox, s.name, scene, xraysim.SidecarMeta{ScanID: s.name, Lane: "L1", ScannedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	kept := agent.ProcessedDir(cfg)
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, _ := filepath.Glob(filepath.Join(kept, "*.json"))
		if len(m) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 scans inspected and kept in %s within 60s", len(m), kept)
		}
		time.Sleep(50 * time.Millisecond)
	}

	o := replayOptions{since: 3 * time.Hour, running: running, candidate: candidate, now: replayBase.Add(time.Hour)}
	var live, liveErr bytes.Buffer
	if err := replay(o, &live, &liveErr); err != nil {
		t.Fatalf("replay beside the running daemon: %v", err)
	}
	if !strings.Contains(liveErr.String(), "in use by the daemon: replaying from a copy") {
		t.Errorf("replay beside the daemon did not say it works on a copy: %q", liveErr.String())
	}
	// The running config again: replay must reproduce the daemon's verdicts.
	var same bytes.Buffer
	if err := replay(replayOptions{since: o.since, running: running, now: o.now}, &same, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(same.String(), "no verdict flips") || strings.Contains(same.String(), "raised") || strings.Contains(same.String(), "cleared") {
		t.Errorf("replay with the running config differs from the daemon:\n%s", same.String())
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	stopped <- nil // for the deferred wait

	var after, afterErr bytes.Buffer
	if err := replay(o, &after, &afterErr); err != nil {
		t.Fatalf("replay after the daemon stopped: %v", err)
	}
	if afterErr.Len() != 0 {
		t.Errorf("replay of a free buffer wrote to stderr: %q", afterErr.String())
	}
	if live.String() != after.String() {
		t.Errorf("the copy and the buffer itself replay differently:\n%s\n---\n%s", live.String(), after.String())
	}
	got := strings.ReplaceAll(after.String(), dir, "$DIR")
	// What the config change must show, whatever the detector makes of
	// the images.
	for _, want := range []string{
		"replay of 3 kept scans (3 inspections)",
		"CONTROLLED_GOODS_UNDOCUMENTED",
		"-CONTROLLED_GOODS_UNDOCUMENTED", "+CONTROLLED_GOODS_UNDOCUMENTED",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	golden(t, "replay.golden", got)
}

func TestReplayWithoutKeptScans(t *testing.T) {
	dir := t.TempDir()
	running := filepath.Join(dir, "gatescan.yaml")
	yaml := strings.Replace(gateYAML(dir, ""), "keep_processed: true", "keep_processed: false", 1)
	if err := os.WriteFile(running, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "scans", "processed"), 0o755)
	err := replay(replayOptions{since: time.Hour, running: running, now: time.Now()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "keep_processed is off") {
		t.Fatalf("got %v, want an error saying keep_processed is off", err)
	}
	if err := dispatch([]string{"replay", "--running", running}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Fatalf("replay without --since: %v", err)
	}
}

// TestReplayProgressOnATerminal checks the progress bar is drawn on a
// terminal, and only there.
func TestReplayProgressOnATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	p := newProgress(tty, 4)
	p.show(2, "scan-2")
	p.done()
	tty.Close()
	b, _ := io.ReadAll(ptmx) // EIO once the terminal is closed and drained
	if !strings.Contains(string(b), "[===============               ] 2/4 scan-2") {
		t.Errorf("terminal got %q", b)
	}
	var pipe bytes.Buffer
	p = newProgress(&pipe, 4)
	p.show(2, "scan-2")
	p.done()
	if pipe.Len() != 0 {
		t.Errorf("not a terminal, yet got %q", pipe.String())
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
