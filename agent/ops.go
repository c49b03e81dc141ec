package agent

import (
	"sync"
	"sync/atomic"
	"time"
)

// operations is the agent's state for running it as a service: live
// reloads (reload.go), the systemd watchdog (notify.go) and the status the
// technicians' page shows (status.go, agent/web). It is one field of Agent
// so that the daemon's core stays readable.
type operations struct {
	// reloadMu lets one reload run at a time: a second SIGHUP while the
	// first is applied waits its turn instead of racing it.
	reloadMu sync.Mutex
	// gen counts applied reloads (configGeneration adds the first
	// config); the scan loop rebuilds its detector when it changes.
	gen      atomic.Uint64
	loadedAt atomic.Pointer[time.Time]
	// beat is when the scan loop last turned (UnixNano): the proof that
	// the pipeline is alive, for the watchdog and /readyz.
	beat atomic.Int64
	// detGen is the config generation the scan loop's detector was made
	// with; only the scan loop sets it.
	detGen atomic.Uint64
	// startedAt is when Run began serving.
	startedAt time.Time
	// probe is the health checks' buffer read (notify.go).
	probe storeProbe
}

// HTTPAddr returns the address the page, /metrics and the health checks
// listen on, once Ready is closed ("" when http.listen is empty).
func (a *Agent) HTTPAddr() string { return a.web.Addr() }

// configGeneration returns the number of configs applied so far, counting
// the first.
func (a *Agent) configGeneration() uint64 { return a.ops.gen.Load() + 1 }
