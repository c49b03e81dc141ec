package scale

import (
	"fmt"
	"strings"
)

const rlwsLen = 13 // without the optional LF, which Split skips

// RLWS is the Rice Lake Weighing Systems stream format (protocol name
// "rlws"), which Rice Lake indicators send continuously:
//
//	STX pol wwwwwww unit mode status CR [LF]
//
// pol is a space for positive or '-' for negative; the weight is seven
// characters, right-justified with leading spaces and a decimal point if
// any; unit is L (lb), K (kg), T (tons, taken as metric), G (g) or O (oz);
// mode is G (gross) or N (net); status is a space (valid), I (invalid), M
// (motion), O (over or under range) or Z (centre of zero).
//
// A frame with status I has no valid weight and is reported as a bad frame.
// Under status O the weight may be anything and stability is unknown: the
// reading is Overload, or Underload when the polarity is negative, and not
// Stable.
//
// Its Split finds the next frame, from STX to CR.
var RLWS = fixedFrames("rlws", "\x02", "\r", rlwsLen, parseRLWS, encodeRLWS)

// rlwsUnitLetters are the unit letters, in the order of rlwsUnits.
const rlwsUnitLetters = "LKTGO"

var rlwsUnits = []unit{pound, kilogram, tonne, gram, ounce}

// parseRLWS decodes one frame.
func parseRLWS(frame []byte) (Reading, error) {
	var buf [rlwsLen]byte
	b := mask7(buf[:0], frame)
	if b[0] != stx || b[12] != cr {
		return Reading{}, fmt.Errorf("frame runs from %q to %q, want STX to CR", b[0], b[12])
	}
	pol, field, unitLetter, mode, status := b[1], b[2:9], b[9], b[10], b[11]
	if pol != ' ' && pol != '-' {
		return Reading{}, fmt.Errorf("polarity %q is not space or '-'", pol)
	}
	i := strings.IndexByte(rlwsUnitLetters, unitLetter)
	if i < 0 {
		return Reading{}, fmt.Errorf("unit %q is not L, K, T, G or O", unitLetter)
	}
	u := rlwsUnits[i]
	r := Reading{HasMotion: true, Unit: u.sym}
	switch status {
	case ' ':
		r.Stable = true
	case 'Z':
		r.Stable, r.Zero = true, true
	case 'M':
	case 'O':
		r.Overload, r.Underload = pol != '-', pol == '-'
	case 'I':
		return Reading{}, fmt.Errorf("%w: weight flagged invalid (status I)", ErrIndicator)
	default:
		return Reading{}, fmt.Errorf("status %q is not space, I, M, O or Z", status)
	}
	var dst **float64
	switch mode {
	case 'G':
		dst = &r.Gross
	case 'N':
		dst = &r.Net
	default:
		return Reading{}, fmt.Errorf("mode %q is not G or N", mode)
	}
	w, err := parseNum("weight", field, withPoint)
	if err != nil {
		if status == 'O' {
			return r, nil
		}
		return Reading{}, err
	}
	w.neg = pol == '-'
	*dst = weight(u.kg(w))
	return r, nil
}

// encodeRLWS renders r as a frame ending in CR LF.
func encodeRLWS(r Reading) []byte {
	u, x, mode := displayed(r, rlwsUnits...)
	if mode == 'T' {
		mode = 'G'
	}
	m, e := quantize(x, -5, 0, 7, true)
	status := byte(' ')
	switch {
	case r.Overload || r.Underload:
		status = 'O'
	case !r.Stable:
		status = 'M'
	case r.Zero:
		status = 'Z'
	}
	b := make([]byte, 0, rlwsLen+1)
	b = append(b, stx, minus(x, r, " ")[0])
	b = appendNum(b, "", m, e, 7, ' ')
	for i, v := range rlwsUnits {
		if v == u {
			b = append(b, rlwsUnitLetters[i])
		}
	}
	return append(b, mode, status, cr, lf)
}
