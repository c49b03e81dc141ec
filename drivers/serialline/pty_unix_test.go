//go:build unix

package serialline

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

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
	ends := []*os.File{p.master, p.slave}
	p.master, p.slave = nil, nil
	p.mu.Unlock()
	for _, f := range ends {
		if f != nil {
			f.Close()
		}
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

// stream writes next() every 20 ms until the returned stop is called
// (once or more).
func (p *fakePTY) stream(next func() []byte) (stop func()) {
	tk := time.NewTicker(20 * time.Millisecond)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-tk.C:
				p.write(next())
			}
		}
	}()
	return sync.OnceFunc(func() { close(quit); <-done; tk.Stop() })
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
