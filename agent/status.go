package agent

import (
	"net/http"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/agent/web"
	"github.com/gatescan/gatescan/buffer"
)

// The agent as the web part (agent/web) sees it: the agent implements
// web.Source, and hands each inspection to the page.

// startWeb marks when the agent started serving, and starts its web part
// on listen ("" serves nothing); it returns the server for shutdown.
func (a *Agent) startWeb(listen string) (*http.Server, error) {
	a.ops.startedAt = time.Now()
	a.metrics.live.bind(a)
	return a.web.Listen(listen)
}

// Status returns the agent's state for /api/status and the page; the web
// part adds the recent inspections.
func (a *Agent) Status() web.Status {
	cfg := a.Config()
	s := web.Status{Version: Version, Site: cfg.Site, Gate: cfg.Gate, StartedAt: a.ops.startedAt,
		Config: web.ConfigStatus{Generation: a.configGeneration(), LoadedAt: a.ops.startedAt},
		Lanes:  a.laneStatus()}
	if t := a.ops.loadedAt.Load(); t != nil {
		s.Config.LoadedAt = *t
	}
	if err := a.pipelineAlive(); err != nil {
		s.NotReady = err.Error()
	} else {
		s.Ready = true
	}
	for _, l := range cfg.Lanes {
		if l.Weighbridge == nil {
			s.ScannerOnly = append(s.ScannerOnly, l.ID)
		}
	}
	if a.pub != nil {
		s.MQTT = a.pub.State()
	}
	if a.store != nil {
		st, err := a.store.Stats()
		s.Outbox = web.OutboxStatus{Stats: st, Disk: a.diskStatus()}
		if err != nil {
			s.Outbox.Error = err.Error()
		}
	}
	return s
}

// NotReady says why the agent cannot inspect right now, or nil (/readyz).
func (a *Agent) NotReady() error { return a.pipelineAlive() }

// StoredResult returns the result of an inspection from the buffer.
func (a *Agent) StoredResult(inspectionID string) ([]byte, error) {
	if a.store == nil {
		return nil, web.ErrStarting
	}
	return a.store.Result(inspectionID)
}

// inspected is called once a scan's results are committed, with the
// messages committed with them: it counts the scan and keeps the results
// and their annotated images for the page.
func (a *Agent) inspected(results []inspection.Result, msgs []buffer.Message) {
	a.metrics.ScansIngested.Inc()
	if len(results) > 0 {
		a.metrics.LaneScans.WithLabelValues(a.metricLane(results[0].Lane)).Inc()
	}
	a.web.Inspected(results, msgs, a.pub.Topics().Image)
}

// metricLane is lane as a metric label: a lane the config does not know
// (a scanner's typo) is "unconfigured", so that sidecars cannot make up
// series without bound.
func (a *Agent) metricLane(lane string) string {
	for _, l := range a.Config().Lanes {
		if l.ID == lane {
			return lane
		}
	}
	return "unconfigured"
}
