package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

// cmdReplay is `gatescan replay --since DURATION [--config NEW.yaml]`: it
// inspects the scans kept in the last DURATION again, with NEW.yaml (or
// the config in force), and prints what would change against the
// verdicts stored then.
//
// The scans come from scanner.processed_dir (scanner.keep_processed must
// be on: the daemon deletes inspected scans otherwise), their stored
// results from the buffer, both located by the running config (--running).
// When the daemon holds the buffer's lock, replay works on a copy of it.
func cmdReplay(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	o := replayOptions{now: time.Now()}
	fs.DurationVar(&o.since, "since", 0, "replay the scans of this last while, e.g. 24h")
	fs.StringVar(&o.candidate, "config", "", "the config to try (default: the running config)")
	fs.StringVar(&o.running, "running", "/etc/gatescan/gatescan.yaml", "the config the daemon runs with: where the buffer and the kept scans are")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if o.since <= 0 {
		return badInput("replay: give --since DURATION, e.g. --since 24h")
	}
	return replay(o, stdout, stderr)
}

type replayOptions struct {
	since              time.Duration
	running, candidate string
	now                time.Time
}

// replayed is one kept scan inspected again.
type replayed struct {
	sidecar *scanin.Sidecar
	old     []inspection.Result // as stored
	new     []inspection.Result
	skipped string // why it was not replayed, or ""
}

func replay(o replayOptions, stdout, stderr io.Writer) error {
	cur, err := loadConfig(o.running)
	if err != nil {
		return err
	}
	next := cur
	if o.candidate != "" {
		if next, err = loadConfig(o.candidate); err != nil {
			return err
		}
	}
	dir := agent.ProcessedDir(cur)
	scans, err := keptScans(dir, o.now.Add(-o.since))
	if err != nil {
		return err
	}
	if len(scans) == 0 {
		hint := ""
		if !cur.Scanner.KeepProcessed {
			hint = "; scanner.keep_processed is off in " + o.running + ", so the daemon deletes scans once inspected: turn it on to replay"
		}
		return &exitError{1, fmt.Errorf("replay: no kept scans since %s in %s%s", o.now.Add(-o.since).Format(time.RFC3339), dir, hint)}
	}
	store, cleanup, err := openBufferForReplay(cur.Buffer, stderr)
	if err != nil {
		return err
	}
	defer cleanup()

	det := vision.New(next.Detector, next.Containers)
	defer det.Close()
	bar := newProgress(stderr, len(scans))
	lim := scanin.Limits{MaxWidth: next.Scanner.MaxWidth, MaxHeight: next.Scanner.MaxHeight, MaxFileBytes: next.Scanner.MaxFileMB << 20}
	var out []replayed
	for i, k := range scans {
		bar.show(i, k.sidecar.ScanID)
		out = append(out, replayOne(next, store, det, k, lim))
	}
	bar.done()
	printReplay(stdout, o, next == cur, out)
	return nil
}

// keptScan is a sidecar in the processed directory.
type keptScan struct {
	path    string
	sidecar *scanin.Sidecar
}

// keptScans lists the sidecars in dir of scans taken at or after from,
// oldest first.
func keptScans(dir string, from time.Time) ([]keptScan, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	// A scan whose names were taken is kept in a directory of its own.
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	paths = append(paths, more...)
	if _, err := os.Stat(dir); err != nil {
		return nil, badInput("replay: kept scans: %v (scanner.processed_dir, or processed/ in the inbox)", err)
	}
	var out []keptScan
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		sc, err := scanin.ParseSidecar(b)
		if err != nil || sc.ScannedAt.Before(from) {
			continue // not a sidecar (or a broken one), or too old
		}
		out = append(out, keptScan{p, sc})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].sidecar, out[j].sidecar
		return a.ScannedAt.Before(b.ScannedAt) || (a.ScannedAt.Equal(b.ScannedAt) && a.ScanID < b.ScanID)
	})
	return out, nil
}

func replayOne(cfg *config.Config, store *buffer.Store, det *vision.Detector, k keptScan, lim scanin.Limits) replayed {
	r := replayed{sidecar: k.sidecar}
	scan, err := scanin.Open(k.path, lim)
	if err != nil {
		r.skipped = fmt.Sprintf("scan unreadable: %v", err)
		return r
	}
	defer scan.Close()
	// A scan id used for two scans: the results of this one.
	key, err := agent.ScanKey(store, scan)
	if err != nil {
		r.skipped = err.Error()
		return r
	}
	raw, _, err := store.ScanResults(key)
	if err != nil {
		r.skipped = err.Error()
		return r
	}
	if len(raw) == 0 {
		r.skipped = "no stored result (pruned after buffer.retention, or not inspected by this gate)"
		return r
	}
	for _, b := range raw {
		var res inspection.Result
		if err := json.Unmarshal(b, &res); err != nil {
			r.skipped = fmt.Sprintf("stored result unreadable: %v", err)
			return r
		}
		r.old = append(r.old, res)
	}
	if err := scan.Decode(); err != nil {
		r.skipped = fmt.Sprintf("scan unreadable: %v", err)
		return r
	}
	r.new, err = agent.Reinspect(cfg, store, det, scan, r.old[0].Weights.GrossKg)
	if err != nil {
		r.skipped = err.Error()
	}
	return r
}

// openBufferForReplay opens the buffer read-only, or, when the daemon
// holds its lock (or it was not closed cleanly), a copy of it in a
// temporary directory, removed by cleanup.
func openBufferForReplay(b config.Buffer, stderr io.Writer) (store *buffer.Store, cleanup func(), err error) {
	dir := b.Dir
	var key []byte
	if key, err = agent.BufferKey(b); err != nil {
		return nil, nil, fmt.Errorf("replay: %w", err)
	}
	s, err := buffer.Open(dir, buffer.Options{ReadOnly: true, EncryptionKey: key})
	if err == nil {
		return s, func() { s.Close() }, nil
	}
	if _, serr := os.Stat(dir); serr != nil {
		return nil, nil, badInput("replay: buffer: %v (buffer.dir in the running config)", serr)
	}
	tmp, terr := os.MkdirTemp("", "gatescan-replay-")
	if terr != nil {
		return nil, nil, fmt.Errorf("replay: buffer %s is in use (%v) and no copy can be made: %w", dir, err, terr)
	}
	fmt.Fprintf(stderr, "buffer %s is in use by the daemon: replaying from a copy in %s\n", dir, tmp)
	cp, cerr := buffer.Copy(dir, tmp)
	if cerr != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("replay: copy buffer %s to %s (set TMPDIR to a disk with room): %w", dir, tmp, cerr)
	}
	// Read-write: Badger replays the copy's write-ahead log on opening.
	s, err = buffer.Open(cp, buffer.Options{EncryptionKey: key})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("replay: open the copy of buffer %s: %w", dir, err)
	}
	return s, func() { s.Close(); os.RemoveAll(tmp) }, nil
}

// printReplay writes the report: the verdicts and alert rates before and
// after, the verdicts that flip, and each finding code raised or cleared,
// with the containers concerned.
func printReplay(w io.Writer, o replayOptions, sameConfig bool, rs []replayed) {
	var done, skipped []replayed
	for _, r := range rs {
		if r.skipped != "" {
			skipped = append(skipped, r)
		} else {
			done = append(done, r)
		}
	}
	var oldAll, newAll []inspection.Result
	for _, r := range done {
		oldAll = append(oldAll, r.old...)
		newAll = append(newAll, r.new...)
	}
	fmt.Fprintf(w, "replay of %d kept scans (%d inspections) taken since %s (the last %s)\n",
		len(done), len(oldAll), o.now.Add(-o.since).UTC().Format("2006-01-02 15:04 MST"), o.since)
	fmt.Fprintf(w, "stored verdicts, and a new inspection with %s\n", describeConfig(o, sameConfig))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-12s %6s %6s %6s   %s\n", "verdicts", "clear", "review", "alert", "alert rate")
	for _, row := range []struct {
		name string
		rs   []inspection.Result
	}{{"stored", oldAll}, {"new", newAll}} {
		n := verdictCounts(row.rs)
		fmt.Fprintf(w, "%-12s %6d %6d %6d   %s\n", row.name, n[inspection.Clear], n[inspection.Review], n[inspection.Alert],
			rate(n[inspection.Review]+n[inspection.Alert], len(row.rs)))
	}
	fmt.Fprintln(w, "(alert rate: inspections published on …/alerts, verdict review or alert)")

	d := diffReplay(done)
	flips, codes, counts := d.flips, d.codes, d.counts
	fmt.Fprintln(w)
	if len(flips) == 0 {
		fmt.Fprintln(w, "no verdict flips")
	} else {
		fmt.Fprintf(w, "%d verdict(s) flip:\n", len(flips))
		for _, f := range flips {
			fmt.Fprintf(w, "  %-24s %-13s %-6s -> %-6s  %s\n", f.scan, f.container, f.from, f.to, f.codes)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-32s %6s %6s\n", "findings by code", "stored", "new")
	for _, c := range sortedKeys(counts) {
		fmt.Fprintf(w, "  %-30s %6d %6d", c, counts[c][0], counts[c][1])
		ch := codes[c]
		if len(ch.raised) > 0 {
			fmt.Fprintf(w, "  raised: %s", strings.Join(ch.raised, ", "))
		}
		if len(ch.cleared) > 0 {
			fmt.Fprintf(w, "  cleared: %s", strings.Join(ch.cleared, ", "))
		}
		fmt.Fprintln(w)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "\nnot replayed: %d scan(s)\n", len(skipped))
		for _, r := range skipped {
			fmt.Fprintf(w, "  %s: %s\n", r.sidecar.ScanID, r.skipped)
		}
	}
}

func describeConfig(o replayOptions, same bool) string {
	if same {
		return "the running config " + o.running + " (no --config: what changed since, in the software or the declarations)"
	}
	return o.candidate + " (the daemon runs " + o.running + ")"
}

func verdictCounts(rs []inspection.Result) map[string]int {
	n := map[string]int{}
	for _, r := range rs {
		n[r.Verdict]++
	}
	return n
}

func rate(k, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%5.1f %% (%d/%d)", 100*float64(k)/float64(n), k, n)
}

// containerOf names the inspection's container: its number, else the
// scan's i-th, else its position.
func containerOf(o, n *inspection.Result, sc *scanin.Sidecar, i int) string {
	for _, r := range []*inspection.Result{o, n} {
		if r != nil && r.Container != "" {
			return r.Container
		}
	}
	if i < len(sc.ContainerIDs) {
		return sc.ContainerIDs[i]
	}
	return fmt.Sprintf("container #%d", i+1)
}

func verdictOf(r *inspection.Result) string {
	if r == nil {
		return "none"
	}
	return r.Verdict
}

func codeSet(r *inspection.Result) map[string]bool {
	s := map[string]bool{}
	if r != nil {
		for _, c := range r.Codes() {
			s[c] = true
		}
	}
	return s
}

func union(a, b map[string]bool) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// progress draws a bar on stderr while replaying, when stderr is a
// terminal; elsewhere (a pipe, a log) it stays silent.
type progress struct {
	w     io.Writer
	total int
	on    bool
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) show(i int, what string) {
	if !p.on {
		return
	}
	const width = 30
	n := width * i / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %-30.30s", strings.Repeat("=", n), strings.Repeat(" ", width-n), i, p.total, what)
}

func (p *progress) done() {
	if p.on {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 80))
	}
}

// replayFlip is a container whose verdict changed, with the finding codes
// raised (+) and cleared (-).
type replayFlip struct{ scan, container, from, to, codes string }

// codeChange lists the containers where a finding code was raised or
// cleared.
type codeChange struct{ raised, cleared []string }

// replayDiff compares stored and new inspections: the verdicts that flip,
// per code the containers where it changed, and per code how many
// inspections had it before and after.
type replayDiff struct {
	flips  []replayFlip
	codes  map[string]*codeChange
	counts map[string][2]int
}

func diffReplay(done []replayed) replayDiff {
	var flips []replayFlip
	codes := map[string]*codeChange{}
	counts := map[string][2]int{}
	for _, r := range done {
		for i := 0; i < max(len(r.old), len(r.new)); i++ {
			var o, n *inspection.Result
			if i < len(r.old) {
				o = &r.old[i]
			}
			if i < len(r.new) {
				n = &r.new[i]
			}
			who := containerOf(o, n, r.sidecar, i)
			oc, nc := codeSet(o), codeSet(n)
			for c := range oc {
				v := counts[c]
				v[0]++
				counts[c] = v
			}
			for c := range nc {
				v := counts[c]
				v[1]++
				counts[c] = v
			}
			var delta []string
			for _, c := range sortedKeys(union(oc, nc)) {
				ch := codes[c]
				if ch == nil {
					ch = &codeChange{}
					codes[c] = ch
				}
				switch {
				case nc[c] && !oc[c]:
					ch.raised = append(ch.raised, who)
					delta = append(delta, "+"+c)
				case oc[c] && !nc[c]:
					ch.cleared = append(ch.cleared, who)
					delta = append(delta, "-"+c)
				}
			}
			if from, to := verdictOf(o), verdictOf(n); from != to {
				flips = append(flips, replayFlip{r.sidecar.ScanID, who, from, to, strings.Join(delta, " ")})
			}
		}
	}
	return replayDiff{flips: flips, codes: codes, counts: counts}
}
