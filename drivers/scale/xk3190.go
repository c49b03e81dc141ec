package scale

import (
	"fmt"
	"slices"
)

// The frame lengths of the XK3190's two continuous outputs.
const (
	xk3190Len   = 12
	xk3190EQLen = 9
)

// XK3190 is the continuous output of the Shanghai Yaohua XK3190-A9 and the
// many indicators that copy it (protocol name "xk3190"), twelve bytes a
// frame:
//
//	STX sign d d d d d d p x x ETX
//
// The sign is '+' or '-', then six digits of the displayed weight, most
// significant first, and p the number of decimal places, '0' to '4'. The
// two check characters are the high and low nibble, in hex, of the XOR of
// the eight bytes from the sign to p; digits written as the nibble plus
// '0' (':' for 10 …) are accepted too, as some firmware sends them.
//
// The frame carries no unit, mode or motion flag: the weight is taken to be
// the gross weight in kilograms, Unit is empty, and HasMotion is false.
//
// Its Split finds the next frame, from STX to ETX.
var XK3190 = fixedFrames("xk3190", "\x02", "\x03", xk3190Len, parseXK3190, encodeXK3190)

// parseXK3190 decodes one frame.
func parseXK3190(frame []byte) (Reading, error) {
	var buf [xk3190Len]byte
	b := mask7(buf[:0], frame)
	if b[0] != stx || b[11] != etx {
		return Reading{}, fmt.Errorf("frame runs from %q to %q, want STX to ETX", b[0], b[11])
	}
	x := xorOf(b[1:9])
	hi, ok1 := hexDigit(b[9])
	lo, ok2 := hexDigit(b[10])
	if !ok1 || !ok2 || hi<<4|lo != x {
		return Reading{}, fmt.Errorf("%w: check characters %q, want %02X", ErrChecksum, string(b[9:11]), x)
	}
	sign, p := b[1], b[8]
	if sign != '+' && sign != '-' {
		return Reading{}, fmt.Errorf("sign %q is not + or -", sign)
	}
	if p < '0' || p > '4' {
		return Reading{}, fmt.Errorf("decimal places %q is not a digit from 0 to 4", p)
	}
	w, err := parseNum("weight", b[2:8], 0)
	if err != nil {
		return Reading{}, err
	}
	w.dec, w.neg = int(p-'0'), sign == '-'
	return Reading{Gross: weight(kilogram.kg(w))}, nil
}

// encodeXK3190 renders the displayed weight of r, in kilograms, as a frame.
func encodeXK3190(r Reading) []byte {
	kg, _ := shown(r)
	m, e := quantize(kg, -4, 0, 6, false)
	b := make([]byte, 0, xk3190Len)
	b = append(b, stx, minus(kg, r, "+")[0])
	b = appendNum(b, "", m, 0, 6, '0')
	b = append(b, byte('0'-e))
	x := xorOf(b[1:9])
	const hex = "0123456789ABCDEF"
	return append(b, hex[x>>4], hex[x&15], etx)
}

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
var XK3190EQ = fixedFrames("xk3190-eq", "=", "", xk3190EQLen, parseXK3190EQ, encodeXK3190EQ)

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
