package serialline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/scale/scaletest"
)

func init() {
	scale.Register(scaletest.Line("linetest"))
	scale.Register(scaletest.Polled{Line: "linetest-poll"})
}

func frame(kg int) []byte { return []byte(fmt.Sprintf("W%d\r\n", kg)) }

// logRecorder is a slog.Handler that keeps the messages it receives.
type logRecorder struct {
	mu   sync.Mutex
	t    *testing.T
	msgs []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	h.msgs = append(h.msgs, b.String())
	h.mu.Unlock()
	return nil
}

// count returns how many messages contain substr.
func (h *logRecorder) count(substr string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func (h *logRecorder) dump() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.msgs, "\n")
}

// readings collects the readings a Line delivers.
type readings struct {
	mu sync.Mutex
	kg []float64
}

func (r *readings) add(rd scale.Reading) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rd.Gross != nil {
		r.kg = append(r.kg, *rd.Gross)
	}
}

func (r *readings) has(kg float64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.kg {
		if v == kg {
			return true
		}
	}
	return false
}

func (r *readings) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.kg)
}

// startLine runs a Line on cfg until the test ends; it returns the line,
// its readings and its log.
func startLine(t *testing.T, cfg Config, tweak func(*Line)) (*Line, *readings, *logRecorder, func() error) {
	t.Helper()
	rec := &logRecorder{t: t}
	l, err := New(cfg, slog.New(rec))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l.backoffMin, l.backoffMax = 20*time.Millisecond, 200*time.Millisecond
	if tweak != nil {
		tweak(l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := &readings{}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, got.add) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10 s of cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return l, got, rec, stop
}
