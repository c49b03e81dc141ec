package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/mqtttest"
	"github.com/gatescan/gatescan/internal/testbroker"
	"github.com/gatescan/gatescan/vision"
)

// crashAfterCommit makes the scan loop die, as the agent would in a
// crash, once the results of scan id are committed and before its
// annotated images are made: nothing after that runs (runtime.Goexit
// runs only the deferred calls, as a process's end releases what it
// held).
func crashAfterCommit(t *testing.T, id string) {
	committedHook = func(s *scanin.Scan) {
		if s.Sidecar.ScanID == id {
			runtime.Goexit()
		}
	}
	t.Cleanup(func() { committedHook = nil })
}

// gateOn is an agent on cfg's buffer whose scans the test drives
// (directAgent), its log kept; stop closes the buffer, as the end of the
// process would.
func gateOn(t *testing.T, cfg *config.Config) (a *Agent, log *agenttest.LogBuffer, stop func()) {
	t.Helper()
	st, err := buffer.Open(cfg.Buffer.Dir, buffer.Options{SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { st.Close() }) }
	t.Cleanup(stop)
	log = &agenttest.LogBuffer{}
	a = New(cfg, slog.New(slog.NewTextHandler(log, nil)), Options{})
	a.store, a.scans = st, newScanQueue()
	if a.pub, err = publish.New(cfg, st, Version, a.log, a.declarationFromMQTT); err != nil {
		t.Fatal(err)
	}
	return a, log, stop
}

// processDying runs processScan on the scan as processScans does, in a
// goroutine of its own that crashAfterCommit may end.
func (a *Agent) processDying(t *testing.T, name string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.process(t, context.Background(), name)
	}()
	<-done
}

// start is what the scan loop does at start before it takes up a scan.
func (a *Agent) start() {
	det := newDetector(a.Config())
	defer det.Close()
	a.remakeImages(context.Background(), det)
}

// outbox returns the queued messages on topic.
func (a *Agent) outbox(t *testing.T, topic string) []buffer.Message {
	t.Helper()
	all, err := a.store.Pending(0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []buffer.Message
	for _, m := range all {
		if m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

func (a *Agent) pendingImages(t *testing.T) int {
	t.Helper()
	p, err := a.store.ImagesPending()
	if err != nil {
		t.Fatal(err)
	}
	return len(p)
}

// TestImagesRemadeAfterCrash: the agent dies after a scan's result is
// committed and before its annotated image is made. At the next start
// the image is made again from the scan's files, still in the inbox,
// and queued once, the same picture as a run without the crash makes;
// the scan is not inspected or queued again, then cleaned up; a later
// start makes nothing more.
func TestImagesRemadeAfterCrash(t *testing.T) {
	cfg := scanConfig(t, 0, "")
	spare := t.TempDir()
	agenttest.TinyScan(t, spare, "crash", "crash", "L1", time.Now())
	copyScan(t, spare, cfg.Scanner.Inbox, "crash")
	id := inspection.ID(cfg.Site, cfg.Gate, "crash", 0)
	topics := publish.NewTopics(cfg.Site, cfg.Gate)

	a, _, stop := gateOn(t, cfg)
	crashAfterCommit(t, "crash")
	a.processDying(t, "crash")
	committed, err := a.store.Result(id)
	if err != nil {
		t.Fatalf("result not committed before the crash: %v", err)
	}
	if n := len(a.outbox(t, topics.Image(id))); n != 0 || a.pendingImages(t) != 1 {
		t.Fatalf("after the crash: %d images queued, %d scans' images pending; want none queued, 1 pending", n, a.pendingImages(t))
	}
	if _, err := os.Stat(filepath.Join(cfg.Scanner.Inbox, "crash.json")); err != nil {
		t.Fatalf("the scan's files left the inbox before its images were made: %v", err)
	}
	results := len(a.outbox(t, topics.Inspections()))
	stop()
	committedHook = nil

	// The next start.
	a, log, stop := gateOn(t, cfg)
	seq := a.lastSeq(t)
	a.start()
	imgs := a.outbox(t, topics.Image(id))
	if len(imgs) != 1 || a.lastSeq(t) != seq+1 {
		t.Fatalf("at the restart: %d images of %s queued, %d messages in all; want exactly the one image", len(imgs), id, a.lastSeq(t)-seq)
	}
	if !imgs[0].Image || imgs[0].Ref != id || !bytes.HasPrefix(imgs[0].Payload, []byte{0xff, 0xd8}) {
		t.Errorf("image queued as %+v", imgs[0].Ref)
	}
	if a.pendingImages(t) != 0 {
		t.Error("the note that the images were pending is still there once they are queued")
	}
	if n := count(a.metrics.ImagesRemade); n != 1 {
		t.Errorf("gatescan_annotated_images_remade_total %v, want 1", n)
	}
	if !strings.Contains(log.String(), "annotated images made again") {
		t.Errorf("the remaking not logged:\n%s", log.String())
	}
	// The scan loop then finds the committed scan: cleaned up, not inspected again.
	a.process(t, context.Background(), "crash")
	if _, err := os.Stat(filepath.Join(cfg.Scanner.Inbox, "crash.json")); err == nil {
		t.Error("the committed scan not cleaned up")
	}
	if b, _ := a.store.Result(id); !bytes.Equal(b, committed) {
		t.Error("the committed result changed: the scan was inspected again")
	}
	if n := len(a.outbox(t, topics.Inspections())); n != results || a.lastSeq(t) != seq+1 {
		t.Errorf("%d results queued after the restart, %d before; %d messages since: the scan was published again", n, results, a.lastSeq(t)-seq)
	}
	a.start() // another start: nothing pending
	if a.lastSeq(t) != seq+1 || count(a.metrics.ImagesRemade) != 1 {
		t.Errorf("a second start queued %d more messages", a.lastSeq(t)-seq-1)
	}
	remade := imgs[0].Payload
	stop()

	// The same scan without the crash, on a buffer of its own: the same picture.
	cfg2 := *cfg
	cfg2.Buffer.Dir = filepath.Join(t.TempDir(), "buf")
	copyScan(t, spare, cfg.Scanner.Inbox, "crash")
	b, _, _ := gateOn(t, &cfg2)
	b.process(t, context.Background(), "crash")
	plain := b.outbox(t, topics.Image(id))
	if len(plain) != 1 || !bytes.Equal(plain[0].Payload, remade) {
		t.Errorf("the image made again (%d bytes) is not the one made without the crash (%d images)", len(remade), len(plain))
	}
	if b.pendingImages(t) != 0 {
		t.Error("a scan processed without a crash left its images noted as pending")
	}
}

// TestImagesLostAtStart: images noted as pending whose scan files are
// gone, or whose remaking a start before already began and never ended
// (it crashed the agent), are counted lost, logged, and their notes
// dropped; the start goes on, and the second scan is cleaned up.
func TestImagesLostAtStart(t *testing.T) {
	cfg := scanConfig(t, 0, "")
	in := cfg.Scanner.Inbox
	a, _, stop := gateOn(t, cfg)
	crashAfterCommit(t, "gone")
	agenttest.TinyScan(t, in, "gone", "gone", "L1", time.Now())
	a.processDying(t, "gone")
	crashAfterCommit(t, "poison")
	agenttest.TinyScan(t, in, "poison", "poison", "L1", time.Now())
	a.processDying(t, "poison")
	if n := a.pendingImages(t); n != 2 {
		t.Fatalf("%d scans' images pending after the crashes, want 2", n)
	}
	// A start began making poison's image and died in it.
	if _, err := a.store.RetryImages("poison"); err != nil {
		t.Fatal(err)
	}
	stop()
	committedHook = nil
	for _, n := range []string{"gone.png", "gone.json"} {
		os.Remove(filepath.Join(in, n)) // removed by hand meanwhile
	}

	a, log, _ := gateOn(t, cfg)
	seq := a.lastSeq(t)
	a.start()
	if n := a.pendingImages(t); n != 0 {
		t.Errorf("%d notes left after the start, want them dropped", n)
	}
	if a.lastSeq(t) != seq {
		t.Errorf("%d messages queued for lost images", a.lastSeq(t)-seq)
	}
	for why, want := range map[string]float64{lostFilesGone: 1, lostRemakeFailed: 1, lostResultsGone: 0} {
		if n := count(a.metrics.ImagesLost.WithLabelValues(why)); n != want {
			t.Errorf("gatescan_annotated_images_lost_total{why=%q} %v, want %v", why, n, want)
		}
	}
	logged := log.String()
	for _, want := range []string{"scan_key=gone", "why=files_gone", "scan_key=poison", "why=remake_failed", "never ended"} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log does not say %q:\n%s", want, logged)
		}
	}
	if count(a.metrics.ImagesRemade) != 0 {
		t.Error("an image counted as made again")
	}
	a.process(t, context.Background(), "poison")
	if _, err := os.Stat(filepath.Join(in, "poison.json")); err == nil {
		t.Error("the committed scan whose image was lost not cleaned up")
	}
	if a.lastSeq(t) != seq {
		t.Error("the committed scan was queued again")
	}
}

// TestImagesNotKeptDiskLowNoNote: with the disk under buffer.min_free_mb
// the annotated image is not kept, and the note that it follows goes
// too: nothing is left for the next start to make or count.
func TestImagesNotKeptDiskLowNoNote(t *testing.T) {
	cfg := scanConfig(t, 0, "")
	free, err := buffer.FreeBytes(filepath.Dir(cfg.Buffer.Dir))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Buffer.MinFreeMB = free * 3 / 2 >> 20 // free is under it, over half of it: low
	a, _, _ := gateOn(t, cfg)
	agenttest.TinyScan(t, cfg.Scanner.Inbox, "low", "low", "L1", time.Now())
	a.process(t, context.Background(), "low")
	id := inspection.ID(cfg.Site, cfg.Gate, "low", 0)
	if _, err := a.store.Result(id); err != nil {
		t.Fatalf("result not committed with the disk low: %v", err)
	}
	if a.checkDisk() != diskLow {
		t.Skipf("the disk's free space moved too much (%d MB at first)", free>>20)
	}
	if n := len(a.outbox(t, a.pub.Topics().Image(id))); n != 0 || a.disk.skipped.Load() != 1 {
		t.Errorf("%d images queued, %d not kept: want the image not kept", n, a.disk.skipped.Load())
	}
	if n := a.pendingImages(t); n != 0 {
		t.Errorf("%d notes of pending images left with the image not kept", n)
	}
}

// TestImagesRemadeAtStart: the daemon (Run) dies after a scan's result
// is committed and published, before its image; started again, it
// publishes the image once, and not the result again.
func TestImagesRemadeAtStart(t *testing.T) {
	b := testbroker.Start(t)
	cfg := scanConfig(t, 0, "")
	cfg.MQTT.Broker = b.URL()
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	rec := mqtttest.Listen(t, b.URL(), "", topics.Base+"/inspections/#")
	id := inspection.ID(cfg.Site, cfg.Gate, "run-crash", 0)
	images := func() int { return rec.Count(topics.Image(id)) }

	crashAfterCommit(t, "run-crash")
	a := New(cfg, quietLog(), Options{})
	stop := agenttest.Start(t, a)
	agenttest.TinyScan(t, cfg.Scanner.Inbox, "run-crash", "run-crash", "L1", time.Now())
	agenttest.Eventually(t, 30*time.Second, "result published", func() bool { return rec.Count(topics.Inspections()) == 1 })
	stop()
	committedHook = nil
	if images() != 0 {
		t.Fatal("image published before the restart")
	}

	a = New(cfg, quietLog(), Options{})
	agenttest.Start(t, a)
	agenttest.Eventually(t, 30*time.Second, "image published after the restart", func() bool { return images() == 1 })
	agenttest.Eventually(t, 30*time.Second, "scan cleaned up", func() bool {
		_, err := os.Stat(filepath.Join(cfg.Scanner.Inbox, "run-crash.json"))
		return err != nil
	})
	time.Sleep(500 * time.Millisecond) // anything more would be on its way
	if n, r := images(), rec.Count(topics.Inspections()); n != 1 || r != 1 {
		t.Errorf("%d images and %d results published in all, want one each", n, r)
	}
}

// TestImagesNoteBoxes: the note records, per result, the box its image
// shows, in the order the assessment left them (two boxes it swapped
// stay swapped); at start each result finds its box again in a new
// analysis by overlap, whatever order the detector gives them in.
func TestImagesNoteBoxes(t *testing.T) {
	left, right := image.Rect(10, 5, 100, 45), image.Rect(110, 5, 200, 45)
	an := &vision.Analysis{Containers: []vision.Container{{OuterPx: right}, {OuterPx: left}}} // swapped
	var n imagesNote
	if err := json.Unmarshal(noteImages("/in/s.json", Joined{}, an, 2), &n); err != nil {
		t.Fatal(err)
	}
	if n.Sidecar != "/in/s.json" || len(n.Boxes) != 2 || n.Boxes[0] != [4]int{110, 5, 200, 45} || n.Boxes[1] != [4]int{10, 5, 100, 45} {
		t.Fatalf("note %+v", n)
	}
	if noteImages("/in/s.json", Joined{}, nil, 1) != nil || noteImages("/in/s.json", Joined{}, &vision.Analysis{}, 1) != nil {
		t.Error("a note for a scan with nothing analysed: no image follows")
	}
	again := []vision.Container{{OuterPx: left.Add(image.Pt(2, 0))}, {OuterPx: right.Add(image.Pt(-1, 1))}}
	for i, want := range []int{1, 0} {
		b := n.Boxes[i]
		if got := nearestBox(again, image.Rect(b[0], b[1], b[2], b[3])); got != want {
			t.Errorf("result %d's box found at %d, want %d", i, got, want)
		}
	}
	if got := nearestBox(again, image.Rect(300, 0, 400, 40)); got != -1 {
		t.Errorf("a box overlapping none found at %d", got)
	}
}
