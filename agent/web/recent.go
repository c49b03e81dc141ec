package web

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

// Inspection is one recent inspection as the page shows it.
type Inspection struct {
	Result inspection.Result
	// Image is the annotated JPEG; nil when none could be made.
	Image []byte
}

// ring keeps the latest inspections in memory for the page: the buffer
// has the results, but their images only until delivered.
type ring struct {
	mu    sync.Mutex
	items []Inspection // newest first
}

// add records a scan's committed results with the images among msgs (the
// messages on each result's image topic).
func (r *ring) add(results []inspection.Result, msgs []buffer.Message, imageTopic func(id string) string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The scan's first container comes first on the page, above older scans.
	for i := len(results) - 1; i >= 0; i-- {
		it := Inspection{Result: results[i]}
		topic := imageTopic(it.Result.InspectionID)
		for _, m := range msgs {
			if m.Topic == topic {
				it.Image = m.Payload
			}
		}
		// A scan committed again after a restart replaces its entry.
		r.items = slices.DeleteFunc(r.items, func(o Inspection) bool { return o.Result.InspectionID == it.Result.InspectionID })
		r.items = slices.Insert(r.items, 0, it)
	}
	if len(r.items) > recentMax {
		clear(r.items[recentMax:]) // let the images go
		r.items = r.items[:recentMax]
	}
}

// list returns the inspections, newest first.
func (r *ring) list() []Inspection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

// get returns the inspection with id, if it is still in the ring.
func (r *ring) get(id string) (Inspection, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range r.items {
		if it.Result.InspectionID == id {
			return it, true
		}
	}
	return Inspection{}, false
}

// Inspected records a scan's committed results, with the annotated images
// among msgs (the messages on each result's image topic), for the page.
func (s *Server) Inspected(results []inspection.Result, msgs []buffer.Message, imageTopic func(id string) string) {
	s.recent.add(results, msgs, imageTopic)
}

// Recent returns the inspections the page shows, newest first.
func (s *Server) Recent() []Inspection { return s.recent.list() }
