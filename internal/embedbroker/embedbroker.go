// Package embedbroker runs a small pure-Go MQTT broker inside gatescan, for
// `gatescan demo` and for `mqtt.broker: embedded` on a gate without a
// broker of its own. It listens on loopback unless told otherwise.
package embedbroker

import (
	"fmt"
	"io"
	"log/slog"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is a running embedded broker.
type Broker struct {
	srv  *mqtt.Server
	addr string
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves.
func Start(addr string, log *slog.Logger) (*Broker, error) {
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
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
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
