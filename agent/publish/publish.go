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
	"slices"
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

// Status is the retained status payload. Problems, when there are any,
// say what keeps the gate from working fully: the control room sees them
// without opening the technicians' page.
type Status struct {
	State     string    `json:"state"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Problems  []Problem `json:"problems,omitempty"`
}

// Problem is one condition the gate reports on …/status and the page
// until it clears.
type Problem struct {
	// Code is stable: delivery_stuck, subscription_denied, disk_low,
	// disk_full.
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// Problem codes the publisher raises itself.
const (
	ProblemDeliveryStuck      = "delivery_stuck"
	ProblemSubscriptionDenied = "subscription_denied"
)

// Outbox is what the publisher needs of the buffer: the queued messages in
// order, a way to record their delivery, a signal when more arrive, and a
// way to drop an image the broker will not take.
type Outbox interface {
	Pending(after uint64, limit, maxBytes int) ([]buffer.Message, error)
	Ack(seq uint64) error
	Notify() <-chan struct{}
	Drop(seq uint64) (buffer.Dropped, error)
}

// DeclarationHandler receives a payload from the declarations topic and
// whether the broker sent it as a retained copy. It returns an error only
// when the declaration could not be stored: the message is then not
// acknowledged, and the broker sends it again on the next connection. An
// invalid declaration is the handler's to count and report; it returns
// nil for it, since sending it again would not make it valid.
type DeclarationHandler func(payload []byte, retained bool) error

// DefaultMaxAttempts is how many times the same message is sent, each time
// losing the connection before its PUBACK, before the publisher takes it
// for one the broker refuses (mqtt.max_send_attempts).
const DefaultMaxAttempts = 5

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
	onDecl DeclarationHandler
	opts   *mqtt.ClientOptions
	live   chan liveMsg
	// statusDirty asks for the retained status to be published again: the
	// problems changed.
	statusDirty chan struct{}
	// OnDrop, if set, is told of an image dropped because the broker
	// refused it, to report it on …/dropped and count it. Set it before
	// Run.
	OnDrop func(d buffer.Dropped, why string)

	connected atomic.Bool
	delivered atomic.Uint64
	failures  atomic.Uint64
	connects  atomic.Uint64
	refused   atomic.Uint64 // images dropped: the broker would not take them
	denied    atomic.Uint64 // subscriptions the broker refused

	// Only Run's goroutine uses these: which message was first unacknowledged
	// at the last losses of the connection, how many losses in a row it
	// was, and up to which message delivery goes one at a time to find
	// out which one the broker refuses.
	headSeq      uint64
	headAttempts int
	careful      uint64

	mu        sync.Mutex
	client    mqtt.Client // the current connection, nil between them
	lastErr   string
	nextTry   time.Time
	connSince time.Time
	problems  map[string]Problem
	stuck     *Stuck
}

// Stuck describes a result or alert the broker keeps refusing.
type Stuck struct {
	Seq      uint64    `json:"seq"`
	Topic    string    `json:"topic"`
	Ref      string    `json:"ref,omitempty"`
	Bytes    int       `json:"bytes"`
	Attempts int       `json:"attempts"`
	Since    time.Time `json:"since"`
	LastErr  string    `json:"last_error"`
}

type liveMsg struct {
	topic   string
	payload []byte
}

// New prepares a publisher; onDeclaration receives payloads from the
// declarations topic (it must not block for long).
func New(cfg *config.Config, store Outbox, version string, log *slog.Logger, onDeclaration DeclarationHandler) (*Publisher, error) {
	p := &Publisher{cfg: cfg.MQTT, site: cfg.Site, store: store, log: log, topics: NewTopics(cfg.Site, cfg.Gate), onDecl: onDeclaration,
		live: make(chan liveMsg, 16), statusDirty: make(chan struct{}, 1), problems: map[string]Problem{},
		status: Status{State: "online", Version: version, StartedAt: time.Now().UTC().Truncate(time.Second)}}
	if p.cfg.MaxSendAttempts <= 0 {
		p.cfg.MaxSendAttempts = DefaultMaxAttempts
	}
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
		SetOrderMatters(false).
		// Declarations are acknowledged once stored, not on arrival.
		SetAutoAckDisabled(true)
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
	// Problems are what …/status reports (delivery stuck, a subscription
	// denied, the disk).
	Problems []Problem `json:"problems,omitempty"`
	// Stuck is the result or alert the broker keeps refusing, if any.
	Stuck *Stuck `json:"stuck,omitempty"`
	// Refused counts images dropped because the broker would not take
	// them; Denied counts subscriptions the broker refused.
	Refused   uint64 `json:"refused_images"`
	Denied    uint64 `json:"subscriptions_denied"`
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
	var stuck *Stuck
	if p.stuck != nil {
		c := *p.stuck
		stuck = &c
	}
	return State{Connected: p.connected.Load(), Broker: redacted(p.cfg.Broker), ClientID: p.cfg.ClientID,
		Delivered: p.delivered.Load(), Failures: p.failures.Load(), Connects: p.connects.Load(),
		ConnectedSince: p.connSince, LastError: p.lastErr, NextAttempt: p.nextTry,
		Problems: p.problemsLocked(), Stuck: stuck, Refused: p.refused.Load(), Denied: p.denied.Load()}
}

func (p *Publisher) problemsLocked() []Problem {
	out := make([]Problem, 0, len(p.problems))
	for _, pr := range p.problems {
		out = append(out, pr)
	}
	slices.SortFunc(out, func(a, b Problem) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// SetProblem raises (msg not empty) or clears (msg empty) a problem: it
// goes out on the retained …/status at once when connected, else at the
// next connection.
func (p *Publisher) SetProblem(code, msg string) {
	p.mu.Lock()
	old, had := p.problems[code]
	switch {
	case msg == "" && !had, had && old.Message == msg:
		p.mu.Unlock()
		return
	case msg == "":
		delete(p.problems, code)
	default:
		since := time.Now().UTC()
		if had {
			since = old.Since
		}
		p.problems[code] = Problem{Code: code, Message: msg, Since: since}
	}
	p.mu.Unlock()
	select {
	case p.statusDirty <- struct{}{}:
	default:
	}
}

// statusPayload is the retained online status with the problems in force.
func (p *Publisher) statusPayload() []byte {
	st := p.status
	p.mu.Lock()
	st.Problems = p.problemsLocked()
	p.mu.Unlock()
	b, _ := json.Marshal(st)
	return b
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
		var head *sent
		head, err = p.deliver(ctx, c, lost)
		p.setConnected(nil, time.Time{})
		if ctx.Err() != nil {
			p.goodbye(c)
			break
		}
		c.Disconnect(0) // after a PUBACK timeout the socket may still be open
		p.failures.Add(1)
		if head != nil {
			p.lostWith(head, err)
		}
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
		// it queued for this session right after CONNACK. Acknowledged
		// only once stored: a declaration the buffer could not take comes
		// again with the next connection.
		c.AddRoute(Declarations(p.site), func(_ mqtt.Client, m mqtt.Message) {
			if err := p.onDecl(m.Payload(), m.Retained()); err != nil {
				p.log.Error("declaration from MQTT not stored and not acknowledged: the broker sends it again on the next connection",
					"err", err, "bytes", len(m.Payload()))
				return
			}
			m.Ack()
		})
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
	if p.onDecl != nil {
		p.subscribe(ctx, c)
	}
	if err := wait(ctx, c.Publish(p.topics.Status(), 1, true, p.statusPayload())); err != nil {
		p.log.Warn("mqtt status not published", "err", err)
	}
}

// subACKFailure is the SUBACK return code of a refused subscription
// (MQTT 3.1.1 §3.9.3).
const subACKFailure = 0x80

// subscribe subscribes to the declarations and checks what the broker
// granted: a broker whose ACL denies the topic answers SUBACK 0x80, which
// paho reports as success.
func (p *Publisher) subscribe(ctx context.Context, c mqtt.Client) {
	topic := Declarations(p.site)
	tok := c.Subscribe(topic, 1, nil)
	if err := wait(ctx, tok); err != nil {
		p.log.Warn("mqtt subscription to declarations failed; declarations come only from the inbox", "topic", topic, "err", err)
		return
	}
	st, ok := tok.(*mqtt.SubscribeToken)
	if !ok {
		return
	}
	if code, found := st.Result()[topic]; found && code == subACKFailure {
		p.denied.Add(1)
		msg := fmt.Sprintf("the broker refused the subscription to %s (SUBACK 0x80) for user %q: declarations come only from the inbox until its ACL lets this client subscribe", topic, p.cfg.Username)
		p.log.Error("mqtt subscription to declarations denied by the broker", "topic", topic, "username", p.cfg.Username,
			"hint", "grant this client read access to the topic in the broker's ACL")
		p.SetProblem(ProblemSubscriptionDenied, msg)
		return
	}
	p.SetProblem(ProblemSubscriptionDenied, "")
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

// sent is a message published and not yet acknowledged.
type sent struct {
	seq          uint64
	topic, ref   string
	image, alert bool
	bytes        int
	tok          mqtt.Token
	// last is the highest sequence in flight when the connection was lost
	// with this message first in line.
	last uint64
}

// deliver sends the outbox in order over c until the connection drops or
// ctx ends, keeping up to Inflight messages unacknowledged. A message
// counts as delivered at its PUBACK; delivery is recorded in the buffer in
// order, so after any failure the next connection starts again from the
// first unacknowledged message, which deliver returns with the error.
//
// After a loss with messages in flight, those messages go one at a time
// (up to p.careful): if the broker refuses one of them by closing the
// connection, it is then the first in line when the connection drops, and
// lostWith counts its attempts.
func (p *Publisher) deliver(ctx context.Context, c mqtt.Client, lost <-chan struct{}) (*sent, error) {
	window := max(1, p.cfg.Inflight)
	d := &delivery{p: p, ctx: ctx, lost: lost, timer: time.NewTimer(pubackTimeout)}
	defer d.record()
	defer d.timer.Stop()
	for {
		batch, err := p.store.Pending(d.after, batchMessages, batchBytes)
		if err != nil {
			p.log.Error("cannot read the outbox; retrying", "err", err)
			if !sleep(ctx, time.Second) {
				return nil, ctx.Err()
			}
			continue
		}
		if len(batch) == 0 {
			d.record()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-lost:
				return nil, errLost
			case <-p.store.Notify():
			case <-time.After(5 * time.Second):
			}
			continue
		}
		for _, m := range batch {
			one := m.Seq <= p.careful
			limit := window - 1
			if one {
				limit = 0
			}
			if err := d.drain(limit); err != nil {
				return d.fail(err)
			}
			d.q = append(d.q, sent{seq: m.Seq, topic: m.Topic, ref: m.Ref, image: m.Image, alert: m.Alert, bytes: len(m.Payload),
				tok: c.Publish(m.Topic, m.QoS, m.Retained, m.Payload)})
			if one {
				if err := d.drain(0); err != nil {
					return d.fail(err)
				}
			}
		}
		if err := d.drain(0); err != nil {
			return d.fail(err)
		}
	}
}

// delivery is one connection's window of messages in flight: sent in
// order, acknowledged in order, the last acknowledged recorded in the
// buffer every ackEvery messages (and when the connection ends).
type delivery struct {
	p        *Publisher
	ctx      context.Context
	lost     <-chan struct{}
	timer    *time.Timer
	q        []sent
	after    uint64 // last acknowledged, in memory
	recorded uint64 // last acknowledged, in the buffer
}

func (d *delivery) record() {
	if d.after > d.recorded {
		if err := d.p.store.Ack(d.after); err != nil {
			// Delivery goes on; a restart would send these again.
			d.p.log.Error("cannot record delivery in the buffer", "seq", d.after, "err", err)
			return
		}
		d.recorded = d.after
	}
}

// fail ends the connection's delivery with err, naming the messages still
// in flight (the head and the last one sent).
func (d *delivery) fail(err error) (*sent, error) {
	if len(d.q) == 0 {
		return nil, err
	}
	h := d.q[0]
	h.last = d.q[len(d.q)-1].seq
	return &h, err
}

// await waits for f's PUBACK.
func (d *delivery) await(f sent) error {
	d.timer.Reset(pubackTimeout)
	select {
	case <-f.tok.Done():
		if err := f.tok.Error(); err != nil {
			return fmt.Errorf("publish message %d: %w", f.seq, err)
		}
	case <-d.lost:
		return errLost
	case <-d.ctx.Done():
		return d.ctx.Err()
	case <-d.timer.C:
		return fmt.Errorf("no PUBACK for message %d within %v", f.seq, pubackTimeout)
	}
	d.after = f.seq
	d.p.delivered.Add(1)
	if f.seq >= d.p.headSeq && d.p.headSeq != 0 {
		d.p.delivered1(f.seq)
	}
	if d.after-d.recorded >= ackEvery {
		d.record()
	}
	return nil
}

// drain waits until at most n messages are in flight.
func (d *delivery) drain(n int) error {
	for len(d.q) > n {
		if err := d.await(d.q[0]); err != nil {
			return err
		}
		d.q = d.q[1:]
	}
	return nil
}

// lostWith counts a lost connection against the message that was first
// in line (head). After MaxSendAttempts losses in a row with the same
// message first, the broker is taken to refuse it (an ACL deny, a packet
// limit): an image is dropped, reported and counted, and delivery goes
// on; a result or alert is never dropped, and …/status and the page say
// delivery is stuck on it.
func (p *Publisher) lostWith(head *sent, err error) {
	p.careful = max(p.careful, head.last)
	if head.seq != p.headSeq {
		p.headSeq, p.headAttempts = head.seq, 0
	}
	p.headAttempts++
	if p.headAttempts < p.cfg.MaxSendAttempts {
		return
	}
	why := fmt.Sprintf("the connection was lost %d times in a row while message %d (%s, %d bytes) waited for its PUBACK (last: %v): the broker refuses it (a packet size limit or an ACL?)",
		p.headAttempts, head.seq, head.topic, head.bytes, err)
	if head.image {
		d, derr := p.store.Drop(head.seq)
		if derr != nil {
			p.log.Error("cannot drop the image the broker refuses; will try again", "seq", head.seq, "err", derr)
			return
		}
		p.refused.Add(1)
		p.headSeq, p.headAttempts = 0, 0
		p.log.Error("annotated image dropped: the broker refuses it; its inspection result still goes", "seq", head.seq,
			"topic", head.topic, "inspection_id", head.ref, "bytes", head.bytes, "attempts", p.cfg.MaxSendAttempts, "why", why)
		if p.OnDrop != nil {
			p.OnDrop(d, why)
		}
		return
	}
	p.mu.Lock()
	if p.stuck == nil || p.stuck.Seq != head.seq {
		p.stuck = &Stuck{Seq: head.seq, Topic: head.topic, Ref: head.ref, Bytes: head.bytes, Since: time.Now().UTC()}
	}
	p.stuck.Attempts, p.stuck.LastErr = p.headAttempts, err.Error()
	p.mu.Unlock()
	if p.headAttempts == p.cfg.MaxSendAttempts {
		p.log.Error("delivery stuck: the broker refuses a result or alert, which is never dropped; everything after it waits",
			"seq", head.seq, "topic", head.topic, "inspection_id", head.ref, "bytes", head.bytes, "why", why)
	}
	p.SetProblem(ProblemDeliveryStuck, fmt.Sprintf("delivery stuck at message %d (%s, inspection %s): %s; results and alerts are never dropped, so everything after it waits: raise the broker's limits or fix its ACL for this client",
		head.seq, head.topic, head.ref, why))
}

// delivered1 notes that message seq, at or past the one the last losses
// were counted against, was acknowledged: delivery moves again.
func (p *Publisher) delivered1(seq uint64) {
	p.headSeq, p.headAttempts = 0, 0
	p.mu.Lock()
	was := p.stuck
	p.stuck = nil
	p.mu.Unlock()
	if was != nil {
		p.log.Info("delivery moves again", "seq", seq, "stuck_since", was.Since)
		p.SetProblem(ProblemDeliveryStuck, "")
	}
}

// ErrNotConnected is returned by PublishNow without a connection.
var ErrNotConnected = errors.New("not connected to the broker")

// PublishNow sends messages outside the outbox, in order, and waits for
// each one's PUBACK: for results the buffer cannot take (its disk is
// full). It fails when not connected, or when a message is not
// acknowledged before ctx ends.
func (p *Publisher) PublishNow(ctx context.Context, msgs []buffer.Message) error {
	c := p.current()
	if c == nil {
		return ErrNotConnected
	}
	for _, m := range msgs {
		if err := wait(ctx, c.Publish(m.Topic, m.QoS, m.Retained, m.Payload)); err != nil {
			return fmt.Errorf("publish %s live: %w", m.Topic, err)
		}
		p.delivered.Add(1)
	}
	return nil
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
			if c := p.current(); c != nil {
				c.Publish(m.topic, 0, false, m.payload)
			}
		case <-p.statusDirty:
			// Not waited for: a lost connection publishes it again on
			// connecting (online).
			if c := p.current(); c != nil {
				c.Publish(p.topics.Status(), 1, true, p.statusPayload())
			}
		}
	}
}

func (p *Publisher) current() mqtt.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.client
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
