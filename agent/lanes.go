package agent

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"time"

	"github.com/gatescan/gatescan/agent/web"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/scale/weighing"
	"github.com/gatescan/gatescan/drivers/serialline"
)

// lane is one lane's weighbridge: the serial line, the weigher that turns
// readings into truck events, and the live-weight throttle.
type lane struct {
	id string
	// wb is the weighbridge config the lane was started with: a reload
	// that changes it restarts the lane, one that does not leaves it be.
	wb       config.Weighbridge
	line     *serialline.Line
	weigher  *weighing.Weigher
	throttle weighing.Throttle
	stop     context.CancelFunc
	done     chan struct{} // closed once the lane's goroutines returned
	mu       sync.Mutex
	last     *weighing.Event
}

// laneSet is the running weighbridge lanes. Reloads change it while the
// agent runs, so it has a lock of its own.
type laneSet struct {
	mu sync.Mutex
	// ctx is the inputs' context the lanes run under: nil before
	// startLanes and once shutdown has begun, when no lane may start.
	ctx   context.Context
	lanes []*lane // in config order
}

// startLanes starts a reader for every lane with a weighbridge, and has
// wg wait for all lanes, the ones reloads start later included, to stop
// once ctx ends. A lane that cannot start is logged and skipped: the
// others keep serving.
func (a *Agent) startLanes(ctx context.Context, wg *sync.WaitGroup) {
	s := &a.lanes
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	a.reconcileLanes(a.Config().Lanes)
	wg.Go(func() {
		<-ctx.Done()
		s.mu.Lock()
		running := s.lanes
		s.ctx, s.lanes = nil, nil
		s.mu.Unlock()
		for _, l := range running {
			l.stop()
			<-l.done
		}
	})
}

// reconcileLanes makes the running lanes match want: a lane whose
// weighbridge settings did not change keeps running, with the truck on its
// bridge; a changed lane is restarted, a removed one stopped, a new one
// started. It reports the lanes it started and stopped (a restarted lane
// is in both).
func (a *Agent) reconcileLanes(want []config.Lane) (started, stopped []string) {
	s := &a.lanes
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || s.ctx.Err() != nil {
		return nil, nil // not running, or shutting down
	}
	running := map[string]*lane{}
	for _, l := range s.lanes {
		running[l.id] = l
	}
	kept := map[string]*lane{}
	for _, lc := range want {
		if l := running[lc.ID]; l != nil && lc.Weighbridge != nil && reflect.DeepEqual(l.wb, *lc.Weighbridge) {
			kept[lc.ID] = l
		}
	}
	// Stop before starting: a changed lane may reopen the same port.
	for _, l := range s.lanes {
		if kept[l.id] == nil {
			l.stop()
			<-l.done
			a.metrics.forgetLane(l.id)
			stopped = append(stopped, l.id)
		}
	}
	s.lanes = s.lanes[:0:0]
	for _, lc := range want {
		if l := kept[lc.ID]; l != nil {
			s.lanes = append(s.lanes, l)
			continue
		}
		if lc.Weighbridge == nil {
			continue
		}
		l, err := a.startLane(s.ctx, lc)
		if err != nil {
			a.log.Error("lane weighbridge not started", "lane", lc.ID, "err", err)
			continue
		}
		s.lanes = append(s.lanes, l)
		started = append(started, lc.ID)
	}
	return started, stopped
}

// startLane starts the reader of one lane's weighbridge under parent.
func (a *Agent) startLane(parent context.Context, lc config.Lane) (*lane, error) {
	line, err := serialline.New(lc.Weighbridge.Line, a.log.With("lane", lc.ID))
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(parent)
	l := &lane{id: lc.ID, wb: *lc.Weighbridge, line: line, weigher: weighing.New(lc.ID, lc.Weighbridge.Weighing),
		stop: stop, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() { _ = line.Run(ctx, func(r scale.Reading) { a.reading(l, r) }) })
	wg.Go(func() { a.laneMetrics(ctx, l) })
	go func() { wg.Wait(); close(l.done) }()
	return l, nil
}

// reading runs on the lane's reader goroutine.
func (a *Agent) reading(l *lane, r scale.Reading) {
	now := time.Now()
	for _, ev := range l.weigher.Add(r, now) {
		ev := ev
		l.mu.Lock()
		if ev.Kind == weighing.Settled || ev.Kind == weighing.TruckLeft {
			l.last = &ev
		}
		l.mu.Unlock()
		a.log.Info("weighbridge", "lane", l.id, "event", ev.Kind.String(), "gross_kg", ev.GrossKg, "stable", ev.Stable)
		if ev.Kind == weighing.Settled {
			a.metrics.LaneTrucks.WithLabelValues(l.id).Inc()
			if err := a.store.PutWeight(buffer.Weight{Lane: l.id, GrossKg: ev.GrossKg, At: ev.At}); err != nil {
				a.log.Error("truck weight not stored", "lane", l.id, "gross_kg", ev.GrossKg, "err", err)
				continue
			}
			a.wakeWaitingScans()
		}
	}
	if l.throttle.Allow(now) {
		g, stable, at := l.weigher.Live()
		b, _ := json.Marshal(map[string]any{"lane": l.id, "gross_kg": g, "stable": stable, "at": at.UTC()})
		a.pub.Publish(a.pub.Topics().Weight(l.id), b)
	}
}

// laneMetrics copies the line's counters into the metrics.
func (a *Agent) laneMetrics(ctx context.Context, l *lane) {
	var readings, bad uint64
	// From zero, so that an increase over the first trucks shows.
	a.metrics.LaneTrucks.WithLabelValues(l.id)
	a.metrics.LaneScans.WithLabelValues(l.id)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		st := l.line.Status()
		a.metrics.Readings.WithLabelValues(l.id).Add(float64(st.Readings - readings))
		a.metrics.BadFrames.WithLabelValues(l.id).Add(float64(st.BadFrames - bad))
		readings, bad = st.Readings, st.BadFrames
		a.metrics.LaneUp.WithLabelValues(l.id).Set(b2f(st.State == serialline.StateUp))
		a.metrics.LaneSilent.WithLabelValues(l.id).Set(b2f(st.State == serialline.StateSilent))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Agent) laneStatus() []web.LaneStatus {
	a.lanes.mu.Lock()
	lanes := a.lanes.lanes
	a.lanes.mu.Unlock()
	var out []web.LaneStatus
	for _, l := range lanes {
		g, stable, at := l.weigher.Live()
		l.mu.Lock()
		out = append(out, web.LaneStatus{ID: l.id, Line: l.line.Status(), GrossKg: g, Stable: stable, At: at, LastTruck: l.last})
		l.mu.Unlock()
	}
	return out
}

// wakeWaitingScans retries scans that wait for a weight or declaration.
func (a *Agent) wakeWaitingScans() {
	a.scans.mu.Lock()
	for p, first := range a.scans.firstSeen {
		if nb, ok := a.scans.notBefore[p]; ok && nb.Before(time.Now().Add(time.Hour-time.Minute)) {
			a.scans.notBefore[p] = first
		}
	}
	a.scans.mu.Unlock()
	select {
	case a.scans.wake <- struct{}{}:
	default:
	}
}
