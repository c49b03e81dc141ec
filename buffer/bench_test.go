package buffer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/internal/testbroker"
)

// A typical inspection: a result of a few kB, the same as an alert, and
// an annotated JPEG.
var (
	result = bytes.Repeat([]byte(`{"inspection_id":"0123456789abcdef","verdict":"alert"}`), 40) // 2.2 kB
	jpeg   = bytes.Repeat([]byte{0xFF, 0xD8, 0x13, 0x37}, 50<<10)                               // 200 kB
)

// BenchmarkCommitScan measures the latency of committing one scan's
// inspection and messages, with and without an fsync per commit: the cost
// of surviving a power cut. The buffer is on the temporary directory's
// disk (set TMPDIR to measure another).
func BenchmarkCommitScan(b *testing.B) {
	for _, c := range []struct {
		name string
		sync bool
		msgs []buffer.Message
	}{
		{"sync=on/result", true, []buffer.Message{{Topic: "i", QoS: 1, Payload: result}}},
		{"sync=off/result", false, []buffer.Message{{Topic: "i", QoS: 1, Payload: result}}},
		{"sync=on/result+alert+image", true, []buffer.Message{{Topic: "i", QoS: 1, Payload: result}, {Topic: "a", QoS: 1, Payload: result, Alert: true}, {Topic: "img", QoS: 1, Payload: jpeg, Image: true}}},
		{"sync=off/result+alert+image", false, []buffer.Message{{Topic: "i", QoS: 1, Payload: result}, {Topic: "a", QoS: 1, Payload: result, Alert: true}, {Topic: "img", QoS: 1, Payload: jpeg, Image: true}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := buffer.Open(b.TempDir(), buffer.Options{SyncWrites: c.sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			size := 0
			for _, m := range c.msgs {
				size += len(m.Payload)
			}
			b.SetBytes(int64(size + len(result)))
			b.ResetTimer()
			for i := range b.N {
				recs := []buffer.Record{{ID: fmt.Sprint("insp-", i), Data: result}}
				if _, err := s.CommitScan(fmt.Sprint("scan-", i), recs, c.msgs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDelivery measures delivery from the buffer to a mosquitto on
// loopback: messages published, acknowledged by the broker and recorded as
// delivered, per second. mosquitto's default leaves Nagle's algorithm on
// (set_tcp_nodelay false), which holds back PUBACKs while several messages
// are in flight; the nodelay broker shows the difference.
func BenchmarkDelivery(b *testing.B) {
	brokers := []struct {
		name  string
		extra string
	}{{"mosquitto=default", ""}, {"mosquitto=nodelay", "set_tcp_nodelay true"}}
	for _, br := range brokers {
		broker := testbroker.StartWith(b, br.extra)
		for _, c := range []struct {
			name     string
			inflight int
			payload  []byte
		}{
			{"inflight=16/result", 16, result},
			{"inflight=1/result", 1, result},
			{"inflight=16/image", 16, jpeg},
		} {
			b.Run(br.name+"/"+c.name, func(b *testing.B) { benchDelivery(b, broker.URL(), c.inflight, c.payload) })
		}
	}
}

func benchDelivery(b *testing.B, url string, inflight int, payload []byte) {
	s, err := buffer.Open(b.TempDir(), buffer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range b.N {
		if _, err := s.CommitScan(fmt.Sprint("scan-", i), nil, []buffer.Message{{Topic: "bench/inspections", QoS: 1, Payload: payload}}); err != nil {
			b.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Site, cfg.Gate = "bench", fmt.Sprint("g", time.Now().UnixNano())
	cfg.MQTT.Broker, cfg.MQTT.Inflight = url, inflight
	p, err := publish.New(cfg, s, "bench", slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Minute)
	for s.Acked() < uint64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d delivered", s.Acked(), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	cancel()
	<-done
}
