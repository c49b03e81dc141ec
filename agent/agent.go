package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/agent/web"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/internal/embedbroker"
)

// Version is the agent's version, set at build time.
var Version = "dev"

// Agent is one running gate.
type Agent struct {
	cfg     *config.Config
	log     *slog.Logger
	level   *slog.LevelVar // the logger's level, when a reload may change it
	store   *buffer.Store
	pub     *publish.Publisher
	metrics *Metrics
	scans   *scanQueue
	pre     *predecoder
	lanes   laneSet
	ops     operations // reload, watchdog and page state (ops.go)
	ready   chan struct{}
	mu      sync.RWMutex
	opts    Options
	// broker is the URL the publisher connects to: mqtt.broker, or the
	// embedded broker's address once it listens.
	broker string
	// declMu orders the storing of declarations (declarations.go).
	declMu sync.Mutex
	// obm counts what housekeeping and the publisher drop (outbox.go).
	obm     *outboxMetrics
	obmOnce sync.Once
	// disk is the buffer's disk: budget, free space, low or full (disk.go).
	disk diskWatch
	// web serves the page, the API, /metrics and the health checks.
	web *web.Server
	// sd tells systemd how the agent is (notify.go).
	sd systemd
	// house keeps the buffer and the kept scans in bounds (housekeeping.go).
	house *housekeeping
}

// Options are how the agent is run, beside its config.
type Options struct {
	// LogLevel is the variable the logger's level is read from: a reload
	// then applies log.level at once. Without it log.level is read only at
	// start.
	LogLevel *slog.LevelVar
	// Systemd makes the agent tell systemd how it is (see notify.go).
	Systemd bool
	// OnReady, if set, is called once the buffer, the publisher and the
	// lanes are up.
	OnReady func()
}

// New builds an agent from a validated config.
func New(cfg *config.Config, log *slog.Logger, opts Options) *Agent {
	// The scan queue exists before anything runs: the publisher's
	// declaration handler wakes the scans waiting on it from the first
	// CONNACK on.
	a := &Agent{cfg: cfg, log: log, level: opts.LogLevel, opts: opts, metrics: NewMetrics(), ready: make(chan struct{}), scans: newScanQueue()}
	a.pre = newPredecoder(a)
	a.web = web.New(a, a.metrics.Registry, log)
	a.sd = systemd{log: log, status: a.statusLine, alive: a.pipelineAlive}
	return a
}

// Config returns the config in force.
func (a *Agent) Config() *config.Config {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cfg
}

// Run runs the gate until ctx is cancelled, then shuts down cleanly: inputs
// stop first, the scan in progress is finished and committed, and the
// publisher flushes what it can before it disconnects.
func (a *Agent) Run(ctx context.Context) error {
	cfg := a.Config()
	for _, d := range []string{cfg.Scanner.Inbox, cfg.Declarations.Inbox} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("inbox %s: %w", d, err)
		}
	}
	store, err := openBuffer(cfg, a.log)
	if err != nil {
		return err
	}
	a.store = store
	defer store.Close()
	a.house = a.newHousekeeping()

	// The publisher is told the embedded broker's address; the config in
	// force keeps saying "embedded", as its file does.
	pcfg := *cfg
	if cfg.MQTT.Broker == "embedded" {
		var creds embedbroker.Credentials
		if cfg.MQTT.HasCredentials() {
			m := cfg.MQTT
			creds = func() (string, string) {
				pw, err := publish.Password(m)
				if err != nil {
					a.log.Error("embedded broker: cannot read the password; refusing clients", "err", err)
				}
				return m.Username, pw
			}
		}
		b, err := embedbroker.Start(cfg.MQTT.EmbeddedListen, creds, a.log)
		if err != nil {
			return err
		}
		defer b.Close()
		pcfg.MQTT.Broker = b.URL()
	}
	a.broker = pcfg.MQTT.Broker
	a.pub, err = publish.New(&pcfg, store, Version, a.log, a.declarationFromMQTT)
	if err != nil {
		return err
	}
	a.pub.OnDrop = a.refusedByBroker
	a.setBudget()
	a.checkDisk()
	srv, err := a.startWeb(cfg.HTTP.Listen)
	if err != nil {
		return err
	}

	// Inputs run under inCtx; the publisher under pubCtx, which outlives
	// the inputs so that the last results still get out.
	inCtx, stopInputs := context.WithCancel(ctx)
	defer stopInputs()
	pubCtx, stopPub := context.WithCancel(context.Background())
	defer stopPub()
	var pubWG, inWG sync.WaitGroup
	pubWG.Add(1)
	go func() { defer pubWG.Done(); _ = a.pub.Run(pubCtx) }()

	inWG.Add(3)
	go func() { defer inWG.Done(); a.watchScans(inCtx) }()
	go func() { defer inWG.Done(); a.processScans(inCtx) }()
	inWG.Go(func() { a.pre.run(inCtx) })
	go func() { defer inWG.Done(); a.watchDeclarations(inCtx) }()
	inWG.Go(func() { a.house.Run(inCtx) })
	a.startLanes(inCtx, &inWG)
	if a.opts.Systemd {
		a.sd.run(ctx)
	}
	close(a.ready)
	a.log.Info("gatescan running", "site", cfg.Site, "gate", cfg.Gate, "lanes", len(cfg.Lanes), "inbox", cfg.Scanner.Inbox, "broker", config.Redact(cfg.MQTT.Broker))
	if a.opts.OnReady != nil {
		a.opts.OnReady()
	}

	<-ctx.Done()
	a.log.Info("shutting down: finishing the scan in progress; scans waiting stay in the inbox")
	stopInputs()
	if !waitFor(&inWG, cfg.Shutdown) {
		// A scan hung (its attempt is on record: see scanner.max_attempts)
		// or an input would not stop: stop anyway, within systemd's
		// TimeoutStopSec; nothing uncommitted has been touched.
		a.log.Error("inputs did not stop within shutdown_timeout; stopping without them", "shutdown_timeout", cfg.Shutdown)
	}
	a.flushOutbox(min(cfg.Shutdown, 5*time.Second))
	stopPub()
	pubWG.Wait()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	a.log.Info("gatescan stopped")
	return nil
}

// flushOutbox gives the publisher up to d to flush the outbox at
// shutdown; what it cannot send stays in the buffer for the next start.
func (a *Agent) flushOutbox(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		st, err := a.store.Stats()
		if err != nil || st.Pending == 0 || !a.pub.State().Connected {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor waits for wg, at most d; it reports whether wg was done.
func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// Ready is closed once the agent is serving.
func (a *Agent) Ready() <-chan struct{} { return a.ready }
