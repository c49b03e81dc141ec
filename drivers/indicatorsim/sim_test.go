//go:build unix

package indicatorsim

import (
	"bytes"
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
	"testing"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/scale/scaletest"
	"github.com/gatescan/gatescan/drivers/scale/weighing"
	"github.com/gatescan/gatescan/drivers/serialline"
)

// simProto is the tests' own protocol, which exists whatever protocols
// drivers/scale has.
var simProto = scaletest.Line("simtest")

func init() { scale.Register(simProto) }

// encoders returns the test protocol and every registered protocol that
// the simulator can speak.
func encoders() []scale.Protocol {
	var ps []scale.Protocol
	for _, name := range scale.Names() {
		p, _ := scale.Lookup(name)
		if _, ok := p.(scale.Encoder); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// gate is the agent's side of a lane: the real serial driver, the
// protocol decoder and a Weigher.
type gate struct {
	line *serialline.Line
	mu   sync.Mutex
	evs  []weighing.Event
}

func startGate(t *testing.T, path, protocol string, wcfg weighing.Config) *gate {
	t.Helper()
	line, err := serialline.New(serialline.Config{Port: path, Protocol: protocol}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("serialline.New: %v", err)
	}
	g := &gate{line: line}
	w := weighing.New("L1", wcfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		line.Run(ctx, func(r scale.Reading) {
			evs := w.Add(r, time.Now())
			g.mu.Lock()
			g.evs = append(g.evs, evs...)
			g.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return g
}

// first returns the first event of kind k after index from, and its index.
func (g *gate) first(k weighing.Kind, from int) (weighing.Event, int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := from; i < len(g.evs); i++ {
		if g.evs[i].Kind == k {
			return g.evs[i], i, true
		}
	}
	return weighing.Event{}, 0, false
}

func (g *gate) describe() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var b strings.Builder
	for _, e := range g.evs {
		fmt.Fprintf(&b, "\n  %s %s %.0f stable=%v", e.At.Format("15:04:05.000"), e.Kind, e.GrossKg, e.Stable)
	}
	return b.String()
}

// waitEvent waits for the first event of kind k after index from.
func (g *gate) waitEvent(t *testing.T, k weighing.Kind, from int) (weighing.Event, int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if e, i, ok := g.first(k, from); ok {
			return e, i
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event within 15 s; line %+v; events:%s", k, g.line.Status(), g.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newSim(t *testing.T) *Sim {
	t.Helper()
	s, err := NewPTY()
	if err != nil {
		t.Fatalf("NewPTY: %v", err)
	}
	s.Logger = slog.New(slog.DiscardHandler)
	s.Ramp = 600 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s
}

// TestWeighThroughSerialLine runs the simulator on a pty in every protocol
// it can speak, reads it back with the real serial driver and checks that
// the weigher settles at the truck's gross. The lanes run side by side, as
// at a gate with several lanes.
func TestWeighThroughSerialLine(t *testing.T) {
	t.Parallel()
	const gross = 24180
	type lane struct {
		name string
		sim  *Sim
		g    *gate
		from int
	}
	var lanes []*lane
	for _, p := range encoders() {
		sim := newSim(t)
		if err := sim.Start(p.(scale.Encoder), 50*time.Millisecond); err != nil {
			t.Fatalf("%s: Start: %v", p.Name(), err)
		}
		g := startGate(t, sim.Path(), p.Name(), weighing.Config{StableFor: time.Second})
		lanes = append(lanes, &lane{name: p.Name(), sim: sim, g: g})
	}
	// all runs f on every lane at once and waits for them.
	all := func(f func(*lane) error) []error {
		errs := make([]error, len(lanes))
		var wg sync.WaitGroup
		for i, l := range lanes {
			wg.Go(func() { errs[i] = f(l) })
		}
		wg.Wait()
		return errs
	}

	for _, l := range lanes {
		_, l.from = l.g.waitEvent(t, weighing.BridgeEmpty, 0)
	}
	weighErrs := all(func(l *lane) error {
		return l.sim.Weigh(context.Background(), Truck{GrossKg: gross, Settle: 1500 * time.Millisecond})
	})
	for i, l := range lanes {
		t.Run(l.name+"/settled", func(t *testing.T) {
			if weighErrs[i] != nil {
				t.Fatalf("Weigh: %v", weighErrs[i])
			}
			e, idx := l.g.waitEvent(t, weighing.Settled, l.from)
			l.from = idx
			if math.Abs(e.GrossKg-gross) > 20 {
				t.Errorf("Settled at %.0f kg, want %d ± 20:%s", e.GrossKg, gross, l.g.describe())
			}
			if _, _, ok := l.g.first(weighing.TruckArrived, 0); !ok {
				t.Errorf("Settled without TruckArrived:%s", l.g.describe())
			}
		})
	}
	leaveErrs := all(func(l *lane) error { return l.sim.Leave(context.Background()) })
	for i, l := range lanes {
		t.Run(l.name+"/left", func(t *testing.T) {
			if leaveErrs[i] != nil {
				t.Fatalf("Leave: %v", leaveErrs[i])
			}
			settled, _, _ := l.g.first(weighing.Settled, 0)
			left, _ := l.g.waitEvent(t, weighing.TruckLeft, l.from)
			if !left.Stable || left.GrossKg != settled.GrossKg {
				t.Errorf("TruckLeft %+v, want the settled gross %.0f", left, settled.GrossKg)
			}
			if st := l.g.line.Status(); st.State != serialline.StateUp || st.Reconnects != 0 {
				t.Errorf("line status %+v", st)
			}
		})
	}
}

func TestPlay(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	sim.Ramp = 300 * time.Millisecond
	sim.Gap = 500 * time.Millisecond
	g := startGate(t, sim.Path(), "simtest", weighing.Config{StableFor: 500 * time.Millisecond})

	trucks := []Truck{{GrossKg: 18000, Settle: 1200 * time.Millisecond}, {GrossKg: 41260, Settle: 1200 * time.Millisecond}}
	if err := sim.Play(context.Background(), simProto, trucks, 50*time.Millisecond); err != nil {
		t.Fatalf("Play: %v", err)
	}
	from := 0
	for _, tr := range trucks {
		e, i := g.waitEvent(t, weighing.Settled, from)
		if math.Abs(e.GrossKg-tr.GrossKg) > 20 {
			t.Errorf("Settled at %.0f kg, want %.0f:%s", e.GrossKg, tr.GrossKg, g.describe())
		}
		_, from = g.waitEvent(t, weighing.TruckLeft, i)
	}
	// Play stopped streaming: the indicator falls silent.
	if err := sim.Weigh(context.Background(), trucks[0]); err == nil || !strings.Contains(err.Error(), "not streaming") {
		t.Errorf("Weigh after Play = %v, want a not-streaming error", err)
	}
}

func TestSetAndStop(t *testing.T) {
	t.Parallel()
	sim := newSim(t)
	sim.Noise = 0
	sim.Set(5000, true)
	if err := sim.Start(simProto, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(simProto, 20*time.Millisecond); err == nil {
		t.Error("a second Start succeeded")
	}
	f, err := serialline.OpenSerial(serialline.Config{Port: sim.Path(), ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("OpenSerial(%s): %v", sim.Path(), err)
	}
	defer f.Close()
	readUntil(t, f, "W5000M\r\n")
	sim.Set(7000, false)
	readUntil(t, f, "W7000\r\n")

	sim.Stop()
	sim.Stop() // twice is fine
	drain(f)
	if n := countBytes(f, 300*time.Millisecond); n != 0 {
		t.Errorf("%d bytes after Stop", n)
	}
	if err := sim.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := sim.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(sim.Path()); err == nil {
		t.Errorf("%s still exists after Close", sim.Path())
	}
	if err := sim.Start(simProto, 0); err == nil {
		t.Error("Start after Close succeeded")
	}
}

// readUntil reads f until want has been seen, for at most 10 s.
func readUntil(t *testing.T, f io.Reader, want string) {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	deadline := time.Now().Add(10 * time.Second)
	for !bytes.Contains(got, []byte(want)) {
		if time.Now().After(deadline) {
			t.Fatalf("did not read %q within 10 s; got %q", want, got)
		}
		n, err := f.Read(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, buf[:n]...)
		if len(got) > 4096 {
			got = got[len(got)-1024:]
		}
	}
}

// drain reads until a read times out.
func drain(f io.Reader) {
	buf := make([]byte, 4096)
	for {
		if n, err := f.Read(buf); n == 0 || err != nil {
			return
		}
	}
}

// countBytes reads f for d and returns how many bytes came.
func countBytes(f io.Reader, d time.Duration) int {
	buf := make([]byte, 4096)
	total := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		n, err := f.Read(buf)
		if err != nil {
			break
		}
		total += n
	}
	return total
}

func TestNoReaderDoesNotBlock(t *testing.T) {
	t.Parallel()
	// Nobody opens the pty: the buffer fills and frames are dropped,
	// without blocking Stop or Close.
	sim := newSim(t)
	if err := sim.Start(simProto, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sim.Set(40000, false)
	time.Sleep(500 * time.Millisecond) // let the pty buffer fill (not asserted on time)
	done := make(chan struct{})
	go func() { sim.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked")
	}
}

func TestErrors(t *testing.T) {
	sim := newSim(t)
	ctx := context.Background()
	if err := sim.Weigh(ctx, Truck{GrossKg: 1000}); err == nil || !strings.Contains(err.Error(), "Start") {
		t.Errorf("Weigh before Start = %v", err)
	}
	if err := sim.Leave(ctx); err == nil {
		t.Error("Leave before Start succeeded")
	}
	if err := sim.Weigh(ctx, Truck{GrossKg: -5}); err == nil || !strings.Contains(err.Error(), "-5") {
		t.Errorf("Weigh of a negative truck = %v", err)
	}
	if err := sim.Play(ctx, simProto, []Truck{{GrossKg: 0}}, 0); err == nil || !strings.Contains(err.Error(), "truck 1") {
		t.Errorf("Play with a weightless truck = %v", err)
	}
	if err := sim.Start(nil, 0); err == nil {
		t.Error("Start(nil) succeeded")
	}
	// Cancelling Weigh returns promptly with the context's error.
	if err := sim.Start(simProto, 0); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := sim.Weigh(cctx, Truck{GrossKg: 1000, Settle: time.Hour}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled Weigh = %v", err)
	}
}

func TestProfile(t *testing.T) {
	start := time.Unix(1000, 0)
	p := profile{from: 0, to: 30000, start: start, dur: 3 * time.Second}
	prev := -1.0
	for ms := 0; ms < 3000; ms += 100 {
		kg, moving := p.at(start.Add(time.Duration(ms) * time.Millisecond))
		if !moving || kg < 0 || kg > 30000*1.02 {
			t.Fatalf("at %d ms: %v kg moving=%v", ms, kg, moving)
		}
		prev = kg
	}
	if kg, moving := p.at(start.Add(3 * time.Second)); kg != 30000 || moving {
		t.Errorf("after the ramp: %v kg moving=%v (before: %v)", kg, moving, prev)
	}
	if kg, moving := (profile{from: 5, to: 5, motion: true}).at(start); kg != 5 || !moving {
		t.Errorf("Set profile: %v %v", kg, moving)
	}
	// Rounded to whole divisions, with noise of at most one division.
	s := &Sim{rng: newRand(), prof: profile{to: 24187}}
	for range 200 {
		r := s.reading(start, frameConfig{division: 20, noise: 0.3})
		if g := *r.Gross; g != 24180 && g != 24160 && g != 24200 {
			t.Fatalf("reading %v kg", g)
		}
	}
	s.prof = profile{to: 70000}
	if r := s.reading(start, frameConfig{division: 20, capacity: 60000}); !r.Overload {
		t.Error("no overload above capacity")
	}
}

func newRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func TestEncoder(t *testing.T) {
	if enc, err := Encoder("simtest"); err != nil || enc == nil {
		t.Errorf("Encoder(simtest) = %v, %v", enc, err)
	}
	if _, err := Encoder("no-such-indicator"); err == nil || !strings.Contains(err.Error(), "simtest") {
		t.Errorf("Encoder of an unknown protocol = %v, want the known names", err)
	}
}
