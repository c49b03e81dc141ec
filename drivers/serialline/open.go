package serialline

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"go.bug.st/serial"
)

// An OpenFunc opens the port that cfg describes (cfg has its defaults
// applied). Read on the returned port must return within about
// cfg.ReadTimeout; a Read that returns (0, nil) is a timeout, not an end of
// stream. Close must unblock a pending Read and may be called more than once.
// OpenSerial is the OpenFunc for real serial ports.
type OpenFunc func(cfg Config) (io.ReadWriteCloser, error)

// OpenSerial opens cfg.Port with go.bug.st/serial in raw mode, with the
// configured bit rate, data bits, parity and stop bits and a read timeout of
// cfg.ReadTimeout (or cfg.PollInterval when that is shorter). Bytes the
// driver buffered before the open (stale weights) are discarded.
//
// Linux termios has no 1.5 stop bits setting: with 5 data bits the UART sends
// 1.5 stop bits when asked for 2, and with more data bits 1 stop bit is used,
// which a receiver cannot tell apart from 1.5 as it samples only the first.
//
// It also works on a pseudo-terminal, which is what the indicator simulator
// and the tests use.
func OpenSerial(cfg Config) (io.ReadWriteCloser, error) {
	cfg = cfg.WithDefaults()
	mode := &serial.Mode{BaudRate: cfg.Baud, DataBits: cfg.DataBits}
	switch cfg.Parity {
	case "none":
		mode.Parity = serial.NoParity
	case "even":
		mode.Parity = serial.EvenParity
	case "odd":
		mode.Parity = serial.OddParity
	case "mark":
		mode.Parity = serial.MarkParity
	case "space":
		mode.Parity = serial.SpaceParity
	default:
		return nil, fmt.Errorf("open weighbridge port %q: parity %q is not one of none, even, odd, mark, space", cfg.Port, cfg.Parity)
	}
	switch cfg.StopBits {
	case 1:
		mode.StopBits = serial.OneStopBit
	case 1.5:
		if cfg.DataBits == 5 {
			mode.StopBits = serial.TwoStopBits
		} else {
			mode.StopBits = serial.OneStopBit
		}
	case 2:
		mode.StopBits = serial.TwoStopBits
	default:
		return nil, fmt.Errorf("open weighbridge port %q: stop bits %g is not 1, 1.5 or 2", cfg.Port, cfg.StopBits)
	}

	p, err := serial.Open(cfg.Port, mode)
	if err != nil {
		return nil, fmt.Errorf("open weighbridge port %q (%d baud, %d%s%g): %w%s",
			cfg.Port, cfg.Baud, cfg.DataBits, parityLetter(cfg.Parity), cfg.StopBits, err, openHint(err))
	}
	timeout := cfg.ReadTimeout
	if cfg.PollInterval > 0 && cfg.PollInterval < timeout {
		timeout = cfg.PollInterval
	}
	if err := p.SetReadTimeout(timeout); err != nil {
		p.Close()
		return nil, fmt.Errorf("set read timeout %s on weighbridge port %q: %w", timeout, cfg.Port, err)
	}
	// Not every port can flush (some USB adapters, some OSes); stale bytes
	// only cost a reading or a bad frame, so a failure is not fatal.
	_ = p.ResetInputBuffer()
	return p, nil
}

func parityLetter(p string) string {
	switch p {
	case "even":
		return "E"
	case "odd":
		return "O"
	case "mark":
		return "M"
	case "space":
		return "S"
	}
	return "N"
}

// openHint says what to do about a failed open.
func openHint(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return " (the device does not exist: check that the indicator's USB adapter is plugged in and the port path is right; a /dev/serial/by-id/ path survives re-plugging)"
	}
	var pe *serial.PortError
	if errors.As(err, &pe) {
		switch pe.Code() {
		case serial.PortBusy:
			return " (another program holds the port: stop it, e.g. a terminal program or ModemManager)"
		case serial.PermissionDenied:
			return " (permission denied: add the agent's user to the dialout group)"
		case serial.InvalidSerialPort:
			return " (the path is not a serial port: check the port setting)"
		case serial.InvalidSpeed, serial.InvalidDataBits, serial.InvalidParity, serial.InvalidStopBits:
			return " (the port does not support these settings: check baud, data_bits, parity and stop_bits)"
		}
	}
	if errors.Is(err, fs.ErrPermission) {
		return " (permission denied: add the agent's user to the dialout group)"
	}
	return ""
}

// onceCloser makes Close idempotent and safe to call concurrently.
type onceCloser struct {
	io.ReadWriteCloser
	once sync.Once
	err  error
}

func (c *onceCloser) Close() error {
	c.once.Do(func() { c.err = c.ReadWriteCloser.Close() })
	return c.err
}

// sleep waits for d or until done is closed; it reports whether d elapsed.
func sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
