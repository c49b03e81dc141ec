package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
)

// Topics builds the gate's topic names (interfaces.md §4).
type Topics struct{ Base string }

// NewTopics returns the topics of a site and gate.
func NewTopics(site, gate string) Topics {
	return Topics{Base: "gatescan/v1/" + site + "/" + gate}
}

func (t Topics) Status() string            { return t.Base + "/status" }
func (t Topics) Inspections() string       { return t.Base + "/inspections" }
func (t Topics) Alerts() string            { return t.Base + "/alerts" }
func (t Topics) Image(id string) string    { return t.Base + "/inspections/" + id + "/image" }
func (t Topics) Weight(lane string) string { return t.Base + "/weight/" + lane }

// Dropped is where the gate reports messages its disk budget dropped
// before the broker had them.
func (t Topics) Dropped() string { return t.Base + "/dropped" }

// Declarations is the site-wide declarations topic.
func Declarations(site string) string { return "gatescan/v1/" + site + "/declarations" }

// Status is the retained status payload.
type Status struct {
	State     string    `json:"state"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
}

// Outbox is what the publisher needs of the buffer: the queued messages in
// order, a way to record their delivery, and a signal when more arrive.
type Outbox interface {
	Pending(after uint64, limit, maxBytes int) ([]buffer.Message, error)
	Ack(seq uint64) error
	Notify() <-chan struct{}
}

// Delivery batches: a few hundred messages, but few images at a time, so
// that a backlog of images is not read into memory at once.
const (
	batchMessages = 256
	batchBytes    = 4 << 20
	// ackEvery bounds the messages a restart sends again: delivery is
	// recorded in the buffer at least this often.
	ackEvery = 64
	// pubackTimeout is how long a message may wait for its PUBACK before
	// the connection is taken for dead.
	pubackTimeout = 30 * time.Second
)

// Publisher owns the MQTT connection.
//
// The connection is the publisher's own loop rather than paho's
// ConnectRetry and AutoReconnect: paho retries a refused connection at a
// fixed interval without saying why it was refused, reconnects without
// jitter, and on reconnecting re-sends its in-memory copies of unacknowledged
// messages in no particular order, which the outbox re-sends anyway, in
// order. Here every attempt uses a fresh client with an empty store (the
// broker keeps the session: CleanSession is false, so declarations queued
// while the gate was away still arrive), the outbox in Badger is the only
// source of what to send, and a refusal is logged with its reason before
// the next attempt, which comes after an exponential backoff with jitter.
type Publisher struct {
	cfg    config.MQTT
	site   string
	store  Outbox
	log    *slog.Logger
	topics Topics
	status Status
	onDecl func([]byte)
	opts   *mqtt.ClientOptions
	live   chan liveMsg

	connected atomic.Bool
	delivered atomic.Uint64
	failures  atomic.Uint64
	connects  atomic.Uint64

	mu        sync.Mutex
	client    mqtt.Client // the current connection, nil between them
	lastErr   string
	nextTry   time.Time
	connSince time.Time
}

type liveMsg struct {
	topic   string
	payload []byte
}

// New prepares a publisher; onDeclaration receives payloads from the
// declarations topic (it must not block for long).
func New(cfg *config.Config, store Outbox, version string, log *slog.Logger, onDeclaration func([]byte)) (*Publisher, error) {
	p := &Publisher{cfg: cfg.MQTT, site: cfg.Site, store: store, log: log, topics: NewTopics(cfg.Site, cfg.Gate), onDecl: onDeclaration,
		live:   make(chan liveMsg, 16),
		status: Status{State: "online", Version: version, StartedAt: time.Now().UTC().Truncate(time.Second)}}
	if p.cfg.ClientID == "" {
		p.cfg.ClientID = "gatescan-" + cfg.Site + "-" + cfg.Gate
	}
	if p.cfg.ReconnectMin <= 0 {
		p.cfg.ReconnectMin = time.Second
	}
	if p.cfg.ReconnectMax < p.cfg.ReconnectMin {
		p.cfg.ReconnectMax = max(p.cfg.ReconnectMin, time.Minute)
	}
	opts, err := p.options()
	if err != nil {
		return nil, err
	}
	p.opts = opts
	return p, nil
}

func isTLS(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps", "wss":
		return true
	}
	return false
}

// redacted is the broker URL fit for logs: without a password.
func redacted(broker string) string { return config.Redact(broker) }

func (p *Publisher) options() (*mqtt.ClientOptions, error) {
	c := p.cfg
	tlsFiles := c.CAFile != "" || c.CertFile != "" || c.KeyFile != ""
	if tlsFiles && !isTLS(c.Broker) {
		return nil, fmt.Errorf("mqtt.ca_file/cert_file are set but mqtt.broker %q is not a TLS URL: use ssl:// (or wss://), or the connection would go in clear", redacted(c.Broker))
	}
	o := mqtt.NewClientOptions().
		AddBroker(c.Broker).
		SetClientID(c.ClientID).
		SetProtocolVersion(4). // MQTT 3.1.1 (interfaces.md §4)
		SetCleanSession(false).
		SetKeepAlive(c.Keepalive).
		SetPingTimeout(min(10*time.Second, max(time.Second, c.Keepalive))).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetOrderMatters(false)
	off, _ := json.Marshal(Status{State: "offline", Version: p.status.Version, StartedAt: p.status.StartedAt})
	o.SetBinaryWill(p.topics.Status(), off, 1, true)
	if c.Username != "" {
		o.SetUsername(c.Username)
	}
	// The password is read at every attempt (CredentialsProvider), so that
	// a rotated password file is picked up without a restart.
	if c.Password != "" || c.PasswordFile != "" {
		o.SetCredentialsProvider(func() (string, string) {
			pw, _ := p.password()
			return c.Username, pw
		})
		if _, err := p.password(); err != nil {
			return nil, err
		}
	}
	if isTLS(c.Broker) {
		tc, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		o.SetTLSConfig(tc)
	}
	return o, nil
}

func (p *Publisher) password() (string, error) { return Password(p.cfg) }

// Password returns the broker password: GATESCAN_MQTT_PASSWORD wins over
// mqtt.password_file, which wins over mqtt.password.
func Password(c config.MQTT) (string, error) { return c.PasswordSecret().Text() }

func tlsConfig(c config.MQTT) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt.ca_file %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.cert_file %s / key_file %s: %w", c.CertFile, c.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// State reports the connection for health pages and metrics.
type State struct {
	Connected bool   `json:"connected"`
	Broker    string `json:"broker"`
	ClientID  string `json:"client_id"`
	Delivered uint64 `json:"delivered"`
	// Failures counts failed connection attempts and lost connections.
	Failures uint64 `json:"failures"`
	Connects uint64 `json:"connects"`
	// ConnectedSince is when the current connection was made.
	ConnectedSince time.Time `json:"connected_since,omitzero"`
	LastError      string    `json:"last_error,omitempty"`
	// NextAttempt is when the next connection attempt is due.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// State returns the current connection state.
func (p *Publisher) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return State{Connected: p.connected.Load(), Broker: redacted(p.cfg.Broker), ClientID: p.cfg.ClientID,
		Delivered: p.delivered.Load(), Failures: p.failures.Load(), Connects: p.connects.Load(),
		ConnectedSince: p.connSince, LastError: p.lastErr, NextAttempt: p.nextTry}
}

// backoff is exponential with jitter: each delay is drawn from the upper
// half of a window that doubles up to max, so that gates cut off together
// do not all come back in the same second.
type backoff struct{ min, max, cur time.Duration }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

// Run connects and delivers the outbox until ctx ends, then publishes the
// offline status and disconnects. It returns nil when ctx ends: failures
// are retried, never returned.
func (p *Publisher) Run(ctx context.Context) error {
	go p.sendLive(ctx)
	b := backoff{min: p.cfg.ReconnectMin, max: p.cfg.ReconnectMax}
	for ctx.Err() == nil {
		c, lost, err := p.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			p.failures.Add(1)
			d := b.next()
			p.setErr(err, time.Now().Add(d))
			p.log.Warn("mqtt connect failed; will retry", "broker", redacted(p.cfg.Broker), "client_id", p.cfg.ClientID,
				"err", err, "retry_in", d.Round(time.Millisecond))
			sleep(ctx, d)
			continue
		}
		since := time.Now()
		p.setConnected(c, since)
		p.log.Info("mqtt connected", "broker", redacted(p.cfg.Broker), "client_id", p.cfg.ClientID)
		p.online(ctx, c)
		err = p.deliver(ctx, c, lost)
		p.setConnected(nil, time.Time{})
		if ctx.Err() != nil {
			p.goodbye(c)
			break
		}
		c.Disconnect(0) // after a PUBACK timeout the socket may still be open
		p.failures.Add(1)
		// A connection that held a while earns a quick reconnect; one that
		// drops at once (a broker kicking the client id out) backs off.
		if time.Since(since) > 10*p.cfg.ReconnectMin {
			b.reset()
		}
		d := b.next()
		p.setErr(err, time.Now().Add(d))
		p.log.Warn("mqtt connection lost; the outbox resumes from the last acknowledged message", "broker", redacted(p.cfg.Broker),
			"err", err, "retry_in", d.Round(time.Millisecond))
		sleep(ctx, d)
	}
	return nil
}

// connect makes one connection attempt with a fresh client. lost is closed
// when that connection drops.
func (p *Publisher) connect(ctx context.Context) (mqtt.Client, <-chan struct{}, error) {
	lost := make(chan struct{})
	var once sync.Once
	o := *p.opts // each client its own copy, with its own handler and store
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		once.Do(func() { close(lost) })
		p.setErr(err, time.Time{})
	})
	c := mqtt.NewClient(&o)
	if p.onDecl != nil {
		// Routed before connecting: the broker hands over the declarations
		// it queued for this session right after CONNACK.
		c.AddRoute(Declarations(p.site), func(_ mqtt.Client, m mqtt.Message) { p.onDecl(m.Payload()) })
	}
	if _, err := p.password(); err != nil {
		return nil, nil, err
	}
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		go c.Disconnect(0)
		return nil, nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, nil, p.explain(err)
	}
	return c, lost, nil
}

// explain turns a connection error into one that says what to check.
func (p *Publisher) explain(err error) error {
	c := p.cfg
	var hint string
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	var oe *net.OpError
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		hint = fmt.Sprintf("the broker refused user %q: check mqtt.username and the password (GATESCAN_MQTT_PASSWORD, mqtt.password_file or mqtt.password)", c.Username)
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		hint = fmt.Sprintf("the broker rejected client id %q: check mqtt.client_id", c.ClientID)
	case errors.As(err, &ue):
		hint = "the broker's certificate is not signed by a CA we trust: check mqtt.ca_file"
	case errors.As(err, &he):
		hint = "the broker's certificate is not for this host name: check mqtt.broker against the certificate"
	case errors.As(err, &ce):
		hint = "the broker's certificate is invalid (expired?)"
	case isTLS(c.Broker) && strings.Contains(err.Error(), "remote error: tls:"):
		hint = "the broker rejected our client certificate: check mqtt.cert_file and mqtt.key_file (signed by the broker's CA, not expired)"
	case isTLS(c.Broker) && c.CertFile == "" && (strings.Contains(err.Error(), "reset by peer") || strings.Contains(err.Error(), "EOF")):
		// With TLS 1.3 a server that refuses the client's certificate
		// often just hangs up.
		hint = "the broker closed the TLS connection: if it wants a client certificate (mutual TLS), set mqtt.cert_file and mqtt.key_file"
	case isTLS(c.Broker) && (strings.Contains(err.Error(), "reset by peer") || strings.Contains(err.Error(), "EOF")):
		hint = "the broker closed the TLS connection: it may have refused our client certificate; check mqtt.cert_file and mqtt.key_file (signed by the broker's CA, not expired)"
	case errors.As(err, &oe) && strings.Contains(err.Error(), "connection refused"):
		hint = "nothing listens there: is the broker up, and mqtt.broker right?"
	}
	if hint != "" {
		return fmt.Errorf("connect to %s as %s: %w (%s)", redacted(c.Broker), c.ClientID, err, hint)
	}
	return fmt.Errorf("connect to %s as %s: %w", redacted(c.Broker), c.ClientID, err)
}

func (p *Publisher) setConnected(c mqtt.Client, since time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.client = c
	p.connSince = since
	p.connected.Store(c != nil)
	if c != nil {
		p.connects.Add(1)
		p.lastErr = ""
		p.nextTry = time.Time{}
	}
}

func (p *Publisher) setErr(err error, next time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.lastErr = err.Error()
	}
	p.nextTry = next
}

// online announces the gate (retained) and subscribes to declarations,
// before any of the outbox goes.
func (p *Publisher) online(ctx context.Context, c mqtt.Client) {
	b, _ := json.Marshal(p.status)
	if err := wait(ctx, c.Publish(p.topics.Status(), 1, true, b)); err != nil {
		p.log.Warn("mqtt status not published", "err", err)
	}
	if p.onDecl != nil {
		if err := wait(ctx, c.Subscribe(Declarations(p.site), 1, nil)); err != nil {
			p.log.Warn("mqtt subscription to declarations failed; declarations come only from the inbox", "topic", Declarations(p.site), "err", err)
		}
	}
}

// goodbye says offline (the will only goes out on an unclean loss) and
// disconnects.
func (p *Publisher) goodbye(c mqtt.Client) {
	if c.IsConnectionOpen() {
		b, _ := json.Marshal(Status{State: "offline", Version: p.status.Version, StartedAt: p.status.StartedAt})
		c.Publish(p.topics.Status(), 1, true, b).WaitTimeout(2 * time.Second)
	}
	c.Disconnect(500)
}

func wait(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return errors.New("no answer from the broker within 10s")
	}
}

var errLost = errors.New("connection lost")

// deliver sends the outbox in order over c until the connection drops or
// ctx ends, keeping up to Inflight messages unacknowledged. A message
// counts as delivered at its PUBACK; delivery is recorded in the buffer in
// order, so after any failure the next connection starts again from the
// first unacknowledged message.
func (p *Publisher) deliver(ctx context.Context, c mqtt.Client, lost <-chan struct{}) error {
	window := max(1, p.cfg.Inflight)
	type inflight struct {
		seq uint64
		tok mqtt.Token
	}
	var (
		q        []inflight
		after    uint64 // last acknowledged, in memory
		recorded uint64 // last acknowledged, in the buffer
	)
	record := func() {
		if after > recorded {
			if err := p.store.Ack(after); err != nil {
				// Delivery goes on; a restart would send these again.
				p.log.Error("cannot record delivery in the buffer", "seq", after, "err", err)
				return
			}
			recorded = after
		}
	}
	defer record()
	timer := time.NewTimer(pubackTimeout)
	defer timer.Stop()
	await := func(f inflight) error {
		timer.Reset(pubackTimeout)
		select {
		case <-f.tok.Done():
			if err := f.tok.Error(); err != nil {
				return fmt.Errorf("publish message %d: %w", f.seq, err)
			}
		case <-lost:
			return errLost
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("no PUBACK for message %d within %v", f.seq, pubackTimeout)
		}
		after = f.seq
		p.delivered.Add(1)
		if after-recorded >= ackEvery {
			record()
		}
		return nil
	}
	for {
		batch, err := p.store.Pending(after, batchMessages, batchBytes)
		if err != nil {
			p.log.Error("cannot read the outbox; retrying", "err", err)
			if !sleep(ctx, time.Second) {
				return ctx.Err()
			}
			continue
		}
		if len(batch) == 0 {
			record()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-lost:
				return errLost
			case <-p.store.Notify():
			case <-time.After(5 * time.Second):
			}
			continue
		}
		for _, m := range batch {
			q = append(q, inflight{m.Seq, c.Publish(m.Topic, m.QoS, m.Retained, m.Payload)})
			for len(q) >= window {
				if err := await(q[0]); err != nil {
					return err
				}
				q = q[1:]
			}
		}
		for len(q) > 0 {
			if err := await(q[0]); err != nil {
				return err
			}
			q = q[1:]
		}
	}
}

// Publish sends a transient message (live weight) at QoS 0, without the
// outbox. It never blocks: when the broker is not connected, or the last
// ones have not gone yet, the message is dropped.
func (p *Publisher) Publish(topic string, payload []byte) {
	if !p.connected.Load() {
		return
	}
	select {
	case p.live <- liveMsg{topic, payload}:
	default:
	}
}

func (p *Publisher) sendLive(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-p.live:
			p.mu.Lock()
			c := p.client
			p.mu.Unlock()
			if c != nil {
				c.Publish(m.topic, 0, false, m.payload)
			}
		}
	}
}

// Topics returns the gate's topic names.
func (p *Publisher) Topics() Topics { return p.topics }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
