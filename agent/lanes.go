package agent

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/gatescan/gatescan/agent/weighing"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/serialline"
)

// lane is one lane's weighbridge: the serial line, the weigher that turns
// readings into truck events, and the live-weight throttle.
type lane struct {
	id       string
	line     *serialline.Line
	weigher  *weighing.Weigher
	throttle weighing.Throttle
	mu       sync.Mutex
	last     *weighing.Event
}

// LaneStatus is a lane's state for the status API and the page.
type LaneStatus struct {
	ID        string            `json:"id"`
	Line      serialline.Status `json:"line"`
	GrossKg   float64           `json:"gross_kg"`
	Stable    bool              `json:"stable"`
	At        time.Time         `json:"at"`
	LastTruck *weighing.Event   `json:"last_truck,omitempty"`
}

func lineConfig(w *config.Weighbridge) serialline.Config {
	return serialline.Config{Port: w.Port, Baud: w.Baud, DataBits: w.DataBits, Parity: w.Parity, StopBits: w.StopBits,
		Protocol: w.Protocol, PollInterval: w.PollInterval, SilentAfter: w.SilentAfter}
}

func weighConfig(w *config.Weighbridge) weighing.Config {
	return weighing.Config{Division: w.DivisionKg, StableBandDivisions: w.StableBand, StableFor: w.StableFor, MinTruckKg: w.MinTruckKg}
}

// startLanes starts a reader for every lane with a weighbridge. A lane that
// cannot start is logged and skipped: the others keep serving.
func (a *Agent) startLanes(ctx context.Context, wg *sync.WaitGroup) []*lane {
	var out []*lane
	for _, lc := range a.Config().Lanes {
		if lc.Weighbridge == nil {
			continue
		}
		line, err := serialline.New(lineConfig(lc.Weighbridge), a.log.With("lane", lc.ID))
		if err != nil {
			a.log.Error("lane weighbridge not started", "lane", lc.ID, "err", err)
			continue
		}
		l := &lane{id: lc.ID, line: line, weigher: weighing.New(lc.ID, weighConfig(lc.Weighbridge))}
		out = append(out, l)
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = line.Run(ctx, func(r scale.Reading) { a.reading(l, r) })
		}()
		go func() {
			defer wg.Done()
			a.laneMetrics(ctx, l)
		}()
	}
	return out
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
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := l.line.Status()
		a.metrics.Readings.WithLabelValues(l.id).Add(float64(st.Readings - readings))
		a.metrics.BadFrames.WithLabelValues(l.id).Add(float64(st.BadFrames - bad))
		readings, bad = st.Readings, st.BadFrames
		up := 0.0
		if st.State == serialline.StateUp {
			up = 1
		}
		a.metrics.LaneUp.WithLabelValues(l.id).Set(up)
	}
}

func (a *Agent) laneStatus() []LaneStatus {
	var out []LaneStatus
	for _, l := range a.lanes {
		g, stable, at := l.weigher.Live()
		l.mu.Lock()
		out = append(out, LaneStatus{ID: l.id, Line: l.line.Status(), GrossKg: g, Stable: stable, At: at, LastTruck: l.last})
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
