package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatescan/gatescan/drivers/scanin"
)

// Scanners write a scan's images first and its sidecar last. The
// predecoder decodes each image as soon as it has settled in the inbox,
// while the scan loop has no scan in hand, and holds it for its scan:
// when the sidecar comes, the scan takes its images (Scan.DecodeWith) and
// only the detector is left. It holds at most scanner.predecode_images
// images, each at most scanner.predecode_keep, so that images whose
// sidecar never comes do not hold memory; an image replaced since it was
// decoded is decoded again by its scan. Nothing here decides anything
// about a scan: an image that fails to decode ahead is decoded again by
// its scan, under its attempts, which says what is wrong, counts it and
// rejects or quarantines it as before.
type predecoder struct {
	a *Agent

	mu sync.Mutex
	// idle: the scan loop waits for work, so a decode may start (it never
	// starts while a scan is in hand: decoding ahead then would only add a
	// scan's images to the memory of the one being inspected).
	idle    bool
	pending []string              // landed, to be decoded, oldest first
	held    map[string]*heldImage // by path
	// tried is the version of each file decoded or tried ahead: a file is
	// decoded ahead once, however often the rescans report it.
	tried map[string]scanin.FileID
	// handovers counts the scans taken up (handOver): an image whose
	// decode was under way when another scan was taken up is not held
	// beside that scan.
	handovers uint64
	wake      chan struct{}
}

type heldImage struct {
	img   *scanin.Image // nil while being decoded
	done  chan struct{} // closed once decoded, or failed (and gone from held)
	at    time.Time     // decoded at
	epoch uint64        // handovers when its decode began
}

// markerName is the file, in the scan inbox, naming the image being
// decoded ahead. Found at start, it names an image whose decode did not
// end (the agent crashed in it, hung and was killed, or was stopped): that
// version is not decoded ahead again, and its scan decodes it under
// scanner.max_attempts.
const markerName = ".predecoding"

func newPredecoder(a *Agent) *predecoder {
	return &predecoder{a: a, held: map[string]*heldImage{}, tried: map[string]scanin.FileID{}, wake: make(chan struct{}, 1)}
}

func (p *predecoder) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// isImage tells the files the predecoder takes from those the scan queue
// takes, by the suffixes a sidecar's images may have.
func isImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".tif", ".tiff":
		return true
	}
	return false
}

// imageSuffixes are the inbox watcher's suffixes for images.
var imageSuffixes = []string{".png", ".tif", ".tiff", ".PNG", ".TIF", ".TIFF"}

// landed queues the image at path for decoding ahead, unless this version
// of it is held or was tried already.
func (p *predecoder) landed(path string) {
	if p.a.Config().Scanner.PredecodeImages <= 0 {
		return
	}
	id, err := scanin.StatFile(path)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if h := p.held[path]; h != nil {
		if h.img == nil || h.img.File == id {
			return
		}
		p.release(path, "replaced")
	}
	if p.tried[path] == id || slices.Contains(p.pending, path) {
		return
	}
	p.pending = append(p.pending, path)
	// A burst of images while the loop is busy: the newest are those whose
	// sidecars are yet to come.
	if max := 4 * p.a.Config().Scanner.PredecodeImages; len(p.pending) > max {
		p.pending = slices.Delete(p.pending, 0, len(p.pending)-max)
	}
	p.poke()
}

// setIdle tells whether the scan loop waits for work.
func (p *predecoder) setIdle(idle bool) {
	p.mu.Lock()
	p.idle = idle
	p.mu.Unlock()
	if idle {
		p.poke()
	}
}

// handOver hands over the images decoded ahead from the image files of
// the scan about to be decoded, waiting for a decode under way, by path;
// the caller owns them. Every other image held is let go: held while this
// scan is decoded and inspected, it would only add to its memory (its own
// scan decodes it, if it comes).
func (p *predecoder) handOver(files []string) map[string]*scanin.Image {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := map[string]*scanin.Image{}
	for _, path := range files {
		if im := p.take(path); im != nil {
			got[path] = im
		}
	}
	for path := range p.held {
		p.release(path, "evicted")
	}
	p.handovers++
	return got
}

// take takes the image decoded ahead from the file at path out of held,
// waiting (unlocking p.mu meanwhile) for a decode under way; nil if there
// is none.
func (p *predecoder) take(path string) *scanin.Image {
	for {
		h := p.held[path]
		if h == nil {
			// Decoded by its scan: no use decoding it ahead any more.
			p.pending = slices.DeleteFunc(p.pending, func(q string) bool { return q == path })
			return nil
		}
		if h.img == nil {
			p.mu.Unlock()
			<-h.done
			p.mu.Lock()
			continue
		}
		delete(p.held, path)
		p.a.metrics.PredecodeHeld.Set(float64(len(p.held)))
		return h.img
	}
}

// release lets go of the held image at path, counted under why.
func (p *predecoder) release(path, why string) {
	h := p.held[path]
	if h == nil || h.img == nil {
		return
	}
	h.img.Close()
	delete(p.held, path)
	p.a.metrics.PredecodeReleased.WithLabelValues(why).Inc()
	p.a.metrics.PredecodeHeld.Set(float64(len(p.held)))
}

// run decodes the images queued while the scan loop is idle and lets go
// of those kept past scanner.predecode_keep, until ctx ends.
func (p *predecoder) run(ctx context.Context) {
	p.recover()
	defer p.closeAll()
	// Often enough that an image is not kept much past predecode_keep.
	tick := time.NewTicker(min(time.Second, max(p.a.Config().Scanner.PredecodeKeep/4, 10*time.Millisecond)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-tick.C:
		}
		p.expire()
		for ctx.Err() == nil {
			path, id := p.next()
			if path == "" {
				break
			}
			p.decode(path, id)
		}
	}
}

// next picks the oldest image queued, if the loop is idle, and makes room
// for it; "" if there is nothing to do now.
func (p *predecoder) next() (string, scanin.FileID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	max := p.a.Config().Scanner.PredecodeImages
	for p.idle && len(p.pending) > 0 && max > 0 {
		path := p.pending[0]
		p.pending = p.pending[1:]
		id, err := scanin.StatFile(path)
		if err != nil || p.tried[path] == id {
			continue // gone (its scan done), or decoded already
		}
		if !p.makeRoom(max) {
			p.pending = append([]string{path}, p.pending...)
			return "", scanin.FileID{}
		}
		p.tried[path] = id
		p.held[path] = &heldImage{done: make(chan struct{}), epoch: p.handovers}
		return path, id
	}
	return "", scanin.FileID{}
}

// makeRoom lets go of the images held longest until fewer than max are
// held; false if it cannot (one is still being decoded).
func (p *predecoder) makeRoom(max int) bool {
	for len(p.held) >= max {
		oldest := ""
		for q, h := range p.held {
			if h.img == nil {
				return false
			}
			if oldest == "" || h.at.Before(p.held[oldest].at) {
				oldest = q
			}
		}
		p.release(oldest, "evicted")
	}
	return true
}

// decode decodes the image at path ahead, with the marker naming it on
// disk meanwhile.
func (p *predecoder) decode(path string, id scanin.FileID) {
	cfg := p.a.Config()
	lim := scanin.Limits{MaxWidth: cfg.Scanner.MaxWidth, MaxHeight: cfg.Scanner.MaxHeight, MaxFileBytes: cfg.Scanner.MaxFileMB << 20}
	marker := filepath.Join(cfg.Scanner.Inbox, markerName)
	if err := os.WriteFile(marker, markerText(path, id), 0o640); err != nil {
		// Without the marker a crash in the decoder would come back at
		// every start: not decoded ahead; its scan decodes it.
		p.a.log.Warn("image not decoded ahead: cannot write the marker", "path", path, "err", err)
		p.failed(path, nil)
		return
	}
	start := time.Now()
	im, err := decodeSafely(path, lim)
	if err := os.Remove(marker); err != nil {
		p.a.log.Warn("marker of the image decoded ahead not removed", "path", marker, "err", err)
	}
	if err != nil {
		p.failed(path, err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.held[path]
	h.img, h.at = im, time.Now()
	close(h.done)
	p.a.metrics.Predecoded.Inc()
	if h.epoch != p.handovers && !p.idle {
		p.release(path, "evicted") // another scan was taken up meanwhile, and is in hand
	}
	p.a.metrics.PredecodeHeld.Set(float64(len(p.held)))
	p.a.log.Debug("image decoded ahead of its sidecar", "path", path, "ms", ms(time.Since(start)))
}

// failed drops the entry of an image that could not be decoded ahead:
// its scan decodes it, and says what is wrong.
func (p *predecoder) failed(path string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.held[path]
	delete(p.held, path)
	close(h.done)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		p.a.metrics.PredecodeFailures.Inc()
		p.a.log.Info("image not decoded ahead; its scan decodes it", "path", path, "err", err)
	}
}

// decodeSafely is scanin.DecodeImage, with a panic in a decoder an error.
func decodeSafely(path string, lim scanin.Limits) (im *scanin.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			im, err = nil, fmt.Errorf("internal error decoding %s: %v\n%s", filepath.Base(path), r, debug.Stack())
		}
	}()
	return scanin.DecodeImage(path, lim)
}

// expire lets go of the images kept past scanner.predecode_keep, and
// forgets the versions tried of files gone or replaced.
func (p *predecoder) expire() {
	keep := p.a.Config().Scanner.PredecodeKeep
	p.mu.Lock()
	defer p.mu.Unlock()
	for path, h := range p.held {
		if h.img != nil && time.Since(h.at) > keep {
			p.release(path, "expired")
		}
	}
	for path, id := range p.tried {
		if now, err := scanin.StatFile(path); err != nil || now != id {
			delete(p.tried, path)
		}
	}
}

// markerText is what the marker says: the image's path, and its version.
func markerText(path string, id scanin.FileID) []byte {
	return fmt.Appendf(nil, "%s\n%d %d %d %d %d\n", path, id.Dev, id.Ino, id.Size, id.Mtime, id.Ctime)
}

// recover reads the marker a decode that did not end left: that version
// of the image is not decoded ahead again.
func (p *predecoder) recover() {
	marker := filepath.Join(p.a.Config().Scanner.Inbox, markerName)
	b, err := os.ReadFile(marker)
	if err != nil {
		return
	}
	path, rest, _ := strings.Cut(string(b), "\n")
	var id scanin.FileID
	if _, err := fmt.Sscanf(rest, "%d %d %d %d %d", &id.Dev, &id.Ino, &id.Size, &id.Mtime, &id.Ctime); err == nil {
		p.mu.Lock()
		p.tried[path] = id
		p.mu.Unlock()
		p.a.log.Warn("the decode ahead of an image did not end at the last run (the agent stopped, crashed or hung in it); its scan decodes it, under scanner.max_attempts",
			"path", path)
	}
	os.Remove(marker)
}

// closeAll lets go of every image held, at shutdown.
func (p *predecoder) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for path, h := range p.held {
		if h.img != nil {
			h.img.Close()
		}
		delete(p.held, path)
	}
	p.a.metrics.PredecodeHeld.Set(0)
}
