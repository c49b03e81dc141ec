package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatescan/gatescan/buffer"
)

// notifySocket listens where $NOTIFY_SOCKET points for the test, as
// systemd does.
func notifySocket(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return conn
}

// nextDatagram reads one datagram, failing after d.
func nextDatagram(t *testing.T, c *net.UnixConn, d time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("no notification within %v: %v", d, err)
	}
	return string(b[:n])
}

// noDatagram checks that nothing is queued on c: datagrams to a Unix
// socket are queued by the time the write returns.
func noDatagram(t *testing.T, c *net.UnixConn) {
	t.Helper()
	c.SetReadDeadline(time.Now())
	b := make([]byte, 4096)
	if n, err := c.Read(b); err == nil {
		t.Fatalf("unexpected notification %q", b[:n])
	}
}

func TestNotifyPathSocket(t *testing.T) {
	c := notifySocket(t, filepath.Join(t.TempDir(), "notify"))
	if err := Notify("READY=1", "STATUS=inspecting"); err != nil {
		t.Fatal(err)
	}
	if got := nextDatagram(t, c, 5*time.Second); got != "READY=1\nSTATUS=inspecting" {
		t.Fatalf("datagram %q, want the assignments newline-separated", got)
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	c := notifySocket(t, fmt.Sprintf("@gatescan-test-%d", rand.Int63()))
	if err := Notify("WATCHDOG=1"); err != nil {
		t.Fatal(err)
	}
	if got := nextDatagram(t, c, 5*time.Second); got != "WATCHDOG=1" {
		t.Fatalf("datagram %q", got)
	}
}

func TestNotifyOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Notify("READY=1"); err != nil {
		t.Fatalf("without NOTIFY_SOCKET Notify must do nothing: %v", err)
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody-listens"))
	if err := Notify("READY=1"); err == nil || !strings.Contains(err.Error(), "NOTIFY_SOCKET") {
		t.Fatalf("error %v should name NOTIFY_SOCKET", err)
	}
	t.Setenv("NOTIFY_SOCKET", "relative")
	if err := Notify("READY=1"); err == nil {
		t.Fatal("a relative NOTIFY_SOCKET must be refused")
	}
}

func TestWatchdogTimeout(t *testing.T) {
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		on        bool
	}{
		{"", "", 0, false},
		{"0", "", 0, false},
		{"junk", "", 0, false},
		{"120000000", "", 2 * time.Minute, true},
		{"500000", fmt.Sprint(os.Getpid()), 500 * time.Millisecond, true},
		{"500000", fmt.Sprint(os.Getpid() + 1), 0, false}, // meant for another process
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		got, on := WatchdogTimeout()
		if got != tc.want || on != tc.on {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: got %v %v, want %v %v", tc.usec, tc.pid, got, on, tc.want, tc.on)
		}
	}
}

// TestWatchdogPingsOnlyWhileAlive drives the watchdog loop one turn at a
// time: alive answers from the test, so each ping (or its absence) is
// checked without timing assumptions.
func TestWatchdogPingsOnlyWhileAlive(t *testing.T) {
	c := notifySocket(t, filepath.Join(t.TempDir(), "notify"))
	var log opsLog
	answers := make(chan error)
	sd := systemd{log: log.logger(), alive: func() error { return <-answers }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sd.watchdog(ctx, 4*time.Millisecond) }()

	answers <- nil
	if got := nextDatagram(t, c, 5*time.Second); got != "WATCHDOG=1" {
		t.Fatalf("got %q, want WATCHDOG=1", got)
	}
	stall := errors.New("the scan loop has not turned for 2m0s")
	answers <- stall
	answers <- stall // the previous turn is over once this one is taken
	noDatagram(t, c)
	if !strings.Contains(log.String(), "pipeline stalled") {
		t.Errorf("a stall must be logged once; log:\n%s", log.String())
	}
	if n := strings.Count(log.String(), "pipeline stalled"); n != 1 {
		t.Errorf("stall logged %d times, want once per stall", n)
	}
	answers <- nil
	if got := nextDatagram(t, c, 5*time.Second); got != "WATCHDOG=1" {
		t.Fatalf("after recovery got %q, want WATCHDOG=1", got)
	}
	cancel()
	for {
		select {
		case answers <- nil: // turns that started before the loop saw cancel
		case <-done:
			return
		}
	}
}

func TestPipelineAlive(t *testing.T) {
	store, err := buffer.Open(t.TempDir(), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a := &Agent{store: store, ready: make(chan struct{})}
	if err := a.pipelineAlive(); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("before Run is ready: %v, want starting", err)
	}
	close(a.ready)
	a.ops.beat.Store(time.Now().UnixNano())
	if err := a.pipelineAlive(); err != nil {
		t.Fatalf("fresh scan loop and open buffer: %v", err)
	}
	a.ops.beat.Store(time.Now().Add(-2 * stallAfter).UnixNano())
	if err := a.pipelineAlive(); err == nil || !strings.Contains(err.Error(), "scan loop") {
		t.Fatalf("stalled scan loop: %v", err)
	}
	a.ops.beat.Store(time.Now().UnixNano())
	store.Close()
	if err := a.pipelineAlive(); err == nil || !strings.Contains(err.Error(), "buffer") {
		t.Fatalf("closed buffer: %v", err)
	}
}
