package agent

import (
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
	}
	m.Registry.MustRegister(m.LaneUp, m.ScansRejected, m.CommitErrors, m.Inspections, m.Findings, m.Declarations, m.Stage, m.Readings, m.BadFrames,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
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
