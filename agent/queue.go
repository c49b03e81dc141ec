package agent

import (
	"context"
	"sync"
	"time"

	"github.com/gatescan/gatescan/drivers/inbox"
)

// scanQueue holds sidecar paths waiting for inspection, each once, with
// the earliest time it may be tried (a scan waiting for its declaration or
// weight is tried again later).
type scanQueue struct {
	mu        sync.Mutex
	notBefore map[string]time.Time
	firstSeen map[string]time.Time
	wake      chan struct{}
}

func newScanQueue() *scanQueue {
	return &scanQueue{notBefore: map[string]time.Time{}, firstSeen: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

func (q *scanQueue) add(path string) { q.addSeen(path, time.Now()) }

// addSeen queues the sidecar at path, first seen in the inbox at first
// (its latency at the gate counts from then).
func (q *scanQueue) addSeen(path string, first time.Time) {
	q.mu.Lock()
	if _, ok := q.notBefore[path]; !ok {
		q.notBefore[path] = time.Now()
		if _, seen := q.firstSeen[path]; !seen {
			q.firstSeen[path] = first
		}
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *scanQueue) later(path string, d time.Duration) {
	q.mu.Lock()
	q.notBefore[path] = time.Now().Add(d)
	q.mu.Unlock()
}

func (q *scanQueue) done(path string) {
	q.mu.Lock()
	delete(q.notBefore, path)
	delete(q.firstSeen, path)
	q.mu.Unlock()
}

// next returns the due path seen first, or "" and how long to wait.
func (q *scanQueue) next() (string, time.Time, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	best, wait := "", time.Second
	for p, nb := range q.notBefore {
		if !nb.After(now) {
			if best == "" || q.firstSeen[p].Before(q.firstSeen[best]) {
				best = p
			}
		} else if d := nb.Sub(now); d < wait {
			wait = d
		}
	}
	if best != "" {
		q.notBefore[best] = now.Add(time.Hour) // in progress
	}
	return best, q.firstSeen[best], wait
}

// watchScans queues the sidecars that land in the scan inbox, and hands
// the images to the predecoder.
func (a *Agent) watchScans(ctx context.Context) {
	cfg := a.Config()
	w := &inbox.Watcher{Dir: cfg.Scanner.Inbox, Suffixes: append([]string{".json"}, imageSuffixes...), Rescan: cfg.Scanner.Rescan,
		Settle: cfg.Scanner.SettleTime, Log: a.log}
	found := func(path string, first time.Time) {
		if isImage(path) {
			a.pre.landed(path)
		} else {
			a.scans.addSeen(path, first)
		}
	}
	if err := w.WatchSeen(ctx, found); err != nil {
		a.log.Error("scan inbox stopped", "err", err)
	}
}
