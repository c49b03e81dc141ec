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
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

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

// Declarations is the site-wide declarations topic.
func Declarations(site string) string { return "gatescan/v1/" + site + "/declarations" }

// Status is the retained status payload.
type Status struct {
	State     string    `json:"state"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
}

// Publisher owns the MQTT connection.
type Publisher struct {
	cfg       *config.Config
	store     *buffer.Store
	log       *slog.Logger
	topics    Topics
	client    mqtt.Client
	status    Status
	onDecl    func([]byte)
	connected atomic.Bool
	delivered atomic.Uint64
	failures  atomic.Uint64
	mu        sync.Mutex
	lastErr   string
	kick      chan struct{}
}

// New prepares a publisher; onDeclaration receives payloads from the
// declarations topic (it must not block for long).
func New(cfg *config.Config, store *buffer.Store, version string, log *slog.Logger, onDeclaration func([]byte)) (*Publisher, error) {
	p := &Publisher{cfg: cfg, store: store, log: log, topics: NewTopics(cfg.Site, cfg.Gate), onDecl: onDeclaration,
		status: Status{State: "online", Version: version, StartedAt: time.Now().UTC().Truncate(time.Second)}}
	opts, err := p.options()
	if err != nil {
		return nil, err
	}
	p.client = mqtt.NewClient(opts)
	return p, nil
}

func (p *Publisher) options() (*mqtt.ClientOptions, error) {
	c := p.cfg.MQTT
	id := c.ClientID
	if id == "" {
		id = "gatescan-" + p.cfg.Site + "-" + p.cfg.Gate
	}
	o := mqtt.NewClientOptions().
		AddBroker(c.Broker).
		SetClientID(id).
		SetCleanSession(false).
		SetKeepAlive(c.Keepalive).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second + time.Duration(rand.IntN(500))*time.Millisecond).
		SetMaxReconnectInterval(30 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetOrderMatters(false).
		SetMaxResumePubInFlight(c.Inflight)
	off, _ := json.Marshal(Status{State: "offline", Version: p.status.Version, StartedAt: p.status.StartedAt})
	o.SetBinaryWill(p.topics.Status(), off, 1, true)
	if c.Username != "" {
		o.SetUsername(c.Username)
	}
	pw := c.Password
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.password_file: %w", err)
		}
		pw = strings.TrimSpace(string(b))
	}
	if pw != "" {
		o.SetPassword(pw)
	}
	if c.CAFile != "" || c.CertFile != "" || strings.HasPrefix(c.Broker, "ssl") || strings.HasPrefix(c.Broker, "tls") || strings.HasPrefix(c.Broker, "wss") || strings.HasPrefix(c.Broker, "mqtts") {
		tc, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		o.SetTLSConfig(tc)
	}
	o.SetOnConnectHandler(p.onConnect)
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		p.connected.Store(false)
		p.setErr(err)
		p.log.Warn("mqtt connection lost; reconnecting", "broker", c.Broker, "err", err)
	})
	o.SetReconnectingHandler(func(_ mqtt.Client, _ *mqtt.ClientOptions) {
		p.log.Debug("mqtt reconnecting", "broker", c.Broker)
	})
	return o, nil
}

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
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// onConnect runs on paho's goroutine: it must not block, so it only fires
// off the status and the subscription.
func (p *Publisher) onConnect(c mqtt.Client) {
	p.connected.Store(true)
	p.setErr(nil)
	p.log.Info("mqtt connected", "broker", p.cfg.MQTT.Broker)
	b, _ := json.Marshal(p.status)
	c.Publish(p.topics.Status(), 1, true, b)
	if p.onDecl != nil {
		c.Subscribe(Declarations(p.cfg.Site), 1, func(_ mqtt.Client, m mqtt.Message) {
			p.onDecl(m.Payload())
		})
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Publisher) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.lastErr = ""
		return
	}
	p.lastErr = err.Error()
}

// State reports the connection for health pages and metrics.
type State struct {
	Connected bool   `json:"connected"`
	Broker    string `json:"broker"`
	Delivered uint64 `json:"delivered"`
	Failures  uint64 `json:"failures"`
	LastError string `json:"last_error,omitempty"`
}

// State returns the current connection state.
func (p *Publisher) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return State{Connected: p.connected.Load(), Broker: p.cfg.MQTT.Broker, Delivered: p.delivered.Load(), Failures: p.failures.Load(), LastError: p.lastErr}
}

// Run connects and delivers the outbox until ctx ends, then publishes the
// offline status and disconnects.
func (p *Publisher) Run(ctx context.Context) error {
	p.kick = make(chan struct{}, 1)
	tok := p.client.Connect() // with ConnectRetry it keeps trying in the background
	go func() {
		tok.Wait()
		if err := tok.Error(); err != nil {
			p.setErr(err)
			p.log.Error("mqtt connect failed", "broker", p.cfg.MQTT.Broker, "err", err)
		}
	}()
	defer func() {
		if p.client.IsConnectionOpen() {
			b, _ := json.Marshal(Status{State: "offline", Version: p.status.Version, StartedAt: p.status.StartedAt})
			t := p.client.Publish(p.topics.Status(), 1, true, b)
			t.WaitTimeout(2 * time.Second)
		}
		p.client.Disconnect(500)
	}()
	var after uint64
	backoff := 250 * time.Millisecond
	for {
		if p.client.IsConnectionOpen() {
			n, err := p.deliver(ctx, &after)
			if err != nil {
				p.failures.Add(1)
				p.setErr(err)
				p.log.Warn("mqtt delivery interrupted; will resume from the outbox", "err", err)
				after = 0 // resume from the oldest unacknowledged
				if !sleep(ctx, backoff+time.Duration(rand.Int64N(int64(backoff)))) {
					return nil
				}
				backoff = min(backoff*2, 10*time.Second)
				continue
			}
			backoff = 250 * time.Millisecond
			if n > 0 {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.store.Notify():
		case <-p.kick:
			after = 0
		case <-time.After(time.Second):
		}
	}
}

// deliver publishes a batch of pending messages in order, keeping up to
// Inflight unacknowledged, and deletes each one after its PUBACK.
func (p *Publisher) deliver(ctx context.Context, after *uint64) (int, error) {
	batch, err := p.store.Pending(*after, 256)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	window := max(1, p.cfg.MQTT.Inflight)
	type inflight struct {
		seq uint64
		tok mqtt.Token
	}
	var q []inflight
	drain := func(n int) error {
		for len(q) > n {
			f := q[0]
			if !f.tok.WaitTimeout(30 * time.Second) {
				return fmt.Errorf("no PUBACK for message %d within 30s", f.seq)
			}
			if err := f.tok.Error(); err != nil {
				return fmt.Errorf("publish message %d: %w", f.seq, err)
			}
			if err := p.store.Ack(f.seq); err != nil {
				return fmt.Errorf("ack message %d in the buffer: %w", f.seq, err)
			}
			p.delivered.Add(1)
			*after = f.seq
			q = q[1:]
		}
		return nil
	}
	for _, m := range batch {
		if ctx.Err() != nil {
			break
		}
		if !p.client.IsConnectionOpen() {
			_ = drain(0)
			return 0, errors.New("connection lost")
		}
		q = append(q, inflight{m.Seq, p.client.Publish(m.Topic, m.QoS, m.Retained, m.Payload)})
		if err := drain(window - 1); err != nil {
			return 0, err
		}
	}
	if err := drain(0); err != nil {
		return 0, err
	}
	return len(batch), nil
}

// Publish sends a transient message (live weight) directly, QoS 0, without
// the outbox; it is dropped when the broker is not connected.
func (p *Publisher) Publish(topic string, payload []byte) {
	if p.client.IsConnectionOpen() {
		p.client.Publish(topic, 0, false, payload)
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
