// Package testbroker starts a real mosquitto broker on a free loopback port
// for tests, and can stop and restart it on the same port to test
// reconnection.
package testbroker

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Broker is a running mosquitto.
type Broker struct {
	t    testing.TB
	Port int
	dir  string
	cmd  *exec.Cmd
	// Extra is appended to the generated mosquitto.conf (auth, TLS).
	Extra string
}

// URL is the broker's tcp:// address.
func (b *Broker) URL() string { return fmt.Sprintf("tcp://127.0.0.1:%d", b.Port) }

// Start starts mosquitto on a free port; the test fails if mosquitto is not
// installed (`make deps` installs it). It is stopped when the test ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	return StartWith(t, "")
}

// StartWith starts mosquitto with extra config lines.
func StartWith(t testing.TB, extra string) *Broker {
	t.Helper()
	b := &Broker{t: t, Port: freePort(t), dir: t.TempDir(), Extra: extra}
	b.Restart()
	t.Cleanup(b.Stop)
	return b
}

func binary(t testing.TB) string {
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	t.Fatalf("mosquitto is not installed: run `make deps` (apt-get install mosquitto)")
	return ""
}

// Restart (re)starts the broker on its port.
func (b *Broker) Restart() {
	b.t.Helper()
	conf := filepath.Join(b.dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_inflight_messages 100\nmax_queued_messages 100000\n%s\n", b.Port, b.Extra)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		b.t.Fatal(err)
	}
	b.cmd = exec.Command(binary(b.t), "-c", conf)
	b.cmd.Stdout, b.cmd.Stderr = os.Stderr, os.Stderr
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.Port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("mosquitto did not listen on port %d within 10s", b.Port)
}

// Stop kills the broker (as a crash would).
func (b *Broker) Stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
		b.cmd = nil
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
