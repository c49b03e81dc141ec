//go:build unix

package serialline

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/internal/testkit"
)

func TestReadingsOverPTY(t *testing.T) {
	p := newFakePTY(t)
	l, got, rec, stop := startLine(t, Config{Port: p.link, Protocol: "linetest", Baud: 19200, Parity: "even", StopBits: 2}, nil)

	var n atomic.Int64
	defer p.stream(func() []byte { return frame(int(24000 + 20*(n.Add(1)%3))) })()
	testkit.Eventually(t, 10*time.Second, "readings 24000, 24020 and 24040", func() bool {
		return got.has(24000) && got.has(24020) && got.has(24040)
	})
	st := l.Status()
	if st.State != StateUp || st.Readings == 0 || st.Bytes < 7*st.Readings || st.LastReading.IsZero() {
		t.Errorf("Status() = %+v, want up with readings and bytes counted", st)
	}
	if st.BadFrames > 1 { // the first frame may be cut by opening mid-stream
		t.Errorf("BadFrames = %d on a clean stream", st.BadFrames)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	if st := l.Status(); st.State != StateDown {
		t.Errorf("after Run returned, State = %s, want down", st.State)
	}
	if rec.count("weighbridge port open") != 1 {
		t.Errorf("want one open log line, got:\n%s", rec.dump())
	}
}

func TestGarbageIsCountedAndDecodingGoesOn(t *testing.T) {
	p := newFakePTY(t)
	l, got, rec, _ := startLine(t, Config{Port: p.link, Protocol: "linetest"}, nil)

	var i atomic.Int64
	stop := p.stream(func() []byte {
		switch n := i.Add(1); {
		case n%4 == 1:
			return []byte("#~garbage at the wrong baud~#\r\n")
		case n%4 == 2:
			// a run without any terminator, longer than the decoder's buffer
			return bytes.Repeat([]byte{0xA5}, 3*scale.MaxFrame)
		default:
			return frame(int(1000 + n))
		}
	})
	defer stop()
	testkit.Eventually(t, 10*time.Second, "20 bad frames and 20 readings", func() bool {
		st := l.Status()
		return st.BadFrames >= 20 && got.len() >= 20
	})
	stop()
	if n := rec.count("weighbridge bad frame"); n != 1 {
		t.Errorf("bad-frame log lines = %d, want 1 (rate-limited to one per 30 s); log:\n%s", n, rec.dump())
	}
	if rec.count("check that the indicator sends at 9600 baud") == 0 {
		t.Errorf("the bad-frame log line should suggest checking the baud rate; log:\n%s", rec.dump())
	}
	if st := l.Status(); st.State != StateUp || st.Reconnects != 0 {
		t.Errorf("Status() = %+v, want up without reconnects: garbage must not drop the port", st)
	}
}

func TestUnplugAndReplug(t *testing.T) {
	p := newFakePTY(t)
	l, got, rec, _ := startLine(t, Config{Port: p.link, Protocol: "linetest"}, nil)

	kg := atomic.Int64{}
	kg.Store(11000)
	defer p.stream(func() []byte { return frame(int(kg.Load())) })()
	testkit.Eventually(t, 10*time.Second, "the first reading", func() bool { return got.has(11000) })

	p.unplug()
	testkit.Eventually(t, 10*time.Second, "the lane to go down", func() bool { return l.Status().State == StateDown })
	st := l.Status()
	if st.LastError == "" {
		t.Errorf("down without LastError: %+v", st)
	}
	// Let it retry a few times against the missing device.
	testkit.Eventually(t, 10*time.Second, "failed reopen attempts", func() bool {
		return strings.Contains(l.Status().LastError, "no such file")
	})
	time.Sleep(300 * time.Millisecond) // several back-off rounds (not asserted on time)

	kg.Store(22000)
	p.plug()
	testkit.Eventually(t, 10*time.Second, "readings after replug", func() bool { return got.has(22000) })
	st = l.Status()
	if st.State != StateUp || st.Reconnects != 1 {
		t.Errorf("after replug Status() = %+v, want up with 1 reconnect", st)
	}
	if n := rec.count("lane down"); n != 1 {
		t.Errorf("lane-down log lines = %d, want exactly 1 per outage; log:\n%s", n, rec.dump())
	}
	if rec.count("weighbridge port reopened") != 1 {
		t.Errorf("want one reopened log line; log:\n%s", rec.dump())
	}
	t.Logf("log:\n%s", rec.dump())
}

func TestSilenceAndRecovery(t *testing.T) {
	p := newFakePTY(t)
	l, got, rec, _ := startLine(t, Config{Port: p.link, Protocol: "linetest", SilentAfter: 300 * time.Millisecond, ReadTimeout: 50 * time.Millisecond}, nil)

	testkit.Eventually(t, 10*time.Second, "the port to open", func() bool { return l.Status().State != StateDown })
	testkit.Eventually(t, 10*time.Second, "silence", func() bool { return l.Status().State == StateSilent })
	if rec.count("lane silent") != 1 || rec.count("indicator is on") != 1 {
		t.Errorf("want one silence log line with a hint; log:\n%s", rec.dump())
	}

	defer p.stream(func() []byte { return frame(5000) })()
	testkit.Eventually(t, 10*time.Second, "readings to resume", func() bool { return got.has(5000) && l.Status().State == StateUp })
	if rec.count("readings resumed") != 1 {
		t.Errorf("want one resumed log line; log:\n%s", rec.dump())
	}
}

func TestSilentOnGarbageHintsAtBaud(t *testing.T) {
	p := newFakePTY(t)
	// SilentAfter leaves the garbage time to arrive first on a loaded machine.
	l, _, rec, _ := startLine(t, Config{Port: p.link, Protocol: "linetest", SilentAfter: 2 * time.Second, ReadTimeout: 50 * time.Millisecond}, nil)
	defer p.stream(func() []byte { return []byte("\x00\xff\x13garbage\r\n") })()
	testkit.Eventually(t, 10*time.Second, "silence", func() bool { return l.Status().State == StateSilent })
	if rec.count("check that baud") != 1 {
		t.Errorf("a line that receives only garbage should hint at the baud rate; log:\n%s", rec.dump())
	}
}

func TestCancelStopsRunPromptly(t *testing.T) {
	t.Run("while reading", func(t *testing.T) {
		p := newFakePTY(t)
		// A long read timeout: only closing the port can end the read early.
		l, _, _, stop := startLine(t, Config{Port: p.link, Protocol: "linetest", ReadTimeout: 5 * time.Second, SilentAfter: 10 * time.Second}, nil)
		testkit.Eventually(t, 10*time.Second, "the port to open", func() bool { return l.Status().State == StateUp })
		start := time.Now()
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run took %s to return after cancel", d)
		}
	})
	t.Run("while backing off", func(t *testing.T) {
		missing := t.TempDir() + "/nothing"
		l, _, _, stop := startLine(t, Config{Port: missing, Protocol: "linetest"}, func(l *Line) {
			l.backoffMin, l.backoffMax = time.Minute, time.Minute
		})
		testkit.Eventually(t, 10*time.Second, "the open to fail", func() bool { return l.Status().LastError != "" })
		start := time.Now()
		stop()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run took %s to return after cancel", d)
		}
		if e := l.Status().LastError; !strings.Contains(e, missing) || !strings.Contains(e, "plugged in") {
			t.Errorf("LastError = %q, want the path and a hint", e)
		}
	})
}

func TestPolling(t *testing.T) {
	p := newFakePTY(t)
	// The "indicator" answers each request with a reading.
	var requests atomic.Int64
	go func() {
		buf := make([]byte, 64)
		for {
			p.mu.Lock()
			m := p.master
			p.mu.Unlock()
			if m == nil {
				return
			}
			n, err := m.Read(buf)
			if err != nil {
				return
			}
			for range bytes.Count(buf[:n], []byte("P\r\n")) {
				requests.Add(1)
				p.write(frame(3000))
			}
		}
	}()
	l, got, _, _ := startLine(t, Config{Port: p.link, Protocol: "linetest-poll", PollInterval: 50 * time.Millisecond}, nil)
	testkit.Eventually(t, 10*time.Second, "5 polled readings", func() bool { return got.len() >= 5 })
	if requests.Load() < 5 || !got.has(3000) {
		t.Errorf("requests = %d, readings %v", requests.Load(), got.kg)
	}
	if l.Status().State != StateUp {
		t.Errorf("State = %s, want up", l.Status().State)
	}
}
