package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
)

// housekeeping keeps what the gate stores within its bounds while the agent
// runs: the buffer's disk budget and retention, Badger's value-log GC, and
// the scans kept in processed_dir. It reports what it drops (the log,
// gatescan_outbox_dropped_total, …/dropped). Run starts it once the buffer
// is open; the disk's state it reads is the agent's (disk.go), shared with
// the pipeline's commits.
type housekeeping struct {
	config func() *config.Config // the config in force: reloads change retention
	log    *slog.Logger
	store  *buffer.Store
	m      *outboxMetrics
	disk   *diskWatch
	// checkDisk reads the free space and reports a change of state
	// (Agent.checkDisk); floorBytes is buffer.min_free_mb in bytes.
	checkDisk  func() int
	floorBytes func() int64
}

// newHousekeeping makes the agent's housekeeping, over its open buffer.
func (a *Agent) newHousekeeping() *housekeeping {
	return &housekeeping{config: a.Config, log: a.log, store: a.store, m: a.outboxMetrics(), disk: &a.disk,
		checkDisk: a.checkDisk, floorBytes: a.floorBytes}
}

// Run keeps the buffer and the kept scans until ctx ends.
func (h *housekeeping) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { h.keepBuffer(ctx) })
	wg.Go(func() { h.pruneProcessed(ctx) })
	wg.Wait()
}

// Housekeeping cadence: the disk budget is checked more often than
// retention runs, since a burst of scans fills a disk faster than an hour.
const (
	defaultHousekeeping = time.Minute
	diskEvery           = 5 * time.Second
	// reclaimAfter is how much pruned data makes retention reclaim its
	// space at once rather than leave it to the next compactions.
	reclaimAfter = 8 << 20
	// overBudgetPause spaces budget checks while the store is over budget
	// with nothing left to drop.
	overBudgetPause = time.Minute
)

// keepBuffer runs the buffer's housekeeping until ctx ends: the disk
// budget every few seconds; retention and the value-log GC every
// buffer.housekeeping_interval.
func (h *housekeeping) keepBuffer(ctx context.Context) {
	every := h.config().Buffer.Housekeeping
	if every <= 0 {
		every = defaultHousekeeping
	}
	budget := time.NewTicker(min(every, diskEvery))
	defer budget.Stop()
	retain := time.NewTicker(every)
	defer retain.Stop()
	h.retain()
	// Over budget with nothing the policy may drop, a check only costs a
	// reclaim pass: wait a while before the next.
	var quietUntil time.Time
	if !h.enforceBudget() {
		quietUntil = time.Now().Add(overBudgetPause)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-budget.C:
			// The buffer commits nothing with its disk full, and a
			// compaction or GC would write: nothing but watching.
			state := h.checkDisk()
			if state == diskFull {
				continue
			}
			if (state == diskLow || time.Now().After(quietUntil)) && !h.enforceBudget() {
				quietUntil = time.Now().Add(overBudgetPause)
			}
		case <-retain.C:
			if h.checkDisk() == diskFull {
				continue
			}
			h.retain()
			if n, err := h.store.GC(0.5); err != nil {
				h.log.Warn("buffer value-log GC failed", "err", err)
			} else if n > 0 {
				h.log.Debug("buffer value-log GC", "files_rewritten", n)
			}
		}
	}
}

// retain removes delivered messages, scan records, weights and learned
// tares older than buffer.retention. Undelivered messages are kept
// whatever their age.
func (h *housekeeping) retain() {
	keep := h.config().Buffer.Retention
	if keep <= 0 {
		return
	}
	r, err := h.store.Prune(time.Now().Add(-keep))
	if err != nil {
		h.log.Error("buffer retention failed; will retry", "err", err)
		return
	}
	if r.Messages == 0 && r.Scans == 0 && r.Weights == 0 && r.Tares == 0 {
		return
	}
	h.m.pruned.Add(float64(r.Messages))
	h.log.Info("buffer retention", "older_than", keep, "messages", r.Messages, "bytes", r.Bytes, "scans", r.Scans,
		"weights", r.Weights, "tares", r.Tares)
	if r.Bytes >= reclaimAfter {
		if err := h.store.Reclaim(false); err != nil {
			h.log.Warn("buffer space not reclaimed after retention", "err", err)
		}
	}
}

// DropReport is the payload of …/dropped: what the disk budget dropped
// (reason disk_budget), an image the broker refused (broker_refused), or
// images not kept with the disk nearly full (disk_low).
type DropReport struct {
	Site   string    `json:"site"`
	Gate   string    `json:"gate"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	buffer.BudgetReport
	// UndeliveredCount is the number of undelivered messages dropped; the
	// list is cut at maxReported.
	UndeliveredCount  int `json:"undelivered_count"`
	UndeliveredAlerts int `json:"undelivered_alerts"`
}

// maxReported bounds the list of dropped messages in one report.
const maxReported = 500

// enforceBudget applies buffer.max_disk_mb and reports any drop three
// ways: the log, gatescan_outbox_dropped_total, and a message on
// …/dropped queued as an alert (the last thing a later drop would take).
// It returns false when the store stays over budget with nothing the
// policy lets it drop.
//
// With the disk under buffer.min_free_mb the budget shrinks by what is
// missing, so that delivered messages kept for replay, then undelivered
// images, give the space back.
func (h *housekeeping) enforceBudget() bool {
	budget, reason := h.disk.budget, "disk_budget"
	h.disk.mu.Lock()
	free, state := h.disk.free, h.disk.state
	h.disk.mu.Unlock()
	if state == diskLow {
		if used, err := h.store.DiskBytes(); err == nil {
			shrunk := max(buffer.MinBudget, used-(h.floorBytes()-free))
			if budget <= 0 || shrunk < budget {
				budget, reason = shrunk, "disk_low"
			}
		}
	}
	if budget <= 0 {
		return true
	}
	rep, err := h.store.EnforceBudget(budget)
	if err != nil {
		h.log.Error("disk budget not applied; will retry", "budget_mb", budget>>20, "err", err)
		return true
	}
	if !rep.Acted() {
		if rep.After > budget && reason == "disk_budget" {
			h.log.Warn("buffer over its disk budget, and what is left may not be dropped (it is under half the budget, the rest is Badger's own); raise buffer.max_disk_mb",
				"disk_bytes", rep.After, "budget_mb", budget>>20)
			return false
		}
		return true
	}
	h.reportDrop(reason, rep)
	return true
}

// reportDrop reports undelivered messages dropped (and delivered ones
// dropped early) three ways: the log, gatescan_outbox_dropped_total, and
// a message on …/dropped queued as an alert (the last thing a later drop
// would take). reason is disk_budget, broker_refused or disk_low.
func (h *housekeeping) reportDrop(reason string, rep buffer.BudgetReport) {
	cfg := h.config()
	alerts := 0
	for _, d := range rep.Undelivered {
		class := "result"
		switch {
		case d.Alert && d.Image:
			class = "alert_image"
		case d.Alert:
			class, alerts = "alert", alerts+1
		case d.Image:
			class = "image"
		}
		h.m.dropped.WithLabelValues(class).Inc()
	}
	h.m.dropped.WithLabelValues("delivered").Add(float64(rep.Delivered))
	attrs := []any{"reason", reason, "budget_mb", rep.BudgetBytes >> 20, "disk_bytes_before", rep.Before, "disk_bytes_after", rep.After,
		"delivered_dropped", rep.Delivered, "undelivered_dropped", len(rep.Undelivered), "undelivered_alerts_dropped", alerts}
	if len(rep.Undelivered) > 0 {
		refs := make([]string, 0, 20)
		for _, d := range rep.Undelivered[:min(20, len(rep.Undelivered))] {
			refs = append(refs, d.Ref)
		}
		h.log.Error("undelivered messages dropped, the control room will not get them", append(attrs, "first_refs", refs)...)
	} else if rep.Delivered > 0 {
		h.log.Warn("delivered messages dropped before the end of their retention", attrs...)
	}
	r := DropReport{Site: cfg.Site, Gate: cfg.Gate, Reason: reason, At: time.Now().UTC(), BudgetReport: rep,
		UndeliveredCount: len(rep.Undelivered), UndeliveredAlerts: alerts}
	r.Undelivered = r.Undelivered[:min(len(r.Undelivered), maxReported)]
	b, _ := json.Marshal(r)
	msg := buffer.Message{Topic: publish.NewTopics(cfg.Site, cfg.Gate).Dropped(), QoS: 1, Payload: b, Alert: true}
	if err := h.store.Enqueue(msg); err != nil {
		h.log.Error("report of dropped messages not queued", "err", err)
	}
}

// pruneEvery is how often kept scans are pruned.
const pruneEvery = time.Hour

// pruneProcessed deletes kept scans older than buffer.retention, the time
// their results are kept for replay, at start and then hourly until ctx
// ends; it does nothing while keep_processed is off.
func (h *housekeeping) pruneProcessed(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		cfg := h.config()
		if cfg.Scanner.KeepProcessed && cfg.Buffer.Retention > 0 {
			n, err := pruneOlder(ProcessedDir(cfg), time.Now().Add(-cfg.Buffer.Retention))
			if err != nil {
				h.log.Warn("kept scans not pruned", "dir", ProcessedDir(cfg), "err", err)
			} else if n > 0 {
				h.log.Info("kept scans pruned", "dir", ProcessedDir(cfg), "files", n, "older_than", cfg.Buffer.Retention)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
