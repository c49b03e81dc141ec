// Package testbroker starts a real mosquitto broker on a free loopback port
// for tests, and can stop and restart it on the same port to test
// reconnection. It can require TLS (and client certificates, from a PKI it
// generates) and user names with passwords.
package testbroker

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options configure the broker.
type Options struct {
	// Extra is appended to the generated mosquitto.conf.
	Extra string
	// Users, when set, are the only clients let in (password_file,
	// allow_anonymous false).
	Users map[string]string
	// TLS makes the listener TLS-only with these files.
	TLS *TLS
	// Persist keeps sessions and queued messages across Shutdown and
	// Restart (not across Stop, which is a crash).
	Persist bool
}

// TLS is a listener's certificate setup.
type TLS struct {
	CAFile, CertFile, KeyFile string
	// RequireClientCert makes it mutual TLS: clients need a certificate
	// signed by CAFile.
	RequireClientCert bool
}

// Broker is a running mosquitto.
type Broker struct {
	t    testing.TB
	Port int
	dir  string
	cmd  *exec.Cmd
	// exited is closed when cmd has exited.
	exited chan struct{}
	opts   Options
	// Extra is appended to the generated mosquitto.conf (kept for
	// compatibility; Options.Extra is the same).
	Extra string
}

// URL is the broker's address: tcp://, or ssl:// with TLS.
func (b *Broker) URL() string {
	if b.opts.TLS != nil {
		return fmt.Sprintf("ssl://127.0.0.1:%d", b.Port)
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", b.Port)
}

// Start starts mosquitto on a free port; the test fails if mosquitto is not
// installed (`make deps` installs it). It is stopped when the test ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	return StartOpts(t, Options{})
}

// StartWith starts mosquitto with extra config lines.
func StartWith(t testing.TB, extra string) *Broker {
	t.Helper()
	return StartOpts(t, Options{Extra: extra})
}

// StartOpts starts mosquitto configured by o.
func StartOpts(t testing.TB, o Options) *Broker {
	t.Helper()
	b := &Broker{t: t, Port: freePort(t), dir: t.TempDir(), opts: o, Extra: o.Extra}
	if len(o.Users) > 0 {
		b.writePasswords()
	}
	b.Restart()
	t.Cleanup(b.Stop)
	return b
}

func binary(t testing.TB, name string) string {
	for _, d := range []string{"/usr/sbin/", "/usr/bin/", "/usr/local/sbin/", "/usr/local/bin/"} {
		if _, err := os.Stat(d + name); err == nil {
			return d + name
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s is not installed: run `make deps` (apt-get install mosquitto)", name)
	return ""
}

func (b *Broker) writePasswords() {
	b.t.Helper()
	pf := filepath.Join(b.dir, "passwd")
	if err := os.WriteFile(pf, nil, 0o600); err != nil {
		b.t.Fatal(err)
	}
	for u, p := range b.opts.Users {
		out, err := exec.Command(binary(b.t, "mosquitto_passwd"), "-b", pf, u, p).CombinedOutput()
		if err != nil {
			b.t.Fatalf("mosquitto_passwd %s: %v\n%s", u, err, out)
		}
	}
}

func (b *Broker) conf() string {
	var c strings.Builder
	fmt.Fprintf(&c, "listener %d 127.0.0.1\n", b.Port)
	if t := b.opts.TLS; t != nil {
		fmt.Fprintf(&c, "cafile %s\ncertfile %s\nkeyfile %s\ntls_version tlsv1.2\n", t.CAFile, t.CertFile, t.KeyFile)
		if t.RequireClientCert {
			c.WriteString("require_certificate true\n")
		}
	}
	if len(b.opts.Users) > 0 {
		fmt.Fprintf(&c, "allow_anonymous false\npassword_file %s\n", filepath.Join(b.dir, "passwd"))
	} else {
		c.WriteString("allow_anonymous true\n")
	}
	if b.opts.Persist {
		fmt.Fprintf(&c, "persistence true\npersistence_location %s/\nautosave_interval 0\n", b.dir)
	} else {
		c.WriteString("persistence false\n")
	}
	// Run as whoever runs the test: as root, mosquitto would switch to the
	// mosquitto user, who cannot read the test's temporary files.
	c.WriteString("user root\nlog_dest none\nmax_inflight_messages 100\nmax_queued_messages 100000\n")
	c.WriteString(b.opts.Extra + "\n" + b.Extra + "\n")
	return c.String()
}

// Restart (re)starts the broker on its port.
func (b *Broker) Restart() {
	b.t.Helper()
	conf := filepath.Join(b.dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(b.conf()), 0o600); err != nil {
		b.t.Fatal(err)
	}
	// The port may linger a moment after a stop; retry the start.
	deadline := time.Now().Add(20 * time.Second)
	for {
		b.cmd = exec.Command(binary(b.t, "mosquitto"), "-c", conf)
		// Kept for a failure: mosquitto warns on every start as root.
		var out bytes.Buffer
		b.cmd.Stdout, b.cmd.Stderr = &out, &out
		if err := b.cmd.Start(); err != nil {
			b.t.Fatalf("start mosquitto: %v", err)
		}
		exited := make(chan struct{})
		b.exited = exited
		go func(cmd *exec.Cmd) { cmd.Wait(); close(exited) }(b.cmd)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
			default:
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.Port), 200*time.Millisecond)
				if err == nil {
					c.Close()
					return
				}
				time.Sleep(20 * time.Millisecond)
				continue
			}
			break
		}
		if time.Now().After(deadline) {
			b.Stop()
			b.t.Fatalf("mosquitto did not listen on port %d within 20s: %s", b.Port, out.String())
		}
		time.Sleep(100 * time.Millisecond) // exited (port busy?): try again
	}
}

// Stop kills the broker (as a crash would).
func (b *Broker) Stop() {
	b.signal(syscall.SIGKILL)
}

// Shutdown stops the broker cleanly: with Persist, it saves its sessions
// and queued messages for Restart.
func (b *Broker) Shutdown() {
	b.signal(syscall.SIGTERM)
}

func (b *Broker) signal(sig syscall.Signal) {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = b.cmd.Process.Signal(sig)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	b.cmd = nil
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
