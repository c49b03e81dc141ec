package weighing

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/internal/defaults"
)

// Defaults applied by Config.WithDefaults to fields left at zero.
const (
	DefaultDivision            = 20.0 // kg
	DefaultZeroBandDivisions   = 0.5
	DefaultZeroRangeDivisions  = 100
	DefaultStableBandDivisions = 1
	DefaultStableFor           = 2 * time.Second
	DefaultMinTruckKg          = 2000.0
)

// confirmReadings is how many successive readings must agree before a truck
// counts as arrived or gone.
const confirmReadings = 2

// Config tunes a Weigher. Fields left at zero take the defaults above.
type Config struct {
	// Division is the indicator's display step d in kg (default 20),
	// used when a reading does not carry its own.
	Division float64 `yaml:"division_kg" json:"division_kg"`
	// ZeroBandDivisions is the zero-tracking band and rate: the zero
	// follows an empty bridge at rest by at most this many divisions per
	// second, only while the reading is within this many divisions of it
	// (default 0.5).
	ZeroBandDivisions float64 `yaml:"zero_band_divisions" json:"zero_band_divisions"`
	// ZeroRangeDivisions bounds how far zero tracking may move the zero
	// from the indicator's zero, either way (default 100).
	ZeroRangeDivisions float64 `yaml:"zero_range_divisions" json:"zero_range_divisions"`
	// StableBandDivisions is the half-width of the band, in divisions,
	// within which every reading of StableFor must lie for the weight to be
	// stable (default 1).
	StableBandDivisions float64 `yaml:"stable_band_divisions" json:"stable_band_divisions"`
	// StableFor is how long the weight must stay within the band (default 2 s).
	StableFor time.Duration `yaml:"stable_for" json:"stable_for"`
	// MinTruckKg is the gross below which the bridge counts as empty
	// (default 2000).
	MinTruckKg float64 `yaml:"min_truck_kg" json:"min_truck_kg"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	return defaults.Fill(c, Config{Division: DefaultDivision, ZeroBandDivisions: DefaultZeroBandDivisions,
		ZeroRangeDivisions: DefaultZeroRangeDivisions, StableBandDivisions: DefaultStableBandDivisions,
		StableFor: DefaultStableFor, MinTruckKg: DefaultMinTruckKg})
}

// Validate reports every problem with c (after defaults), joined with
// errors.Join; each message starts with the config key.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	positive := func(key string, v float64, hint string) {
		if !(v > 0) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("%s %v: must be a positive number, %s", key, v, hint))
		}
	}
	positive("division_kg", c.Division, "the indicator's display step, e.g. 20")
	positive("zero_band_divisions", c.ZeroBandDivisions, "e.g. 0.5")
	positive("zero_range_divisions", c.ZeroRangeDivisions, "e.g. 100")
	positive("stable_band_divisions", c.StableBandDivisions, "e.g. 1")
	positive("min_truck_kg", c.MinTruckKg, "e.g. 2000")
	if c.StableFor < 0 {
		errs = append(errs, fmt.Errorf("stable_for %s: must be positive, e.g. 2s", c.StableFor))
	}
	if c.MinTruckKg > 0 && c.Division > 0 && c.MinTruckKg < 10*c.Division {
		errs = append(errs, fmt.Errorf("min_truck_kg %v: is less than 10 divisions (%v kg), so noise could look like a truck: raise it", c.MinTruckKg, 10*c.Division))
	}
	return errors.Join(errs...)
}

// Kind says what an Event reports.
type Kind int

// The kinds of Event.
const (
	BridgeEmpty Kind = iota + 1
	TruckArrived
	Settled
	TruckLeft
)

var kindNames = map[Kind]string{
	BridgeEmpty:  "bridge_empty",
	TruckArrived: "truck_arrived",
	Settled:      "settled",
	TruckLeft:    "truck_left",
}

// String returns the kind's snake_case name, e.g. "truck_arrived".
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText encodes k as its String.
func (k Kind) MarshalText() ([]byte, error) {
	if _, ok := kindNames[k]; !ok {
		return nil, fmt.Errorf("weighing: cannot marshal unknown event kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes a kind from its String.
func (k *Kind) UnmarshalText(b []byte) error {
	for kk, s := range kindNames {
		if s == string(b) {
			*k = kk
			return nil
		}
	}
	return fmt.Errorf("weighing: unknown event kind %q: want bridge_empty, truck_arrived, settled or truck_left", b)
}

// Event is something that happened on a lane's weighbridge.
type Event struct {
	Kind Kind      `json:"kind"`
	Lane string    `json:"lane"`
	At   time.Time `json:"at"`
	// GrossKg is, for BridgeEmpty, the resting weight of the empty bridge;
	// for TruckArrived, the weight when the truck was first seen; for
	// Settled, the stable gross; for TruckLeft, the visit's last Settled
	// gross, or its highest reading if it never settled.
	GrossKg float64 `json:"gross_kg"`
	// Stable reports whether GrossKg is a stable weight: true for
	// BridgeEmpty and Settled, for TruckLeft whether the visit settled.
	Stable bool `json:"stable"`
	// Visit numbers the truck visits of this Weigher from 1; BridgeEmpty
	// carries the number of the visit that ended (0 before the first).
	Visit int `json:"visit"`
}

// A Weigher follows one lane's weighbridge. Its methods may be called from
// several goroutines.
type Weigher struct {
	lane string
	cfg  Config

	mu  sync.Mutex
	win window

	zero   float64   // tracked zero, kg, relative to the indicator's zero
	zeroAt time.Time // last zero-tracking step; zero when not tracking

	loaded     bool      // a truck is on the bridge
	pending    int       // successive readings contradicting loaded
	pendingAt  time.Time // the first of them
	visit      int
	settled    bool
	settledKg  float64
	peakKg     float64
	emptyShown bool // BridgeEmpty reported for the current empty period

	liveKg     float64
	liveStable bool
	liveAt     time.Time
}

// New returns a Weigher for lane. Zero fields of cfg take their defaults;
// values Validate would reject are replaced by defaults too.
func New(lane string, cfg Config) *Weigher {
	cfg = cfg.WithDefaults()
	def := Config{}.WithDefaults()
	fix := func(v *float64, d float64) {
		if !(*v > 0) || math.IsInf(*v, 0) {
			*v = d
		}
	}
	fix(&cfg.Division, def.Division)
	fix(&cfg.ZeroBandDivisions, def.ZeroBandDivisions)
	fix(&cfg.ZeroRangeDivisions, def.ZeroRangeDivisions)
	fix(&cfg.StableBandDivisions, def.StableBandDivisions)
	fix(&cfg.MinTruckKg, def.MinTruckKg)
	if cfg.StableFor < 0 {
		cfg.StableFor = def.StableFor
	}
	return &Weigher{lane: lane, cfg: cfg}
}

// Lane returns the lane the Weigher was created for.
func (w *Weigher) Lane() string { return w.lane }

// Add takes the reading r received at time at and returns the events it
// causes, usually none. Readings must be added in time order.
func (w *Weigher) Add(r scale.Reading, at time.Time) []Event {
	w.mu.Lock()
	defer w.mu.Unlock()

	raw, hasWeight := grossOf(r)
	if !hasWeight && !r.Overload && !r.Underload {
		return nil // nothing to weigh (a status-only frame)
	}
	d := r.Division
	if !(d > 0) {
		d = w.cfg.Division
	}
	valid := hasWeight && !r.Overload && !r.Underload
	moving := r.HasMotion && !r.Stable
	if valid && !moving {
		w.win.add(at, raw, 2*w.cfg.StableBandDivisions*d, w.cfg.StableFor)
	} else {
		w.win.reset()
	}
	stable := valid && !moving && w.win.stable(at, w.cfg.StableFor)

	gross := raw - w.zero
	var present bool
	switch {
	case r.Overload:
		present = true
	case r.Underload:
		present = false
	default:
		present = gross >= w.cfg.MinTruckKg
	}

	var events []Event
	emit := func(k Kind, t time.Time, kg float64, st bool) {
		events = append(events, Event{Kind: k, Lane: w.lane, At: t, GrossKg: kg, Stable: st, Visit: w.visit})
	}

	// Arrival and departure, confirmed by successive readings.
	if present != w.loaded {
		if w.pending == 0 {
			w.pendingAt = at
		}
		w.pending++
		if w.pending >= confirmReadings {
			w.pending = 0
			if present {
				w.loaded = true
				w.visit++
				w.settled, w.settledKg = false, 0
				w.peakKg = 0
				if hasWeight {
					w.peakKg = roundTo(gross, d)
				}
				emit(TruckArrived, w.pendingAt, w.peakKg, false)
			} else {
				w.loaded = false
				w.emptyShown = false
				if w.settled {
					emit(TruckLeft, w.pendingAt, w.settledKg, true)
				} else {
					emit(TruckLeft, w.pendingAt, w.peakKg, false)
				}
			}
		}
	} else {
		w.pending = 0
	}
	if w.loaded && hasWeight {
		w.peakKg = math.Max(w.peakKg, roundTo(gross, d))
	}

	// Stable weights.
	if !stable || w.loaded || present {
		w.zeroAt = time.Time{}
	}
	if stable && present == w.loaded {
		mean := w.win.mean()
		if w.loaded {
			kg := roundTo(mean-w.zero, d)
			if !w.settled || kg > w.settledKg+resettleKg(w.settledKg, d) {
				w.settled, w.settledKg = true, kg
				emit(Settled, at, kg, true)
			}
		} else {
			w.trackZero(mean, d, at)
			gross = raw - w.zero
			if !w.emptyShown {
				w.emptyShown = true
				emit(BridgeEmpty, at, roundTo(mean-w.zero, d), true)
			}
		}
	}

	if hasWeight {
		w.liveKg = roundTo(gross, d)
	}
	w.liveStable, w.liveAt = stable, at
	return events
}

// Live returns the latest gross (relative to the tracked zero, rounded to
// the division), whether it is stable, and when it was read; for the
// live-weight topic. A reading without a weight (overload without a
// number) leaves the last gross and reports it unstable.
func (w *Weigher) Live() (gross float64, stable bool, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.liveKg, w.liveStable, w.liveAt
}

// Zero returns the zero offset, in kg, that zero tracking has found on the
// empty bridge: the indicator's reading of the empty bridge.
func (w *Weigher) Zero() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.zero
}

// trackZero moves the zero towards the resting empty-bridge weight mean,
// as automatic zero tracking does.
func (w *Weigher) trackZero(mean, d float64, at time.Time) {
	band := w.cfg.ZeroBandDivisions * d
	diff := mean - w.zero
	if math.Abs(diff) > band {
		w.zeroAt = time.Time{}
		return
	}
	if !w.zeroAt.IsZero() {
		dt := math.Min(at.Sub(w.zeroAt).Seconds(), 1)
		step := math.Max(-band*dt, math.Min(band*dt, diff))
		limit := w.cfg.ZeroRangeDivisions * d
		w.zero = math.Max(-limit, math.Min(limit, w.zero+step))
	}
	w.zeroAt = at
}

// resettleKg is how much higher a second rest must be than the settled
// weight to replace it: clearly more than the scale's noise and a truck
// shifting on its suspension.
func resettleKg(settled, d float64) float64 {
	return math.Max(10*d, 0.01*settled)
}

// grossOf returns the gross weight a reading carries: Gross, else Net plus
// Tare, else Net (an indicator in gross mode without tare).
func grossOf(r scale.Reading) (float64, bool) {
	var v float64
	switch {
	case r.Gross != nil:
		v = *r.Gross
	case r.Net != nil && r.Tare != nil:
		v = *r.Net + *r.Tare
	case r.Net != nil:
		v = *r.Net
	default:
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// roundTo rounds kg to a multiple of the division d.
func roundTo(kg, d float64) float64 {
	v := math.Round(kg/d) * d
	v = math.Round(v*1e6) / 1e6 // drop float noise of fractional divisions
	if v == 0 {
		return 0 // not -0
	}
	return v
}

// window holds the current run of resting readings: the longest run of
// successive readings whose spread (max - min) stays within a limit.
type window struct {
	s     []sample  // the run's readings of the last keep
	start time.Time // when the run began; zero when there is none
	// extremes of readings of the run older than keep, dropped from s
	trimmed    bool
	tmin, tmax float64
}

type sample struct {
	at time.Time
	kg float64
}

func (w *window) reset() {
	w.s = w.s[:0]
	w.start = time.Time{}
	w.trimmed = false
}

// add appends a reading, ends the run before the oldest readings that no
// longer fit within limit, and forgets readings older than keep (keeping
// their extremes).
func (w *window) add(at time.Time, kg, limit float64, keep time.Duration) {
	if w.start.IsZero() {
		w.reset()
		w.start = at
	}
	w.s = append(w.s, sample{at, kg})
	limit *= 1 + 1e-9
	for {
		lo, hi := w.extremes()
		if hi-lo <= limit {
			break
		}
		if w.trimmed {
			w.trimmed = false
		} else {
			w.s = w.s[1:]
		}
		w.start = w.s[0].at
	}
	for len(w.s) > 1 && w.s[0].at.Before(at.Add(-keep)) {
		if !w.trimmed {
			w.trimmed, w.tmin, w.tmax = true, w.s[0].kg, w.s[0].kg
		}
		w.tmin = math.Min(w.tmin, w.s[0].kg)
		w.tmax = math.Max(w.tmax, w.s[0].kg)
		w.s = w.s[1:]
	}
	if cap(w.s) > 4*len(w.s)+64 {
		w.s = append([]sample(nil), w.s...)
	}
}

func (w *window) extremes() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	if w.trimmed {
		lo, hi = w.tmin, w.tmax
	}
	for _, s := range w.s {
		lo = math.Min(lo, s.kg)
		hi = math.Max(hi, s.kg)
	}
	return lo, hi
}

// stable reports whether the run has lasted for at least d at time at.
func (w *window) stable(at time.Time, d time.Duration) bool {
	return !w.start.IsZero() && len(w.s) > 0 && at.Sub(w.start) >= d
}

// mean is the mean of the run's readings of the last keep.
func (w *window) mean() float64 {
	var sum float64
	for _, s := range w.s {
		sum += s.kg
	}
	return sum / float64(len(w.s))
}

// Throttle lets live messages through at most once per Interval: with the
// default of 500 ms, at most two a second, as the live-weight topic allows.
// The zero value is ready to use; a Throttle may be used from several
// goroutines.
type Throttle struct {
	// Interval is the least time between two messages let through;
	// zero means 500 ms.
	Interval time.Duration

	mu   sync.Mutex
	last time.Time
}

// Allow reports whether a message at time now may go out, and if so
// counts it.
func (t *Throttle) Allow(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	every := t.Interval
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	if !t.last.IsZero() && now.Sub(t.last) < every && !now.Before(t.last) {
		return false
	}
	t.last = now
	return true
}
