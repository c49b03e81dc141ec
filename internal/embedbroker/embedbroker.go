// Package embedbroker runs a small pure-Go MQTT broker inside gatescan, for
// `gatescan demo` and for `mqtt.broker: embedded` on a gate without a
// broker of its own. It listens on loopback only, unless it is given
// credentials, which it then requires of every client.
package embedbroker

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/gatescan/gatescan/config"
)

// Broker is a running embedded broker.
type Broker struct {
	srv  *mqtt.Server
	addr string
}

// Credentials returns the user name and password every client must give;
// it is asked at each connection, so that a rotated password applies at
// once.
type Credentials func() (user, password string)

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves. With
// creds nil it lets anyone in, so it refuses any address but loopback.
func Start(addr string, creds Credentials, log *slog.Logger) (*Broker, error) {
	if creds == nil && !config.LoopbackAddr(addr) {
		return nil, fmt.Errorf("embedded broker: %s is not a loopback address and no credentials are set: anyone could publish declarations and read inspections (set mqtt.username and a password, or listen on 127.0.0.1)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen %s: %w", addr, err)
	}
	real := ln.Addr().String()
	ln.Close() // mochi opens its own listener on the chosen port
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Logger: log.With("component", "embedded-broker")})
	var hook mqtt.Hook = new(auth.AllowHook)
	if creds != nil {
		hook = &credHook{creds: creds, log: log}
	}
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, err
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: real})); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	go func() { _ = srv.Serve() }()
	return &Broker{srv: srv, addr: real}, nil
}

// URL is the broker's tcp:// address.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Close stops the broker.
func (b *Broker) Close() error { return b.srv.Close() }

// credHook lets in the clients that give the configured user name and
// password, and lets them publish and subscribe to anything: the broker
// serves one gate, whose clients are all trusted alike.
type credHook struct {
	mqtt.HookBase
	creds Credentials
	log   *slog.Logger
}

func (h *credHook) ID() string { return "gatescan-credentials" }

func (h *credHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func (h *credHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, pass := h.creds()
	ok := subtle.ConstantTimeCompare(pk.Connect.Username, []byte(user)) == 1 &&
		subtle.ConstantTimeCompare(pk.Connect.Password, []byte(pass)) == 1 && pass != ""
	if !ok {
		h.log.Warn("embedded broker refused a client: wrong user name or password", "remote", cl.Net.Remote,
			"client_id", cl.ID, "username", string(pk.Connect.Username))
	}
	return ok
}

func (h *credHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
