package agent

// A scan's annotated images are made after its results are committed
// (the result does not wait for them), so a crash in between would lose
// them. The commit therefore notes in the buffer that the images follow
// (imagesNote, under the scan's key), and the transaction that queues
// them deletes the note (queueImages). At start, before the first scan
// is taken up, remakeImages makes the images of every note left by a
// crash again from the scan's files, which are still in the inbox (the
// clean-up comes after the images): the scan is neither inspected nor
// published again, only its pictures are redone, then the scan loop
// cleans it up as any committed scan. Images that cannot be made again
// (files gone, results pruned, a failure) are counted, logged and their
// note dropped: nothing holds the start.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	"github.com/gatescan/gatescan/agent/assess"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

// imagesNote is what the agent needs to make a committed scan's images
// again: where its sidecar was, what the detector was told of its
// containers, and which box each result's image shows (the assessment
// may have swapped two boxes to fit their declarations).
type imagesNote struct {
	Sidecar string   `json:"sidecar"`
	Types   []string `json:"types,omitempty"`
	// Boxes are, per result in commit order, the outer rectangle of its
	// container in the scan: x0, y0, x1, y1 (results past them have no
	// image).
	Boxes [][4]int `json:"boxes"`
}

// noteImages is the note committed with a scan whose images are to
// follow; nil when no image will be made (nothing analysed).
func noteImages(path string, j Joined, an *vision.Analysis, results int) json.RawMessage {
	if an == nil || results == 0 || len(an.Containers) == 0 {
		return nil
	}
	n := imagesNote{Sidecar: path, Types: assess.Types(j.Declarations)}
	for i := range min(results, len(an.Containers)) {
		r := an.Containers[i].OuterPx
		n.Boxes = append(n.Boxes, [4]int{r.Min.X, r.Min.Y, r.Max.X, r.Max.Y})
	}
	b, err := json.Marshal(n)
	if err != nil {
		return nil
	}
	return b
}

// Why images noted as pending at start were not made again
// (gatescan_annotated_images_lost_total{why}).
const (
	lostFilesGone    = "files_gone"    // the scan's files are no longer in the inbox or processed_dir
	lostResultsGone  = "results_gone"  // the scan's results are no longer in the buffer (retention)
	lostRemakeFailed = "remake_failed" // reading, analysing or drawing failed, or a start before crashed in it
)

// remakeImages makes again, once at start, the annotated images that a
// crash lost between their scans' commits and their queueing. It must
// run before the scan loop takes up a scan: a committed scan found in
// the inbox is cleaned up at once.
func (a *Agent) remakeImages(ctx context.Context, det *vision.Detector) {
	pending, err := a.store.ImagesPending()
	if err != nil {
		a.log.Error("annotated images pending since before the start not read; tried again at the next start", "err", err)
		return
	}
	for _, p := range pending {
		if ctx.Err() != nil {
			return
		}
		a.ops.beat.Store(time.Now().UnixNano()) // the scan loop's watchdog: alive, not stuck
		a.remakeImagesOf(det, p)
	}
}

// remakeImagesOf makes one scan's images again, or counts them lost; in
// both cases its note is gone after.
func (a *Agent) remakeImagesOf(det *vision.Detector, p buffer.PendingImages) {
	var note imagesNote
	noteErr := json.Unmarshal(p.Note, &note)
	lost := func(why string, err error) {
		n := max(1, len(note.Boxes))
		a.metrics.ImagesLost.WithLabelValues(why).Add(float64(n))
		a.log.Error("annotated images lost: the agent stopped between the scan's commit and its images, and they cannot be made again; the result and alert were kept and sent",
			"scan_key", p.Key, "images", n, "why", why, "err", err, "sidecar", note.Sidecar, "committed", p.At)
		if err := a.store.DropPendingImages(p.Key); err != nil {
			a.log.Warn("note of the lost images not dropped; counted again at the next start", "scan_key", p.Key, "err", err)
		}
	}
	if noteErr != nil {
		lost(lostRemakeFailed, fmt.Errorf("note unreadable: %w", noteErr))
		return
	}
	if p.Tries > 0 {
		// Not tried a second time: whatever stopped the last try (a crash
		// in the decoder or the detector) would stop this start too.
		lost(lostRemakeFailed, fmt.Errorf("a start before this one began making them again and never ended (%d tries)", p.Tries))
		return
	}
	if _, err := a.store.RetryImages(p.Key); err != nil {
		a.log.Error("try at the annotated images pending since before the start not recorded; tried again at the next start", "scan_key", p.Key, "err", err)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("making annotated images again panicked", "scan_key", p.Key, "panic", r, "stack", string(debug.Stack()))
			lost(lostRemakeFailed, fmt.Errorf("internal error: %v", r))
		}
	}()
	raw, _, err := a.store.ScanResults(p.Key)
	if err != nil || len(raw) < len(note.Boxes) {
		lost(lostResultsGone, errors.Join(err, fmt.Errorf("%d of the scan's %d results in the buffer", len(raw), len(note.Boxes))))
		return
	}
	results := make([]inspection.Result, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &results[i]); err != nil {
			lost(lostRemakeFailed, fmt.Errorf("stored result unreadable: %w", err))
			return
		}
	}
	scan, err := a.findCommitted(note.Sidecar, p.Key)
	if err != nil {
		lost(lostFilesGone, err)
		return
	}
	defer scan.Close()
	if err := scan.Decode(); err != nil {
		lost(lostRemakeFailed, err)
		return
	}
	defer det.Free()
	defer debug.FreeOSMemory()
	an, err := assess.Analyze(det, scan, note.Types)
	if err != nil {
		lost(lostRemakeFailed, err)
		return
	}
	// Each result's image is of the box it was assessed with.
	shown := *an
	shown.Containers = nil
	var with []inspection.Result
	for i, b := range note.Boxes {
		if k := nearestBox(an.Containers, image.Rect(b[0], b[1], b[2], b[3])); k >= 0 {
			shown.Containers = append(shown.Containers, an.Containers[k])
			with = append(with, results[i])
		}
	}
	msgs := a.queueImages(p.Key, scan.Sidecar, with, det, &shown)
	made := 0
	for _, m := range msgs {
		if m.Image {
			made++
		}
	}
	if missing := len(note.Boxes) - made; missing > 0 && a.checkDisk() == diskOK {
		// Not for the disk: queueImages says why (not made, or not kept).
		a.metrics.ImagesLost.WithLabelValues(lostRemakeFailed).Add(float64(missing))
	}
	a.metrics.ImagesRemade.Add(float64(made))
	a.log.Warn("annotated images made again: the agent had stopped between the scan's commit and its images",
		"scan_id", scan.Sidecar.ScanID, "scan_key", p.Key, "images", made, "of", len(note.Boxes))
}

// findCommitted opens the files of the scan committed under key: at the
// sidecar path noted, else under its name in the inbox or processed_dir
// (moved there since). They must be the very scan committed (its lane,
// time and images), not another under the same name.
func (a *Agent) findCommitted(sidecar, key string) (*scanin.Scan, error) {
	cfg := a.Config()
	name := filepath.Base(sidecar)
	var tried []string
	for _, p := range []string{sidecar, filepath.Join(cfg.Scanner.Inbox, name), filepath.Join(ProcessedDir(cfg), name)} {
		if sidecar == "" || slices.Contains(tried, p) {
			continue
		}
		tried = append(tried, p)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		scan, err := scanin.Open(p, scanLimits(cfg))
		if err != nil {
			a.log.Warn("scan files of pending images unreadable", "path", p, "err", err)
			continue
		}
		id, err := identify(a.store, scan)
		if err == nil && id.done && id.key == key {
			return scan, nil
		}
		scan.Close()
	}
	return nil, fmt.Errorf("scan files not found (looked for %v): removed, or the scan was kept elsewhere", tried)
}

// nearestBox is the index of the box that overlaps r most, or -1 if none
// does.
func nearestBox(boxes []vision.Container, r image.Rectangle) int {
	best, area := -1, 0
	for i := range boxes {
		in := boxes[i].OuterPx.Intersect(r)
		if a := in.Dx() * in.Dy(); a > area {
			best, area = i, a
		}
	}
	return best
}
