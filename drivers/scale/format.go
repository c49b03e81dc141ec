package scale

import (
	"math"
	"strconv"
)

// This file holds what the encoders share: which weight an indicator
// displays for a Reading, and how it rounds and lays it out.

// shown returns the weight an indicator in r's state displays, in kg, and
// its mode: 'N' when r has a net weight and a tare is set (a net weight
// equal to the gross with no tare, as a reading may carry in gross mode,
// is shown as gross), else 'G' when it has a gross weight, else 'T' when it
// carries only a tare, and 'G' with 0 when it has no weight at all.
func shown(r Reading) (kg float64, mode byte) {
	tared := r.Tare != nil && *r.Tare != 0
	switch {
	case r.Net != nil && (r.Gross == nil || tared || *r.Net != *r.Gross):
		return *r.Net, 'N'
	case r.Gross != nil:
		return *r.Gross, 'G'
	case r.Tare != nil:
		return *r.Tare, 'T'
	}
	return 0, 'G'
}

// displayed returns what an indicator in r's state displays: its unit (r's
// when among allowed, see unitFor), the weight in that unit, and the mode
// (see shown).
func displayed(r Reading, allowed ...unit) (u unit, x float64, mode byte) {
	u = unitFor(r.Unit, allowed...)
	kg, mode := shown(r)
	return u, u.from(kg), mode
}

// quantize returns how an indicator displays |x|, a weight in its display
// unit: m × 10^e. The exponent is the largest in [minExp, 0] that shows x
// exactly, or minExp if none does; it then grows, up to maxExp, while m has
// more digits than width characters hold (one of them taken by the decimal
// point when point is set and e < 0). A weight too large even then is shown
// as the largest m that fits.
func quantize(x float64, minExp, maxExp, width int, point bool) (m int64, e int) {
	x = math.Abs(x)
	if math.IsNaN(x) {
		x = 0
	}
	e = minExp
	for c := min(0, maxExp); c >= minExp; c-- {
		y := shift(x, -c)
		if math.Abs(y-math.Round(y)) <= 1e-9*math.Max(1, y) {
			e = c
			break
		}
	}
	for {
		digits := width
		if point && e < 0 {
			digits--
		}
		limit := pow10(digits)
		if y := math.Round(shift(x, -e)); y < limit {
			return int64(y), e
		}
		if e >= maxExp {
			return int64(limit) - 1, e
		}
		e++
	}
}

// appendNum appends sign and the digits of m with -e decimals (none when
// e >= 0) right-justified in width characters. Padding with ' ' puts the
// sign next to the digits ("  -12.5"), padding with '0' puts it first
// ("-0012.5").
func appendNum(dst []byte, sign string, m int64, e int, width int, pad byte) []byte {
	dec := max(0, -e)
	var buf [48]byte
	digits := buf[:0]
	for n := numDigits(m); n <= dec; n++ {
		digits = append(digits, '0') // "0.05", not ".5", for m=5, e=-2
	}
	digits = strconv.AppendInt(digits, m, 10)
	n := len(sign) + len(digits)
	if dec > 0 {
		n++
	}
	if pad == '0' {
		dst = append(dst, sign...)
	}
	for ; n < width; n++ {
		dst = append(dst, pad)
	}
	if pad != '0' {
		dst = append(dst, sign...)
	}
	intLen := len(digits) - dec
	dst = append(dst, digits[:intLen]...)
	if dec > 0 {
		dst = append(dst, '.')
		dst = append(dst, digits[intLen:]...)
	}
	return dst
}

// numDigits returns the number of decimal digits of m >= 0.
func numDigits(m int64) int {
	n := 1
	for ; m >= 10; m /= 10 {
		n++
	}
	return n
}

// minus returns "-" when the shown weight is negative or the reading is
// under range, and positive otherwise.
func minus(kg float64, r Reading, positive string) string {
	if kg < 0 || r.Underload {
		return "-"
	}
	return positive
}
