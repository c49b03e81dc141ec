//go:build unix

package indicatorsim

import (
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"
)

// NewPTY returns a Sim on a new pseudo-terminal. Path is the slave device
// (such as /dev/pts/3) for the agent to open as its weighbridge port, with
// the real serial driver; the Sim writes to the master side. The Sim keeps
// the slave open itself, so the agent may open and close it at will.
func NewPTY() (*Sim, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("indicatorsim: open a pseudo-terminal: %w (is /dev/ptmx available? in a container, mount devpts)", err)
	}
	// Raw mode, as a serial driver would set it, so that nothing is echoed
	// or translated before the agent opens the port.
	if err := makeRaw(slave); err != nil {
		master.Close()
		slave.Close()
		return nil, fmt.Errorf("indicatorsim: set pseudo-terminal %s to raw mode: %w", slave.Name(), err)
	}
	m, err := pollable(master)
	if err != nil {
		slave.Close()
		return nil, fmt.Errorf("indicatorsim: pseudo-terminal %s: %w", slave.Name(), err)
	}
	s := New(m)
	s.path = slave.Name()
	s.extra = slave
	return s, nil
}

// pollable returns f's descriptor as a non-blocking *os.File, which the Go
// runtime polls, so that Close ends a pending Read at once and write
// deadlines work (creack/pty's ioctls leave the master in blocking mode). f
// is closed.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, derr := -1, error(nil)
	if err := sc.Control(func(raw uintptr) { fd, derr = syscall.Dup(int(raw)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("duplicate the master descriptor: %w", derr)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("make the master non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
