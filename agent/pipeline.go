package agent

// A scan's path from the inbox to the outbox, top to bottom: the queue
// (queue.go) hands a sidecar's path to processScan, which opens the scan,
// joins it with its declarations and the truck's weight, decodes and
// inspects it, commits the results and their messages in one transaction
// (the publisher takes them from there), and finishes by removing the
// scan's files. Replay (replay.go) goes through the same join and case.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gatescan/gatescan/agent/assess"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/inbox"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

// processScans inspects queued scans one at a time with one detector: the
// detector is the hot path and a gate box has few cores. Once ctx ends it
// starts no other scan: the one in progress is finished by processScan,
// the others stay in the inbox, untouched, for the next start.
func (a *Agent) processScans(ctx context.Context) {
	det := newDetector(a.Config())
	defer func() { det.Close() }() // the last det: scanLoopTurn replaces it after a reload
	// The images a crash lost (images.go), before their scans are cleaned up.
	a.remakeImages(ctx, det)
	for ctx.Err() == nil {
		det = a.scanLoopTurn(det) // proves the loop alive (watchdog); applies reloaded detector settings
		path, first, wait := a.scans.next()
		if path == "" {
			a.pre.setIdle(true) // images may be decoded ahead meanwhile
			select {
			case <-ctx.Done():
			case <-a.scans.wake:
			case <-time.After(wait):
			}
			a.pre.setIdle(false)
			continue
		}
		a.safeProcess(ctx, det, path, first)
	}
}

// safeProcess keeps one bad scan from taking the daemon down.
func (a *Agent) safeProcess(ctx context.Context, det *vision.Detector, path string, first time.Time) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("internal error inspecting %s: %v", filepath.Base(path), r)
			a.log.Error("scan processing panicked; scan rejected", "path", path, "panic", r, "stack", string(debug.Stack()))
			a.reject(path, nil, err)
			a.scans.done(path)
		}
	}()
	a.processScan(ctx, det, path, first)
}

func (a *Agent) reject(path string, sc *scanin.Sidecar, err error) {
	cfg := a.Config()
	files := []string{path}
	if sc != nil {
		dir := filepath.Dir(path)
		for _, n := range []string{sc.Images.High, sc.Images.Low} {
			if n != "" && !strings.ContainsAny(n, "/\\") {
				files = append(files, filepath.Join(dir, n))
			}
		}
	}
	a.metrics.ScansRejected.Inc()
	a.log.Error("scan rejected", "path", path, "err", err)
	if rerr := inbox.Reject(cfg.Scanner.Inbox, err, files...); rerr != nil {
		a.log.Error("cannot move rejected scan", "path", path, "err", rerr)
	}
}

func (a *Agent) processScan(ctx context.Context, det *vision.Detector, path string, first time.Time) {
	t0 := time.Now()
	scan, id, ok := a.openScan(path)
	if !ok {
		return
	}
	defer scan.Close()
	j, joinMS, ok := a.joinScan(ctx, scan, id, path, first)
	if !ok {
		return
	}
	att, ok := a.beginAttempt(scan, id, j, path)
	if !ok {
		return
	}
	defer func() {
		// A panic inside the inspection fails this attempt; the scan is
		// tried again, and quarantined once max_attempts have failed.
		if r := recover(); r != nil {
			why := fmt.Sprintf("internal error: %v", r)
			a.log.Error("scan inspection panicked; will retry", "scan_id", scan.Sidecar.ScanID, "attempt", att.Count, "panic", r, "stack", string(debug.Stack()))
			if _, err := a.store.FailAttempt(id.key, why); err != nil {
				a.log.Error("cannot record the failed attempt", "scan_id", scan.Sidecar.ScanID, "err", err)
			}
			a.scans.later(path, 2*time.Second)
		}
	}()
	if inspectHook != nil {
		inspectHook(scan)
	}
	a.inspectScan(det, scan, id, j, path, first, t0, joinMS)
}

// openScan opens the scan of the sidecar at path and tells who it is; ok
// is false when there is nothing (more) to do with it now: gone, rejected,
// to be retried, or already committed and now cleaned up.
func (a *Agent) openScan(path string) (scan *scanin.Scan, id scanIdentity, ok bool) {
	cfg := a.Config()
	if _, err := os.Lstat(path); err != nil {
		a.scans.done(path) // gone (processed or removed)
		return nil, id, false
	}
	lim := scanLimits(cfg)
	// Open checks the sidecar and image headers only: a scan waiting for
	// its declaration or weight is tried again every few seconds, and must
	// not be decoded each time.
	scan, err := scanin.Open(path, lim)
	if transient(err) {
		a.log.Error("scan not readable now; will retry", "path", path, "err", err)
		a.scans.later(path, 5*time.Second)
		return nil, id, false
	}
	if err != nil {
		var sc *scanin.Sidecar
		if scan != nil {
			sc = scan.Sidecar
		}
		a.reject(path, sc, err)
		a.scans.done(path)
		return nil, id, false
	}
	id, err = a.identify(scan)
	if err != nil {
		a.log.Error("buffer unreadable; will retry", "scan_id", scan.Sidecar.ScanID, "err", err)
		a.scans.later(path, 5*time.Second)
		scan.Close()
		return nil, id, false
	}
	if id.done {
		// Committed before a crash or restart: only the clean-up is left.
		a.finish(scan, id.quarantined)
		a.scans.done(path)
		scan.Close()
		return nil, id, false
	}
	return scan, id, true
}

// joinScan joins the scan with its declarations and the truck's weight,
// waiting (within the grace) for what is not here yet; ok is false when
// the scan is to be tried again later, or left for the next start because
// the agent is shutting down.
func (a *Agent) joinScan(ctx context.Context, scan *scanin.Scan, id scanIdentity, path string, first time.Time) (j Joined, joinMS float64, ok bool) {
	cfg := a.Config()
	sc := scan.Sidecar
	t1 := time.Now()
	j, err := a.joiner().join(sc, hasWeighbridge(cfg, sc.Lane), id.key)
	if err != nil {
		a.log.Error("buffer unreadable while joining; will retry", "scan_id", sc.ScanID, "err", err)
		a.scans.later(path, 5*time.Second)
		return j, 0, false
	}
	if j.missing && time.Since(first) < cfg.Rules.Grace {
		a.log.Debug("scan waiting for its declaration or weight", "scan_id", sc.ScanID, "lane", sc.Lane,
			"grace_left", (cfg.Rules.Grace - time.Since(first)).Round(time.Second))
		a.scans.later(path, min(2*time.Second, cfg.Rules.Grace))
		return j, 0, false
	}
	if ctx.Err() != nil {
		// Shutting down before this scan's inspection began: it stays in
		// the inbox as it is, and the next start takes it up (and waits
		// for what it lacks again), rather than committing it without
		// the weight or declaration on their way.
		return j, 0, false
	}
	return j, ms(time.Since(t1)), true
}

// beginAttempt puts the attempt on record before anything that could
// crash or hang on this scan runs, so that a scan that takes the agent
// down is not tried for ever (scanner.max_attempts): past them it is
// quarantined, and ok is false.
func (a *Agent) beginAttempt(scan *scanin.Scan, id scanIdentity, j Joined, path string) (att buffer.Attempts, ok bool) {
	cfg := a.Config()
	sc := scan.Sidecar
	att, err := a.store.BeginAttempt(id.key)
	if err != nil {
		a.log.Error("cannot record the attempt; will retry", "scan_id", sc.ScanID, "err", err)
		a.metrics.CommitErrors.Inc()
		a.scans.later(path, 5*time.Second)
		return att, false
	}
	if att.Count > cfg.Scanner.MaxAttempts {
		a.quarantine(scan, id, j, att)
		return att, false
	}
	if att.Count > 1 {
		a.log.Warn("scan tried again after an attempt that did not end", "scan_id", sc.ScanID, "attempt", att.Count, "max_attempts", cfg.Scanner.MaxAttempts, "failure", att.Failure)
	}
	return att, true
}

// inspectScan decodes and inspects the scan, commits its results and
// messages, and finishes it by removing (or keeping aside) its files.
func (a *Agent) inspectScan(det *vision.Detector, scan *scanin.Scan, id scanIdentity, j Joined, path string, first, t0 time.Time, joinMS float64) {
	cfg := a.Config()
	sc := scan.Sidecar
	t2 := time.Now()
	ahead := a.pre.handOver(scan.Files[:len(scan.Files)-1]) // the sidecar is last
	taken := len(ahead)
	used, err := scan.DecodeWith(func(p string) *scanin.Image {
		im := ahead[p]
		delete(ahead, p)
		return im
	})
	for _, im := range ahead {
		im.Close() // not asked for
	}
	a.metrics.PredecodeReleased.WithLabelValues("used").Add(float64(used))
	a.metrics.PredecodeReleased.WithLabelValues("replaced").Add(float64(taken - used))
	if transient(err) {
		a.log.Error("scan not readable now; will retry", "scan_id", sc.ScanID, "err", err)
		a.endAttempt(id.key)
		a.scans.later(path, 5*time.Second)
		return
	} else if err != nil {
		a.reject(path, sc, err)
		if err := a.store.ForgetAttempts(id.key); err != nil {
			a.log.Warn("attempts of a rejected scan not forgotten", "scan_id", sc.ScanID, "err", err)
		}
		a.scans.done(path)
		return
	}
	// The detector's plane is only needed until the scan is committed:
	// freed, it is not held while the next scan is decoded. The scan's Go
	// garbage (the annotated image's pixels, its JPEG, the decoders'
	// buffers) goes back to the system too, before the next scan makes
	// more: a collection of a heap this small costs a few milliseconds a
	// scan, and keeps the daemon's peak within an edge box's memory.
	defer det.Free()
	defer debug.FreeOSMemory()
	decodeMS := ms(time.Since(t2))

	results, c := Inspect(cfg, det, scan, j, map[string]float64{"decode": decodeMS, "join": joinMS})
	id.name(cfg, results)
	msgs, queued, err := a.commit(sc, id, results, j.Weight, noteImages(path, j, c.Analysis, len(results)))
	if err != nil {
		a.log.Error("cannot commit inspection; will retry", "scan_id", sc.ScanID, "err", err)
		a.metrics.CommitErrors.Inc()
		a.endAttempt(id.key)
		a.scans.later(path, 5*time.Second)
		return
	}
	a.metrics.SidecarToCommit.Observe(time.Since(first).Seconds())
	if queued {
		if committedHook != nil {
			committedHook(scan)
		}
		msgs = append(msgs, a.queueImages(id.key, sc, results, det, c.Analysis)...)
	}
	// Its findings and timings before the scan is counted: a scrape that
	// sees the scan sees them.
	for _, r := range results {
		a.metrics.observe(&r)
	}
	a.inspected(results, msgs)
	a.afterCommit(sc, j, c.AnalysisErr)
	for _, r := range results {
		a.log.Info("inspection", "scan_id", r.ScanID, "lane", r.Lane, "containers", r.ContainerIDs, "verdict", r.Verdict,
			"risk", r.Risk, "findings", r.Codes(), "ms", ms(time.Since(t0)))
	}
	a.finish(scan, false)
	a.scans.done(path)
}

// endAttempt takes back an attempt that failed for the system, not the
// scan: a full disk refusing commits must not quarantine the scans it
// holds up.
func (a *Agent) endAttempt(key string) {
	if _, err := a.store.EndAttempt(key); err != nil {
		a.log.Warn("attempt not taken back", "scan_key", key, "err", err)
	}
}

// transient reports whether err says the system, not the scan, failed
// (out of descriptors or memory, the disk full, interrupted): the scan is
// tried again later, not rejected for good.
func transient(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOSPC, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// inspectHook, when set, runs as a scan's inspection begins (its attempt
// recorded, nothing decoded yet): the fault tests make it crash, hang or
// panic there, as a poisonous image would.
var inspectHook func(*scanin.Scan)

// committedHook, when set, runs once a scan's results are committed,
// before its annotated images are made: the tests stop the agent there,
// as a crash would.
var committedHook func(*scanin.Scan)

// commit stores the results, queues their messages and marks the weight
// the scan joined (if any) as its own, in one transaction. queued is false
// when the scan had been committed before (nothing is queued again). The
// annotated images follow (queueImages): making them takes about as long
// as the detector, and the result does not wait for them. images, when
// set, is the note that they follow, committed with the results
// (images.go).
func (a *Agent) commit(sc *scanin.Sidecar, id scanIdentity, results []inspection.Result, weight *buffer.Weight, images json.RawMessage) (msgs []buffer.Message, queued bool, err error) {
	topics := a.pub.Topics()
	var recs []buffer.Record
	now := time.Now().UTC()
	for i := range results {
		r := &results[i]
		r.Version = Version
		b, err := json.Marshal(r)
		if err != nil {
			return nil, false, fmt.Errorf("encode result: %w", err)
		}
		recs = append(recs, buffer.Record{ID: r.InspectionID, Data: b})
		alert := r.Verdict != inspection.Clear
		// Alert and Image rank the messages for the disk budget; Ref names
		// the inspection in a report of a drop.
		msgs = append(msgs, buffer.Message{Topic: topics.Inspections(), QoS: 1, Payload: b, At: now, Alert: alert, Ref: r.InspectionID})
		if alert {
			msgs = append(msgs, buffer.Message{Topic: topics.Alerts(), QoS: 1, Payload: b, At: now, Alert: true, Ref: r.InspectionID})
		}
	}
	var consumed []buffer.Weight
	if weight != nil {
		consumed = append(consumed, *weight)
	}
	ident, err := id.of(sc)
	if err != nil {
		return nil, false, err
	}
	ok, err := a.commitScan(buffer.ScanCommit{Key: id.key, Identity: ident, Quarantined: id.quarantined,
		Results: recs, Messages: msgs, Consumed: consumed, Images: images})
	if err != nil {
		return nil, false, err
	}
	if !ok {
		a.log.Info("scan already committed; not queued again", "scan_id", sc.ScanID, "scan_key", id.key)
		return nil, false, nil
	}
	if id.reused != nil {
		a.metrics.ScanIDReused.Inc()
		a.log.Warn("scan id reused: another scan was committed under it; this one was inspected as a scan of its own",
			"scan_id", sc.ScanID, "lane", sc.Lane, "scanned_at", sc.ScannedAt, "scan_key", id.key,
			"inspection_id", results[0].InspectionID, "earlier_lane", id.reused.Lane, "earlier_scanned_at", id.reused.ScannedAt)
	}
	return msgs, true, nil
}

// queueImages makes the annotated image of each committed result from
// the detector's analysis and queues them, after the results' messages,
// in the transaction that deletes the scan's note that they were pending
// (images.go); it returns the messages queued. An image not made or not
// kept is logged: the result and its alert are committed already.
func (a *Agent) queueImages(key string, sc *scanin.Sidecar, results []inspection.Result, det *vision.Detector, an *vision.Analysis) []buffer.Message {
	if an == nil {
		return nil // nothing analysed: nothing noted either
	}
	cfg := a.Config()
	maxBytes := cfg.MQTT.ImageMaxBytes
	var msgs []buffer.Message
	now := time.Now().UTC()
	for i := range results {
		if i >= len(an.Containers) {
			break
		}
		r := &results[i]
		jpg, err := det.Annotate(an, i, assess.Caption(r), cfg.Detector.AnnotateMaxWidth, maxBytes)
		if err == nil && maxBytes > 0 && len(jpg) > maxBytes {
			// Annotate stops shrinking at a minimum width.
			err = fmt.Errorf("the smallest image is %d bytes, over mqtt.image_max_bytes %d", len(jpg), maxBytes)
		}
		if err != nil {
			a.log.Warn("annotated image not made", "scan_id", sc.ScanID, "err", err)
			continue
		}
		msgs = append(msgs, buffer.Message{Topic: a.pub.Topics().Image(r.InspectionID), QoS: 1, Payload: jpg, At: now,
			Alert: r.Verdict != inspection.Clear, Image: true, Ref: r.InspectionID})
	}
	msgs = a.keepable(msgs) // disk.go: no images with the disk nearly full
	if err := a.store.QueueImages(key, msgs...); err != nil {
		if len(msgs) > 0 {
			a.log.Warn("annotated images not kept", "scan_id", sc.ScanID, "images", len(msgs), "err", err)
			// Not kept: not to be made again at the next start either.
			err = a.store.DropPendingImages(key)
		}
		if err != nil {
			a.log.Warn("note that the scan's images follow not dropped: the next start makes them again, or counts them lost", "scan_id", sc.ScanID, "err", err)
		}
		return nil
	}
	if len(msgs) == 0 {
		return nil
	}
	return msgs
}

// scanLimits are the config's bounds on a scan's images.
func scanLimits(cfg *config.Config) scanin.Limits {
	return scanin.Limits{MaxWidth: cfg.Scanner.MaxWidth, MaxHeight: cfg.Scanner.MaxHeight, MaxFileBytes: cfg.Scanner.MaxFileMB << 20}
}

// finish removes (or keeps aside) a scan's files once its result is
// stored; a quarantined scan's go to the quarantine directory.
func (a *Agent) finish(scan *scanin.Scan, quarantined bool) {
	cfg := a.Config()
	dir := ""
	switch {
	case quarantined:
		dir = QuarantineDir(cfg)
	case cfg.Scanner.KeepProcessed:
		dir = ProcessedDir(cfg)
	}
	if dir != "" {
		dst, err := moveScan(scan.Files, dir)
		if err != nil {
			// Committed already: the files stay in the inbox (or part of
			// them kept), and the next pass moves what is left.
			a.metrics.KeepErrors.Inc()
			a.log.Error("cannot move the inspected scan's files; left in the inbox for the next rescan", "scan_id", scan.Sidecar.ScanID, "dir", dir, "err", err)
		} else if dst != dir {
			a.log.Info("scan kept in a directory of its own: its names were taken", "scan_id", scan.Sidecar.ScanID, "dir", dst)
		}
		return
	}
	// Sidecar last: its absence means the scan is finished.
	for _, f := range scan.Files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			a.log.Warn("cannot remove processed scan file", "file", f, "err", err)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// newDetector is a detector with the config's settings and geometries.
func newDetector(c *config.Config) *vision.Detector {
	return vision.New(c.Detector, c.Containers)
}

// joiner joins scans with what the buffer holds, for the daemon and
// replay alike.
type joiner struct {
	cfg   *config.Config
	store *buffer.Store
	log   *slog.Logger
}

func (a *Agent) joiner() joiner { return joiner{cfg: a.Config(), store: a.store, log: a.log} }

// Joined is what a scan is inspected with beside its images: in the
// daemon and replay what the buffer holds, in batch inspect what files
// say.
type Joined struct {
	// Declarations are the containers' declarations in the order of the
	// scan's container numbers (nil: none); Corrected, per number, the
	// number a misread one was corrected to, or "".
	Declarations []*declaration.Declaration
	Corrected    []string
	// Weight is the truck's stable weight on the weighbridge (nil: none);
	// Weighbridge says whether the lane weighs trucks at all, so that a
	// missing weight is a finding.
	Weight      *buffer.Weight
	Weighbridge bool
	// LaneTareKg is the lane's usual tractor and chassis tare,
	// PlateTareKg the vehicle's learned tare (0 if none).
	LaneTareKg  float64
	PlateTareKg float64
	// missing reports that a declaration or the weight has not arrived.
	missing bool
}

// join finds the scan's declarations (one per container number, correcting
// one misread character when exactly one stored declaration fits), the
// lane's stable truck weight nearest the scan that no other scan took, and
// the vehicle's learned tare. key is the scan's key in the buffer (see
// scanIdentity): a weight it joined before a crash is its own still.
func (a joiner) join(sc *scanin.Sidecar, hasBridge bool, key string) (Joined, error) {
	cfg := a.cfg
	j := Joined{Declarations: make([]*declaration.Declaration, len(sc.ContainerIDs)), Corrected: make([]string, len(sc.ContainerIDs)),
		Weighbridge: hasBridge}
	if lc := cfg.Lane(sc.Lane); lc != nil {
		j.LaneTareKg = lc.VehicleTareKg
	}
	var known []string // stored container numbers, read once if needed
	for i, raw := range sc.ContainerIDs {
		id := declaration.Normalize(raw)
		d, err := a.declaration(id)
		if err != nil {
			return j, err
		}
		if d == nil && declaration.ValidContainerID(id) != nil {
			if known == nil {
				known = []string{}
				if err := a.store.EachDeclaration(func(k string) error { known = append(known, k); return nil }); err != nil {
					return j, err
				}
			}
			if fix, ok := declaration.Correct(id, known); ok {
				if d, err = a.declaration(fix); err != nil {
					return j, err
				}
				j.Corrected[i] = fix
			}
		}
		j.Declarations[i] = d
		j.missing = j.missing || d == nil
	}
	if hasBridge {
		w, ok, err := a.store.NearestFreeWeight(sc.Lane, sc.ScannedAt, cfg.Rules.JoinWindow, key)
		if err != nil {
			return j, err
		}
		if ok {
			j.Weight = &w
		} else {
			j.missing = true
		}
	}
	if sc.Vehicle.Plate != "" {
		kg, ok, err := a.store.PlateTare(sc.Vehicle.Plate)
		if err != nil {
			return j, err
		}
		if ok {
			j.PlateTareKg = kg
		}
	}
	return j, nil
}

func (a joiner) declaration(id string) (*declaration.Declaration, error) {
	b, err := a.store.Declaration(id)
	if err != nil || b == nil {
		return nil, err
	}
	d, err := declaration.Parse(b)
	if err != nil {
		// Stored only after validation; a failure here is a rule change.
		a.log.Warn("stored declaration no longer valid; ignored", "container_id", id, "err", err)
		return nil, nil
	}
	return d, nil
}

// afterCommit learns from a committed scan: a vehicle weighed without a
// container teaches us its tare. (The weight the scan joined is marked as
// its own by the commit itself.)
func (a *Agent) afterCommit(sc *scanin.Sidecar, j Joined, analysisErr error) {
	if j.Weight == nil {
		return
	}
	if sc.Vehicle.Plate != "" && errors.Is(analysisErr, vision.ErrNoContainer) {
		if err := a.store.PutPlateTare(sc.Vehicle.Plate, j.Weight.GrossKg, time.Now()); err == nil {
			a.log.Info("vehicle tare learned", "plate", sc.Vehicle.Plate, "tare_kg", j.Weight.GrossKg)
		}
	}
}

// hasWeighbridge tells whether the lane's trucks are weighed at the gate.
func hasWeighbridge(cfg *config.Config, lane string) bool {
	lc := cfg.Lane(lane)
	return lc != nil && lc.Weighbridge != nil
}

// Inspect inspects a decoded scan joined with j: the daemon, replay and
// batch inspect all go through here. timingsMS are the stages timed so
// far (decode, join); the detector's and the assessment's are added.
func Inspect(cfg *config.Config, det *vision.Detector, scan *scanin.Scan, j Joined, timingsMS map[string]float64) ([]inspection.Result, *assess.Case) {
	c := &assess.Case{Declarations: j.Declarations, Corrected: j.Corrected, Weighbridge: j.Weighbridge,
		LaneTareKg: j.LaneTareKg, PlateTareKg: j.PlateTareKg, TimingsMS: timingsMS}
	if j.Weight != nil {
		c.GrossKg = &j.Weight.GrossKg
	}
	return assess.Inspect(cfg, det, scan, c), c
}
