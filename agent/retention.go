package agent

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gatescan/gatescan/config"
)

// ProcessedDir returns the directory inspected scans are kept in when
// scanner.keep_processed is on: scanner.processed_dir, or "processed" in
// the inbox. `gatescan replay` reads the scans it re-inspects from there.
func ProcessedDir(cfg *config.Config) string {
	return inboxDir(cfg, cfg.Scanner.ProcessedDir, "processed")
}

// QuarantineDir returns the directory the files of scans that could not be
// inspected go to: scanner.quarantine_dir, or "quarantine" in the inbox.
func QuarantineDir(cfg *config.Config) string {
	return inboxDir(cfg, cfg.Scanner.QuarantineDir, "quarantine")
}

// inboxDir is dir when set, else the directory name in the scan inbox.
func inboxDir(cfg *config.Config, dir, name string) string {
	if dir != "" {
		return dir
	}
	return filepath.Join(cfg.Scanner.Inbox, name)
}

// pruneOlder removes the regular files in dir, and in its subdirectories
// (scans kept under names already taken), last modified before cutoff
// (the scanner's write time: moving a scan keeps it), and the
// subdirectories left empty. Sidecars go first, so that an interrupted
// pass leaves no sidecar without its images.
func pruneOlder(dir string, cutoff time.Time) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	sort.SliceStable(ents, func(i, j int) bool {
		return strings.HasSuffix(ents[i].Name(), ".json") && !strings.HasSuffix(ents[j].Name(), ".json")
	})
	n := 0
	var errs []error
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			if sub, err := pruneSubdir(p, cutoff); err != nil {
				errs = append(errs, err)
			} else {
				n += sub
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// pruneSubdir prunes a kept scan's own directory, and removes it once
// pruning has emptied it.
func pruneSubdir(dir string, cutoff time.Time) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if left, _ := os.ReadDir(dir); n > 0 && len(left) == 0 {
		os.Remove(dir)
	}
	return n, errors.Join(errs...)
}
