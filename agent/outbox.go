package agent

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
)

// openBuffer opens the gate's buffer with the config's durability and,
// when a key is configured, encryption at rest.
func openBuffer(cfg *config.Config, log *slog.Logger) (*buffer.Store, error) {
	b := cfg.Buffer
	if b.MaxDiskMB > 0 && b.MaxDiskMB<<20 < buffer.MinBudget {
		return nil, fmt.Errorf("buffer.max_disk_mb %d is below the %d MB Badger needs for its own logs and tables: raise it, or set 0 for a budget derived from the free space (-1 for none)",
			b.MaxDiskMB, buffer.MinBudget>>20)
	}
	o := buffer.Options{SyncWrites: b.SyncWrites, Logger: log}
	k, err := BufferKey(b)
	if err != nil {
		return nil, err
	}
	o.EncryptionKey = k
	return buffer.Open(b.Dir, o)
}

// BufferKey reads the buffer's key for encryption at rest (nil for none).
func BufferKey(b config.Buffer) ([]byte, error) {
	return readKey(b.EncryptionKeySecret())
}

func readKey(s config.Secret) ([]byte, error) {
	if s.File == "" {
		return nil, nil
	}
	raw, err := s.Read()
	if err != nil {
		return nil, err
	}
	return buffer.ParseKey(config.CredentialPath(s.File), raw)
}

// ReadKeyFile reads a key for encryption at rest from a file named on the
// command line (flag is the flag's name, for errors).
func ReadKeyFile(flag, name string) ([]byte, error) {
	return readKey(config.Secret{Key: flag, File: name})
}

// outboxMetrics count what housekeeping removes.
type outboxMetrics struct {
	dropped *prometheus.CounterVec
	pruned  prometheus.Counter
}

func (a *Agent) outboxMetrics() *outboxMetrics {
	a.obmOnce.Do(func() { a.obm = a.newOutboxMetrics() })
	return a.obm
}

func (a *Agent) newOutboxMetrics() *outboxMetrics {
	m := &outboxMetrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatescan_outbox_dropped_total",
			Help: "Messages the disk budget dropped, by class: delivered (kept for replay), or undelivered image, result, alert_image, alert."}, []string{"class"}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatescan_outbox_pruned_total",
			Help: "Delivered messages removed at the end of buffer.retention."}),
	}
	for _, c := range []prometheus.Collector{m.dropped, m.pruned} {
		if err := a.metrics.Registry.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				a.log.Warn("outbox metrics not registered", "err", err)
			}
		}
	}
	for _, c := range []string{"delivered", "image", "result", "alert_image", "alert"} {
		m.dropped.WithLabelValues(c)
	}
	return m
}

// refusedByBroker reports an image the publisher dropped because the
// broker would not take it (publish.Publisher.OnDrop).
func (a *Agent) refusedByBroker(d buffer.Dropped, why string) {
	a.house.reportDrop("broker_refused", buffer.BudgetReport{Undelivered: []buffer.Dropped{d}, Why: why})
}
