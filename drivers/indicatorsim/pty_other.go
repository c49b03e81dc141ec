//go:build !unix

package indicatorsim

import "errors"

// NewPTY is not available on this system, which has no pseudo-terminals;
// use New with a real serial port.
func NewPTY() (*Sim, error) {
	return nil, errors.New("indicatorsim: pseudo-terminals are not available on this system: use New with a serial port")
}
