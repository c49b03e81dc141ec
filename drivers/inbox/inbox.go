package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports files ending in Suffix that appear in Dir.
type Watcher struct {
	Dir    string
	Suffix string        // e.g. ".json"
	Rescan time.Duration // periodic full listing
	Log    *slog.Logger
}

// Watch calls found (from one goroutine) for every candidate file: at start,
// on file-system events and on every rescan. found may be called again for a
// file it has seen; it must be idempotent.
func (w *Watcher) Watch(ctx context.Context, found func(path string)) error {
	if err := os.MkdirAll(w.Dir, 0o750); err != nil {
		return fmt.Errorf("inbox %s: %w", w.Dir, err)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		w.Log.Warn("file-system events unavailable; relying on rescans", "dir", w.Dir, "err", err)
	} else {
		defer fw.Close()
		if err := fw.Add(w.Dir); err != nil {
			w.Log.Warn("cannot watch inbox; relying on rescans", "dir", w.Dir, "err", err)
		}
	}
	w.scan(found)
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
			w.scan(found)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Op&(fsnotify.Create|fsnotify.Rename|fsnotify.Write) != 0 && w.match(filepath.Base(ev.Name)) {
				if _, err := os.Stat(ev.Name); err == nil {
					found(ev.Name)
				}
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflowed event queue loses events: rescan now.
			w.Log.Warn("inbox watch error; rescanning", "dir", w.Dir, "err", err)
			w.scan(found)
		}
	}
}

func (w *Watcher) match(name string) bool {
	return strings.HasSuffix(name, w.Suffix) && !strings.HasPrefix(name, ".")
}

func (w *Watcher) scan(found func(string)) {
	ents, err := os.ReadDir(w.Dir)
	if err != nil {
		w.Log.Error("cannot list inbox", "dir", w.Dir, "err", err)
		return
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && w.match(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names) // oldest-named first is the scanners' usual order
	for _, n := range names {
		found(filepath.Join(w.Dir, n))
	}
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
