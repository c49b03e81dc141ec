package scale

import (
	"fmt"
	"slices"
)

// XK3190EQ is the second continuous output of Yaohua XK3190 indicators
// (the A9, A12, A23P, A26 and their copies; protocol name "xk3190-eq"),
// nine bytes a frame with no terminator:
//
//	= c c c c c c c s
//
// The seven characters c are the display, decimal point included, least
// significant first, and s is the sign: '0' for positive, '-' for
// negative. A display of 24180 is sent as "=08142000", one of -1.00 as
// "=00.1000-". A space or '+' is accepted as a positive sign.
//
// As with XK3190, the weight is taken to be the gross weight in
// kilograms, Unit is empty, and HasMotion is false.
type XK3190EQ struct{}

const xk3190EQLen = 9

var xk3190EQFramer = newFramer([]string{"="}, "", xk3190EQLen, false)

// Name returns "xk3190-eq".
func (XK3190EQ) Name() string { return "xk3190-eq" }

// Split finds the next frame: '=' and the eight bytes after it.
func (XK3190EQ) Split(data []byte, atEOF bool) (advance int, token []byte, err error) {
	return xk3190EQFramer.split(data, atEOF)
}

// Parse decodes one frame.
func (XK3190EQ) Parse(frame []byte) (Reading, error) {
	var buf [xk3190EQLen]byte
	b, err := fixedFrame(buf[:0], frame)
	if err != nil {
		return Reading{}, err
	}
	if b[0] != '=' {
		return Reading{}, fmt.Errorf("frame starts with %q, want '='", b[0])
	}
	sign := b[8]
	if sign != '0' && sign != '-' && sign != ' ' && sign != '+' {
		return Reading{}, fmt.Errorf("sign %q is not '0' or '-'", sign)
	}
	display := b[1:8]
	slices.Reverse(display)
	w, err := parseNum("display", display, withPoint)
	if err != nil {
		return Reading{}, err
	}
	w.neg = sign == '-'
	return Reading{Gross: weight(kilogram.kg(w))}, nil
}

// Encode renders the displayed weight of r, in kilograms, as a frame.
func (XK3190EQ) Encode(r Reading) []byte {
	kg, _ := shown(r)
	m, e := quantize(kg, -4, 0, 7, true)
	b := append(make([]byte, 0, xk3190EQLen), '=')
	b = appendNum(b, "", m, e, 7, '0')
	slices.Reverse(b[1:])
	return append(b, minus(kg, r, "0")[0])
}
