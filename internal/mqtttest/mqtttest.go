// Package mqtttest records what a real broker delivers on a topic filter,
// for tests: a subscriber that keeps every message in arrival order and
// waits for the one a test expects.
package mqtttest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Recorder keeps what arrives on a filter, in arrival order, duplicates
// included.
type Recorder struct {
	mu   sync.Mutex
	msgs []mqtt.Message
	c    mqtt.Client
}

// Subscribe connects a client with the options o (a random client id if o
// has none; with a fixed id and a persistent session the broker queues
// for it while it is away) and subscribes to filter at QoS 1, again on
// every reconnection. It returns once the broker has acknowledged the
// subscription, and disconnects when the test ends.
func Subscribe(t testing.TB, o *mqtt.ClientOptions, filter string) *Recorder {
	t.Helper()
	r := &Recorder{}
	if o.ClientID == "" {
		o.SetClientID(fmt.Sprintf("sub-%d", rand.Int64()))
	}
	o.SetOrderMatters(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond)
	o.SetOnConnectHandler(func(c mqtt.Client) {
		c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
			r.mu.Lock()
			r.msgs = append(r.msgs, m)
			r.mu.Unlock()
		})
	})
	r.c = mqtt.NewClient(o)
	if tok := r.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	// Subscribed once a retained or fresh message could arrive: wait for
	// the SUBACK by subscribing once more, synchronously.
	if tok := r.c.Subscribe(filter, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { r.c.Disconnect(100) })
	return r
}

// Listen subscribes to filter on broker; with a client id other than ""
// it keeps a persistent session, so that nothing published while it
// reconnects (after a broker restart) is lost to it.
func Listen(t testing.TB, broker, clientID, filter string) *Recorder {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(broker)
	if clientID != "" {
		o.SetClientID(clientID).SetCleanSession(false)
	}
	return Subscribe(t, o, filter)
}

// Messages returns a copy of everything received so far.
func (r *Recorder) Messages() []mqtt.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mqtt.Message(nil), r.msgs...)
}

// Payloads returns the payloads received on topic, in arrival order.
func (r *Recorder) Payloads(topic string) [][]byte {
	var out [][]byte
	for _, m := range r.Messages() {
		if m.Topic() == topic {
			out = append(out, m.Payload())
		}
	}
	return out
}

// Texts returns the payloads received on topic as strings.
func (r *Recorder) Texts(topic string) []string {
	var out []string
	for _, p := range r.Payloads(topic) {
		out = append(out, string(p))
	}
	return out
}

// Count returns how many messages arrived on topic.
func (r *Recorder) Count(topic string) int { return len(r.Payloads(topic)) }

// Wait returns the first message received that matches pred, failing the
// test if none has arrived after d.
func (r *Recorder) Wait(t testing.TB, d time.Duration, pred func(topic string, payload []byte) bool) mqtt.Message {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msgs := r.Messages()
		for _, m := range msgs {
			if pred(m.Topic(), m.Payload()) {
				return m
			}
		}
		if !time.Now().Before(deadline) {
			var topics []string
			for _, m := range msgs {
				topics = append(topics, m.Topic())
			}
			t.Fatalf("no matching message within %v; got %d messages on %v", d, len(msgs), topics)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}
