package weighing

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
)

var t0 = time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)

// feed builds a sequence of indicator readings, 10 a second.
type feed struct {
	at        time.Time
	hasMotion bool    // the protocol carries a motion flag
	noise     float64 // probability of a reading one division off, each side
	d         float64 // division
	rng       *rand.Rand
	rs        []timed
}

type timed struct {
	r  scale.Reading
	at time.Time
}

const tick = 100 * time.Millisecond

func newFeed(hasMotion bool, noise float64) *feed {
	return &feed{at: t0, hasMotion: hasMotion, noise: noise, d: 20, rng: rand.New(rand.NewPCG(1, 2))}
}

func (f *feed) add(r scale.Reading) *feed {
	f.rs = append(f.rs, timed{r, f.at})
	f.at = f.at.Add(tick)
	return f
}

func (f *feed) weight(kg float64, motion bool) scale.Reading {
	if f.noise > 0 {
		switch u := f.rng.Float64(); {
		case u < f.noise:
			kg -= f.d
		case u < 2*f.noise:
			kg += f.d
		}
	}
	kg = math.Round(kg/f.d) * f.d
	return scale.Reading{Gross: &kg, HasMotion: f.hasMotion, Stable: f.hasMotion && !motion, Unit: "kg"}
}

// hold rests at kg for d.
func (f *feed) hold(kg float64, d time.Duration) *feed {
	for range int(d / tick) {
		f.add(f.weight(kg, false))
	}
	return f
}

// holdMoving keeps kg but with the motion flag set (wind, a driver
// climbing down), for d.
func (f *feed) holdMoving(kg float64, d time.Duration) *feed {
	for range int(d / tick) {
		f.add(f.weight(kg, true))
	}
	return f
}

// ramp moves from one weight to another over d, flagged in motion, with
// a bounce of ±2 %.
func (f *feed) ramp(from, to float64, d time.Duration) *feed {
	n := int(d / tick)
	for i := 1; i <= n; i++ {
		x := float64(i) / float64(n)
		kg := from + (to-from)*x + 0.02*math.Max(from, to)*math.Sin(float64(i)*1.7)
		f.add(f.weight(math.Max(kg, 0), true))
	}
	return f
}

func (f *feed) overload(d time.Duration) *feed {
	for range int(d / tick) {
		kg := 99990.0
		f.add(scale.Reading{Gross: &kg, Overload: true, HasMotion: f.hasMotion, Stable: f.hasMotion})
	}
	return f
}

func (f *feed) run(w *Weigher) []Event {
	var evs []Event
	for _, t := range f.rs {
		evs = append(evs, w.Add(t.r, t.at)...)
	}
	return evs
}

// want is an expected event: kind, gross within tol, stability.
type want struct {
	kind   Kind
	kg     float64
	stable bool
}

func (w want) String() string { return fmt.Sprintf("%s %.0f stable=%v", w.kind, w.kg, w.stable) }

func describe(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s %.0f stable=%v visit=%d", e.At.Sub(t0), e.Kind, e.GrossKg, e.Stable, e.Visit)
	}
	return b.String()
}

func TestWeigherSequences(t *testing.T) {
	const truck = 24180.0
	tests := []struct {
		name string
		feed *feed
		tol  float64
		want []want
	}{
		{
			name: "clean visit, motion flag",
			feed: newFeed(true, 0).hold(0, 3*time.Second).ramp(0, truck, 3*time.Second).hold(truck, 4*time.Second).ramp(truck, 0, 3*time.Second).hold(0, 3*time.Second),
			want: []want{{BridgeEmpty, 0, true}, {TruckArrived, -1, false}, {Settled, truck, true}, {TruckLeft, truck, true}, {BridgeEmpty, 0, true}},
		},
		{
			name: "noisy indicator without motion flag",
			feed: newFeed(false, 0.2).hold(0, 3*time.Second).ramp(0, truck, 3*time.Second).hold(truck, 4*time.Second).ramp(truck, 0, 3*time.Second).hold(0, 3*time.Second),
			tol:  20,
			want: []want{{BridgeEmpty, 0, true}, {TruckArrived, -1, false}, {Settled, truck, true}, {TruckLeft, truck, true}, {BridgeEmpty, 0, true}},
		},
		{
			name: "motion flag holds off settling",
			feed: newFeed(true, 0).hold(0, 3*time.Second).ramp(0, truck, 2*time.Second).holdMoving(truck, 5*time.Second).hold(truck, 1500*time.Millisecond).ramp(truck, 0, 2*time.Second).hold(0, 3*time.Second),
			want: []want{{BridgeEmpty, 0, true}, {TruckArrived, -1, false}, {TruckLeft, -1, false}, {BridgeEmpty, 0, true}},
		},
		{
			name: "overload is never a stable weight",
			feed: newFeed(true, 0).hold(0, 3*time.Second).ramp(0, 60000, 2*time.Second).overload(5*time.Second).ramp(60000, 0, 2*time.Second).hold(0, 3*time.Second),
			want: []want{{BridgeEmpty, 0, true}, {TruckArrived, -1, false}, {TruckLeft, -1, false}, {BridgeEmpty, 0, true}},
		},
		{
			name: "truck drives over without stopping",
			feed: newFeed(false, 0.2).hold(0, 3*time.Second).ramp(0, truck, 2*time.Second).ramp(truck, 0, 2*time.Second).hold(0, 3*time.Second),
			want: []want{{BridgeEmpty, 0, true}, {TruckArrived, -1, false}, {TruckLeft, -1, false}, {BridgeEmpty, 0, true}},
		},
		{
			name: "trailer axles arrive after the tractor settled",
			feed: newFeed(true, 0).hold(0, 3*time.Second).
				ramp(0, 9000, 2*time.Second).hold(9000, 3*time.Second).      // tractor only
				ramp(9000, 38000, 2*time.Second).hold(38000, 3*time.Second). // whole vehicle
				ramp(38000, 30000, time.Second).hold(30000, 3*time.Second).  // front axles roll off
				ramp(30000, 0, 2*time.Second).hold(0, 3*time.Second),
			want: []want{{BridgeEmpty, 0, true}, {TruckArrived, -1, false}, {Settled, 9000, true}, {Settled, 38000, true}, {TruckLeft, 38000, true}, {BridgeEmpty, 0, true}},
		},
		{
			name: "a small shift does not make a second weight",
			feed: newFeed(false, 0).hold(0, 3*time.Second).ramp(0, truck, 2*time.Second).hold(truck, 3*time.Second).
				ramp(truck, truck+60, 500*time.Millisecond).hold(truck+60, 3*time.Second).ramp(truck, 0, 2*time.Second).hold(0, 3*time.Second),
			want: []want{{BridgeEmpty, 0, true}, {TruckArrived, -1, false}, {Settled, truck, true}, {TruckLeft, truck, true}, {BridgeEmpty, 0, true}},
		},
		{
			name: "one corrupt frame is not a visit",
			feed: newFeed(true, 0).hold(0, 3*time.Second).hold(30000, tick).hold(0, time.Second).
				ramp(0, truck, 2*time.Second).hold(truck, 3*time.Second).hold(0, tick).hold(truck, time.Second).
				ramp(truck, 0, 2*time.Second).hold(0, 3*time.Second),
			want: []want{{BridgeEmpty, 0, true}, {TruckArrived, -1, false}, {Settled, truck, true}, {TruckLeft, truck, true}, {BridgeEmpty, 0, true}},
		},
		{
			name: "light load below the truck threshold",
			feed: newFeed(true, 0).hold(0, 3*time.Second).ramp(0, 900, time.Second).hold(900, 3*time.Second).ramp(900, 0, time.Second).hold(0, 3*time.Second),
			want: []want{{BridgeEmpty, 0, true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New("L1", Config{})
			got := tt.feed.run(w)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events, want %v:%s", len(got), tt.want, describe(got))
			}
			for i, e := range got {
				wt := tt.want[i]
				if e.Kind != wt.kind || e.Stable != wt.stable || e.Lane != "L1" ||
					(wt.kg >= 0 && math.Abs(e.GrossKg-wt.kg) > tt.tol) {
					t.Fatalf("event %d = %s %.0f stable=%v, want %v; all:%s", i, e.Kind, e.GrossKg, e.Stable, wt, describe(got))
				}
			}
			// Visits are numbered and events come in time order.
			for i := 1; i < len(got); i++ {
				if got[i].At.Before(got[i-1].At) {
					t.Errorf("events out of time order:%s", describe(got))
				}
			}
		})
	}
}

func TestSettledNeedsStableFor(t *testing.T) {
	f := newFeed(true, 0).hold(0, 3*time.Second).ramp(0, 24000, 2*time.Second).holdMoving(24000, 3*time.Second)
	clear := f.at
	f.hold(24000, 3*time.Second)
	w := New("L2", Config{StableFor: 2 * time.Second})
	for _, e := range f.run(w) {
		if e.Kind == Settled {
			if d := e.At.Sub(clear); d < 2*time.Second || d > 2*time.Second+2*tick {
				t.Errorf("Settled %s after the motion flag cleared, want 2 s", d)
			}
			if e.Visit != 1 {
				t.Errorf("Visit = %d, want 1", e.Visit)
			}
			return
		}
	}
	t.Fatal("no Settled event")
}

func TestZeroDrift(t *testing.T) {
	// The empty bridge creeps up by 60 kg in a minute (rain soaking the
	// deck); the indicator shows it in 20 kg steps, dithered by noise.
	rng := rand.New(rand.NewPCG(7, 7))
	w := New("L1", Config{})
	var evs []Event
	at := t0
	reading := func(trueKg float64) {
		kg := math.Round((trueKg+(rng.Float64()-0.5)*24)/20) * 20
		evs = append(evs, w.Add(scale.Reading{Gross: &kg}, at)...)
		at = at.Add(tick)
	}
	for i := range 600 {
		reading(60 * float64(i) / 600)
	}
	if z := w.Zero(); math.Abs(z-60) > 12 {
		t.Errorf("tracked zero = %.1f kg, want about 60", z)
	}
	if g, st, _ := w.Live(); g != 0 || !st {
		t.Errorf("Live() = %v, %v on the drifted empty bridge, want 0, stable", g, st)
	}
	for i := range 30 {
		reading(60 + 24000*float64(i)/30)
	}
	for range 40 {
		reading(60 + 24000)
	}
	var kinds []string
	var settled float64
	for _, e := range evs {
		kinds = append(kinds, e.Kind.String())
		if e.Kind == Settled {
			settled = e.GrossKg
		}
	}
	if strings.Join(kinds, ",") != "bridge_empty,truck_arrived,settled" {
		t.Fatalf("events %v:%s", kinds, describe(evs))
	}
	if math.Abs(settled-24000) > 20 {
		t.Errorf("Settled %.0f kg, want 24000 ± 20 measured from the drifted zero", settled)
	}
}

func TestZeroTrackingIsBounded(t *testing.T) {
	w := New("L1", Config{ZeroRangeDivisions: 2})
	at := t0
	for i := range 3000 { // +300 kg over 5 minutes
		kg := math.Round((300*float64(i)/3000+float64(i%3-1)*8)/20) * 20
		w.Add(scale.Reading{Gross: &kg}, at)
		at = at.Add(tick)
	}
	if z := w.Zero(); z > 40+1e-9 {
		t.Errorf("zero tracked to %.1f kg, beyond the 2-division range", z)
	}
}

func TestReadingForms(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		r    scale.Reading
		want float64
	}{
		{"gross", scale.Reading{Gross: f(24180)}, 24180},
		{"net and tare", scale.Reading{Net: f(20000), Tare: f(4180)}, 24180},
		{"net only", scale.Reading{Net: f(24180)}, 24180},
		{"own division", scale.Reading{Gross: f(24175), Division: 50}, 24200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New("L1", Config{})
			at := t0
			var settled []Event
			for range 30 {
				for _, e := range w.Add(tt.r, at) {
					if e.Kind == Settled {
						settled = append(settled, e)
					}
				}
				at = at.Add(tick)
			}
			if len(settled) != 1 || settled[0].GrossKg != tt.want {
				t.Fatalf("Settled events %+v, want one at %v", settled, tt.want)
			}
			if g, st, when := w.Live(); g != tt.want || !st || !when.Equal(at.Add(-tick)) {
				t.Errorf("Live() = %v, %v, %v", g, st, when)
			}
		})
	}
	t.Run("no weight", func(t *testing.T) {
		w := New("L1", Config{})
		if evs := w.Add(scale.Reading{Zero: true}, t0); evs != nil {
			t.Errorf("a frame without a weight made events %v", evs)
		}
	})
	t.Run("underload", func(t *testing.T) {
		w := New("L1", Config{})
		at := t0
		for range 40 {
			kg := -999.0
			if evs := w.Add(scale.Reading{Gross: &kg, Underload: true}, at); len(evs) > 0 {
				t.Fatalf("underload made events%s", describe(evs))
			}
			at = at.Add(tick)
		}
		if _, st, _ := w.Live(); st {
			t.Error("underload reported stable")
		}
	})
}

func TestLiveFollowsMotion(t *testing.T) {
	w := New("L1", Config{})
	f := newFeed(true, 0).hold(0, 3*time.Second).ramp(0, 24000, time.Second)
	f.run(w)
	if g, st, _ := w.Live(); st || g == 0 {
		t.Errorf("Live() during the ramp = %v, %v, want a weight, not stable", g, st)
	}
	f = &feed{at: f.at, hasMotion: true, d: 20}
	f.hold(24000, 3*time.Second).run(w)
	if g, st, _ := w.Live(); g != 24000 || !st {
		t.Errorf("Live() at rest = %v, %v, want 24000, stable", g, st)
	}
}

func TestThrottle(t *testing.T) {
	var th Throttle
	var sent []time.Time
	for i := range 50 { // 10 Hz for 5 s
		now := t0.Add(time.Duration(i) * tick)
		if th.Allow(now) {
			sent = append(sent, now)
		}
	}
	if len(sent) != 10 {
		t.Errorf("%d messages let through in 5 s at 10 Hz, want 10", len(sent))
	}
	for i := 2; i < len(sent); i++ {
		if sent[i].Sub(sent[i-2]) < time.Second {
			t.Fatalf("three messages within one second: %v", sent[i-2:i+1])
		}
	}
	th = Throttle{Interval: time.Second}
	if !th.Allow(t0) || th.Allow(t0.Add(999*time.Millisecond)) || !th.Allow(t0.Add(time.Second)) {
		t.Error("custom interval not honoured")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	err := Config{Division: -20, MinTruckKg: 100, StableFor: -time.Second}.Validate()
	for _, s := range []string{"division_kg -20", "stable_for -1s"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("Validate() = %v, want it to mention %q", err, s)
		}
	}
	if err := (Config{MinTruckKg: 100}).Validate(); err == nil || !strings.Contains(err.Error(), "min_truck_kg") {
		t.Errorf("a threshold of 5 divisions: %v", err)
	}
	w := New("L1", Config{Division: -5})
	if w.cfg.Division != 20 {
		t.Errorf("New kept an invalid division %v", w.cfg.Division)
	}
}

func TestEventJSON(t *testing.T) {
	b, err := json.Marshal(Event{Kind: Settled, Lane: "L1", At: t0, GrossKg: 24180, Stable: true, Visit: 3})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"kind":"settled","lane":"L1","at":"2025-03-14T08:00:00Z","gross_kg":24180,"stable":true,"visit":3}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var e Event
	if err := json.Unmarshal(b, &e); err != nil || e.Kind != Settled {
		t.Errorf("round trip: %v %+v", err, e)
	}
	if err := json.Unmarshal([]byte(`{"kind":"parked"}`), &e); err == nil {
		t.Error("unknown kind accepted")
	}
}
