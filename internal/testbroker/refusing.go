package testbroker

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Refusing is an in-process broker (mochi) that behaves as brokers do when
// a client breaks their rules: it closes the connection of a client that
// publishes a message Refuse matches, as EMQX and AWS IoT do on an ACL deny
// and mosquitto on a packet over max_packet_size; and it answers SUBACK
// 0x80 to a subscription Deny matches. Both can change while it runs.
type Refusing struct {
	URL string
	srv *mqtt.Server
	// Refused counts the connections closed for a refused message.
	Refused atomic.Int64
	refuse  atomic.Pointer[func(topic string, payload []byte) bool]
	deny    atomic.Pointer[func(filter string) bool]
}

// SetRefuse sets which publications close the client's connection (nil:
// none).
func (b *Refusing) SetRefuse(f func(topic string, payload []byte) bool) { b.refuse.Store(&f) }

// SetDeny sets which subscriptions are refused (nil: none).
func (b *Refusing) SetDeny(f func(filter string) bool) { b.deny.Store(&f) }

// StartRefusing starts the broker on a free loopback port until the test
// ends.
func StartRefusing(t testing.TB) *Refusing {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b := &Refusing{URL: "tcp://" + addr}
	b.srv = mqtt.New(&mqtt.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := b.srv.AddHook(&refusingHook{b: b}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.srv.Serve() }()
	t.Cleanup(func() { b.srv.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("refusing broker not listening on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type refusingHook struct {
	mqtt.HookBase
	b *Refusing
}

func (h *refusingHook) ID() string { return "refusing" }

func (h *refusingHook) Provides(x byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish}, []byte{x})
}

func (h *refusingHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (h *refusingHook) OnACLCheck(_ *mqtt.Client, topic string, write bool) bool {
	if f := h.b.deny.Load(); !write && f != nil && *f != nil {
		return !(*f)(topic)
	}
	return true
}

func (h *refusingHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if f := h.b.refuse.Load(); f != nil && *f != nil && (*f)(pk.TopicName, pk.Payload) {
		h.b.Refused.Add(1)
		cl.Stop(fmt.Errorf("refused message on %s (%d bytes)", pk.TopicName, len(pk.Payload)))
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}
