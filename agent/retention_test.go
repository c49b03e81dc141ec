package agent

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

func TestPruneKeptScans(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-48 * time.Hour)
	for name, mtime := range map[string]time.Time{
		"a.json": old, "a.png": old, "a.low.png": old, // a kept scan past retention
		"b.json": time.Now(), "b.png": time.Now(), // a recent one
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A scan kept under names already taken, in a directory of its own.
	os.Mkdir(filepath.Join(dir, "a.2"), 0o755)
	for _, n := range []string{"a.json", "a.png"} {
		p := filepath.Join(dir, "a.2", n)
		os.WriteFile(p, []byte("x"), 0o644)
		os.Chtimes(p, old, old)
	}
	n, err := pruneOlder(dir, time.Now().Add(-24*time.Hour))
	if err != nil || n != 5 {
		t.Fatalf("pruned %d files (%v), want the 3 of scan a and the 2 of the other a", n, err)
	}
	ents, _ := os.ReadDir(dir)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	sort.Strings(left)
	if want := []string{"b.json", "b.png", "sub"}; len(left) != 3 || left[0] != want[0] || left[1] != want[1] || left[2] != want[2] {
		t.Errorf("left %v, want %v", left, want)
	}
	if n, err := pruneOlder(filepath.Join(dir, "missing"), time.Now()); n != 0 || err != nil {
		t.Errorf("a processed dir not made yet: %d, %v", n, err)
	}
}

func TestProcessedDir(t *testing.T) {
	cfg := opsConfig(t, opsYAML("/srv/g", "  - id: L1", ""))
	if got := ProcessedDir(cfg); got != "/srv/g/scans/processed" {
		t.Errorf("default processed dir %q", got)
	}
	cfg.Scanner.ProcessedDir = "/data/kept"
	if got := ProcessedDir(cfg); got != "/data/kept" {
		t.Errorf("processed_dir %q", got)
	}
}
