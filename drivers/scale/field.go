package scale

import (
	"errors"
	"fmt"
	"math"
)

// ErrChecksum is wrapped by the error for a frame whose checksum or check
// characters do not match its contents.
var ErrChecksum = errors.New("checksum mismatch")

// ErrIndicator is wrapped by the error for a well-formed frame in which the
// indicator reports that it has no weight to give: a command error, a busy
// or invalid status, a zero or tare error.
var ErrIndicator = errors.New("indicator reports an error")

// A num is a decimal number as an indicator displays it: mant × 10^-dec.
// A negative dec stands for dummy zeros after the digits sent.
type num struct {
	mant int64
	dec  int
	neg  bool // the field had a minus sign, even if mant is 0
}

// Syntax flags for parseNum.
const (
	// withSign allows one leading '+' or '-', which spaces may separate
	// from the digits.
	withSign = 1 << iota
	// withPoint allows one decimal point.
	withPoint
)

// maxDigits bounds the digits of a number so that its mantissa fits an
// int64; no indicator displays more than ten.
const maxDigits = 18

// parseNum reads a number field of a frame: optional leading spaces, a sign
// and a decimal point where syntax allows them, at least one digit, and
// optional trailing spaces. What names the field in errors.
func parseNum(what string, field []byte, syntax int) (num, error) {
	var n num
	i := skipSpaces(field, 0)
	if syntax&withSign != 0 && i < len(field) && (field[i] == '+' || field[i] == '-') {
		n.neg = field[i] == '-'
		i = skipSpaces(field, i+1)
	}
	digits, point := 0, false
	for ; i < len(field); i++ {
		c := field[i]
		switch {
		case '0' <= c && c <= '9':
			if digits == maxDigits {
				return num{}, fmt.Errorf("%s %q has more than %d digits", what, string(field), maxDigits)
			}
			n.mant = n.mant*10 + int64(c-'0')
			digits++
			if point {
				n.dec++
			}
		case c == '.' && syntax&withPoint != 0 && !point:
			point = true
		case c == ' ' && skipSpaces(field, i) == len(field):
			i = len(field)
		default:
			return num{}, fmt.Errorf("%s %q is not a number: unexpected %q at offset %d", what, string(field), c, i)
		}
	}
	if digits == 0 {
		return num{}, fmt.Errorf("%s %q has no digits", what, string(field))
	}
	return n, nil
}

func skipSpaces(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}

func isBlank(b []byte) bool { return skipSpaces(b, 0) == len(b) }

// trimSpaces returns b without leading and trailing spaces.
func trimSpaces(b []byte) []byte {
	b = b[skipSpaces(b, 0):]
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// signed returns v negated when neg is set, but never -0, which would print
// as "-0" in JSON.
func signed(v float64, neg bool) float64 {
	if neg && v != 0 {
		return -v
	}
	return v
}

// weight returns a pointer to v, for the weights of a Reading.
func weight(v float64) *float64 { return &v }

// pow10 returns 10^e; exact for the exponents frames produce.
func pow10(e int) float64 {
	if 0 <= e && e < len(powers) {
		return powers[e]
	}
	return math.Pow10(e)
}

var powers = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// shift returns x × 10^e with one correctly rounded operation.
func shift(x float64, e int) float64 {
	if e >= 0 {
		return x * pow10(e)
	}
	return x / pow10(-e)
}

// hexDigit returns the value of a check character that stands for a
// nibble: '0'–'9' and 'A'–'F' (either case) as in hex, or, as some firmware
// sends it, the nibble plus '0' (':' to '?' for 10 to 15).
func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '?':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// xorOf is the XOR of the bytes of b, the check of XOR-summed frames.
func xorOf(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}
