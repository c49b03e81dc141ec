package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatescan/gatescan/agent/web"
	"github.com/gatescan/gatescan/buffer"
)

// The disk the buffer lives on, as the agent sees it before each commit
// and at each housekeeping turn.
const (
	diskOK   = iota
	diskLow  // under buffer.min_free_mb: images are no longer kept
	diskFull // under half of it: the buffer commits nothing; results go live
)

var diskProblem = [...]string{diskOK: "", diskLow: "disk_low", diskFull: "disk_full"}

// diskWatch is what the agent knows of the buffer's disk.
type diskWatch struct {
	mu    sync.Mutex
	state int
	free  int64
	// budget is the disk budget in force, in bytes (0: none): max_disk_mb,
	// or derived from the free space at start.
	budget int64
	// skipped counts the images not kept while the disk was low, lived
	// the ones published live while it was full.
	skipped atomic.Uint64
	lived   atomic.Uint64
}

// floorBytes is buffer.min_free_mb; the store refuses writes under half
// of it.
func (a *Agent) floorBytes() int64 { return a.Config().Buffer.MinFreeMB << 20 }

// autoBudget derives the default disk budget from the space free when the
// agent starts: half of what the buffer could grow into (its own size and
// the free space), never under buffer.MinBudget.
func autoBudget(dir string, used int64) (int64, error) {
	free, err := buffer.FreeBytes(dir)
	if err != nil {
		return 0, err
	}
	return max(buffer.MinBudget, (free+used)/2), nil
}

// setBudget decides the disk budget at start (buffer.max_disk_mb: a size,
// 0 for the automatic one, -1 for none) and logs it.
func (a *Agent) setBudget() {
	b := a.Config().Buffer
	switch {
	case b.MaxDiskMB > 0:
		a.disk.budget = b.MaxDiskMB << 20
	case b.MaxDiskMB == 0:
		used, _ := a.store.DiskBytes()
		budget, err := autoBudget(b.Dir, used)
		if err != nil {
			a.log.Error("no disk budget: cannot read the free space", "dir", b.Dir, "err", err)
			return
		}
		a.disk.budget = budget
		a.log.Info("disk budget: half the space the buffer could take at start (buffer.max_disk_mb: 0)", "budget_mb", budget>>20, "dir", b.Dir)
	}
	a.store.SetReserve(a.floorBytes() / 2)
}

// checkDisk reads the free space, moves between ok, low and full, and
// reports each change: the log, …/status and the page (disk_low,
// disk_full). An unreadable free space counts as ok: the buffer's own
// errors say more.
func (a *Agent) checkDisk() int {
	floor := a.floorBytes()
	if floor <= 0 || a.store == nil {
		return diskOK
	}
	free, err := a.store.FreeBytes()
	if err != nil {
		a.log.Warn("cannot read the buffer disk's free space", "err", err)
		return diskOK
	}
	state := diskOK
	switch {
	case free < floor/2:
		state = diskFull
	case free < floor:
		state = diskLow
	}
	a.disk.mu.Lock()
	was := a.disk.state
	a.disk.state, a.disk.free = state, free
	a.disk.mu.Unlock()
	if state == was {
		return state
	}
	dir := a.Config().Buffer.Dir
	attrs := []any{"dir", dir, "free_mb", free >> 20, "min_free_mb", floor >> 20}
	switch state {
	case diskOK:
		a.log.Info("buffer disk has room again: images are kept again", attrs...)
	case diskLow:
		a.log.Error("buffer disk nearly full: inspections go on and their results are kept and sent, annotated images are no longer kept", attrs...)
	case diskFull:
		a.log.Error("buffer disk full: the buffer commits nothing more; inspections go on and their results are sent live, a scan whose result cannot be sent stays in the inbox", attrs...)
	}
	if a.pub != nil {
		for s := diskLow; s <= diskFull; s++ {
			msg := ""
			if s == state {
				msg = a.diskMessage(state, free, floor)
			}
			a.pub.SetProblem(diskProblem[s], msg)
		}
	}
	return state
}

func (a *Agent) diskMessage(state int, free, floor int64) string {
	dir := a.Config().Buffer.Dir
	if state == diskLow {
		return fmt.Sprintf("%d MB free on the buffer's disk (%s), under buffer.min_free_mb %d: annotated images are not kept; results and alerts are. Free space there", free>>20, dir, floor>>20)
	}
	return fmt.Sprintf("%d MB free on the buffer's disk (%s), under half of buffer.min_free_mb %d: the buffer commits nothing; results and alerts are published live, without the outbox, and a scan whose result cannot be sent waits in the inbox. Free space there", free>>20, dir, floor>>20)
}

// keepable is what of a scan's messages the buffer keeps: with the disk
// low, not the annotated images.
func (a *Agent) keepable(msgs []buffer.Message) []buffer.Message {
	if a.checkDisk() == diskOK {
		return msgs
	}
	kept := msgs[:0:0]
	for _, m := range msgs {
		if m.Image {
			a.disk.skipped.Add(1)
			a.outboxMetrics().dropped.WithLabelValues("image").Inc()
			continue
		}
		kept = append(kept, m)
	}
	return kept
}

// commitScan commits a scan's results; when the buffer refuses for lack of
// disk space, the results and alerts are published live instead, and the
// scan counts as committed once the broker has them. ok is false for a
// scan committed before.
func (a *Agent) commitScan(c buffer.ScanCommit) (bool, error) {
	ok, err := a.store.Commit(c)
	if err == nil || !errors.Is(err, buffer.ErrDiskFull) {
		return ok, err
	}
	a.checkDisk()
	key := c.Key
	live := make([]buffer.Message, 0, len(c.Messages))
	for _, m := range c.Messages {
		if !m.Image {
			live = append(live, m)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if perr := a.pub.PublishNow(ctx, live); perr != nil {
		return false, fmt.Errorf("%w; and published live: %w (the scan stays in the inbox)", err, perr)
	}
	a.disk.lived.Add(uint64(len(live)))
	a.log.Warn("buffer disk full: results published live, not kept", "scan", key, "messages", len(live))
	return true, nil
}

func (a *Agent) diskStatus() web.DiskStatus {
	a.disk.mu.Lock()
	defer a.disk.mu.Unlock()
	return web.DiskStatus{State: [...]string{"ok", "low", "full"}[a.disk.state], FreeBytes: a.disk.free, MinFreeBytes: a.floorBytes(),
		BudgetBytes: a.disk.budget, ImagesNotKept: a.disk.skipped.Load(), SentLive: a.disk.lived.Load()}
}
