package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/indicatorsim"
	"github.com/gatescan/gatescan/drivers/scale/weighing"
	"github.com/gatescan/gatescan/drivers/serialline"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/embedbroker"
)

// demoTrucks is the demo's fixed opening: honest trucks around the April
// 2020 case of masks hidden under reels of iron wire.
var demoTrucks = []struct {
	scenario string
	seed     int64
}{
	{"honest-tshirts", 3},
	{"masks-under-wire", 2},
	{"empty", 2},
	{"honest-paper", 3},
	{"overweight", 2},
	{"masks-as-flowers", 2},
}

func cmdDemo(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	trucks := fs.Int("trucks", len(demoTrucks), "trucks to drive through before stopping")
	forever := fs.Bool("forever", false, "keep sending random trucks until interrupted")
	cfgPath := fs.String("config", "", "config file; its mqtt.broker is used unless it is \"embedded\"")
	dir := fs.String("dir", "", "working directory for buffer and inboxes (default: a temporary one)")
	verbose := fs.Bool("v", false, "show the agent's log")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	tuneMalloc()
	base, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "gatescan-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	logw := io.Discard
	if *verbose {
		logw = stderr
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: config.RedactAttr}))

	brokerURL := base.MQTT.Broker
	if *cfgPath == "" || brokerURL == "embedded" {
		b, err := embedbroker.Start("127.0.0.1:0", nil, nil)
		if err != nil {
			return err
		}
		defer b.Close()
		brokerURL = b.URL()
	}

	sim, err := indicatorsim.NewPTY()
	if err != nil {
		return fmt.Errorf("demo: simulated indicator: %w", err)
	}
	defer sim.Close()
	sim.Logger = log
	enc, err := indicatorsim.Encoder("toledo")
	if err != nil {
		return err
	}
	if err := sim.Start(enc, 100*time.Millisecond); err != nil {
		return err
	}

	cfg, err := demoConfig(base, work, brokerURL, sim.Path())
	if err != nil {
		return err
	}

	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	printer, err := newPrinter(brokerURL, topics, stdout)
	if err != nil {
		return err
	}
	defer printer.close()

	a := agent.New(cfg, log, agent.Options{})
	runCtx, stopAgent := context.WithCancel(context.Background())
	defer stopAgent()
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	select {
	case <-a.Ready():
	case err := <-done:
		stopAgent()
		return fmt.Errorf("demo: agent did not start: %w", err)
	}
	fmt.Fprintf(stdout, "gatescan demo: gate %s/%s, broker %s, indicator %s (toledo), inbox %s\n\n", cfg.Site, cfg.Gate, brokerURL, sim.Path(), cfg.Scanner.Inbox)

	decl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID("demo-customs"))
	if t := decl.Connect(); t.WaitTimeout(10*time.Second) && t.Error() != nil {
		return t.Error()
	}
	defer decl.Disconnect(100)

	alerts, runErr := driveTrucks(ctx, sim, decl, cfg, printer, *trucks, *forever)
	stopAgent()
	if err := <-done; err != nil && runErr == nil {
		runErr = err
	}
	fmt.Fprintf(stdout, "\n%d inspections, %d alerts. Run on with --forever; see `gatescan help`.\n", printer.count(), alerts)
	return runErr
}

// driveTruck plays one truck: onto the weighbridge, declaration from
// customs over MQTT, through the portal, off the bridge. It waits for the
// truck's inspections and returns how many were alerts.
func driveTruck(ctx context.Context, sim *indicatorsim.Sim, decl mqtt.Client, cfg *config.Config, p *printer, scenario string, seed int64, n int) (int, error) {
	scene, decls, err := xraysim.Scenario(scenario, rand.New(rand.NewSource(seed)))
	if err != nil {
		return 0, err
	}
	// Every truck brings its own containers: numbers unique to this run.
	for i := range scene.Containers {
		if scene.Containers[i].ID == "" {
			continue
		}
		id := fmt.Sprintf("GSDU%03d%03d", time.Now().Unix()%1000, n*10+i)
		id += fmt.Sprint(xraysim.ISO6346CheckDigit(id))
		scene.Containers[i].ID = id
		if i < len(decls) {
			decls[i].ContainerID = id
		}
	}
	_, _, truth, err := xraysim.Render(scene)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(p.out, "truck %d: %s, %d container(s), weighbridge %.0f kg\n", n, scenario, len(scene.Containers), truth.GrossKg)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := sim.Weigh(wctx, indicatorsim.Truck{GrossKg: truth.GrossKg, Settle: 1500 * time.Millisecond}); err != nil {
		return 0, fmt.Errorf("weigh truck %d: %w", n, err)
	}
	for i, d := range decls {
		if d.ContainerID == "" {
			continue
		}
		b, err := d.JSON(fmt.Sprintf("DEMO-%03d-%d", n, i))
		if err != nil {
			return 0, err
		}
		t := decl.Publish(publish.Declarations(cfg.Site), 1, false, b)
		t.WaitTimeout(5 * time.Second)
	}
	time.Sleep(300 * time.Millisecond) // the declarations are stored before the truck reaches the portal
	id := fmt.Sprintf("demo-%d-%03d", time.Now().Unix(), n)
	if _, err := xraysim.Write(cfg.Scanner.Inbox, id, scene, xraysim.SidecarMeta{ScanID: id, Lane: "L1", ScannedAt: time.Now(), VehicleTareKg: scene.VehicleTareKg}); err != nil {
		return 0, err
	}
	want := max(1, len(scene.Containers))
	alerts, err := p.waitScan(ctx, id, want, 90*time.Second)
	if err != nil {
		return alerts, err
	}
	lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
	defer lcancel()
	return alerts, sim.Leave(lctx)
}

// printer prints every inspection as one line, as a control room would see
// it, and lets the demo wait for a scan's results.
type printer struct {
	mu    sync.Mutex
	out   io.Writer
	c     mqtt.Client
	seen  map[string][]inspection.Result
	total int
	wake  chan struct{}
}

func newPrinter(broker string, t publish.Topics, out io.Writer) (*printer, error) {
	p := &printer{out: out, seen: map[string][]inspection.Result{}, wake: make(chan struct{}, 1)}
	p.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("demo-control-room"))
	if tok := p.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("demo: control-room subscriber: %v", tok.Error())
	}
	tok := p.c.Subscribe(t.Inspections(), 1, func(_ mqtt.Client, m mqtt.Message) {
		var r inspection.Result
		if err := json.Unmarshal(m.Payload(), &r); err != nil {
			return
		}
		p.mu.Lock()
		for _, have := range p.seen[r.ScanID] {
			if have.InspectionID == r.InspectionID {
				p.mu.Unlock()
				return // a redelivery: same id
			}
		}
		p.seen[r.ScanID] = append(p.seen[r.ScanID], r)
		p.total++
		fmt.Fprintln(p.out, formatLine(&r))
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("demo: subscribe: %v", tok.Error())
	}
	return p, nil
}

func (p *printer) close() { p.c.Disconnect(100) }

func (p *printer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

func (p *printer) waitScan(ctx context.Context, scanID string, n int, d time.Duration) (int, error) {
	deadline := time.After(d)
	for {
		p.mu.Lock()
		rs := p.seen[scanID]
		p.mu.Unlock()
		if len(rs) >= n {
			alerts := 0
			for _, r := range rs {
				if r.Verdict == inspection.Alert {
					alerts++
				}
			}
			return alerts, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-deadline:
			return 0, errors.New("demo: no inspection for scan " + scanID + " within " + d.String())
		case <-p.wake:
		case <-time.After(time.Second):
		}
	}
}

// formatLine renders an inspection for people: time, lane, container,
// verdict, findings.
func formatLine(r *inspection.Result) string {
	c := r.Container
	if c == "" {
		c = strings.Join(r.ContainerIDs, "+")
	}
	if c == "" {
		c = "(no number)"
	}
	var fs []string
	for _, f := range r.Findings {
		if f.Severity == inspection.Info {
			continue
		}
		fs = append(fs, f.Code+": "+f.Message)
	}
	line := fmt.Sprintf("  %s  lane %s  %-11s  %-6s risk %.2f", r.ScannedAt.Local().Format("15:04:05"), r.Lane, c, strings.ToUpper(r.Verdict), r.Risk)
	if len(fs) > 0 {
		line += "\n      " + strings.Join(fs, "\n      ")
	}
	return line
}

// demoConfig is base with the demo's broker, working directory and the
// simulated indicator on port.
func demoConfig(base *config.Config, work, brokerURL, port string) (*config.Config, error) {
	cfg := *base
	cfg.MQTT.Broker = brokerURL
	cfg.Buffer.Dir = filepath.Join(work, "buffer")
	cfg.Buffer.SyncWrites = false
	cfg.Scanner.Inbox = filepath.Join(work, "scans")
	cfg.Scanner.Rescan = 2 * time.Second
	cfg.Scanner.SettleTime = 10 * time.Millisecond
	cfg.Declarations.Inbox = filepath.Join(work, "declarations")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Rules.Grace = 10 * time.Second
	cfg.Lanes = []config.Lane{{ID: "L1", VehicleTareKg: 14500, Weighbridge: &config.Weighbridge{
		Line: serialline.Config{Port: port, Protocol: "toledo", Baud: 9600, DataBits: 8, Parity: "none", StopBits: 1,
			SilentAfter: 5 * time.Second},
		Weighing: weighing.Config{Division: 20, StableFor: time.Second, StableBandDivisions: 1, MinTruckKg: 2000}}}}
	if ps := cfg.Validate(); len(ps) > 0 {
		return nil, fmt.Errorf("demo config: %v", ps)
	}
	return &cfg, nil

}

// driveTrucks drives trucks (or random ones for ever) through the gate and
// returns how many alerts they raised.
func driveTrucks(ctx context.Context, sim *indicatorsim.Sim, decl mqtt.Client, cfg *config.Config, printer *printer, trucks int, forever bool) (int, error) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	names := xraysim.ScenarioNames()
	alerts := 0
	var runErr error
	for i := 0; (forever || i < trucks) && ctx.Err() == nil; i++ {
		sc, seed := "", int64(0)
		if i < len(demoTrucks) {
			sc, seed = demoTrucks[i].scenario, demoTrucks[i].seed
		} else {
			sc, seed = names[rng.Intn(len(names))], rng.Int63n(1000)
		}
		n, err := driveTruck(ctx, sim, decl, cfg, printer, sc, seed, i+1)
		if err != nil {
			if ctx.Err() == nil {
				runErr = err
			}
			break
		}
		alerts += n
	}
	return alerts, runErr
}
