package serialline

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/internal/defaults"
)

// Defaults applied by Config.WithDefaults to fields left at zero.
const (
	DefaultBaud        = 9600
	DefaultDataBits    = 8
	DefaultParity      = "none"
	DefaultStopBits    = 1.0
	DefaultSilentAfter = 5 * time.Second
	DefaultReadTimeout = 200 * time.Millisecond
)

// Config describes the serial line of one weighbridge indicator. Fields left
// at their zero value take the defaults above (see WithDefaults).
type Config struct {
	// Port is the device path, e.g. /dev/ttyUSB0. A /dev/serial/by-id/ path
	// keeps naming the same adapter when USB devices are re-plugged.
	Port string `yaml:"port" json:"port"`
	// Baud is the bit rate set on the indicator (default 9600).
	Baud int `yaml:"baud" json:"baud"`
	// DataBits is 5, 6, 7 or 8 (default 8).
	DataBits int `yaml:"data_bits" json:"data_bits"`
	// Parity is none, even, odd, mark or space (default none).
	Parity string `yaml:"parity" json:"parity"`
	// StopBits is 1, 1.5 or 2 (default 1).
	StopBits float64 `yaml:"stop_bits" json:"stop_bits"`
	// Protocol is a scale protocol name (interfaces.md §3), e.g. toledo.
	Protocol string `yaml:"protocol" json:"protocol"`
	// PollInterval, when positive, is how often the line writes the
	// protocol's request; only for protocols that implement scale.Poller.
	// Zero means listen only.
	PollInterval time.Duration `yaml:"poll_interval" json:"poll_interval"`
	// SilentAfter is how long the line may go without a valid reading
	// before it is reported silent (default 5 s).
	SilentAfter time.Duration `yaml:"silent_after" json:"silent_after"`
	// ReadTimeout bounds one read from the port, and so how late the line
	// notices silence, a poll that is due or its context ending
	// (default 200 ms).
	ReadTimeout time.Duration `yaml:"read_timeout" json:"read_timeout"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	return defaults.Fill(c, Config{Baud: DefaultBaud, DataBits: DefaultDataBits, Parity: DefaultParity,
		StopBits: DefaultStopBits, SilentAfter: DefaultSilentAfter, ReadTimeout: DefaultReadTimeout})
}

// A FieldError reports one invalid Config field. Field is the field's
// config key (as in the YAML config), Value the offending value.
type FieldError struct {
	Field string
	Value any
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s %#v: %s", e.Field, e.Value, e.Msg)
}

var parities = []string{"none", "even", "odd", "mark", "space"}

// bauds are the rates indicators offer; anything else is a typo.
var bauds = []int{300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}

// Validate reports every problem with c (after defaults), each as a
// *FieldError, joined with errors.Join. It returns nil if c is usable.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(field string, value any, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Value: value, Msg: fmt.Sprintf(format, args...)})
	}

	if strings.TrimSpace(c.Port) == "" {
		bad("port", c.Port, "is empty: set it to the indicator's serial device, e.g. /dev/ttyUSB0 or a /dev/serial/by-id/ path")
	}
	if !slices.Contains(bauds, c.Baud) {
		bad("baud", c.Baud, "is not a standard serial bit rate: use the rate set on the indicator, usually 9600 (one of 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)")
	}
	if c.DataBits < 5 || c.DataBits > 8 {
		bad("data_bits", c.DataBits, "must be 5, 6, 7 or 8 (indicators use 7 or 8)")
	}
	if !slices.Contains(parities, c.Parity) {
		bad("parity", c.Parity, "must be one of %s", strings.Join(parities, ", "))
	}
	if c.StopBits != 1 && c.StopBits != 1.5 && c.StopBits != 2 {
		bad("stop_bits", c.StopBits, "must be 1, 1.5 or 2")
	}
	var proto scale.Protocol
	if c.Protocol == "" {
		bad("protocol", c.Protocol, "is empty: set the indicator's output protocol, one of %s", strings.Join(scale.Names(), ", "))
	} else if p, err := scale.Lookup(c.Protocol); err != nil {
		bad("protocol", c.Protocol, "is not a known weighbridge protocol: use one of %s", strings.Join(scale.Names(), ", "))
	} else {
		proto = p
	}
	if c.PollInterval < 0 {
		bad("poll_interval", c.PollInterval.String(), "must not be negative: use 0 to listen only")
	} else if c.PollInterval > 0 && proto != nil {
		if _, ok := proto.(scale.Poller); !ok {
			bad("poll_interval", c.PollInterval.String(), "is set but protocol %q streams and cannot be polled: set poll_interval to 0", c.Protocol)
		}
	}
	if c.ReadTimeout < 0 {
		bad("read_timeout", c.ReadTimeout.String(), "must be positive, e.g. 200ms")
	}
	if c.SilentAfter < 0 {
		bad("silent_after", c.SilentAfter.String(), "must be positive, e.g. 5s")
	} else if c.ReadTimeout > c.SilentAfter {
		bad("read_timeout", c.ReadTimeout.String(), "is longer than silent_after (%s), so silence would be noticed late: lower it", c.SilentAfter)
	}
	return errors.Join(errs...)
}
