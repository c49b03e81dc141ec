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
	"syscall"
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

// watchInto runs w until the test ends and returns how often each name
// was reported.
func watchInto(t *testing.T, w *Watcher) func(name string) int {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Watch(ctx, func(p string) {
			mu.Lock()
			seen[filepath.Base(p)]++
			mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func(n string) int { mu.Lock(); defer mu.Unlock(); return seen[n] }
}

// TestWatchWaitsUntilSettled: a file written in place, a little at a
// time, is reported only once it has stayed unchanged for Settle, however
// its writer's clock stamps it.
func TestWatchWaitsUntilSettled(t *testing.T) {
	dir := t.TempDir()
	w := &Watcher{Dir: dir, Suffix: ".json", Rescan: 50 * time.Millisecond, Settle: 300 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	seen := watchInto(t, w)
	p := filepath.Join(dir, "slow.json")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 8 {
		f.WriteString(`{"part":` + strings.Repeat(" ", i) + `}`)
		// A clock far behind: modification times long past.
		os.Chtimes(p, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour-time.Duration(i)*time.Second))
		time.Sleep(100 * time.Millisecond)
		if seen("slow.json") > 0 {
			t.Fatalf("reported after %v while still being written", time.Since(start))
		}
	}
	f.Close()
	stopped := time.Now()
	for seen("slow.json") == 0 {
		if time.Since(stopped) > 5*time.Second {
			t.Fatal("never reported once settled")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(stopped); d < 200*time.Millisecond {
		t.Errorf("reported %v after the last write, before settling", d)
	}
}

// TestSpecialFilesNeverBlock: a FIFO (no writer) or a symbolic link in an
// inbox is reported like any file, and OpenRegular refuses it at once,
// saying what it is, without blocking.
func TestSpecialFilesNeverBlock(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644); err != nil {
		t.Skip(err)
	}
	os.WriteFile(filepath.Join(dir, "target"), []byte("{}"), 0o644)
	os.Symlink(filepath.Join(dir, "target"), filepath.Join(dir, "link.json"))
	os.WriteFile(filepath.Join(dir, "ok.json"), []byte("{}"), 0o644)
	w := &Watcher{Dir: dir, Suffix: ".json", Rescan: 50 * time.Millisecond, Settle: 10 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	seen := watchInto(t, w)
	deadline := time.Now().Add(5 * time.Second)
	for seen("fifo.json") == 0 || seen("link.json") == 0 || seen("ok.json") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not all reported: fifo %d, link %d, ok %d", seen("fifo.json"), seen("link.json"), seen("ok.json"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for n, want := range map[string]string{"fifo.json": "is a FIFO", "link.json": "is a symbolic link"} {
		done := make(chan error, 1)
		go func() { _, err := ReadRegular(filepath.Join(dir, n), 1<<20); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want ErrNotRegular saying %q", n, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: reading blocked", n)
		}
	}
	if b, err := ReadRegular(filepath.Join(dir, "ok.json"), 1<<20); err != nil || string(b) != "{}" {
		t.Errorf("regular file: %q, %v", b, err)
	}
	if _, err := ReadRegular(filepath.Join(dir, "ok.json"), 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}

// TestWatchSeenFirstSighting: WatchSeen reports every suffix asked for
// with when the file was first seen, before it settled and however long
// its writer took; a file replaced after it was reported is seen anew.
func TestWatchSeenFirstSighting(t *testing.T) {
	dir := t.TempDir()
	w := &Watcher{Dir: dir, Suffixes: []string{".json", ".png"}, Rescan: 50 * time.Millisecond, Settle: 200 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var mu sync.Mutex
	first := map[string][]time.Time{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.WatchSeen(ctx, func(p string, at time.Time) {
			mu.Lock()
			first[filepath.Base(p)] = append(first[filepath.Base(p)], at)
			mu.Unlock()
		})
	}()
	defer func() { cancel(); <-done }()
	wait := func(n string, after time.Time) time.Time {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			ts := first[n]
			mu.Unlock()
			if len(ts) > 0 && ts[len(ts)-1].After(after) {
				return ts[len(ts)-1]
			}
		}
		t.Fatalf("%s not reported as first seen after %v", n, after)
		return time.Time{}
	}
	// Written in place over 300 ms: first seen at its first write.
	start := time.Now()
	p := filepath.Join(dir, "a.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.WriteString("part")
		time.Sleep(100 * time.Millisecond)
	}
	f.Close()
	at := wait("a.png", start)
	if d := at.Sub(start); d > 150*time.Millisecond {
		t.Errorf("a.png first seen %v after its first write, want at it (not once settled)", d)
	}
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("x"), 0o644)
	// Replaced once reported: a new file, first seen when it came.
	time.Sleep(100 * time.Millisecond)
	again := time.Now()
	tmp := filepath.Join(dir, ".a.png")
	os.WriteFile(tmp, []byte("other bytes"), 0o644)
	os.Rename(tmp, p)
	if at2 := wait("a.png", again.Add(-time.Millisecond)); at2.Sub(again) > 150*time.Millisecond {
		t.Errorf("replaced a.png first seen %v after it came", at2.Sub(again))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(first["b.txt"]) > 0 {
		t.Errorf("b.txt reported: no suffix asked for matches it")
	}
}
