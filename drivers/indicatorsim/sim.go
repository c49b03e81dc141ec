package indicatorsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
)

// Defaults of a new Sim and of a Truck.
const (
	DefaultDivision = 20.0                   // kg
	DefaultNoise    = 0.1                    // probability of one division off, each side
	DefaultRamp     = 3 * time.Second        // driving on or off
	DefaultGap      = 3 * time.Second        // empty bridge between Play's trucks
	DefaultSettle   = 3 * time.Second        // standing still before Weigh returns
	DefaultRate     = 100 * time.Millisecond // 10 frames a second
)

// Truck is one simulated vehicle.
type Truck struct {
	// GrossKg is the weight of the whole vehicle on the bridge.
	GrossKg float64
	// Settle is how long the truck stands still before Weigh returns
	// (default 3 s): longer than the weigher's stability time, so that it
	// has reported the stable gross by then.
	Settle time.Duration
}

// A Sim is a simulated weighbridge indicator. Set its exported fields
// before Start or Play; its methods may be called from several goroutines.
type Sim struct {
	// Division is the display step in kg: frames carry whole divisions.
	Division float64
	// Noise is the probability that a frame shows one division more, and
	// the same that it shows one division less, than the weight; 0 for a
	// perfectly steady display.
	Noise float64
	// Ramp is how long a truck takes to drive on or off the bridge.
	Ramp time.Duration
	// Gap is how long Play shows the empty bridge before, between and after
	// trucks.
	Gap time.Duration
	// Capacity, when positive, is the indicator's maximum: heavier weights
	// are sent as overload.
	Capacity float64
	// Logger receives the simulator's log lines (default slog.Default()).
	Logger *slog.Logger

	port  io.ReadWriteCloser
	path  string
	extra io.Closer // the pty slave the Sim holds open; nil on a real port

	mu       sync.Mutex
	prof     profile
	rng      *rand.Rand
	cancel   context.CancelFunc // stops streaming; nil when not streaming
	done     chan struct{}      // closed when the streaming goroutine ends
	closed   bool
	dropping bool // frames are being dropped because nobody reads
}

// New returns a Sim that writes its frames to port, for example a real
// serial port opened with serialline.OpenSerial, and discards what it reads
// from it (poll requests: the Sim streams whether polled or not). The Sim
// owns port and closes it on Close.
func New(port io.ReadWriteCloser) *Sim {
	s := &Sim{
		Division: DefaultDivision,
		Noise:    DefaultNoise,
		Ramp:     DefaultRamp,
		Gap:      DefaultGap,
		Logger:   slog.Default(),
		port:     port,
		rng:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	go func() {
		buf := make([]byte, 256)
		for {
			if _, err := port.Read(buf); err != nil {
				return
			}
		}
	}()
	return s
}

// Encoder returns the registered scale protocol name as a scale.Encoder,
// for Start and Play.
func Encoder(name string) (scale.Encoder, error) {
	p, err := scale.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("indicatorsim: %w", err)
	}
	enc, ok := p.(scale.Encoder)
	if !ok {
		var can []string
		for _, n := range scale.Names() {
			if q, _ := scale.Lookup(n); q != nil {
				if _, ok := q.(scale.Encoder); ok {
					can = append(can, n)
				}
			}
		}
		return nil, fmt.Errorf("indicatorsim: protocol %q cannot be simulated (it has no encoder): use one of %s", name, strings.Join(can, ", "))
	}
	return enc, nil
}

// Path returns the device path of the pseudo-terminal's slave, which the
// agent opens as its weighbridge port; empty for a Sim made with New.
func (s *Sim) Path() string { return s.path }

// Start streams the current weight in protocol at rate (DefaultRate if not
// positive) from a background goroutine, until Stop or Close. The bridge
// starts empty unless Set put a weight on it.
func (s *Sim) Start(protocol scale.Encoder, rate time.Duration) error {
	if protocol == nil {
		return errors.New("indicatorsim: Start with a nil protocol: pass a scale protocol that implements scale.Encoder")
	}
	if rate <= 0 {
		rate = DefaultRate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("indicatorsim: Start after Close: make a new Sim")
	}
	if s.cancel != nil {
		return errors.New("indicatorsim: already streaming: call Stop before starting again")
	}
	cfg := frameConfig{division: s.Division, noise: s.Noise, capacity: s.Capacity}
	if !(cfg.division > 0) {
		cfg.division = DefaultDivision
	}
	cfg.noise = math.Max(0, math.Min(0.5, cfg.noise))
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.stream(ctx, protocol, rate, cfg, s.done)
	s.logger().Info("simulated indicator streaming", "path", s.path, "rate", rate, "division_kg", cfg.division)
	return nil
}

// Stop stops streaming: the indicator falls silent. It does nothing if the
// Sim is not streaming.
func (s *Sim) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Close stops streaming and closes the port (for a pty, the slave device
// vanishes, as when a USB adapter is unplugged). Close may be called more
// than once.
func (s *Sim) Close() error {
	s.Stop()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.port.Close()
	if s.extra != nil {
		err = errors.Join(err, s.extra.Close())
	}
	if err != nil {
		return fmt.Errorf("indicatorsim: close %s: %w", s.path, err)
	}
	return nil
}

// Set puts grossKg on the bridge at once, with the motion flag as given,
// ending any drive on or off in progress.
func (s *Sim) Set(grossKg float64, motion bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prof = profile{from: grossKg, to: grossKg, motion: motion}
}

// Weigh drives truck onto the bridge: the weight ramps up over Ramp with the
// motion flag set, then holds still at truck.GrossKg. Weigh returns once the
// stable gross has been streamed for truck.Settle, or when ctx ends; the
// truck stays on the bridge until Leave. The Sim must be streaming.
func (s *Sim) Weigh(ctx context.Context, truck Truck) error {
	if !(truck.GrossKg > 0) || math.IsInf(truck.GrossKg, 0) {
		return fmt.Errorf("indicatorsim: truck gross %v kg: must be a positive weight", truck.GrossKg)
	}
	settle := truck.Settle
	if settle <= 0 {
		settle = DefaultSettle
	}
	ramp, err := s.moveTo(truck.GrossKg)
	if err != nil {
		return err
	}
	s.logger().Info("simulated truck driving on", "gross_kg", truck.GrossKg, "ramp", ramp, "settle", settle)
	return sleep(ctx, ramp+settle)
}

// Leave drives the truck off: the weight ramps down to zero over Ramp with
// the motion flag set. Leave returns when the bridge is empty or ctx ends.
// The Sim must be streaming.
func (s *Sim) Leave(ctx context.Context) error {
	ramp, err := s.moveTo(0)
	if err != nil {
		return err
	}
	s.logger().Info("simulated truck driving off", "ramp", ramp)
	return sleep(ctx, ramp)
}

// Play streams a whole scenario in protocol at rate: the empty bridge for
// Gap, then each truck in turn driving on, settling for its Settle time and
// driving off, followed by Gap of empty bridge. Play returns when the last
// truck has left and the gap passed, or when ctx ends, and stops streaming.
// The Sim must not be streaming already.
func (s *Sim) Play(ctx context.Context, protocol scale.Encoder, trucks []Truck, rate time.Duration) error {
	for i, t := range trucks {
		if !(t.GrossKg > 0) || math.IsInf(t.GrossKg, 0) {
			return fmt.Errorf("indicatorsim: truck %d gross %v kg: must be a positive weight", i+1, t.GrossKg)
		}
	}
	s.Set(0, false)
	if err := s.Start(protocol, rate); err != nil {
		return err
	}
	defer s.Stop()
	s.mu.Lock()
	gap := s.Gap
	s.mu.Unlock()
	if err := sleep(ctx, gap); err != nil {
		return err
	}
	for _, t := range trucks {
		if err := s.Weigh(ctx, t); err != nil {
			return err
		}
		if err := s.Leave(ctx); err != nil {
			return err
		}
		if err := sleep(ctx, gap); err != nil {
			return err
		}
	}
	return nil
}

// moveTo starts a drive from the current weight to kg and returns how long
// it takes.
func (s *Sim) moveTo(kg float64) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return 0, errors.New("indicatorsim: not streaming: call Start (or Play) first")
	}
	now := time.Now()
	from, _ := s.prof.at(now)
	ramp := max(s.Ramp, 0)
	s.prof = profile{from: from, to: kg, start: now, dur: ramp}
	return ramp, nil
}

func (s *Sim) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

type frameConfig struct {
	division, noise, capacity float64
}

// stream sends a frame every rate until ctx ends or the port fails.
func (s *Sim) stream(ctx context.Context, enc scale.Encoder, rate time.Duration, cfg frameConfig, done chan struct{}) {
	defer close(done)
	tk := time.NewTicker(rate)
	defer tk.Stop()
	for now := time.Now(); ; {
		if !s.send(enc.Encode(s.reading(now, cfg)), now.Add(max(rate, 50*time.Millisecond))) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case now = <-tk.C:
		}
	}
}

// reading is what the indicator shows at time now.
func (s *Sim) reading(now time.Time, cfg frameConfig) scale.Reading {
	s.mu.Lock()
	kg, moving := s.prof.at(now)
	u := s.rng.Float64()
	s.mu.Unlock()
	d := cfg.division
	switch {
	case u < cfg.noise:
		kg -= d
	case u < 2*cfg.noise:
		kg += d
	}
	gross := math.Round(kg/d) * d
	gross = math.Round(gross*1e6) / 1e6
	if gross == 0 {
		gross = 0 // not -0
	}
	net, tare := gross, 0.0
	return scale.Reading{
		Gross:     &gross,
		Net:       &net,
		Tare:      &tare,
		Stable:    !moving,
		HasMotion: true,
		Overload:  cfg.capacity > 0 && gross > cfg.capacity,
		Zero:      gross == 0,
		Unit:      "kg",
		Division:  d,
	}
}

// send writes one frame. A frame nobody reads (the pty's buffer is full)
// is dropped, as a real indicator's output is lost when no cable is
// plugged in; send reports false when the port is gone.
func (s *Sim) send(frame []byte, deadline time.Time) bool {
	if dl, ok := s.port.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = dl.SetWriteDeadline(deadline)
	}
	_, err := s.port.Write(frame)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		if s.dropping {
			s.dropping = false
			s.logger().Debug("simulated indicator: frames read again", "path", s.path)
		}
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !s.dropping {
			s.dropping = true
			s.logger().Debug("simulated indicator: nobody reads the port, dropping frames", "path", s.path)
		}
		return true
	default:
		if !s.closed {
			s.logger().Warn("simulated indicator stopped: writing to the port failed", "path", s.path, "err", err)
		}
		return false
	}
}

// profile is the weight on the bridge over time: at rest at to, or driving
// from from to to during [start, start+dur).
type profile struct {
	from, to float64
	start    time.Time
	dur      time.Duration
	motion   bool // the motion flag at rest (Set)
}

// at returns the weight at time now and whether it is in motion.
func (p profile) at(now time.Time) (kg float64, moving bool) {
	el := now.Sub(p.start)
	if p.dur <= 0 || el >= p.dur {
		return p.to, p.motion
	}
	if el < 0 {
		el = 0
	}
	// Three axle groups (steer, drive, trailer) roll on or off one after
	// another, each smoothly.
	const groups = 3
	x := float64(el) / float64(p.dur) * groups
	k := math.Floor(x)
	u := x - k
	f := (k + u*u*(3-2*u)) / groups
	kg = p.from + (p.to-p.from)*f
	// The deck and the suspension bounce while the wheels roll.
	kg += 0.015 * math.Abs(p.to-p.from) * math.Sin(2*math.Pi*1.3*el.Seconds())
	return math.Max(kg, 0), true
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
