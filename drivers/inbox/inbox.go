package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports files ending in Suffix (or one of Suffixes) that appear
// in Dir.
type Watcher struct {
	Dir      string
	Suffix   string // e.g. ".json"
	Suffixes []string
	Rescan   time.Duration // periodic full listing
	// Settle is how long a file must be seen unchanged (same size,
	// modification time and inode) before it is reported: a writer that
	// does not write to a temporary name and rename is not read half way.
	// The watcher measures it with its own clock, so a scanner's or a
	// share's clock does not matter. 0 reports files at once.
	Settle time.Duration
	Log    *slog.Logger

	seen map[string]sighting
}

// sighting is how a file looked when first seen in this state.
type sighting struct {
	size  int64
	mtime time.Time
	ino   uint64
	since time.Time
	// first: when this version of the file was first seen (being written
	// included), which since is not once it has been written to.
	first time.Time
	// reported: settled and handed to found; only rescans and events
	// report it again.
	reported bool
}

// Watch calls found (from one goroutine) for every candidate file once it
// has settled: at start, on file-system events and on every rescan. found
// may be called again for a file it has seen; it must be idempotent. Files
// that are not regular (a FIFO, a device, a symbolic link) are reported
// too, so that the caller can set them aside: it must open them with
// OpenRegular, which never blocks on them.
func (w *Watcher) Watch(ctx context.Context, found func(path string)) error {
	return w.WatchSeen(ctx, func(path string, _ time.Time) { found(path) })
}

// WatchSeen is Watch, telling found when the file was first seen: by an
// event or a listing, before it settled (a file there before the watcher
// started was first seen at its start). A file replaced once reported
// (another inode, size or time) is a new file, seen anew.
func (w *Watcher) WatchSeen(ctx context.Context, found func(path string, first time.Time)) error {
	if err := os.MkdirAll(w.Dir, 0o750); err != nil {
		return fmt.Errorf("inbox %s: %w", w.Dir, err)
	}
	w.seen = map[string]sighting{}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		w.Log.Warn("file-system events unavailable; relying on rescans", "dir", w.Dir, "err", err)
	} else {
		defer fw.Close()
		if err := fw.Add(w.Dir); err != nil {
			w.Log.Warn("cannot watch inbox; relying on rescans", "dir", w.Dir, "err", err)
		}
	}
	settle := time.NewTimer(time.Hour)
	defer settle.Stop()
	arm := func(d time.Duration) {
		if d > 0 {
			settle.Reset(d)
		}
	}
	arm(w.scan(found))
	tick := time.NewTicker(w.Rescan)
	defer tick.Stop()
	var events chan fsnotify.Event
	var errs chan error
	if fw != nil {
		events, errs = fw.Events, fw.Errors
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			arm(w.scan(found))
		case <-settle.C:
			arm(w.recheck(found))
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Op&(fsnotify.Create|fsnotify.Rename|fsnotify.Write) != 0 && w.match(filepath.Base(ev.Name)) {
				arm(w.look(ev.Name, time.Now(), found))
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflowed event queue loses events: rescan now.
			w.Log.Warn("inbox watch error; rescanning", "dir", w.Dir, "err", err)
			arm(w.scan(found))
		}
	}
}

func (w *Watcher) match(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	if w.Suffix != "" && strings.HasSuffix(name, w.Suffix) {
		return true
	}
	for _, s := range w.Suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// look reports path if it has settled, and returns how long until it may
// (0: nothing to wait for).
func (w *Watcher) look(path string, now time.Time, found func(string, time.Time)) time.Duration {
	fi, err := os.Lstat(path)
	if err != nil || fi.IsDir() {
		delete(w.seen, path)
		return 0
	}
	s := sighting{size: fi.Size(), mtime: fi.ModTime(), since: now, first: now}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	if old, ok := w.seen[path]; ok {
		if old.size == s.size && old.mtime.Equal(s.mtime) && old.ino == s.ino {
			s.since, s.reported = old.since, old.reported
		}
		if !old.reported || s.reported {
			s.first = old.first // still being written, or the same file
		}
	}
	if wait := w.Settle - now.Sub(s.since); wait > 0 {
		w.seen[path] = s
		return wait
	}
	s.reported = true
	w.seen[path] = s
	found(path, s.first)
	return 0
}

// recheck looks again at the files still settling; it returns when the
// next one may have settled.
func (w *Watcher) recheck(found func(string, time.Time)) time.Duration {
	now := time.Now()
	var next time.Duration
	for p, s := range w.seen {
		if s.reported {
			continue // the rescans report it again
		}
		if d := w.look(p, now, found); d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	return next
}

// scan lists the inbox (oldest name first, the scanners' usual order),
// reports what has settled and forgets what is gone; it returns when the
// next file still settling may have settled.
func (w *Watcher) scan(found func(string, time.Time)) time.Duration {
	ents, err := os.ReadDir(w.Dir)
	if err != nil {
		w.Log.Error("cannot list inbox", "dir", w.Dir, "err", err)
		return 0
	}
	now := time.Now()
	listed := map[string]bool{}
	var next time.Duration
	for _, e := range ents { // ReadDir sorts by name
		if e.IsDir() || !w.match(e.Name()) {
			continue
		}
		p := filepath.Join(w.Dir, e.Name())
		listed[p] = true
		if d := w.look(p, now, found); d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	for p := range w.seen {
		if !listed[p] {
			delete(w.seen, p)
		}
	}
	return next
}

// Reject moves files into dir/rejected and writes why beside the first one
// as NAME.error. Files already gone are skipped.
func Reject(dir string, why error, files ...string) error {
	rd := filepath.Join(dir, "rejected")
	if err := os.MkdirAll(rd, 0o750); err != nil {
		return err
	}
	var first string
	for _, f := range files {
		if _, err := os.Lstat(f); err != nil {
			continue
		}
		dst := filepath.Join(rd, filepath.Base(f))
		if err := os.Rename(f, dst); err != nil {
			return fmt.Errorf("move %s to rejected: %w", f, err)
		}
		if first == "" {
			first = dst
		}
	}
	if first == "" {
		return nil
	}
	base := strings.TrimSuffix(first, filepath.Ext(first))
	msg := fmt.Sprintf("%s\nrejected at %s\n", why, time.Now().UTC().Format(time.RFC3339))
	return os.WriteFile(base+".error", []byte(msg), 0o640)
}
