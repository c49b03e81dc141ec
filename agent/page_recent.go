package agent

import (
	"slices"
	"sync"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/buffer"
)

// recentMax is how many inspections the page shows. Their annotated JPEGs
// are at most mqtt.image_max_bytes each (512 KiB by default), so the ring
// holds a few MB at most.
const recentMax = 12

// recentInspection is one inspection as the page shows it.
type recentInspection struct {
	Result inspection.Result
	// Image is the annotated JPEG; nil when none could be made.
	Image []byte
}

// recentRing keeps the latest inspections in memory for the page: the
// buffer has the results, but their images only until delivered.
type recentRing struct {
	mu    sync.Mutex
	items []recentInspection // newest first
}

// add records a scan's committed results with the images among msgs (the
// messages on each result's image topic).
func (r *recentRing) add(results []inspection.Result, msgs []buffer.Message, imageTopic func(id string) string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The scan's first container comes first on the page, above older scans.
	for i := len(results) - 1; i >= 0; i-- {
		it := recentInspection{Result: results[i]}
		topic := imageTopic(it.Result.InspectionID)
		for _, m := range msgs {
			if m.Topic == topic {
				it.Image = m.Payload
			}
		}
		// A scan committed again after a restart replaces its entry.
		r.items = slices.DeleteFunc(r.items, func(o recentInspection) bool { return o.Result.InspectionID == it.Result.InspectionID })
		r.items = slices.Insert(r.items, 0, it)
	}
	if len(r.items) > recentMax {
		clear(r.items[recentMax:]) // let the images go
		r.items = r.items[:recentMax]
	}
}

// list returns the inspections, newest first.
func (r *recentRing) list() []recentInspection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

// get returns the inspection with id, if it is still in the ring.
func (r *recentRing) get(id string) (recentInspection, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range r.items {
		if it.Result.InspectionID == id {
			return it, true
		}
	}
	return recentInspection{}, false
}

// inspected is called once a scan's results are committed, with the
// messages committed with them: it counts the scan and keeps the results
// and their annotated images for the page.
func (a *Agent) inspected(results []inspection.Result, msgs []buffer.Message) {
	a.metrics.ScansIngested.Inc()
	if len(results) > 0 {
		a.metrics.LaneScans.WithLabelValues(a.metricLane(results[0].Lane)).Inc()
	}
	a.ops.recent.add(results, msgs, a.pub.Topics().Image)
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
