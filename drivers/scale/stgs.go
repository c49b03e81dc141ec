package scale

import (
	"bytes"
	"fmt"
)

// stgsMaxLine bounds a line; lines are about 20 bytes.
const stgsMaxLine = 40

// STGS is the comma-separated text line that A&D, Dini Argeo, Kern and a
// great many other indicators send (protocol name "stgs"):
//
//	ST,GS,+0012450kg
//
// ending in CR LF. The first field is ST (stable), US (unstable) or OL
// (out of range); the second GS (gross), NT (net) or TR (tare), and may be
// missing, as in A&D's "ST,+00012.45  g", which is then gross. Then comes
// the signed weight, with or without a decimal point and with zeros or
// spaces for padding, and the unit: kg, t, lb, g or another unit of
// weight, with or without spaces before it.
//
// OL with a negative sign is Underload, otherwise Overload; the weight of
// an OL line is often blank and is reported only when it is a number.
//
// Its Split finds the next line that starts with ST, US or OL and a comma,
// without its line end; other lines are skipped.
var STGS = &framed{
	name:   "stgs",
	framer: newFramer([]string{"ST,", "US,", "OL,"}, "\r\n", stgsMaxLine, true),
	kind:   "weight line",
	parse:  parseSTGS,
	encode: encodeSTGS,
}

// parseSTGS decodes one line.
func parseSTGS(frame []byte) (Reading, error) {
	var buf [stgsMaxLine]byte
	line := mask7(buf[:0], frame)
	line = bytes.TrimRight(line, "\r\n")
	if len(line) < 3 || line[2] != ',' {
		return Reading{}, fmt.Errorf("line does not start with a two-letter header and a comma")
	}
	r := Reading{HasMotion: true}
	switch string(line[:2]) {
	case "ST":
		r.Stable = true
	case "US":
	case "OL":
	default:
		return Reading{}, fmt.Errorf("header %q is not ST, US or OL", string(line[:2]))
	}
	rest := line[3:]
	dst := &r.Gross
	if len(rest) >= 3 && rest[2] == ',' && isLetter(rest[0]) && isLetter(rest[1]) {
		switch string(rest[:2]) {
		case "GS":
		case "NT":
			dst = &r.Net
		case "TR":
			dst = &r.Tare
		default:
			return Reading{}, fmt.Errorf("mode %q is not GS, NT or TR", string(rest[:2]))
		}
		rest = rest[3:]
	}
	// The unit is the letters at the end; a comma may set it apart.
	rest = bytes.TrimRight(rest, " ")
	k := len(rest)
	for k > 0 && isLetter(rest[k-1]) {
		k--
	}
	field, unitField := bytes.TrimRight(rest[:k], ", "), rest[k:]
	if line[0] == 'O' {
		neg := bytes.HasPrefix(trimSpaces(field), []byte{'-'})
		r.Overload, r.Underload = !neg, neg
	}
	if err := readWeight(&r, dst, field, unitField); err != nil {
		return Reading{}, err
	}
	return r, nil
}

// encodeSTGS renders r as a line ending in CR LF, with the weight in seven
// zero-padded characters after its sign, or blank when r is out of range.
func encodeSTGS(r Reading) []byte {
	u, x, mode := displayed(r)
	b := make([]byte, 0, 20)
	switch {
	case r.Overload || r.Underload:
		b = append(b, "OL,"...)
	case !r.Stable:
		b = append(b, "US,"...)
	default:
		b = append(b, "ST,"...)
	}
	switch mode {
	case 'N':
		b = append(b, "NT,"...)
	case 'T':
		b = append(b, "TR,"...)
	default:
		b = append(b, "GS,"...)
	}
	sign := minus(x, r, "+")
	if r.Overload || r.Underload {
		b = append(b, sign...)
		b = append(b, "       "...)
	} else {
		m, e := quantize(x, -5, 0, 7, true)
		b = appendNum(b, sign, m, e, 8, '0')
	}
	b = append(b, u.sym...)
	return append(b, cr, lf)
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
