package scale

import (
	"fmt"
	"math"
)

// Toledo is the Mettler Toledo standard continuous output (protocol name
// "toledo"), which most Mettler Toledo terminals and many other makers'
// indicators send several times a second:
//
//	STX SWA SWB SWC wwwwww tttttt CR [CKS]
//
// Status word A holds the decimal point position in bits 0–2 (codes 0 to 7
// for XXXX00, XXXXX0, XXXXXX, XXXXX.X … X.XXXXX) and the count-by in bits
// 3–4 (1, 2 or 5). Status word B holds net mode (bit 0), a negative sign
// (bit 1), out of range (bit 2), motion (bit 3) and kg rather than lb
// (bit 4). Bits 0–2 of status word C select another unit: g, t, oz, troy
// oz, dwt or short tons (code 7, custom units, cannot be converted). Bit 5
// is set in all three status words. The displayed weight and the tare are
// six digits each, without sign or decimal point, with leading zeros or
// spaces. The optional checksum character is the two's complement of the
// 7-bit sum of all bytes from STX to CR; it is verified when present.
//
// A reading has Gross and Tare, and in net mode also Net, with Gross
// computed as Net + Tare. Out of range with the sign set is Underload,
// without it Overload. Division is the count-by times the decimal step.
// Status word B bit 6 (zero not captured since power-up) and the print
// and expanded-display bits of status word C are not reported.
type Toledo struct {
	// OmitChecksum makes Encode leave out the checksum character, as an
	// indicator set up without it does. Parse accepts frames with and
	// without a checksum either way.
	OmitChecksum bool
}

// toledoLen is the length of a frame without its checksum character.
const toledoLen = 17

// Status word bits.
const (
	swAlways      = 1 << 5 // set in status words A, B and C
	swbNet        = 1 << 0
	swbNegative   = 1 << 1
	swbOutOfRange = 1 << 2
	swbMotion     = 1 << 3
	swbKg         = 1 << 4
)

// toledoUnits maps the unit code in status word C. Code 0 means lb or kg as
// status word B says, code 7 custom units.
var toledoUnits = [8]unit{1: gram, 2: tonne, 3: ounce, 4: troyOunce, 5: pennyweight, 6: shortTon}

// toledoCountBy maps the count-by code in bits 3–4 of status word A; code 0
// is undefined.
var toledoCountBy = [4]int64{0, 1, 2, 5}

var toledoFramer = newFramer([]string{"\x02"}, "\r", toledoLen, false)

// Name returns "toledo".
func (Toledo) Name() string { return "toledo" }

// Split finds the next frame, with its checksum character if one follows
// the CR. A checksum can take any 7-bit value, STX included, so Split
// looks one byte past it when it is STX: the frame's own STX comes next
// only if the STX was a checksum. A frame is therefore returned once the
// byte after its CR has arrived, or the stream has ended.
func (Toledo) Split(data []byte, atEOF bool) (advance int, token []byte, err error) {
	adv, tok, _ := toledoFramer.split(data, atEOF)
	if len(tok) != toledoLen || tok[toledoLen-1]&asciiMask != cr {
		return adv, tok, nil
	}
	start := adv - toledoLen
	n, more := toledoChecksumFollows(tok, data[adv:], atEOF)
	if more {
		return start, nil, nil // skip what came before the frame, if anything
	}
	return adv + n, data[start : adv+n], nil
}

// toledoChecksumFollows reports whether rest, the bytes after a complete
// frame, begins with the frame's checksum character (n is 1), or whether
// more bytes are needed to tell.
func toledoChecksumFollows(frame, rest []byte, atEOF bool) (n int, more bool) {
	if len(rest) == 0 {
		return 0, !atEOF
	}
	c, want := rest[0]&asciiMask, toledoChecksum(frame)
	switch {
	case c == stx:
		if want != stx {
			return 0, false
		}
		if len(rest) == 1 {
			return 1, !atEOF
		}
		if rest[1]&asciiMask == stx {
			return 1, false
		}
		return 0, false
	case c == want:
		return 1, false
	case c == cr || c == lf:
		// A line end that some indicators add when the checksum is off.
		return 0, false
	}
	return 1, false // a wrong checksum, which Parse reports
}

// toledoChecksum returns the checksum character of frame, STX to CR.
func toledoChecksum(frame []byte) byte {
	var sum byte
	for _, b := range frame {
		sum += b & asciiMask
	}
	return -sum & asciiMask
}

// Parse decodes one frame, with or without its checksum character.
func (Toledo) Parse(frame []byte) (Reading, error) {
	if len(frame) != toledoLen && len(frame) != toledoLen+1 {
		return Reading{}, fmt.Errorf("frame is %d bytes, want %d, or %d with checksum", len(frame), toledoLen, toledoLen+1)
	}
	var buf [toledoLen + 1]byte
	b := mask7(buf[:0], frame)
	if b[0] != stx {
		return Reading{}, fmt.Errorf("frame starts with %q, want STX", b[0])
	}
	if b[toledoLen-1] != cr {
		return Reading{}, fmt.Errorf("byte %d is %q, want CR", toledoLen, b[toledoLen-1])
	}
	if len(b) > toledoLen {
		if got, want := b[toledoLen], toledoChecksum(b[:toledoLen]); got != want {
			return Reading{}, fmt.Errorf("%w: checksum character is %#02x, want %#02x", ErrChecksum, got, want)
		}
	}
	swa, swb, swc := b[1], b[2], b[3]
	for i, sw := range b[1:4] {
		if sw&swAlways == 0 {
			return Reading{}, fmt.Errorf("status word %c is %#02x: bit 5, always set, is clear", 'A'+i, sw)
		}
	}
	u := toledoUnits[swc&7]
	switch code := swc & 7; {
	case code == 0 && swb&swbKg != 0:
		u = kilogram
	case code == 0:
		u = pound
	case code == 7:
		return Reading{}, fmt.Errorf("status word C %#02x selects custom units, which have no conversion to kg", swc)
	}
	dec := int(swa&7) - 2 // decimal places; negative for dummy zeros
	neg, oor := swb&swbNegative != 0, swb&swbOutOfRange != 0
	r := Reading{
		Stable:    swb&swbMotion == 0,
		HasMotion: true,
		Overload:  oor && !neg,
		Underload: oor && neg,
		Unit:      u.sym,
	}
	if c := toledoCountBy[swa>>3&3]; c != 0 {
		r.Division = u.kg(num{mant: c, dec: dec})
	}
	w, err := parseNum("weight", b[4:10], 0)
	if err != nil {
		if oor {
			return r, nil // an indicator out of range may blank the weight
		}
		return Reading{}, err
	}
	t, err := parseNum("tare", b[10:16], 0)
	if err != nil {
		return Reading{}, err
	}
	w.dec, w.neg, t.dec = dec, neg, dec
	r.Tare = weight(u.kg(t))
	if swb&swbNet == 0 {
		r.Gross = weight(u.kg(w))
		return r, nil
	}
	r.Net = weight(u.kg(w))
	g := t.mant // gross = net + tare, summed before conversion to keep it exact
	if neg {
		g -= w.mant
	} else {
		g += w.mant
	}
	r.Gross = weight(u.kg(num{mant: abs(g), dec: dec, neg: g < 0}))
	return r, nil
}

// Encode renders r as a frame, in net mode when r has a net weight. The
// decimal point and count-by come from r.Division when it is a count-by
// of 1, 2 or 5 times a power of ten the format can express, and otherwise
// are the finest the weights need and six digits hold.
func (t Toledo) Encode(r Reading) []byte {
	u := unitFor(r.Unit, kilogram, pound, gram, tonne, ounce, troyOunce, pennyweight, shortTon)
	kg, mode := shown(r)
	if mode == 'T' {
		kg = 0 // no tare-only display: gross zero with the tare
	}
	var tareKg float64
	if r.Tare != nil {
		tareKg = *r.Tare
	}
	x, tx := u.from(kg), u.from(tareKg)
	countBy, code, exp := toledoResolution(r.Division, u, x, tx)

	swa := swAlways | byte(2-exp) | code<<3
	swb := byte(swAlways)
	if mode == 'N' {
		swb |= swbNet
	}
	if minus(kg, r, "") != "" {
		swb |= swbNegative
	}
	if r.Overload || r.Underload {
		swb |= swbOutOfRange
	}
	if !r.Stable {
		swb |= swbMotion
	}
	swc := byte(swAlways)
	switch u {
	case kilogram:
		swb |= swbKg
	case pound:
	default:
		for code, v := range toledoUnits {
			if v == u {
				swc |= byte(code)
			}
		}
		if u.exp != 0 { // metric
			swb |= swbKg
		}
	}
	b := make([]byte, 0, toledoLen+1)
	b = append(b, stx, swa, swb, swc)
	b = appendNum(b, "", toledoField(x, countBy, exp), 0, 6, '0')
	b = appendNum(b, "", toledoField(tx, countBy, exp), 0, 6, '0')
	b = append(b, cr)
	if !t.OmitChecksum {
		b = append(b, toledoChecksum(b))
	}
	return b
}

// toledoResolution returns the count-by, its code in status word A, and
// the decimal exponent for weights x and tare tx in the display unit u.
func toledoResolution(division float64, u unit, x, tx float64) (countBy int64, code byte, exp int) {
	if division > 0 {
		step := u.from(division)
		for exp := -5; exp <= 2; exp++ {
			for code := byte(1); code <= 3; code++ {
				c := toledoCountBy[code]
				if math.Abs(float64(c)*pow10(exp)-step) <= 1e-9*step {
					return c, code, exp
				}
			}
		}
	}
	_, e1 := quantize(x, -5, 2, 6, false)
	_, e2 := quantize(tx, -5, 2, 6, false)
	exp = min(e1, e2)
	for exp < 2 && !(math.Round(shift(math.Max(math.Abs(x), math.Abs(tx)), -exp)) <= toledoMax) {
		exp++
	}
	return 1, 1, exp
}

// toledoMax is the largest value of a six-digit field.
const toledoMax = 999999

// toledoField returns the six-digit field for |x| rounded to a multiple of
// countBy × 10^exp, or the largest such multiple that fits.
func toledoField(x float64, countBy int64, exp int) int64 {
	steps := math.Round(shift(math.Abs(x), -exp) / float64(countBy))
	if !(steps*float64(countBy) <= toledoMax) {
		return toledoMax / countBy * countBy
	}
	return int64(steps) * countBy
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
