package agent

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatescan/gatescan/agent/inspection"
)

// Metrics are the agent's Prometheus metrics, registered in one place.
type Metrics struct {
	Registry      *prometheus.Registry
	ScansRejected prometheus.Counter
	CommitErrors  prometheus.Counter
	Inspections   *prometheus.CounterVec
	Findings      *prometheus.CounterVec
	Declarations  *prometheus.CounterVec
	Stage         *prometheus.HistogramVec
	Readings      *prometheus.CounterVec
	BadFrames     *prometheus.CounterVec
	LaneUp        *prometheus.GaugeVec
	LaneSilent    *prometheus.GaugeVec
	ScansIngested prometheus.Counter
	Reloads       *prometheus.CounterVec
	ScanIDReused  prometheus.Counter
	Quarantined   prometheus.Counter
	KeepErrors    prometheus.Counter
	// Per lane, for "trucks weighed but no scans": the scanner or its
	// adapter is down while the weighbridge works.
	LaneTrucks *prometheus.CounterVec
	LaneScans  *prometheus.CounterVec
	// SidecarToCommit is a scan's latency at the gate: from its sidecar
	// first seen in the inbox to its results committed.
	SidecarToCommit prometheus.Histogram
	// Images decoded ahead of their sidecar (predecode.go): decoded, let
	// go (used by their scan, replaced, expired, evicted), failed, held.
	Predecoded        prometheus.Counter
	PredecodeReleased *prometheus.CounterVec
	PredecodeFailures prometheus.Counter
	PredecodeHeld     prometheus.Gauge
	// Annotated images a crash left unmade between their scans' commits
	// and their queueing: made again at the next start, or lost, by why
	// (images.go).
	ImagesRemade prometheus.Counter
	ImagesLost   *prometheus.CounterVec
	// live reads, at scrape time, what the agent knows anyway (outbox,
	// broker, buffer size), rather than copying it into gauges.
	live liveCollector
}

// NewMetrics creates and registers the metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry:      prometheus.NewRegistry(),
		ScansRejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_scans_rejected_total", Help: "Scans moved to rejected/."}),
		CommitErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_commit_errors_total", Help: "Failed buffer commits (retried)."}),
		Inspections:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_inspections_total", Help: "Inspections by verdict."}, []string{"verdict"}),
		Findings:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_findings_total", Help: "Findings by code."}, []string{"code"}),
		Declarations:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_declarations_total", Help: "Declarations by outcome."}, []string{"outcome"}),
		Stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatescan_inspection_stage_seconds", Help: "Time per inspection stage.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"stage"}),
		Readings:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_weighbridge_readings_total", Help: "Valid indicator readings per lane."}, []string{"lane"}),
		BadFrames: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_weighbridge_bad_frames_total", Help: "Undecodable indicator frames per lane."}, []string{"lane"}),
		LaneUp:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatescan_lane_up", Help: "1 when the lane's indicator port is open and talking."}, []string{"lane"}),
		LaneSilent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatescan_lane_silent",
			Help: "1 when the lane's indicator port is open but no valid reading came for weighbridge.silent_after (indicator off, wrong port, baud or protocol)."}, []string{"lane"}),
		ScansIngested: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_scans_ingested_total", Help: "Scans inspected and committed to the buffer."}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_config_reloads_total",
			Help: "Config reloads (SIGHUP) by result: applied, or rejected and the old config kept."}, []string{"result"}),
		ScanIDReused: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_scan_id_reused_total",
			Help: "Scans whose scan id was already committed for another scan (other lane, time or images): inspected as scans of their own."}),
		Quarantined: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_scans_quarantined_total",
			Help: "Scans not inspected after scanner.max_attempts attempts: moved to quarantine and alerted for inspection by hand."}),
		KeepErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_keep_processed_errors_total",
			Help: "Failures to move an inspected scan's files to processed_dir or quarantine_dir (left in the inbox, tried again)."}),
		LaneTrucks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_lane_trucks_total",
			Help: "Trucks weighed (a stable gross) per lane."}, []string{"lane"}),
		LaneScans: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_lane_scans_total",
			Help: "Scans inspected and committed per lane (a lane not in the config counts as \"unconfigured\")."}, []string{"lane"}),
		SidecarToCommit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gatescan_sidecar_to_commit_seconds",
			Help:    "From a scan's sidecar first seen in the inbox to its results committed: waiting for its declaration or weight, decoding, inspecting, committing.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		ImagesRemade: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_annotated_images_remade_total",
			Help: "Annotated images made again at start from their scans' files: the agent had stopped between the scan's committed result and its images."}),
		ImagesLost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_annotated_images_lost_total",
			Help: "Annotated images the agent stopped before making (after their committed results) and could not make again at start, by why: files_gone (the scan's files removed), results_gone (retention), remake_failed."},
			[]string{"why"}),
		Predecoded: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_images_predecoded_total",
			Help: "Images decoded as they landed in the inbox, ahead of their sidecar."}),
		PredecodeReleased: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_predecoded_images_released_total",
			Help: "Images decoded ahead let go, by why: used by their scan; replaced (the file changed since, or its scan failed first: decoded again); expired (no sidecar within scanner.predecode_keep); evicted (room for a newer one, or another scan inspected meanwhile)."},
			[]string{"why"}),
		PredecodeFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_image_predecode_failures_total",
			Help: "Images that could not be decoded ahead (their scan decodes them, and rejects a bad one)."}),
		PredecodeHeld: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatescan_predecoded_images",
			Help: "Images held decoded, waiting for their sidecar (at most scanner.predecode_images)."}),
	}
	for _, w := range []string{lostFilesGone, lostResultsGone, lostRemakeFailed} {
		m.ImagesLost.WithLabelValues(w)
	}
	for _, w := range []string{"used", "replaced", "expired", "evicted"} {
		m.PredecodeReleased.WithLabelValues(w)
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatescan_build_info", Help: "Always 1; the agent's version as a label."}, []string{"version"})
	buildInfo.WithLabelValues(Version).Set(1)
	// Series that exist from the start, so that rates and alerts on them
	// work before the first event.
	for _, v := range []string{inspection.Clear, inspection.Review, inspection.Alert} {
		m.Inspections.WithLabelValues(v)
	}
	for _, r := range []string{"applied", "rejected"} {
		m.Reloads.WithLabelValues(r)
	}
	m.Registry.MustRegister(m.LaneUp, m.LaneSilent, m.ScansIngested, m.ScansRejected, m.CommitErrors, m.Inspections, m.Findings, m.Declarations,
		m.Stage, m.Readings, m.BadFrames, m.Reloads, m.ScanIDReused, m.Quarantined, m.KeepErrors, m.LaneTrucks, m.LaneScans, m.SidecarToCommit,
		m.Predecoded, m.PredecodeReleased, m.PredecodeFailures, m.PredecodeHeld, m.ImagesRemade, m.ImagesLost, buildInfo, &m.live,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// forgetLane drops the series of a lane that a reload removed or
// restarted: a restarted lane starts them again.
func (m *Metrics) forgetLane(id string) {
	for _, v := range []*prometheus.MetricVec{m.LaneUp.MetricVec, m.LaneSilent.MetricVec, m.Readings.MetricVec, m.BadFrames.MetricVec, m.LaneTrucks.MetricVec} {
		v.DeleteLabelValues(id)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var (
	descOutbox = prometheus.NewDesc("gatescan_outbox_messages", "Messages in the buffer's outbox waiting for the broker.", nil, nil)
	descOldest = prometheus.NewDesc("gatescan_outbox_oldest_age_seconds",
		"Age of the oldest message waiting in the outbox; 0 when it is empty.", nil, nil)
	descMQTT      = prometheus.NewDesc("gatescan_mqtt_connected", "1 when the MQTT client is connected to the broker.", nil, nil)
	descAlerts    = prometheus.NewDesc("gatescan_outbox_alerts", "Alert and review messages among those waiting in the outbox.", nil, nil)
	descBuffer    = prometheus.NewDesc("gatescan_buffer_disk_bytes", "Space the Badger buffer takes on disk.", nil, nil)
	descConfigGen = prometheus.NewDesc("gatescan_config_generation", "Number of configs applied since start: 1, plus one per applied reload.", nil, nil)
	descBudget    = prometheus.NewDesc("gatescan_buffer_disk_budget_bytes", "The buffer's disk budget in force (buffer.max_disk_mb, or derived from the free space at start when it is 0); 0 when it has none.", nil, nil)
	// Alerts and dashboards join it on instance to name the gate.
	descGate    = prometheus.NewDesc("gatescan_gate_info", "Always 1; the gate's site and gate (the MQTT topics' names) as labels.", []string{"site", "gate"}, nil)
	descProblem = prometheus.NewDesc("gatescan_problem", "1 for each problem reported on …/status and the page: delivery_stuck, subscription_denied, disk_low, disk_full.", []string{"code"}, nil)
	descDenied  = prometheus.NewDesc("gatescan_mqtt_subscriptions_denied_total", "Subscriptions the broker refused (SUBACK 0x80).", nil, nil)
)

// liveCollector reports the agent's outbox, broker and buffer at scrape
// time. It reports nothing until bound to a running agent.
type liveCollector struct{ a atomic.Pointer[Agent] }

func (c *liveCollector) bind(a *Agent) { c.a.Store(a) }

// Describe implements prometheus.Collector.
func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOutbox, descOldest, descAlerts, descMQTT, descBuffer, descConfigGen, descBudget, descGate, descProblem, descDenied} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a.Load()
	if a == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descConfigGen, prometheus.GaugeValue, float64(a.configGeneration()))
	cfg := a.Config()
	ch <- prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, float64(a.diskStatus().BudgetBytes))
	ch <- prometheus.MustNewConstMetric(descGate, prometheus.GaugeValue, 1, cfg.Site, cfg.Gate)
	if a.pub != nil {
		ps := a.pub.State()
		ch <- prometheus.MustNewConstMetric(descMQTT, prometheus.GaugeValue, b2f(ps.Connected))
		ch <- prometheus.MustNewConstMetric(descDenied, prometheus.CounterValue, float64(ps.Denied))
		for _, p := range ps.Problems {
			ch <- prometheus.MustNewConstMetric(descProblem, prometheus.GaugeValue, 1, p.Code)
		}
	}
	if a.store == nil {
		return
	}
	st, err := a.store.Stats()
	if err != nil {
		// Reported, with what could be read: one unreadable figure must not
		// cost the scrape all the others (ContinueOnError in Handler).
		ch <- prometheus.NewInvalidMetric(descOutbox, fmt.Errorf("buffer statistics: %w", err))
	}
	ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, st.OldestAgeS)
	ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.GaugeValue, float64(st.PendingAlerts))
	ch <- prometheus.MustNewConstMetric(descBuffer, prometheus.GaugeValue, float64(st.DiskBytes))
}

func (m *Metrics) observe(r *inspection.Result) {
	m.Inspections.WithLabelValues(r.Verdict).Inc()
	for _, f := range r.Findings {
		m.Findings.WithLabelValues(f.Code).Inc()
	}
	for k, v := range r.TimingsMS {
		m.Stage.WithLabelValues(k).Observe(v / 1000)
	}
}
