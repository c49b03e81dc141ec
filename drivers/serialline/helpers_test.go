package serialline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/gatescan/gatescan/drivers/scale"
)

// testProto is a tiny line protocol for these tests: "W<kg>[M]\r\n", M for
// motion.
type testProto struct{ name string }

func (p testProto) Name() string { return p.name }

func (testProto) Split(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, bytes.TrimRight(data[:i], "\r"), nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func (testProto) Parse(frame []byte) (scale.Reading, error) {
	s := string(frame)
	if !strings.HasPrefix(s, "W") {
		return scale.Reading{}, errors.New("frame does not start with W")
	}
	s = s[1:]
	motion := strings.HasSuffix(s, "M")
	s = strings.TrimSuffix(s, "M")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return scale.Reading{}, fmt.Errorf("weight %q: %w", s, err)
	}
	return scale.Reading{Gross: &v, Stable: !motion, HasMotion: true, Unit: "kg"}, nil
}

// pollProto is testProto answering "P\r\n" requests.
type pollProto struct{ testProto }

func (pollProto) Request() []byte { return []byte("P\r\n") }

func init() {
	scale.Register(testProto{name: "linetest"})
	scale.Register(pollProto{testProto{name: "linetest-poll"}})
}

func frame(kg int) []byte { return []byte(fmt.Sprintf("W%d\r\n", kg)) }

// fakePTY is a pseudo-terminal whose slave is reachable through a stable
// symlink, so that a test can unplug it and plug a new one in at the same
// configured path, as udev does with /dev/serial/by-id/ links.
type fakePTY struct {
	t      *testing.T
	link   string
	mu     sync.Mutex
	master *os.File
	slave  *os.File
}

func newFakePTY(t *testing.T) *fakePTY {
	t.Helper()
	p := &fakePTY{t: t, link: filepath.Join(t.TempDir(), "ttyWB")}
	p.plug()
	t.Cleanup(p.unplug)
	return p
}

// plug opens a new pty and points the link at its slave.
func (p *fakePTY) plug() {
	p.t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		p.t.Fatalf("open pty: %v", err)
	}
	m = pollable(p.t, m)
	_ = os.Remove(p.link)
	if err := os.Symlink(s.Name(), p.link); err != nil {
		p.t.Fatalf("symlink %s -> %s: %v", p.link, s.Name(), err)
	}
	p.mu.Lock()
	p.master, p.slave = m, s
	p.mu.Unlock()
}

// unplug closes both ends (the slave device vanishes) and removes the link.
func (p *fakePTY) unplug() {
	p.mu.Lock()
	m, s := p.master, p.slave
	p.master, p.slave = nil, nil
	p.mu.Unlock()
	if m != nil {
		m.Close()
	}
	if s != nil {
		s.Close()
	}
	_ = os.Remove(p.link)
}

// write writes to the current master; it reports false when unplugged or
// the write failed or timed out (nobody reading).
func (p *fakePTY) write(b []byte) bool {
	p.mu.Lock()
	m := p.master
	p.mu.Unlock()
	if m == nil {
		return false
	}
	_ = m.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := m.Write(b)
	return err == nil
}

// stream writes next() every 20 ms until the returned stop is called.
func (p *fakePTY) stream(next func() []byte) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				p.write(next())
			}
		}
	}()
	return func() { cancel(); <-done }
}

// pollable returns f's descriptor as a non-blocking *os.File, which the Go
// runtime polls, so that Close unblocks a pending Read and deadlines work.
// (creack/pty's ioctls leave the master in blocking mode.)
func pollable(t *testing.T, f *os.File) *os.File {
	t.Helper()
	sc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	var derr error
	if err := sc.Control(func(raw uintptr) { fd, derr = syscall.Dup(int(raw)) }); err != nil {
		t.Fatal(err)
	}
	if derr != nil {
		t.Fatalf("dup pty master: %v", derr)
	}
	name := f.Name()
	f.Close()
	if err := syscall.SetNonblock(fd, true); err != nil {
		t.Fatalf("set pty master non-blocking: %v", err)
	}
	return os.NewFile(uintptr(fd), name)
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

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
