// Package agenttest holds what the tests of the agent and the command
// share: running an agent until it is ready, building the binary, a
// simulated indicator and truck (testkit's polling, log and address
// helpers too). It imports no package that imports the agent, so that the
// agent's own (internal) tests can use it.
package agenttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatescan/gatescan/drivers/indicatorsim"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/testkit"
)

// Runner is an agent: Run until the context ends, Ready once serving.
type Runner interface {
	Run(ctx context.Context) error
	Ready() <-chan struct{}
}

// Start runs a until the test ends and returns once it is ready, failing
// the test if it stops or is not ready within 30 s. stop cancels it and
// waits for it (at most 30 s), failing the test if Run returned an
// error; it runs at the end of the test too, and only once.
func Start(t testing.TB, a Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		testkit.Returns(t, done, 30*time.Second, "the stopped agent")
	}
	t.Cleanup(stop)
	select {
	case <-a.Ready():
	case err := <-done:
		stopped = true
		t.Fatalf("agent stopped at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("agent not ready within 30s")
	}
	return stop
}

// The helpers any test may use, here too for the agent's tests.
var (
	Eventually = testkit.Eventually
	FreeAddr   = testkit.FreeAddr
	Returns    = testkit.Returns
)

// LogBuffer is testkit's.
type LogBuffer = testkit.LogBuffer

// BuildBinary builds the gatescan command into a temporary directory and
// returns its path; tags are build tags (e.g. "faulthooks").
func BuildBinary(t testing.TB, tags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatescan")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	out, err := exec.Command("go", append(args, "github.com/gatescan/gatescan/cmd/gatescan")...).CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// Indicator is a simulated Toledo indicator on a pseudo-terminal showing
// grossKg at rest, streaming every 100 ms until the test ends.
func Indicator(t testing.TB, grossKg float64) *indicatorsim.Sim {
	t.Helper()
	sim, err := indicatorsim.NewPTY()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	enc, err := indicatorsim.Encoder("toledo")
	if err != nil {
		t.Fatal(err)
	}
	sim.Set(grossKg, false)
	if err := sim.Start(enc, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	return sim
}

// OverweightTruck is the simulator's "overweight" truck (a box declared
// 10 t and truly 15 t): its scene, its declarations and the gross the
// weighbridge must show.
func OverweightTruck(t testing.TB) (scene xraysim.Scene, decls []xraysim.Declared, grossKg float64) {
	t.Helper()
	scene, decls, err := xraysim.Scenario("overweight", rand.New(rand.NewSource(7)))
	if err != nil {
		t.Fatal(err)
	}
	// Render first to learn the truth.
	_, _, truth, err := xraysim.Render(scene)
	if err != nil {
		t.Fatal(err)
	}
	return scene, decls, truth.GrossKg
}

// Put writes data to dir/name as scanners and customs systems must: to a
// dot file beside it first, renamed into place, so that a watcher never
// reads it half written.
func Put(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// TinyScan writes a 160×48 scan of a dark block in air into dir, image
// NAME.png first and sidecar NAME.json last (renamed into place), as a
// scanner does, for scan id on lane scanned at at, of the containers
// numbered containerIDs. The noise is random: no two calls write the same
// image.
func TinyScan(t testing.TB, dir, name, id, lane string, at time.Time, containerIDs ...string) {
	t.Helper()
	BlockScan(t, dir, name, id, lane, at, Block{W: 160, H: 48, Cargo: image.Rect(40, 10, 120, 40), Lo: 15000, Spread: 300, PixelMM: 100}, containerIDs...)
}

// Block is a synthetic scan: W×H pixels of air with a block of cargo whose
// values are drawn from [Lo, Lo+Spread), PixelMM a side.
type Block struct {
	W, H       int
	Cargo      image.Rectangle
	Lo, Spread int
	PixelMM    float64
}

// NoisyBlock is a 14 m vehicle whose cargo is noise: its annotated image
// does not compress, about 150 kB at any width the detector annotates.
var NoisyBlock = Block{W: 1400, H: 420, Cargo: image.Rect(175, 84, 1225, 350), Lo: 5000, Spread: 20000, PixelMM: 10}

// BlockScan writes the scan b into dir as TinyScan does.
func BlockScan(t testing.TB, dir, name, id, lane string, at time.Time, b Block, containerIDs ...string) {
	t.Helper()
	img := image.NewGray16(image.Rect(0, 0, b.W, b.H))
	for y := range b.H {
		for x := range b.W {
			v := uint16(60000 - rand.Intn(300))
			if image.Pt(x, y).In(b.Cargo) {
				v = uint16(b.Lo + rand.Intn(b.Spread))
			}
			img.SetGray16(x, y, color.Gray16{Y: v})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	Put(t, dir, name+".png", buf.Bytes())
	sc, _ := json.Marshal(map[string]any{
		"scan_id": id, "lane": lane, "scanned_at": at.UTC().Format(time.RFC3339Nano),
		"images": map[string]string{"high": name + ".png"}, "pixel_mm": map[string]float64{"x": b.PixelMM, "y": b.PixelMM},
		"air": 60000, "dark": 0, "container_ids": containerIDs,
	})
	Put(t, dir, name+".json", sc)
}

// PutDeclarations puts decls into the inbox as dI.json, with the
// declaration ids DECL-I.
func PutDeclarations(t testing.TB, inbox string, decls []xraysim.Declared) {
	t.Helper()
	for i, d := range decls {
		b, err := d.JSON(fmt.Sprintf("DECL-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		Put(t, inbox, fmt.Sprintf("d%d.json", i), b)
	}
}
