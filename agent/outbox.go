package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
)

// openBuffer opens the gate's buffer with the config's durability and,
// when a key is configured, encryption at rest.
func openBuffer(cfg *config.Config, log *slog.Logger) (*buffer.Store, error) {
	b := cfg.Buffer
	if b.MaxDiskMB > 0 && b.MaxDiskMB<<20 < buffer.MinBudget {
		return nil, fmt.Errorf("buffer.max_disk_mb %d is below the %d MB Badger needs for its own logs and tables: raise it, or set 0 for a budget derived from the free space (-1 for none)",
			b.MaxDiskMB, buffer.MinBudget>>20)
	}
	o := buffer.Options{SyncWrites: b.SyncWrites, Logger: log}
	k, err := BufferKey(b)
	if err != nil {
		return nil, err
	}
	o.EncryptionKey = k
	return buffer.Open(b.Dir, o)
}

// BufferKey reads the buffer's key for encryption at rest (nil for none).
func BufferKey(b config.Buffer) ([]byte, error) {
	return readKey(b.EncryptionKeySecret())
}

func readKey(s config.Secret) ([]byte, error) {
	if s.File == "" {
		return nil, nil
	}
	raw, err := s.Read()
	if err != nil {
		return nil, err
	}
	return buffer.ParseKey(config.CredentialPath(s.File), raw)
}

// ReadKeyFile reads a key for encryption at rest from a file named on the
// command line (flag is the flag's name, for errors).
func ReadKeyFile(flag, name string) ([]byte, error) {
	return readKey(config.Secret{Key: flag, File: name})
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

// outboxMetrics count what housekeeping removes.
type outboxMetrics struct {
	dropped *prometheus.CounterVec
	pruned  prometheus.Counter
}

func (a *Agent) outboxMetrics() *outboxMetrics {
	a.obmOnce.Do(func() { a.obm = a.newOutboxMetrics() })
	return a.obm
}

func (a *Agent) newOutboxMetrics() *outboxMetrics {
	m := &outboxMetrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_outbox_dropped_total",
			Help: "Messages the disk budget dropped, by class: delivered (kept for replay), or undelivered image, result, alert_image, alert."}, []string{"class"}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_outbox_pruned_total",
			Help: "Delivered messages removed at the end of buffer.retention."}),
	}
	for _, c := range []prometheus.Collector{m.dropped, m.pruned} {
		if err := a.metrics.Registry.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				a.log.Warn("outbox metrics not registered", "err", err)
			}
		}
	}
	for _, c := range []string{"delivered", "image", "result", "alert_image", "alert"} {
		m.dropped.WithLabelValues(c)
	}
	return m
}

// keepBuffer runs the buffer's housekeeping until ctx ends: the disk
// budget every few seconds; retention and the value-log GC every
// buffer.housekeeping_interval.
func (a *Agent) keepBuffer(ctx context.Context) {
	m := a.outboxMetrics()
	every := a.Config().Buffer.Housekeeping
	if every <= 0 {
		every = defaultHousekeeping
	}
	budget := time.NewTicker(min(every, diskEvery))
	defer budget.Stop()
	retain := time.NewTicker(every)
	defer retain.Stop()
	a.retain(m)
	// Over budget with nothing the policy may drop, a check only costs a
	// reclaim pass: wait a while before the next.
	var quietUntil time.Time
	if !a.enforceBudget(m) {
		quietUntil = time.Now().Add(overBudgetPause)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-budget.C:
			// The buffer commits nothing with its disk full, and a
			// compaction or GC would write: nothing but watching.
			state := a.checkDisk()
			if state == diskFull {
				continue
			}
			if (state == diskLow || time.Now().After(quietUntil)) && !a.enforceBudget(m) {
				quietUntil = time.Now().Add(overBudgetPause)
			}
		case <-retain.C:
			if a.checkDisk() == diskFull {
				continue
			}
			a.retain(m)
			if n, err := a.store.GC(0.5); err != nil {
				a.log.Warn("buffer value-log GC failed", "err", err)
			} else if n > 0 {
				a.log.Debug("buffer value-log GC", "files_rewritten", n)
			}
		}
	}
}

// retain removes delivered messages, scan records, weights and learned
// tares older than buffer.retention. Undelivered messages are kept
// whatever their age.
func (a *Agent) retain(m *outboxMetrics) {
	keep := a.Config().Buffer.Retention
	if keep <= 0 {
		return
	}
	r, err := a.store.Prune(time.Now().Add(-keep))
	if err != nil {
		a.log.Error("buffer retention failed; will retry", "err", err)
		return
	}
	if r.Messages == 0 && r.Scans == 0 && r.Weights == 0 && r.Tares == 0 {
		return
	}
	m.pruned.Add(float64(r.Messages))
	a.log.Info("buffer retention", "older_than", keep, "messages", r.Messages, "bytes", r.Bytes, "scans", r.Scans,
		"weights", r.Weights, "tares", r.Tares)
	if r.Bytes >= reclaimAfter {
		if err := a.store.Reclaim(false); err != nil {
			a.log.Warn("buffer space not reclaimed after retention", "err", err)
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
func (a *Agent) enforceBudget(m *outboxMetrics) bool {
	budget, reason := a.disk.budget, "disk_budget"
	a.disk.mu.Lock()
	free, state := a.disk.free, a.disk.state
	a.disk.mu.Unlock()
	if state == diskLow {
		if used, err := a.store.DiskBytes(); err == nil {
			shrunk := max(buffer.MinBudget, used-(a.floorBytes()-free))
			if budget <= 0 || shrunk < budget {
				budget, reason = shrunk, "disk_low"
			}
		}
	}
	if budget <= 0 {
		return true
	}
	rep, err := a.store.EnforceBudget(budget)
	if err != nil {
		a.log.Error("disk budget not applied; will retry", "budget_mb", budget>>20, "err", err)
		return true
	}
	if !rep.Acted() {
		if rep.After > budget && reason == "disk_budget" {
			a.log.Warn("buffer over its disk budget, and what is left may not be dropped (it is under half the budget, the rest is Badger's own); raise buffer.max_disk_mb",
				"disk_bytes", rep.After, "budget_mb", budget>>20)
			return false
		}
		return true
	}
	a.reportDrop(m, reason, rep)
	return true
}

// reportDrop reports undelivered messages dropped (and delivered ones
// dropped early) three ways: the log, gatescan_outbox_dropped_total, and
// a message on …/dropped queued as an alert (the last thing a later drop
// would take). reason is disk_budget, broker_refused or disk_low.
func (a *Agent) reportDrop(m *outboxMetrics, reason string, rep buffer.BudgetReport) {
	cfg := a.Config()
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
		m.dropped.WithLabelValues(class).Inc()
	}
	m.dropped.WithLabelValues("delivered").Add(float64(rep.Delivered))
	attrs := []any{"reason", reason, "budget_mb", rep.BudgetBytes >> 20, "disk_bytes_before", rep.Before, "disk_bytes_after", rep.After,
		"delivered_dropped", rep.Delivered, "undelivered_dropped", len(rep.Undelivered), "undelivered_alerts_dropped", alerts}
	if len(rep.Undelivered) > 0 {
		refs := make([]string, 0, 20)
		for _, d := range rep.Undelivered[:min(20, len(rep.Undelivered))] {
			refs = append(refs, d.Ref)
		}
		a.log.Error("undelivered messages dropped, the control room will not get them", append(attrs, "first_refs", refs)...)
	} else if rep.Delivered > 0 {
		a.log.Warn("delivered messages dropped before the end of their retention", attrs...)
	}
	r := DropReport{Site: cfg.Site, Gate: cfg.Gate, Reason: reason, At: time.Now().UTC(), BudgetReport: rep,
		UndeliveredCount: len(rep.Undelivered), UndeliveredAlerts: alerts}
	r.Undelivered = r.Undelivered[:min(len(r.Undelivered), maxReported)]
	b, _ := json.Marshal(r)
	msg := buffer.Message{Topic: publish.NewTopics(cfg.Site, cfg.Gate).Dropped(), QoS: 1, Payload: b, Alert: true}
	if err := a.store.Enqueue(msg); err != nil {
		a.log.Error("report of dropped messages not queued", "err", err)
	}
}

// refusedByBroker reports an image the publisher dropped because the
// broker would not take it (publish.Publisher.OnDrop).
func (a *Agent) refusedByBroker(d buffer.Dropped, why string) {
	a.reportDrop(a.outboxMetrics(), "broker_refused", buffer.BudgetReport{Undelivered: []buffer.Dropped{d}, Why: why})
}
