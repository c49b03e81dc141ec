package web

import (
	"time"

	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/drivers/scale/weighing"
	"github.com/gatescan/gatescan/drivers/serialline"
)

// Status is the agent's state as /api/status reports it.
type Status struct {
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Site      string    `json:"site"`
	Gate      string    `json:"gate"`
	// Ready is /readyz: started, the scan loop turning, the buffer
	// answering; NotReady says why not.
	Ready       bool                `json:"ready"`
	NotReady    string              `json:"not_ready,omitempty"`
	Config      ConfigStatus        `json:"config"`
	MQTT        publish.State       `json:"mqtt"`
	Outbox      OutboxStatus        `json:"outbox"`
	Lanes       []LaneStatus        `json:"lanes"`
	ScannerOnly []string            `json:"scanner_only_lanes,omitempty"`
	Inspections []InspectionSummary `json:"inspections"`
}

// ConfigStatus tells which config is in force.
type ConfigStatus struct {
	// Generation is 1 for the config the agent started with, plus one per
	// applied reload.
	Generation uint64    `json:"generation"`
	LoadedAt   time.Time `json:"loaded_at"`
}

// OutboxStatus is the buffer's outbox (what waits for the broker) and its
// size, or why it could not be read.
type OutboxStatus struct {
	buffer.Stats
	Disk  DiskStatus `json:"disk"`
	Error string     `json:"error,omitempty"`
}

// InspectionSummary is a recent inspection in /api/status.
type InspectionSummary struct {
	ID          string    `json:"inspection_id"`
	ScanID      string    `json:"scan_id"`
	Lane        string    `json:"lane"`
	InspectedAt time.Time `json:"inspected_at"`
	Verdict     string    `json:"verdict"`
	Risk        float64   `json:"risk"`
	Codes       []string  `json:"codes"`
	// Container is the container of the result when the scan carries
	// two, both in ContainerIDs.
	Container    string   `json:"container_id,omitempty"`
	ContainerIDs []string `json:"container_ids"`
	HasImage     bool     `json:"has_image"`
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

// DiskStatus is the buffer's disk in /api/status.
type DiskStatus struct {
	// State is ok, low (under min_free) or full (under half of it).
	State        string `json:"state"`
	FreeBytes    int64  `json:"free_bytes"`
	MinFreeBytes int64  `json:"min_free_bytes"`
	// BudgetBytes is the disk budget in force (0: none).
	BudgetBytes int64 `json:"budget_bytes"`
	// ImagesNotKept counts images left out with the disk low; SentLive
	// the results and alerts published without the buffer, disk full.
	ImagesNotKept uint64 `json:"images_not_kept"`
	SentLive      uint64 `json:"sent_live"`
}
