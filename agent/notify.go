package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatescan/gatescan/vision"
)

// The service manager protocol of sd_notify(3), spoken directly over the
// NOTIFY_SOCKET datagram socket: it is one write, and libsystemd through
// cgo would be a heavier dependency than the protocol itself.

// Notify sends state assignments such as "READY=1" to the service manager
// named by $NOTIFY_SOCKET, one datagram, newline-separated, as sd_notify(3)
// does. Without $NOTIFY_SOCKET (not started by systemd, or a unit whose
// Type= is not notify) it does nothing and returns nil.
func Notify(state ...string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	// A leading '@' names a socket in the abstract namespace; the net
	// package translates it into the leading NUL byte Linux expects.
	if addr[0] != '/' && addr[0] != '@' {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET=%q is neither a path nor an abstract socket name (@...): check the service manager", addr)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: connect to NOTIFY_SOCKET %s: %w", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(state, "\n"))); err != nil {
		return fmt.Errorf("sd_notify: send %q to %s: %w", state, addr, err)
	}
	return nil
}

// WatchdogTimeout returns the watchdog timeout systemd expects pings
// within ($WATCHDOG_USEC), and false when the watchdog is off or meant for
// another process ($WATCHDOG_PID), as sd_watchdog_enabled(3) decides.
func WatchdogTimeout() (time.Duration, bool) {
	us, err := strconv.ParseUint(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us == 0 {
		return 0, false
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" {
		if pid, err := strconv.Atoi(p); err != nil || pid != os.Getpid() {
			return 0, false
		}
	}
	return time.Duration(us) * time.Microsecond, true
}

// systemd tells the service manager how the agent is: READY=1 once the
// buffer, the MQTT client and the lanes are up (Run starts it then, with
// Options.Systemd), WATCHDOG=1 pings while the pipeline is alive,
// STOPPING=1 as soon as shutdown begins; reloads say RELOADING=1 and
// READY=1 around them. Outside systemd every notification is a no-op.
type systemd struct {
	log *slog.Logger
	// status is the one-line STATUS= that `systemctl status` shows.
	status func() string
	// alive says why the pipeline cannot inspect, or nil: the watchdog
	// pings only while it is nil.
	alive func() error
}

// run says READY=1, starts the watchdog's pings when systemd asks for
// them, and says STOPPING=1 once ctx ends.
func (s systemd) run(ctx context.Context) {
	s.notify("READY=1", "STATUS="+s.status())
	if timeout, ok := WatchdogTimeout(); ok {
		go s.watchdog(ctx, timeout)
	}
	go func() {
		<-ctx.Done()
		s.notify("STOPPING=1", "STATUS=shutting down: finishing the scan in progress")
	}()
}

// reloading says RELOADING=1 with what is reloaded; the function it
// returns says READY=1 once the reload is over, whatever its outcome.
func (s systemd) reloading(what string) (done func()) {
	s.notify("RELOADING=1", "STATUS=reloading "+what)
	return func() { s.notify("READY=1", "STATUS="+s.status()) }
}

// notify sends to systemd and logs a failure: the gate keeps working
// whether or not the service manager hears about it.
func (s systemd) notify(state ...string) {
	if err := Notify(state...); err != nil {
		s.log.Warn("cannot notify systemd", "err", err)
	}
}

// statusLine is the one-line STATUS= that `systemctl status` shows.
func (a *Agent) statusLine() string {
	cfg := a.Config()
	bridges := 0
	for _, l := range cfg.Lanes {
		if l.Weighbridge != nil {
			bridges++
		}
	}
	s := fmt.Sprintf("inspecting: %d lane(s), %d weighbridge(s), config #%d", len(cfg.Lanes), bridges, a.configGeneration())
	if addr := a.web.Addr(); addr != "" {
		s += ", page on http://" + addr + "/"
	}
	return s
}

// watchdog pings systemd four times per timeout while alive reports no
// problem. It pings from here, not from a timer of its own, so that a
// stalled scan loop or a wedged buffer stops the pings and systemd
// restarts the agent (WatchdogSec= in the unit).
func (s systemd) watchdog(ctx context.Context, timeout time.Duration) {
	t := time.NewTicker(max(timeout/4, time.Millisecond))
	defer t.Stop()
	var stalled error
	for {
		err := s.alive()
		switch {
		case err == nil:
			if stalled != nil {
				s.log.Info("pipeline alive again; watchdog pings resumed")
			}
			s.notify("WATCHDOG=1")
		case stalled == nil:
			s.log.Error("pipeline stalled: watchdog pings withheld, systemd will restart gatescan if it does not recover",
				"err", err, "watchdog_timeout", timeout)
		}
		stalled = err
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stallAfter is how long the scan loop may go without turning
// before the pipeline counts as stalled. The loop turns at least once a
// second when idle and between scans; the slowest scan takes seconds, so a
// minute without a turn is a scan stuck in the detector or a deadlock.
const stallAfter = time.Minute

// storeProbeTimeout bounds the buffer read of the liveness check.
const storeProbeTimeout = 5 * time.Second

// scanLoopTurn is called by the scan loop on every turn, between scans:
// it records that the loop is alive, and hands back a detector with the
// settings in force, replacing det when a reload has changed them since
// it was made. The scan in progress keeps the detector it started with.
func (a *Agent) scanLoopTurn(det *vision.Detector) *vision.Detector {
	a.ops.beat.Store(time.Now().UnixNano())
	// Rebuilt on the first turn too: a reload may have come between the
	// loop making det and this turn.
	if g := a.configGeneration(); g != a.ops.detGen.Load() {
		det.Close()
		det = newDetector(a.Config())
		a.ops.detGen.Store(g)
	}
	return det
}

// pipelineAlive reports why the agent cannot inspect right now, or nil:
// it must be started, its scan loop turning and its buffer answering. An
// unreachable broker does not count: results wait in the buffer.
func (a *Agent) pipelineAlive() error {
	select {
	case <-a.ready:
	default:
		return errors.New("starting")
	}
	last := a.ops.startedAt // the loop may not have turned yet
	if b := a.ops.beat.Load(); b != 0 {
		last = time.Unix(0, b)
	}
	if d := time.Since(last); d > stallAfter {
		return fmt.Errorf("the scan loop has not turned for %v (a scan stuck in the detector, or a deadlock)", d.Round(time.Second))
	}
	read := a.ops.probe.read
	if read == nil {
		read = func() error { _, err := a.store.ScanDone("\x00liveness-probe"); return err }
	}
	timeout := a.ops.probe.timeout
	if timeout == 0 {
		timeout = storeProbeTimeout
	}
	if err := a.ops.probe.check(read, timeout); err != nil {
		return err
	}
	return nil
}

// storeProbe reads the buffer for the health checks with at most one read
// in flight: on a stalled disk every /readyz request and watchdog tick
// waits on the same read, rather than leaving one goroutine each behind.
type storeProbe struct {
	mu  sync.Mutex
	cur *probeRun
	// read and timeout replace the buffer read and storeProbeTimeout in
	// tests.
	read    func() error
	timeout time.Duration
}

type probeRun struct {
	started time.Time
	done    chan struct{}
	err     error
}

// check waits for the read in flight, or starts one, at most until
// timeout after that read started.
func (p *storeProbe) check(read func() error, timeout time.Duration) error {
	p.mu.Lock()
	r := p.cur
	if r == nil {
		r = &probeRun{started: time.Now(), done: make(chan struct{})}
		p.cur = r
		go func() {
			r.err = read()
			p.mu.Lock()
			p.cur = nil
			p.mu.Unlock()
			close(r.done)
		}()
	}
	p.mu.Unlock()
	t := time.NewTimer(max(0, timeout-time.Since(r.started)))
	defer t.Stop()
	select {
	case <-r.done:
		if r.err != nil {
			return fmt.Errorf("buffer does not answer reads: %w", r.err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("buffer read has taken %v, over %v (disk stalled?)", time.Since(r.started).Round(time.Millisecond), timeout)
	}
}
