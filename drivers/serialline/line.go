package serialline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.bug.st/serial"

	"github.com/gatescan/gatescan/drivers/scale"
)

// State is the condition of a Line as Status reports it.
type State string

// The states of a Line.
const (
	// StateDown means the port is not open: it could not be opened, it
	// failed, or Run is not running.
	StateDown State = "down"
	// StateUp means the port is open and valid readings arrive.
	StateUp State = "up"
	// StateSilent means the port is open but no valid reading has arrived
	// for Config.SilentAfter: the indicator is off or not sending, the
	// cable goes to another port, or the baud rate or protocol is wrong.
	StateSilent State = "silent"
)

// Status is a snapshot of a Line, for health checks, metrics and the
// technicians' page.
type Status struct {
	State State `json:"state"`
	// Since is when the line entered State.
	Since time.Time `json:"since"`
	// LastError is the most recent open or read error, kept after the line
	// recovers; empty if there was none.
	LastError string `json:"last_error,omitempty"`
	// LastReading is when the last valid reading arrived (zero if none).
	LastReading time.Time `json:"last_reading,omitzero"`
	Readings    uint64    `json:"readings"`   // valid readings decoded
	BadFrames   uint64    `json:"bad_frames"` // frames that could not be decoded
	Reconnects  uint64    `json:"reconnects"` // successful re-opens after the port was lost
	Bytes       uint64    `json:"bytes"`      // bytes read from the port
}

// A Line is the serial line of one weighbridge indicator. Create it with New,
// run it with Run; Status may be called from any goroutine.
type Line struct {
	cfg   Config
	proto scale.Protocol
	req   []byte // poll request, nil when listening only
	log   *slog.Logger
	open  OpenFunc

	running atomic.Bool

	// Back-off between open attempts and the interval between bad-frame
	// log lines; tests shorten them.
	backoffMin  time.Duration
	backoffMax  time.Duration
	badLogEvery time.Duration

	mu          sync.Mutex
	st          Status
	lastValid   time.Time // last valid reading, or when the line came up
	downLogged  bool      // the current down period has been logged
	badLoggedAt time.Time
	badUnlogged uint64 // bad frames since the last bad-frame log line
}

// New returns a Line for cfg that opens real serial ports with OpenSerial.
// The logger should carry the lane, e.g. log.With("lane", "L1"); nil means
// slog.Default(). New reports the problems of an invalid cfg.
func New(cfg Config, log *slog.Logger) (*Line, error) {
	return NewWithOpener(cfg, log, OpenSerial)
}

// NewWithOpener is like New but opens the port with open, so that tests and
// tools can substitute the serial driver.
func NewWithOpener(cfg Config, log *slog.Logger, open OpenFunc) (*Line, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("weighbridge serial line %q: %w", cfg.Port, err)
	}
	cfg = cfg.WithDefaults()
	proto, err := scale.Lookup(cfg.Protocol)
	if err != nil {
		return nil, fmt.Errorf("weighbridge serial line %q: %w", cfg.Port, err)
	}
	if log == nil {
		log = slog.Default()
	}
	if open == nil {
		open = OpenSerial
	}
	l := &Line{
		cfg:         cfg,
		proto:       proto,
		log:         log.With("port", cfg.Port, "protocol", cfg.Protocol),
		open:        open,
		backoffMin:  250 * time.Millisecond,
		backoffMax:  10 * time.Second,
		badLogEvery: 30 * time.Second,
	}
	if p, ok := proto.(scale.Poller); ok && cfg.PollInterval > 0 {
		l.req = append([]byte(nil), p.Request()...)
	}
	l.st = Status{State: StateDown, Since: time.Now()}
	return l, nil
}

// Config returns the line's configuration, with defaults applied.
func (l *Line) Config() Config { return l.cfg }

// Status returns a snapshot of the line's state and counters.
func (l *Line) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// Run opens the port and calls onReading (which may be nil) with every valid
// reading, from Run's goroutine, in order; onReading should return quickly,
// as the port is not read meanwhile. When the port fails or cannot be
// opened, Run closes it, waits with exponential back-off and opens it
// again. Run returns only when ctx is done, with ctx.Err(), and leaves the
// port closed. A Line runs at most once at a time: a second concurrent Run
// returns an error at once.
func (l *Line) Run(ctx context.Context, onReading func(scale.Reading)) error {
	if !l.running.CompareAndSwap(false, true) {
		return fmt.Errorf("weighbridge serial line %q: Run called while already running: run each Line once", l.cfg.Port)
	}
	defer l.running.Store(false)
	if onReading == nil {
		onReading = func(scale.Reading) {}
	}

	backoff := l.backoffMin
	wasOpen := false
	for {
		if ctx.Err() != nil {
			l.stopped()
			return ctx.Err()
		}
		port, err := l.open(l.cfg)
		if err == nil {
			port = &onceCloser{ReadWriteCloser: port}
			l.setUp(wasOpen)
			wasOpen = true
			start := time.Now()
			before := l.Status().Readings
			err = l.session(ctx, port, onReading)
			port.Close()
			if ctx.Err() != nil {
				l.stopped()
				return ctx.Err()
			}
			// A port that worked for a while gets the short back-off again;
			// one that fails right after opening keeps backing off.
			if l.Status().Readings > before || time.Since(start) >= l.backoffMax {
				backoff = l.backoffMin
			}
			err = fmt.Errorf("weighbridge port %q failed: %w", l.cfg.Port, err)
		}
		l.setDown(err)

		wait := time.Duration(float64(backoff) * (0.75 + 0.5*rand.Float64()))
		wait = min(wait, l.backoffMax)
		backoff = min(2*backoff, l.backoffMax)
		if !sleep(ctx.Done(), wait) {
			l.stopped()
			return ctx.Err()
		}
	}
}

// Decode decodes the captured byte stream r until it ends, calling
// onReading (which may be nil) with every valid reading, and counts bytes,
// readings and bad frames in Status as Run does. It returns nil at the end
// of r, ctx.Err() if ctx ends first (checked between reads of r), or the
// error of r. Decode must not run at the same time as Run.
func (l *Line) Decode(ctx context.Context, r io.Reader, onReading func(scale.Reading)) error {
	if onReading == nil {
		onReading = func(scale.Reading) {}
	}
	err := l.decode(ctx, r, nil, onReading)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// session reads an open port until it fails or ctx ends.
func (l *Line) session(ctx context.Context, port io.ReadWriteCloser, onReading func(scale.Reading)) error {
	// Closing the port unblocks a pending Read at once when ctx ends.
	stop := context.AfterFunc(ctx, func() { port.Close() })
	defer stop()
	err := l.decode(ctx, port, port, onReading)
	var pe *serial.PortError
	switch {
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("read: %w (the device went away: USB adapter unplugged or port reset)", err)
	case errors.As(err, &pe) && pe.Code() == serial.PortClosed, errors.Is(err, syscall.EIO), errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ENODEV):
		err = fmt.Errorf("read: %w (the device hung up: USB adapter unplugged or port reset)", err)
	default:
		err = fmt.Errorf("read: %w (check the cable and the USB adapter)", err)
	}
	return err
}

// decode runs the scale.Reader over r until r fails; w receives poll
// requests (nil: never poll).
func (l *Line) decode(ctx context.Context, r io.Reader, w io.Writer, onReading func(scale.Reading)) error {
	f := &feeder{l: l, ctx: ctx, r: r}
	if w != nil && l.req != nil {
		f.w, f.req, f.every = w, l.req, l.cfg.PollInterval
	}
	rd := scale.NewReader(f, l.proto)
	for {
		reading, err := rd.Next()
		switch {
		case err == nil:
			l.gotReading(time.Now())
			onReading(reading)
		case scale.IsFrameError(err):
			l.badFrame(err)
		case errors.Is(err, io.EOF):
			return io.EOF
		case f.err != nil && err == f.err:
			return err
		default:
			// The scanner gave up, not the port: a run of bytes longer
			// than scale.MaxFrame without a frame, or the protocol's
			// splitter failed. Count it and start afresh on the same port.
			l.badFrame(err)
			rd = scale.NewReader(f, l.proto)
		}
	}
}

// feeder is the io.Reader the scale.Reader reads: it hides read timeouts
// (which bufio.Scanner would take for a stalled reader), counts bytes,
// notices silence, writes poll requests when due and stops when ctx ends.
type feeder struct {
	l     *Line
	ctx   context.Context
	r     io.Reader
	w     io.Writer
	req   []byte
	every time.Duration
	next  time.Time
	err   error // the error that ended the stream
}

func (f *feeder) Read(p []byte) (int, error) {
	for {
		if err := f.ctx.Err(); err != nil {
			f.err = err
			return 0, err
		}
		now := time.Now()
		f.l.tick(now)
		if f.w != nil && !now.Before(f.next) {
			if _, err := f.w.Write(f.req); err != nil {
				f.err = fmt.Errorf("write poll request %q: %w", f.req, err)
				return 0, f.err
			}
			f.next = now.Add(f.every)
		}
		n, err := f.r.Read(p)
		if n > 0 {
			f.l.addBytes(n)
		}
		if err != nil {
			if cerr := f.ctx.Err(); cerr != nil {
				err = cerr
			}
			f.err = err
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		// (0, nil): the read timed out; go round to check the time.
	}
}

func (l *Line) setUp(reconnect bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	downFor := now.Sub(l.st.Since)
	l.st.State, l.st.Since = StateUp, now
	l.lastValid = now
	l.downLogged = false
	if reconnect {
		l.st.Reconnects++
		l.log.Info("weighbridge port reopened", "down_for", downFor.Round(time.Millisecond), "reconnects", l.st.Reconnects)
		return
	}
	l.log.Info("weighbridge port open", "baud", l.cfg.Baud, "data_bits", l.cfg.DataBits,
		"parity", l.cfg.Parity, "stop_bits", l.cfg.StopBits, "poll_interval", l.cfg.PollInterval)
}

// setDown records that the port is gone; the first failure of a down period
// is logged as a warning, the retries that follow only at debug level.
func (l *Line) setDown(err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.LastError = err.Error()
	if l.st.State != StateDown {
		l.st.State, l.st.Since = StateDown, now
	}
	if l.downLogged {
		l.log.Debug("weighbridge port still unavailable", "err", err)
		return
	}
	l.downLogged = true
	l.log.Warn("weighbridge lane down: port unavailable, retrying with back-off until it returns", "err", err)
}

func (l *Line) stopped() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.State != StateDown {
		l.st.State, l.st.Since = StateDown, time.Now()
	}
	l.log.Info("weighbridge line stopped")
}

func (l *Line) addBytes(n int) {
	l.mu.Lock()
	l.st.Bytes += uint64(n)
	l.mu.Unlock()
}

func (l *Line) gotReading(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.Readings++
	l.st.LastReading = now
	l.lastValid = now
	if l.st.State == StateSilent {
		l.st.State, l.st.Since = StateUp, now
		l.log.Info("weighbridge readings resumed")
	}
}

// tick marks the line silent when no valid reading came for SilentAfter.
func (l *Line) tick(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.State != StateUp || now.Sub(l.lastValid) < l.cfg.SilentAfter {
		return
	}
	l.st.State, l.st.Since = StateSilent, now
	hint := "check that the indicator is on and set to send continuously (or to answer polls), and that the cable goes to this port"
	if l.st.BadFrames > 0 {
		hint = "bytes arrive but do not decode: check that baud (and parity) match the indicator and that protocol is its output format"
	}
	l.log.Warn("weighbridge lane silent: no valid reading", "for", now.Sub(l.lastValid).Round(time.Millisecond),
		"bytes", l.st.Bytes, "bad_frames", l.st.BadFrames, "hint", hint)
}

// badFrame counts a frame that did not decode and logs it, at most once
// per badLogEvery.
func (l *Line) badFrame(err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.BadFrames++
	l.badUnlogged++
	if !l.badLoggedAt.IsZero() && now.Sub(l.badLoggedAt) < l.badLogEvery {
		return
	}
	l.log.Warn("weighbridge bad frame",
		"err", err,
		"bad_frames", l.st.BadFrames,
		"since_last_log", l.badUnlogged,
		"hint", fmt.Sprintf("check that the indicator sends at %d baud, %d%s%g, in the %q protocol", l.cfg.Baud, l.cfg.DataBits, parityLetter(l.cfg.Parity), l.cfg.StopBits, l.cfg.Protocol))
	l.badLoggedAt = now
	l.badUnlogged = 0
}
