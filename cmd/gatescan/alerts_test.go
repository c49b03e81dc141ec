package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/testbroker"
	"github.com/gatescan/gatescan/internal/testkit"
)

// fakeGate publishes what a gate's agent publishes, as its outbox does:
// QoS 1, each message acknowledged before the next.
type fakeGate struct {
	t      *testing.T
	c      mqtt.Client
	topics publish.Topics
}

func newFakeGate(t *testing.T, broker, site, gate string) *fakeGate {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID("fake-" + site + "-" + gate).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("gate %s/%s connect: %v", site, gate, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &fakeGate{t: t, c: c, topics: publish.NewTopics(site, gate)}
}

func (g *fakeGate) publish(topic string, payload []byte) {
	g.t.Helper()
	tok := g.c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		g.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// alert publishes an alert result for scan n (its inspections and alerts
// messages, as the agent does) and returns it.
func (g *fakeGate) alert(n int) inspection.Result {
	g.t.Helper()
	site, gate, _ := strings.Cut(strings.TrimPrefix(g.topics.Base, "gatescan/v1/"), "/")
	scan := fmt.Sprintf("scan-%03d", n)
	r := inspection.Result{InspectionID: inspection.ID(site, gate, scan, 0), ScanID: scan, Lane: "L1", Site: site, Gate: gate,
		ScannedAt: time.Date(2026, 3, 2, 8, 0, n, 0, time.UTC), ContainerIDs: []string{"MSKU1234565"}, Verdict: inspection.Alert, Risk: 0.8,
		Findings: []inspection.Finding{{Code: "DENSITY_MISMATCH", Severity: inspection.Critical, Message: fmt.Sprintf("finding of scan %d", n)}}}
	b, err := json.Marshal(r)
	if err != nil {
		g.t.Fatal(err)
	}
	g.publish(g.topics.Inspections(), b)
	g.publish(g.topics.Alerts(), b)
	return r
}

// console runs `gatescan alerts` until the test ends.
type console struct {
	out, log testkit.LogBuffer
	save     string
}

func startConsole(t *testing.T, o alertsOptions) *console {
	t.Helper()
	c := &console{save: o.save}
	o.reconnectMax = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runAlerts(ctx, o, &c.out, &c.log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("alerts: %v", err)
		}
	})
	c.waitSubscribed(t, 1)
	return c
}

func (c *console) waitSubscribed(t *testing.T, n int) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, fmt.Sprintf("console subscribed %d times", n), func() bool {
		return strings.Count(c.log.String(), "gatescan alerts: subscribed to ") >= n
	})
}

// lines are the alert lines printed (a line and its findings' lines).
func (c *console) lines() []string {
	var out []string
	for _, l := range strings.Split(c.out.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, " ") {
			out = append(out, l)
		}
	}
	return out
}

// printed counts how many times r was printed, as the demo prints it, with
// its gate in front.
func (c *console) printed(r inspection.Result) int {
	return strings.Count(c.out.String(), r.Site+"/"+r.Gate+formatLine(&r)+"\n")
}

// TestAlertsConsole runs `gatescan alerts` against a real mosquitto with
// two gates publishing: every alert is printed once as the demo prints it
// (redeliveries dropped, inspections that are not alerts not printed),
// each saved with its annotated image beside it whether the image comes
// after or before the alert, and after the broker restarts the console
// subscribes again and goes on, still once per alert.
func TestAlertsConsole(t *testing.T) {
	b := testbroker.Start(t)
	save := t.TempDir()
	c := startConsole(t, alertsOptions{broker: b.URL(), site: "+", gate: "+", save: save})
	g3 := newFakeGate(t, b.URL(), "qingdao-port", "gate-3")
	g4 := newFakeGate(t, b.URL(), "qingdao-port", "gate-4")

	jpeg := func(r inspection.Result) []byte { return []byte("\xff\xd8 image of " + r.InspectionID) }
	a1 := g3.alert(1)
	g3.publish(g3.topics.Image(a1.InspectionID), jpeg(a1))
	// gate-4's image comes before its alert (another connection, another
	// order).
	id2 := inspection.ID("qingdao-port", "gate-4", "scan-002", 0)
	g4.publish(g4.topics.Image(id2), []byte("\xff\xd8 image of "+id2))
	a2 := g4.alert(2)
	// A clear inspection: on …/inspections with its image, not an alert.
	clear := inspection.Result{InspectionID: "clear-1", Site: "qingdao-port", Gate: "gate-3", Verdict: inspection.Clear}
	cb, _ := json.Marshal(clear)
	g3.publish(g3.topics.Inspections(), cb)
	g3.publish(g3.topics.Image("clear-1"), []byte("\xff\xd8 clear"))
	// The outbox sends a1 again (after a reconnection of the agent).
	b1, _ := json.Marshal(a1)
	g3.publish(g3.topics.Alerts(), b1)
	a3 := g3.alert(3) // a sentinel: once printed, everything before was handled
	testkit.Eventually(t, 20*time.Second, "three alerts printed", func() bool { return c.printed(a3) == 1 })
	for _, r := range []inspection.Result{a1, a2, a3} {
		if n := c.printed(r); n != 1 {
			t.Errorf("alert %s/%s %s printed %d times, want once:\n%s", r.Gate, r.ScanID, r.InspectionID, n, c.out.String())
		}
	}
	if got := c.lines(); len(got) != 3 {
		t.Errorf("printed %d alerts, want 3:\n%s", len(got), c.out.String())
	}
	for _, r := range []inspection.Result{a1, a2} {
		if got, err := os.ReadFile(filepath.Join(save, r.InspectionID+".jpg")); err != nil || !bytes.Equal(got, jpeg(r)) {
			t.Errorf("image of %s not saved beside its alert: %v %q", r.ScanID, err, got)
		}
		var saved inspection.Result
		if got, err := os.ReadFile(filepath.Join(save, r.InspectionID+".json")); err != nil || json.Unmarshal(got, &saved) != nil || saved.InspectionID != r.InspectionID {
			t.Errorf("alert %s not saved: %v %s", r.ScanID, err, got)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(save, "clear-1*")); len(m) != 0 {
		t.Errorf("a clear inspection was saved: %v", m)
	}

	// The broker crashes and comes back on its port; the gates' outboxes
	// send again what they were not sure of, then new alerts.
	b.Stop()
	b.Restart()
	c.waitSubscribed(t, 2)
	if !strings.Contains(c.log.String(), "lost") {
		t.Errorf("the console did not say it lost the broker:\n%s", c.log.String())
	}
	b2, _ := json.Marshal(a2)
	g4.publish(g4.topics.Alerts(), b2)
	g3.publish(g3.topics.Alerts(), b1)
	a4 := g4.alert(4)
	a5 := g3.alert(5)
	testkit.Eventually(t, 20*time.Second, "alerts after the restart printed", func() bool { return c.printed(a4) == 1 && c.printed(a5) == 1 })
	for _, r := range []inspection.Result{a1, a2, a3, a4, a5} {
		if n := c.printed(r); n != 1 {
			t.Errorf("alert %s/%s printed %d times, want once", r.Gate, r.ScanID, n)
		}
	}
	if got := c.lines(); len(got) != 5 {
		t.Errorf("printed %d alerts, want 5:\n%s", len(got), c.out.String())
	}
}

// TestAlertsSharedSubscription runs two consoles of one shared group for a
// site and one console of its own: the group's consoles split the site's
// alerts, each printed by exactly one of them, while the console of its
// own sees all; another site's alerts reach none of the site's consoles.
func TestAlertsSharedSubscription(t *testing.T) {
	b := testbroker.Start(t)
	room1 := startConsole(t, alertsOptions{broker: b.URL(), site: "qingdao-port", gate: "+", shared: "control-room"})
	room2 := startConsole(t, alertsOptions{broker: b.URL(), site: "qingdao-port", gate: "+", shared: "control-room"})
	all := startConsole(t, alertsOptions{broker: b.URL(), site: "qingdao-port", gate: "+"})
	g := newFakeGate(t, b.URL(), "qingdao-port", "gate-3")
	other := newFakeGate(t, b.URL(), "ningbo-port", "gate-1")

	const n = 20
	var sent []inspection.Result
	for i := range n {
		sent = append(sent, g.alert(i))
		other.alert(i)
	}
	last := sent[n-1]
	testkit.Eventually(t, 20*time.Second, "every alert seen by the console of its own", func() bool { return all.printed(last) == 1 })
	testkit.Eventually(t, 20*time.Second, "every alert printed in the shared group", func() bool {
		return len(room1.lines())+len(room2.lines()) >= n
	})
	for _, r := range sent {
		if got := room1.printed(r) + room2.printed(r); got != 1 {
			t.Errorf("alert %s printed %d times in the shared group, want once", r.ScanID, got)
		}
		if all.printed(r) != 1 {
			t.Errorf("alert %s printed %d times by the console of its own, want once", r.ScanID, all.printed(r))
		}
	}
	if len(room1.lines()) == 0 || len(room2.lines()) == 0 {
		t.Errorf("the shared group did not split the load: %d and %d alerts", len(room1.lines()), len(room2.lines()))
	}
	for _, c := range []*console{room1, room2, all} {
		if strings.Contains(c.out.String(), "ningbo-port") {
			t.Errorf("another site's alert printed:\n%s", c.out.String())
		}
	}
}

// TestAlertsFlags checks that bad flags exit 2 with what to do.
func TestAlertsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--broker is required"},
		{[]string{"--broker", "tcp://x:1883", "--site", "a/b"}, `--site "a/b"`},
		{[]string{"--broker", "tcp://x:1883", "--gate", "#"}, `--gate "#"`},
		{[]string{"--broker", "tcp://x:1883", "--shared", "a+b"}, `--shared "a+b"`},
	} {
		err := dispatch(append([]string{"alerts"}, tc.args...), new(bytes.Buffer), new(bytes.Buffer))
		var ee *exitError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("alerts %v: %v, want exit 2 saying %s", tc.args, err, tc.want)
		}
	}
}

// TestAlertsFromARunningGate runs a real agent publishing to mosquitto and
// the console beside it: the demo's masks-under-wire truck is printed
// once, as the demo prints it, with its annotated image saved; the broker
// then restarts (the agent's outbox sends again what it was not sure of)
// and the next alerting truck is printed once, the first still once.
func TestAlertsFromARunningGate(t *testing.T) {
	b := testbroker.Start(t)
	save := t.TempDir()
	c := startConsole(t, alertsOptions{broker: b.URL(), site: "+", gate: "+", save: save})
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`site: e2e-port
gate: g1
mqtt: {broker: %q, reconnect_min: 100ms, reconnect_max: 500ms}
buffer: {dir: %q, sync_writes: false}
scanner: {inbox: %q, rescan_interval: 1s, settle_time: 10ms}
declarations: {inbox: %q}
http: {listen: ""}
lanes: [{id: L1}]
rules: {grace: 1s}
`, b.URL(), filepath.Join(dir, "buffer"), filepath.Join(dir, "scans"), filepath.Join(dir, "decl"))), "e2e.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var log testkit.LogBuffer
	agenttest.Start(t, agent.New(cfg, slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn})), agent.Options{}))

	// truck drives the demo's opening truck n (its scenario and seed)
	// through the scanner and returns its alert as the console printed it.
	truck := func(n int) inspection.Result {
		t.Helper()
		scene, decls, err := xraysim.Scenario(demoTrucks[n].scenario, rand.New(rand.NewSource(demoTrucks[n].seed)))
		if err != nil {
			t.Fatal(err)
		}
		agenttest.PutDeclarations(t, cfg.Declarations.Inbox, decls)
		id := fmt.Sprintf("truck-%d", n)
		if _, err := xraysim.Write(cfg.Scanner.Inbox, id, scene, xraysim.SidecarMeta{ScanID: id, Lane: "L1"}); err != nil {
			t.Fatal(err)
		}
		var r inspection.Result
		testkit.Eventually(t, 60*time.Second, id+"'s alert printed", func() bool {
			for _, f := range c.saved(t) {
				if f.ScanID == id {
					r = f
					return true
				}
			}
			return false
		})
		return r
	}
	masks := truck(1) // masks-under-wire
	if masks.Verdict != inspection.Alert {
		t.Fatalf("the masks truck's verdict is %q, want alert", masks.Verdict)
	}
	// The annotated image is published after the committed result.
	testkit.Eventually(t, 30*time.Second, "the masks truck's annotated image saved", func() bool {
		_, err := os.Stat(filepath.Join(save, masks.InspectionID+".jpg"))
		return err == nil
	})
	b.Stop()
	b.Restart()
	c.waitSubscribed(t, 2)
	flowers := truck(5) // masks-as-flowers
	for _, r := range []inspection.Result{masks, flowers} {
		if n := c.printed(r); n != 1 {
			t.Errorf("alert of %s printed %d times, want once:\n%s", r.ScanID, n, c.out.String())
		}
	}
	if got := c.lines(); len(got) != 2 {
		t.Errorf("printed %d alerts, want 2:\n%s", len(got), c.out.String())
	}
}

// saved reads the alerts the console saved.
func (c *console) saved(t *testing.T) []inspection.Result {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.save, "*.json"))
	var out []inspection.Result
	for _, f := range files {
		var r inspection.Result
		if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// BenchmarkBrokerThroughput measures what one mosquitto carries from a
// gate to a control-room subscriber: QoS 1 messages of an inspection
// result's size and of an annotated image's, published with 16 in flight
// (the agent's mqtt.inflight), each counted once delivered. The README's
// "how many gates one broker serves" comes from it:
// go test -run '^$' -bench BrokerThroughput ./cmd/gatescan/
func BenchmarkBrokerThroughput(b *testing.B) {
	broker := testbroker.Start(b)
	for _, size := range []int{3 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("%dkB", size>>10), func(b *testing.B) {
			var got atomic.Int64
			sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID(fmt.Sprintf("bench-sub-%d", size)))
			if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatal(tok.Error())
			}
			defer sub.Disconnect(100)
			if tok := sub.Subscribe("gatescan/v1/+/+/inspections", 1, func(mqtt.Client, mqtt.Message) { got.Add(1) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatal(tok.Error())
			}
			pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID(fmt.Sprintf("bench-pub-%d", size)))
			if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatal(tok.Error())
			}
			defer pub.Disconnect(100)
			payload := make([]byte, size)
			window := make(chan mqtt.Token, 16)
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if len(window) == cap(window) {
					(<-window).Wait()
				}
				window <- pub.Publish("gatescan/v1/bench/g1/inspections", 1, false, payload)
			}
			for len(window) > 0 {
				(<-window).Wait()
			}
			for got.Load() < int64(b.N) {
				if time.Since(start) > time.Minute {
					b.Fatalf("%d of %d messages delivered within a minute", got.Load(), b.N)
				}
				time.Sleep(time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
		})
	}
}
