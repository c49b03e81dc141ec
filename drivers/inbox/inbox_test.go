package inbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWatchFindsExistingNewAndMissedFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "before.json"), []byte("{}"), 0o644)   // written while the agent was down
	os.WriteFile(filepath.Join(dir, ".tmp-part.json"), []byte("{"), 0o644) // a writer's temporary name
	os.WriteFile(filepath.Join(dir, "image.png"), []byte("x"), 0o644)
	var mu sync.Mutex
	seen := map[string]int{}
	w := &Watcher{Dir: dir, Suffix: ".json", Rescan: 200 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Watch(ctx, func(p string) {
			mu.Lock()
			seen[filepath.Base(p)]++
			mu.Unlock()
		})
	}()
	has := func(n string) bool { mu.Lock(); defer mu.Unlock(); return seen[n] > 0 }
	waitFor := func(n string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if has(n) {
				return
			}
		}
		t.Fatalf("%s not reported", n)
	}
	waitFor("before.json")
	// Renamed into place, as scanners do.
	tmp := filepath.Join(dir, ".new.json.tmp")
	os.WriteFile(tmp, []byte("{}"), 0o644)
	os.Rename(tmp, filepath.Join(dir, "new.json"))
	waitFor("new.json")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if has(".tmp-part.json") || has("image.png") || has(".new.json.tmp") {
		t.Fatalf("reported files it must not: %v", seen)
	}
}

func TestReject(t *testing.T) {
	dir := t.TempDir()
	side, img := filepath.Join(dir, "S1.json"), filepath.Join(dir, "S1.png")
	os.WriteFile(side, []byte("{"), 0o644)
	os.WriteFile(img, []byte("png"), 0o644)
	why := errors.New(`sidecar is not a JSON object: unexpected end of JSON input`)
	if err := Reject(dir, why, side, img, filepath.Join(dir, "gone.png")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"S1.json", "S1.png"} {
		if _, err := os.Stat(filepath.Join(dir, "rejected", f)); err != nil {
			t.Errorf("%s not kept in rejected/: %v", f, err)
		}
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s still in the inbox", f)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "rejected", "S1.error"))
	if err != nil || !strings.Contains(string(b), "not a JSON object") {
		t.Fatalf(".error beside the sidecar: %q, %v", b, err)
	}
}
