package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/mqtttest"
	"github.com/gatescan/gatescan/internal/testbroker"
)

func testConfig(broker string) *config.Config {
	c := config.Default()
	c.Site, c.Gate = "test", fmt.Sprintf("g%d", rand.IntN(1e6))
	c.MQTT.Broker = broker
	c.MQTT.Keepalive = 2 * time.Second
	c.MQTT.ReconnectMin = 50 * time.Millisecond
	c.MQTT.ReconnectMax = 400 * time.Millisecond
	return c
}

func newStore(t testing.TB) *buffer.Store {
	t.Helper()
	s, err := buffer.Open(t.TempDir(), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// queue commits n one-message scans numbered from first.
func queue(t testing.TB, s *buffer.Store, topic string, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("scan-%05d", i)
		ok, err := s.CommitScan(id, nil, []buffer.Message{{Topic: topic, QoS: 1, Payload: []byte(id)}})
		if err != nil || !ok {
			t.Fatalf("commit %s: %v %v", id, ok, err)
		}
	}
}

type running struct {
	p      *publish.Publisher
	log    *agenttest.LogBuffer
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs a publisher until the test ends (or stop).
func start(t *testing.T, cfg *config.Config, s *buffer.Store, onDecl publish.DeclarationHandler) *running {
	t.Helper()
	r := &running{log: &agenttest.LogBuffer{}, done: make(chan struct{})}
	var err error
	r.p, err = publish.New(cfg, s, "test", slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug})), onDecl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { defer close(r.done); r.p.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

// checkInOrder checks that every one of n scans numbered from 0 arrived,
// and that the first arrival of each came in order (a redelivery after a
// lost PUBACK may repeat some).
func checkInOrder(t *testing.T, got []string, n int) {
	t.Helper()
	seen := map[string]bool{}
	var firsts []string
	for _, p := range got {
		if !seen[p] {
			seen[p] = true
			firsts = append(firsts, p)
		}
	}
	for i := range n {
		want := fmt.Sprintf("scan-%05d", i)
		if i >= len(firsts) {
			t.Fatalf("only %d of %d messages arrived; %s missing", len(firsts), n, want)
		}
		if firsts[i] != want {
			t.Fatalf("arrival #%d is %s, want %s: order lost or a message missing", i, firsts[i], want)
		}
	}
	if len(firsts) != n {
		t.Errorf("%d distinct messages, want %d", len(firsts), n)
	}
	if d := len(got) - len(firsts); d > 0 {
		t.Logf("%d duplicates (redelivered after a lost acknowledgement): %v", d, dups(got))
	}
}

func TestDeliversInOrder(t *testing.T) {
	b := testbroker.Start(t)
	cfg := testConfig(b.URL())
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	sub := mqtttest.Subscribe(t, mqtt.NewClientOptions().AddBroker(b.URL()), topics.Base+"/#")
	s := newStore(t)
	queue(t, s, topics.Inspections(), 0, 300)
	r := start(t, cfg, s, nil)
	agenttest.Eventually(t, 20*time.Second, "300 delivered", func() bool { return len(sub.Texts(topics.Inspections())) >= 300 })
	checkInOrder(t, sub.Texts(topics.Inspections()), 300)
	agenttest.Eventually(t, 5*time.Second, "delivery recorded", func() bool { return s.Acked() == 300 })
	if st := r.p.State(); !st.Connected || st.Delivered != 300 || st.ClientID != "gatescan-"+cfg.Site+"-"+cfg.Gate {
		t.Errorf("state %+v", st)
	}
	// The gate announced itself, retained.
	if st := sub.Texts(topics.Status()); len(st) == 0 || !strings.Contains(st[0], `"online"`) {
		t.Errorf("status messages %v, want online first", st)
	}
	// More queued while connected go out too.
	queue(t, s, topics.Inspections(), 300, 10)
	agenttest.Eventually(t, 10*time.Second, "10 more delivered", func() bool { return len(sub.Texts(topics.Inspections())) >= 310 })
	checkInOrder(t, sub.Texts(topics.Inspections()), 310)
	// A clean stop says offline.
	r.stop()
	agenttest.Eventually(t, 5*time.Second, "offline status", func() bool {
		st := sub.Texts(topics.Status())
		return len(st) > 0 && strings.Contains(st[len(st)-1], `"offline"`)
	})
}

// TestBrokerRestartMidDelivery stops the broker while a backlog is being
// delivered, twice, and brings it back: everything arrives, in order, and
// the outbox ends empty.
func TestBrokerRestartMidDelivery(t *testing.T) {
	b := testbroker.StartOpts(t, testbroker.Options{Persist: true})
	cfg := testConfig(b.URL())
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	// A persistent session the broker keeps (Shutdown saves it) so that
	// what arrives while the subscriber reconnects is queued for it.
	sub := mqtttest.Subscribe(t, mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("crash-sub").SetCleanSession(false), topics.Inspections())
	s := newStore(t)
	big := bytes.Repeat([]byte{'x'}, 20<<10) // slows delivery enough to interrupt it
	for i := range 600 {
		id := fmt.Sprintf("scan-%05d", i)
		if _, err := s.CommitScan(id, nil, []buffer.Message{{Topic: topics.Inspections(), QoS: 1, Payload: []byte(id)}, {Topic: topics.Base + "/pad", QoS: 1, Payload: big}}); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, cfg, s, nil)
	for round := range 2 {
		agenttest.Eventually(t, 20*time.Second, "delivery under way", func() bool { return r.p.State().Delivered > uint64(200+400*round) })
		// Shutdown, not a crash: a crashed mosquitto forgets the
		// subscriber's session, and this test is about the publisher, to
		// which both look the same (TestAbsentBrokerBackPressure kills it).
		b.Shutdown()
		agenttest.Eventually(t, 10*time.Second, "publisher noticing", func() bool { return !r.p.State().Connected })
		b.Restart()
	}
	// Distinct ones: a redelivery after a lost PUBACK repeats some.
	agenttest.Eventually(t, 30*time.Second, "all 600 arrived", func() bool {
		return len(sub.Texts(topics.Inspections()))-len(dups(sub.Texts(topics.Inspections()))) >= 600
	})
	checkInOrder(t, sub.Texts(topics.Inspections()), 600)
	agenttest.Eventually(t, 5*time.Second, "outbox drained", func() bool { return s.Acked() == 1200 })
	if st := r.p.State(); st.Connects < 3 || st.Failures < 2 {
		t.Errorf("state %+v: want 3 connections and 2 losses", st)
	}
}

// TestAbsentBrokerBackPressure: with no broker at all, queuing never
// waits and the outbox grows; the broker's arrival drains it.
func TestAbsentBrokerBackPressure(t *testing.T) {
	b := testbroker.Start(t)
	b.Stop()
	cfg := testConfig(b.URL())
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	s := newStore(t)
	r := start(t, cfg, s, nil)
	t0 := time.Now()
	queue(t, s, topics.Inspections(), 0, 200)
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("queuing 200 took %v with the broker away", d)
	}
	st, _ := s.Stats()
	if st.Pending != 200 {
		t.Errorf("pending %d, want 200 while the broker is away", st.Pending)
	}
	r.p.Publish(topics.Weight("L1"), []byte("{}")) // must not block either
	agenttest.Eventually(t, 5*time.Second, "failed attempts", func() bool { return r.p.State().Failures >= 2 })
	if e := r.p.State().LastError; !strings.Contains(e, "connection refused") || !strings.Contains(e, "is the broker up") {
		t.Errorf("last error %q does not say the broker is not there", e)
	}
	b.Restart()
	sub := mqtttest.Subscribe(t, mqtt.NewClientOptions().AddBroker(b.URL()), topics.Inspections())
	agenttest.Eventually(t, 20*time.Second, "outbox drained", func() bool { return s.Acked() == 200 })
	// The backlog may all have gone before the subscriber's SUBACK (the
	// broker keeps no session here): one more message shows the way is open.
	queue(t, s, topics.Inspections(), 200, 1)
	agenttest.Eventually(t, 10*time.Second, "a message after the backlog arrived", func() bool {
		return slices.Contains(sub.Texts(topics.Inspections()), "scan-00200")
	})
}

// TestCredentials: a broker that wants a user name and password.
func TestCredentials(t *testing.T) {
	const user, good, bad = "gate-1", "s3cret-Pa55word", "wrong-Pa55word"
	b := testbroker.StartOpts(t, testbroker.Options{Users: map[string]string{user: good, "reader": "r"}})
	pwFile := filepath.Join(t.TempDir(), "mqtt-password")

	t.Run("env wins over file", func(t *testing.T) {
		os.WriteFile(pwFile, []byte(bad+"\n"), 0o600)
		t.Setenv("GATESCAN_MQTT_PASSWORD", good)
		cfg := testConfig(b.URL())
		cfg.MQTT.Username, cfg.MQTT.PasswordFile, cfg.MQTT.Password = user, pwFile, good // as config.Load puts the env in
		s := newStore(t)
		queue(t, s, "t/env", 0, 3)
		start(t, cfg, s, nil)
		agenttest.Eventually(t, 10*time.Second, "delivered", func() bool { return s.Acked() == 3 })
	})

	t.Run("rejected, then fixed", func(t *testing.T) {
		os.WriteFile(pwFile, []byte(bad+"\n"), 0o600)
		cfg := testConfig(b.URL())
		cfg.MQTT.Username, cfg.MQTT.PasswordFile = user, pwFile
		cfg.MQTT.ReconnectMin, cfg.MQTT.ReconnectMax = 100*time.Millisecond, 800*time.Millisecond
		s := newStore(t)
		topic := publish.NewTopics(cfg.Site, cfg.Gate).Inspections()
		queue(t, s, topic, 0, 20)
		r := start(t, cfg, s, nil)
		t0 := time.Now()
		agenttest.Eventually(t, 15*time.Second, "4 refusals", func() bool { return r.p.State().Failures >= 4 })
		// 4 attempts, 3 waits of at least 50, 100 and 200 ms (upper halves
		// of 100, 200, 400): backing off, not hammering.
		if d := time.Since(t0); d < 350*time.Millisecond {
			t.Errorf("4 attempts within %v: no backoff", d)
		}
		st := r.p.State()
		if st.Connected || !strings.Contains(st.LastError, `refused user "gate-1"`) {
			t.Errorf("state %+v: want a refusal naming the user", st)
		}
		if st.NextAttempt.IsZero() {
			t.Error("no next attempt announced")
		}
		queue(t, s, topic, 20, 10) // the gate keeps working meanwhile
		if s.Acked() != 0 {
			t.Fatal("messages acknowledged without a connection")
		}
		// The operator fixes the password file: the next attempt reads it.
		os.WriteFile(pwFile, []byte(good+"\n"), 0o600)
		sub := mqtttest.Subscribe(t, mqtt.NewClientOptions().AddBroker(b.URL()).SetUsername("reader").SetPassword("r"), topic)
		agenttest.Eventually(t, 10*time.Second, "all 30 delivered", func() bool { return s.Acked() == 30 })
		agenttest.Eventually(t, 5*time.Second, "all 30 arrived", func() bool { return len(sub.Texts(topic)) >= 30 })
		checkInOrder(t, sub.Texts(topic), 30)
		for _, pw := range []string{good, bad} {
			if strings.Contains(r.log.String(), pw) {
				t.Errorf("the log contains the password %q", pw)
			}
			if s, _ := json.Marshal(r.p.State()); strings.Contains(string(s), pw) {
				t.Errorf("the state contains the password %q", pw)
			}
		}
		if !strings.Contains(r.log.String(), `refused user \"gate-1\"`) {
			t.Error("the refusal is not in the log")
		}
	})

	t.Run("password in the URL is redacted", func(t *testing.T) {
		cfg := testConfig(strings.Replace(b.URL(), "tcp://", "tcp://"+user+":"+bad+"@", 1))
		r := start(t, cfg, newStore(t), nil)
		agenttest.Eventually(t, 10*time.Second, "a refusal", func() bool { return r.p.State().Failures >= 1 })
		if strings.Contains(r.log.String(), bad) || strings.Contains(r.p.State().Broker, bad) || strings.Contains(r.p.State().LastError, bad) {
			t.Errorf("password from the broker URL leaked: %s", r.log.String())
		}
	})
}

func TestTLS(t *testing.T) {
	pki := testbroker.NewPKI(t)
	tlsOnly := testbroker.StartOpts(t, testbroker.Options{TLS: &testbroker.TLS{CAFile: pki.CAFile, CertFile: pki.ServerCert, KeyFile: pki.ServerKey}})
	mutual := testbroker.StartOpts(t, testbroker.Options{TLS: &testbroker.TLS{CAFile: pki.CAFile, CertFile: pki.ServerCert, KeyFile: pki.ServerKey, RequireClientCert: true}})
	for _, c := range []struct {
		name              string
		broker            *testbroker.Broker
		ca, cert, key     string
		wantErr, wantHint string
	}{
		{name: "server verified", broker: tlsOnly, ca: pki.CAFile},
		{name: "mutual", broker: mutual, ca: pki.CAFile, cert: pki.ClientCert, key: pki.ClientKey},
		{name: "untrusted server", broker: tlsOnly, ca: pki.RogueCAFile, wantHint: "mqtt.ca_file"},
		{name: "no client certificate", broker: mutual, ca: pki.CAFile, wantHint: "client certificate"},
		{name: "client certificate of another CA", broker: mutual, ca: pki.CAFile, cert: pki.RogueCert, key: pki.RogueKey, wantHint: "client certificate"},
		{name: "expired client certificate", broker: mutual, ca: pki.CAFile, cert: pki.ExpiredCert, key: pki.ExpiredKey, wantHint: "client certificate"},
		{name: "CA file for a plain URL", broker: nil, ca: pki.CAFile, wantErr: "not a TLS URL"},
		{name: "missing key file", broker: mutual, ca: pki.CAFile, cert: pki.ClientCert, key: "/nonexistent.key", wantErr: "key_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := "tcp://127.0.0.1:1"
			if c.broker != nil {
				url = c.broker.URL()
			}
			cfg := testConfig(url)
			cfg.MQTT.CAFile, cfg.MQTT.CertFile, cfg.MQTT.KeyFile = c.ca, c.cert, c.key
			s := newStore(t)
			if c.wantErr != "" {
				_, err := publish.New(cfg, s, "test", slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("New: %v, want an error saying %q", err, c.wantErr)
				}
				return
			}
			queue(t, s, "t/tls", 0, 5)
			r := start(t, cfg, s, nil)
			if c.wantHint == "" {
				agenttest.Eventually(t, 10*time.Second, "delivered over TLS", func() bool { return s.Acked() == 5 })
				return
			}
			agenttest.Eventually(t, 10*time.Second, "a failed attempt", func() bool { return r.p.State().Failures >= 2 })
			if st := r.p.State(); st.Connected || !strings.Contains(st.LastError, c.wantHint) {
				t.Errorf("state %+v: want an error pointing at %s", st, c.wantHint)
			}
			if s.Acked() != 0 {
				t.Error("delivered over a connection that should have failed")
			}
		})
	}
}

// TestDeclarationsQueuedWhileAway: the session outlives the connection, so
// a declaration published while the gate is offline arrives when it
// connects again.
func TestDeclarationsQueuedWhileAway(t *testing.T) {
	b := testbroker.Start(t)
	cfg := testConfig(b.URL())
	var mu sync.Mutex
	var got []string
	onDecl := func(p []byte, _ bool) error {
		mu.Lock()
		got = append(got, string(p))
		mu.Unlock()
		return nil
	}
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
	s := newStore(t)
	r := start(t, cfg, s, onDecl)
	agenttest.Eventually(t, 10*time.Second, "connected", func() bool { return r.p.State().Connected })
	// Subscribed once connected: wait for a declaration to make the round trip.
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("customs"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	agenttest.Eventually(t, 10*time.Second, "live declaration", func() bool {
		pub.Publish(publish.Declarations(cfg.Site), 1, false, "live").WaitTimeout(time.Second)
		return len(received()) > 0
	})
	r.stop()
	if tok := pub.Publish(publish.Declarations(cfg.Site), 1, false, "while-away"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	start(t, cfg, s, onDecl)
	agenttest.Eventually(t, 10*time.Second, "the declaration sent while away", func() bool {
		return strings.Contains(strings.Join(received(), ","), "while-away")
	})
}

// TestLiveNeverBlocks: live weights go at QoS 0 and are dropped rather than
// waited for.
func TestLiveNeverBlocks(t *testing.T) {
	b := testbroker.Start(t)
	cfg := testConfig(b.URL())
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	sub := mqtttest.Subscribe(t, mqtt.NewClientOptions().AddBroker(b.URL()), topics.Weight("L1"))
	r := start(t, cfg, newStore(t), nil)
	agenttest.Eventually(t, 10*time.Second, "connected", func() bool { return r.p.State().Connected })
	t0 := time.Now()
	for range 10000 {
		r.p.Publish(topics.Weight("L1"), []byte(`{"gross_kg":1}`))
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("10000 live publishes took %v", d)
	}
	agenttest.Eventually(t, 5*time.Second, "some weights arrived", func() bool { return len(sub.Texts(topics.Weight("L1"))) > 0 })
}

func dups(got []string) []string {
	seen := map[string]int{}
	var out []string
	for i, p := range got {
		if j, ok := seen[p]; ok {
			out = append(out, fmt.Sprintf("%s at %d and %d", p, j, i))
		}
		seen[p] = i
	}
	return out
}

// refusing starts a broker that refuses what refuse matches, a publisher
// config for it (3 attempts), a listener to everything of the gate and a
// store holding refusalQueue.
func refusing(t *testing.T, refuse func(topic string, payload []byte) bool) (*testbroker.Refusing, *config.Config, publish.Topics, *mqtttest.Recorder, *buffer.Store) {
	t.Helper()
	b := testbroker.StartRefusing(t)
	b.SetRefuse(refuse)
	cfg := testConfig(b.URL)
	cfg.MQTT.MaxSendAttempts = 3
	topics := publish.NewTopics(cfg.Site, cfg.Gate)
	in := mqtttest.Listen(t, b.URL, "", topics.Base+"/#")
	s := newStore(t)
	refusalQueue(t, s, topics)
	return b, cfg, topics, in, s
}

// refusalQueue commits, one scan each: a result, an image, a result, an
// image, an alert; it returns their payloads.
func refusalQueue(t *testing.T, s *buffer.Store, topics publish.Topics) []buffer.Message {
	t.Helper()
	msgs := []buffer.Message{
		{Topic: topics.Inspections(), QoS: 1, Payload: []byte(`{"n":1}`), Ref: "i1"},
		{Topic: topics.Image("i1"), QoS: 1, Payload: bytes.Repeat([]byte("BIG"), 50_000), Image: true, Ref: "i1"},
		{Topic: topics.Inspections(), QoS: 1, Payload: []byte(`{"n":2}`), Ref: "i2"},
		{Topic: topics.Image("i2"), QoS: 1, Payload: []byte("small image"), Image: true, Ref: "i2"},
		{Topic: topics.Alerts(), QoS: 1, Payload: []byte(`{"n":3}`), Alert: true, Ref: "i3"},
	}
	for i, m := range msgs {
		if _, err := s.CommitScan(fmt.Sprintf("r-%d", i), nil, []buffer.Message{m}); err != nil {
			t.Fatal(err)
		}
	}
	return msgs
}

// TestRefusedImageDropped: a broker that closes the connection whenever
// one message is sent (as on a packet size limit or an ACL deny) would
// block the outbox for ever. After max_send_attempts lost connections with
// that message first in line, an image is dropped and reported, and what
// follows is delivered.
func TestRefusedImageDropped(t *testing.T) {
	b, cfg, topics, in, s := refusing(t, func(_ string, p []byte) bool { return len(p) > 100_000 })
	var mu sync.Mutex
	var drops []buffer.Dropped
	r := &running{log: &agenttest.LogBuffer{}, done: make(chan struct{})}
	var err error
	r.p, err = publish.New(cfg, s, "test", slog.New(slog.NewTextHandler(r.log, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.p.OnDrop = func(d buffer.Dropped, why string) {
		mu.Lock()
		drops = append(drops, d)
		mu.Unlock()
		if !strings.Contains(why, "3 times") {
			t.Errorf("why %q does not say how many attempts", why)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { defer close(r.done); r.p.Run(ctx) }()
	t.Cleanup(r.stop)

	agenttest.Eventually(t, 30*time.Second, "everything but the refused image delivered", func() bool {
		st, _ := s.Stats()
		return st.Pending == 0
	})
	// Counted only while it was first in line: the first refusal may come
	// while an earlier message still waited for its PUBACK.
	if n := b.Refused.Load(); n < 3 || n > 4 {
		t.Errorf("the broker refused the image %d times, want max_send_attempts = 3 (one more if it was not first in line the first time)", n)
	}
	for _, topic := range []string{topics.Inspections(), topics.Image("i2"), topics.Alerts()} {
		if len(in.Payloads(topic)) == 0 {
			t.Errorf("nothing arrived on %s", topic)
		}
	}
	if got := len(in.Payloads(topics.Inspections())); got < 2 {
		t.Errorf("%d results arrived, want both", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(drops) != 1 || drops[0].Topic != topics.Image("i1") || drops[0].Ref != "i1" || !drops[0].Image {
		t.Fatalf("drops reported: %+v, want the image of i1 only", drops)
	}
	st := r.p.State()
	if st.Refused != 1 || st.Stuck != nil || len(st.Problems) != 0 {
		t.Errorf("state %+v: want 1 refused image, nothing stuck", st)
	}
	if bs, _ := s.Stats(); bs.Dropped != 1 {
		t.Errorf("the buffer counts %d dropped, want 1", bs.Dropped)
	}
}

// TestRefusedResultStuck: a result or alert is never dropped: delivery
// stops on it, and the retained status and State say so and why, until
// the broker takes it; then everything flows again and the problem clears.
func TestRefusedResultStuck(t *testing.T) {
	b, cfg, topics, in, s := refusing(t, func(_ string, p []byte) bool { return bytes.Equal(p, []byte(`{"n":2}`)) })
	r := start(t, cfg, s, nil)
	agenttest.Eventually(t, 30*time.Second, "delivery stuck reported", func() bool { return r.p.State().Stuck != nil })
	st := r.p.State()
	if st.Stuck.Topic != topics.Inspections() || st.Stuck.Ref != "i2" || st.Stuck.Attempts < 3 {
		t.Errorf("stuck %+v, want the result of i2 after 3 attempts", st.Stuck)
	}
	if len(st.Problems) != 1 || st.Problems[0].Code != publish.ProblemDeliveryStuck || !strings.Contains(st.Problems[0].Message, "never dropped") {
		t.Errorf("problems %+v", st.Problems)
	}
	agenttest.Eventually(t, 10*time.Second, "…/status says so", func() bool {
		ps := in.Payloads(topics.Status())
		return len(ps) > 0 && bytes.Contains(ps[len(ps)-1], []byte(publish.ProblemDeliveryStuck))
	})
	if len(in.Payloads(topics.Alerts())) != 0 || len(in.Payloads(topics.Image("i2"))) != 0 {
		t.Error("messages after the stuck result were delivered: order lost")
	}
	if n := b.Refused.Load(); n > 20 {
		t.Errorf("%d attempts: the publisher must back off", n)
	}
	b.SetRefuse(nil) // the broker's limit raised
	agenttest.Eventually(t, 30*time.Second, "delivery moves again", func() bool {
		bs, _ := s.Stats()
		return bs.Pending == 0 && r.p.State().Stuck == nil
	})
	if bs, _ := s.Stats(); bs.Dropped != 0 {
		t.Errorf("%d messages dropped: a result or alert never is", bs.Dropped)
	}
	agenttest.Eventually(t, 10*time.Second, "…/status clear", func() bool {
		ps := in.Payloads(topics.Status())
		return len(ps) > 0 && !bytes.Contains(ps[len(ps)-1], []byte("problems"))
	})
}

// TestSubscriptionDenied: a broker whose ACL denies the declarations topic
// answers SUBACK 0x80, which paho reports as success: the publisher logs
// it, counts it and reports it as a problem.
func TestSubscriptionDenied(t *testing.T) {
	b := testbroker.StartRefusing(t)
	b.SetDeny(func(f string) bool { return strings.HasSuffix(f, "/declarations") })
	cfg := testConfig(b.URL)
	r := start(t, cfg, newStore(t), func([]byte, bool) error { return nil })
	agenttest.Eventually(t, 10*time.Second, "denial noticed", func() bool { return r.p.State().Denied > 0 })
	st := r.p.State()
	if len(st.Problems) != 1 || st.Problems[0].Code != publish.ProblemSubscriptionDenied || !strings.Contains(st.Problems[0].Message, "0x80") {
		t.Errorf("problems %+v", st.Problems)
	}
	if !strings.Contains(r.log.String(), "denied") {
		t.Errorf("not logged:\n%s", r.log.String())
	}
}

// TestDeclarationAckedOnlyWhenStored: a declaration the handler could not
// store is not acknowledged, so the broker sends it again on the next
// connection; one stored is acknowledged and not sent again.
func TestDeclarationAckedOnlyWhenStored(t *testing.T) {
	b := testbroker.StartOpts(t, testbroker.Options{Persist: true})
	cfg := testConfig(b.URL())
	var mu sync.Mutex
	calls := map[string]int{}
	fail := true
	onDecl := func(p []byte, _ bool) error {
		mu.Lock()
		defer mu.Unlock()
		calls[string(p)]++
		if string(p) == "unstorable" && fail {
			return errors.New("disk full")
		}
		return nil
	}
	count := func(p string) int { mu.Lock(); defer mu.Unlock(); return calls[p] }
	r := start(t, cfg, newStore(t), onDecl)
	agenttest.Eventually(t, 10*time.Second, "connected", func() bool { return r.p.State().Connected })
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("customs"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	agenttest.Eventually(t, 10*time.Second, "subscribed", func() bool {
		pub.Publish(publish.Declarations(cfg.Site), 1, false, "stored").WaitTimeout(time.Second)
		return count("stored") > 0
	})
	pub.Publish(publish.Declarations(cfg.Site), 1, false, "unstorable").WaitTimeout(5 * time.Second)
	agenttest.Eventually(t, 10*time.Second, "unstorable tried", func() bool { return count("unstorable") == 1 })
	pub.Disconnect(100)
	stored := count("stored")
	mu.Lock()
	fail = false
	mu.Unlock()
	b.Shutdown() // the session, with the unacknowledged message, is saved
	b.Restart()
	agenttest.Eventually(t, 20*time.Second, "unacknowledged declaration sent again", func() bool { return count("unstorable") >= 2 })
	time.Sleep(300 * time.Millisecond)
	if n := count("stored"); n != stored {
		t.Errorf("an acknowledged declaration came again (%d times, %d before)", n, stored)
	}
}
