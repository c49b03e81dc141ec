package serialline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/internal/testkit"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Port: "/dev/ttyUSB0", Protocol: "linetest"}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" means valid
		say   string // part of the message
	}{
		{"defaults", func(*Config) {}, "", ""},
		{"full", func(c *Config) {
			*c = Config{Port: "/dev/ttyS0", Baud: 4800, DataBits: 7, Parity: "even", StopBits: 2, Protocol: "linetest-poll", PollInterval: time.Second, SilentAfter: 3 * time.Second, ReadTimeout: 100 * time.Millisecond}
		}, "", ""},
		{"1.5 stop bits", func(c *Config) { c.StopBits = 1.5 }, "", ""},
		{"no port", func(c *Config) { c.Port = " " }, "port", "/dev/ttyUSB0"},
		{"baud", func(c *Config) { c.Baud = -9600 }, "baud", "9600"},
		{"data bits", func(c *Config) { c.DataBits = 9 }, "data_bits", "7 or 8"},
		{"parity", func(c *Config) { c.Parity = "EVEN" }, "parity", "none, even, odd, mark, space"},
		{"stop bits", func(c *Config) { c.StopBits = 3 }, "stop_bits", "1, 1.5 or 2"},
		{"no protocol", func(c *Config) { c.Protocol = "" }, "protocol", "linetest"},
		{"unknown protocol", func(c *Config) { c.Protocol = "tolerdo" }, "protocol", "linetest"},
		{"poll a stream", func(c *Config) { c.PollInterval = time.Second }, "poll_interval", "set poll_interval to 0"},
		{"negative poll", func(c *Config) { c.PollInterval = -time.Second }, "poll_interval", "listen only"},
		{"read timeout too long", func(c *Config) { c.ReadTimeout = 10 * time.Second }, "read_timeout", "silent_after"},
		{"negative silence", func(c *Config) { c.SilentAfter = -1 }, "silent_after", "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError for %s", err, tt.field)
			}
			if fe.Field != tt.field || !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("Validate() = %q (field %s), want field %s saying %q", err, fe.Field, tt.field, tt.say)
			}
		})
	}
	if _, err := New(Config{Protocol: "nope"}, nil); err == nil || !strings.Contains(err.Error(), "port") || !strings.Contains(err.Error(), "protocol") {
		t.Errorf("New with two problems = %v, want both reported", err)
	}
}

func TestDecodeCapturedStream(t *testing.T) {
	l, err := New(Config{Port: "capture.bin", Protocol: "linetest"}, slog.New(&logRecorder{t: t}))
	if err != nil {
		t.Fatal(err)
	}
	stream := "0\r\nW100\r\nW120M\r\nX\r\nW140\r\nW1"
	var kg []float64
	var motion []bool
	err = l.Decode(context.Background(), strings.NewReader(stream), func(r scale.Reading) {
		kg = append(kg, *r.Gross)
		motion = append(motion, !r.Stable)
	})
	if err != nil {
		t.Fatalf("Decode() = %v", err)
	}
	if len(kg) != 4 || kg[0] != 100 || kg[1] != 120 || !motion[1] || kg[2] != 140 || kg[3] != 1 {
		t.Errorf("readings %v motion %v", kg, motion)
	}
	st := l.Status()
	if st.Readings != 4 || st.BadFrames != 2 || st.Bytes != uint64(len(stream)) {
		t.Errorf("Status() = %+v, want 4 readings, 2 bad frames, %d bytes", st, len(stream))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Decode(ctx, strings.NewReader(stream), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Decode with a cancelled context = %v", err)
	}
	boom := errors.New("boom")
	if err := l.Decode(context.Background(), io.MultiReader(strings.NewReader("W1\r\n"), errReader{boom}), nil); !errors.Is(err, boom) {
		t.Errorf("Decode of a failing reader = %v, want boom", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// fakePort is an OpenFunc port: Read times out with (0, nil) every 2 ms
// until data is queued, and returns EOF once ended.
type fakePort struct {
	mu     sync.Mutex
	data   []byte
	ended  bool
	closed bool
	reads  int
}

func (f *fakePort) Read(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	switch {
	case f.closed:
		return 0, errors.New("closed")
	case len(f.data) > 0:
		n := copy(p, f.data)
		f.data = f.data[n:]
		return n, nil
	case f.ended:
		return 0, io.EOF
	}
	return 0, nil
}

func (f *fakePort) Write(p []byte) (int, error) { return len(p), nil }
func (f *fakePort) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

func TestOpenerSeamTimeoutsAndEOF(t *testing.T) {
	var mu sync.Mutex
	var ports []*fakePort
	open := func(cfg Config) (io.ReadWriteCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(ports) == 2 {
			return nil, os.ErrNotExist
		}
		p := &fakePort{}
		ports = append(ports, p)
		return p, nil
	}
	port := func(i int) *fakePort {
		mu.Lock()
		defer mu.Unlock()
		if i < len(ports) {
			return ports[i]
		}
		return nil
	}
	l, err := NewWithOpener(Config{Port: "fake", Protocol: "linetest"}, slog.New(&logRecorder{t: t}), open)
	if err != nil {
		t.Fatal(err)
	}
	l.backoffMin, l.backoffMax = time.Millisecond, 5*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := &readings{}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, got.add) }()

	// Far more empty reads than bufio.Scanner tolerates from a plain reader.
	testkit.Eventually(t, 10*time.Second, "150 timed-out reads", func() bool {
		p := port(0)
		if p == nil {
			return false
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.reads > 150
	})
	p := port(0)
	p.mu.Lock()
	p.data = []byte("W42\r\n")
	p.mu.Unlock()
	testkit.Eventually(t, 10*time.Second, "the reading", func() bool { return got.has(42) })

	p.mu.Lock()
	p.ended = true
	p.mu.Unlock()
	testkit.Eventually(t, 10*time.Second, "a reconnect after EOF", func() bool { return port(1) != nil && l.Status().Reconnects == 1 })
	p2 := port(1)
	p2.mu.Lock()
	p2.ended = true
	p2.mu.Unlock()
	testkit.Eventually(t, 10*time.Second, "down after the second EOF", func() bool {
		st := l.Status()
		return st.State == StateDown && strings.Contains(st.LastError, "does not exist")
	})
	if again := l.Run(ctx, nil); again == nil || !strings.Contains(again.Error(), "already running") {
		t.Errorf("second Run = %v, want an already-running error", again)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v", err)
	}
}
