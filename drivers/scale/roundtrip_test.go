package scale

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// A scene is what an indicator displays: the mode, the displayed weight v
// and the tare t as mantissas in unit with dec decimals, and the flags.
type scene struct {
	mode     byte // 'G', 'N' or 'T' (tare only)
	v, t     int64
	dec      int
	unit     string
	stable   bool
	over     bool
	under    bool
	zero     bool
	negative bool
}

func (s scene) kg(m int64, neg bool) float64 {
	u := kilogram
	if s.unit != "" {
		var err error
		if u, err = lookupUnit([]byte(s.unit)); err != nil {
			panic(err)
		}
	}
	return u.kg(num{mant: m, dec: s.dec, neg: neg})
}

// reading is the Reading an indicator showing s would be described by.
func (s scene) reading() Reading {
	r := Reading{Stable: s.stable, Overload: s.over, Underload: s.under, Zero: s.zero, Unit: s.unit}
	v, t := s.kg(s.v, s.negative), s.kg(s.t, false)
	switch s.mode {
	case 'G':
		r.Gross = kg(v)
	case 'N':
		r.Net, r.Tare, r.Gross = kg(v), kg(t), kg(v+t)
	case 'T':
		r.Tare = kg(t)
	}
	return r
}

// shownKg is the weight on the display, in kg.
func (s scene) shownKg() float64 {
	if s.mode == 'T' {
		return s.kg(s.t, false)
	}
	return s.kg(s.v, s.negative)
}

// A codec says what a protocol keeps of a scene: the Reading that
// decoding its encoding must give.
type codec struct {
	name  string
	units []string // "" for a protocol without a unit, which means kg
	canon func(s scene) Reading
}

// into returns r with the shown weight of s in the slot mode names.
func into(r Reading, s scene, mode byte) Reading {
	w := kg(s.shownKg())
	switch mode {
	case 'N':
		r.Net = w
	case 'T':
		r.Tare = w
	default:
		r.Gross = w
	}
	return r
}

var allUnits = []string{"kg", "lb", "t", "g", "oz", "ozt", "dwt", "tn", "lt"}

var codecs = []codec{
	{"toledo", []string{"kg", "lb", "t", "g", "oz", "ozt", "dwt", "tn"}, func(s scene) Reading {
		r := Reading{HasMotion: true, Stable: s.stable, Overload: s.over, Underload: s.under, Unit: s.unit}
		v, t := s.kg(s.v, s.negative), s.kg(s.t, false)
		switch s.mode {
		case 'N':
			r.Net, r.Tare, r.Gross = kg(v), kg(t), kg(v+t)
		case 'G':
			r.Gross, r.Tare = kg(v), kg(0)
		case 'T':
			r.Gross, r.Tare = kg(0), kg(t)
		}
		return r
	}},
	{"sics", allUnits, func(s scene) Reading {
		switch {
		case s.over:
			return Reading{HasMotion: true, Overload: true}
		case s.under:
			return Reading{HasMotion: true, Underload: true}
		}
		return Reading{Gross: kg(s.shownKg()), HasMotion: true, Stable: s.stable, Unit: s.unit}
	}},
	{"sma", allUnits, func(s scene) Reading {
		return into(Reading{HasMotion: true, Stable: s.stable, Overload: s.over, Underload: s.under,
			Zero: s.zero && !s.over && !s.under, Unit: s.unit}, s, s.mode)
	}},
	{"xk3190", []string{""}, func(s scene) Reading {
		return Reading{Gross: kg(s.shownKg())}
	}},
	{"xk3190-eq", []string{""}, func(s scene) Reading {
		return Reading{Gross: kg(s.shownKg())}
	}},
	{"rlws", []string{"kg", "lb", "t", "g", "oz"}, func(s scene) Reading {
		out := s.over || s.under
		mode := s.mode
		if mode == 'T' {
			mode = 'G' // no tare mode: the tare is shown as a gross weight
		}
		return into(Reading{HasMotion: true, Stable: s.stable && !out, Overload: s.over, Underload: s.under,
			Zero: s.zero && s.stable && !out, Unit: s.unit}, s, mode)
	}},
	{"stgs", allUnits, func(s scene) Reading {
		if s.over || s.under {
			return Reading{HasMotion: true, Overload: s.over, Underload: s.under}
		}
		return into(Reading{HasMotion: true, Stable: s.stable, Unit: s.unit}, s, s.mode)
	}},
}

// edgeScenes are the cases worth naming: zero, negative, net mode,
// motion, out of range, decimals, other units.
func edgeScenes(unit string) []scene {
	return []scene{
		{mode: 'G', v: 0, unit: unit, stable: true, zero: true},
		{mode: 'G', v: 24180, unit: unit, stable: true},
		{mode: 'G', v: 24160, unit: unit},
		{mode: 'N', v: 24180, t: 5000, unit: unit, stable: true},
		{mode: 'N', v: 1200, t: 5000, unit: unit, stable: true, negative: true},
		{mode: 'G', v: 999999, unit: unit, stable: true, over: true},
		{mode: 'G', v: 150, unit: unit, stable: true, under: true, negative: true},
		{mode: 'G', v: 241805, dec: 1, unit: unit, stable: true},
		{mode: 'G', v: 2418, dec: 2, unit: unit, stable: true},
		{mode: 'G', v: 5, dec: 3, unit: unit, stable: true},
		{mode: 'T', t: 5000, unit: unit, stable: true},
	}
}

// randomScene returns a scene a six-digit indicator can display.
func randomScene(rng *rand.Rand, units []string) scene {
	s := scene{
		mode:     "GGNT"[rng.IntN(4)],
		dec:      rng.IntN(4),
		unit:     units[rng.IntN(len(units))],
		stable:   rng.IntN(3) > 0,
		negative: rng.IntN(5) == 0,
		zero:     rng.IntN(10) == 0,
	}
	limit := int64(1000000)
	if s.dec > 0 {
		limit = 100000 // room for the point in seven-character fields
	}
	s.v, s.t = rng.Int64N(limit), 1+rng.Int64N(limit-1) // net mode needs a tare
	// Out of range is a state of the gross or net weight, and under range
	// shows negative.
	switch rng.IntN(10) {
	case 0:
		s.over, s.negative = s.mode != 'T', false
	case 1:
		s.under, s.negative = s.mode != 'T', s.mode != 'T'
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			p := protocol(t, c.name)
			enc := p.(Encoder)
			var scenes []scene
			for _, u := range c.units {
				scenes = append(scenes, edgeScenes(u)...)
			}
			for range 2000 {
				scenes = append(scenes, randomScene(rng, c.units))
			}
			var stream []byte
			var wants []want
			for _, s := range scenes {
				frame := enc.Encode(s.reading())
				w := c.canon(s)
				got := decodeAll(t, p, frame, nil)
				if len(got) != 1 || got[0].err != nil {
					t.Fatalf("%+v encoded as %q decodes as\n%s", s, frame, list(got))
				}
				if diff := diffReading(got[0].r, w); diff != "" {
					t.Fatalf("%+v encoded as %q: %s\n got %s\nwant %s", s, frame, diff, describe(got[0].r), describe(w))
				}
				stream = append(stream, frame...)
				wants = append(wants, ok(w))
			}
			// The same frames back to back, as the simulator plays them.
			checkOutcomes(t, decodeAll(t, p, stream, nil), wants)
		})
	}
}

func TestRoundTripCoversEveryProtocol(t *testing.T) {
	have := map[string]bool{}
	for _, c := range codecs {
		have[c.name] = true
	}
	for _, name := range Names() {
		if !have[name] {
			t.Errorf("no round-trip codec for %s", name)
		}
	}
}

// ExampleEncoder shows a simulated indicator's frames decoded by a Reader.
func ExampleEncoder() {
	p, _ := Lookup("toledo")
	gross, tare, net := 29180.0, 5000.0, 24180.0
	frame := p.(Encoder).Encode(Reading{Gross: &gross, Tare: &tare, Net: &net, Stable: true, Unit: "kg"})
	r, err := NewReader(bytes.NewReader(frame), p).Next()
	fmt.Printf("%q\n", frame)
	fmt.Println(*r.Gross, *r.Tare, *r.Net, r.Stable, err)
	// Output:
	// "\x02*1 024180005000\r\""
	// 29180 5000 24180 true <nil>
}
