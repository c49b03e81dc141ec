package scale

import (
	"fmt"
	"slices"
)

const xk3190EQLen = 9

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
//
// Its Split finds the next frame: '=' and the eight bytes after it.
var XK3190EQ = &framed{
	name:   "xk3190-eq",
	framer: newFramer([]string{"="}, "", xk3190EQLen, false),
	parse:  parseXK3190EQ,
	encode: encodeXK3190EQ,
}

// parseXK3190EQ decodes one frame.
func parseXK3190EQ(frame []byte) (Reading, error) {
	var buf [xk3190EQLen]byte
	b := mask7(buf[:0], frame)
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

// encodeXK3190EQ renders the displayed weight of r, in kilograms, as a frame.
func encodeXK3190EQ(r Reading) []byte {
	kg, _ := shown(r)
	m, e := quantize(kg, -4, 0, 7, true)
	b := append(make([]byte, 0, xk3190EQLen), '=')
	b = appendNum(b, "", m, e, 7, '0')
	slices.Reverse(b[1:])
	return append(b, minus(kg, r, "0")[0])
}
