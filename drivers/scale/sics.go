package scale

import (
	"bytes"
	"fmt"
)

// sicsMaxLine bounds a reply line; weight replies are about 20 bytes.
const sicsMaxLine = 128

// SICS is the Mettler Toledo Standard Interface Command Set, MT-SICS
// (protocol name "sics"): the indicator answers the weight commands S, SI
// and SIR (and their SU variants) with lines such as
//
//	S S      24180 kg
//
// ending in CR LF. The second field is the status: S stable, D dynamic
// (in motion), + overload, - underload, I busy (the command could not be
// executed now), L logical error. The weight is right-justified and may
// carry a sign and a decimal point. ES, ET and EL are the error replies
// to a command the indicator did not understand, received badly, or could
// not execute. Replies to other commands are not weights and are reported
// as bad frames.
//
// The weight, which MT-SICS calls the net weight, is what the indicator
// displays; the reply does not say whether a tare is set, so it is
// reported as Gross.
//
// Its Request is "SI\r\n", the command for the current weight, stable or
// not. Its Split finds the next reply line, without its line end. Lines
// may end in CR LF, CR or LF; empty lines are skipped.
var SICS = &polled{
	framed: framed{
		name:   "sics",
		framer: newFramer(nil, "\r\n", sicsMaxLine, true),
		kind:   "reply",
		parse:  parseSICS,
		encode: encodeSICS,
	},
	request: "SI\r\n",
}

// sicsWeightIDs are the reply identifiers of the weight commands.
var sicsWeightIDs = []string{"S", "SI", "SIR", "SU", "SIU", "SIRU"}

// sicsErrors are the general error replies.
var sicsErrors = map[string]string{
	"ES": "syntax error (ES): the command was not recognised",
	"ET": "transmission error (ET): the command was received garbled",
	"EL": "logical error (EL): the command cannot be executed",
}

// parseSICS decodes one reply line.
func parseSICS(frame []byte) (Reading, error) {
	var buf [sicsMaxLine]byte
	line := mask7(buf[:0], frame)
	line = bytes.TrimRight(line, "\r\n")
	id, rest := nextField(line)
	if msg, ok := sicsErrors[string(id)]; ok && isBlank(rest) {
		return Reading{}, fmt.Errorf("%w: %s", ErrIndicator, msg)
	}
	if !isOneOf(id, sicsWeightIDs) {
		return Reading{}, fmt.Errorf("reply %q is not a weight reply", string(id))
	}
	status, rest := nextField(rest)
	r := Reading{HasMotion: true}
	switch string(status) {
	case "S":
		r.Stable = true
	case "D":
	case "+":
		r.Overload = true
		return r, nil
	case "-":
		r.Underload = true
		return r, nil
	case "I":
		return Reading{}, fmt.Errorf("%w: command not executable (S I): busy, or no stable weight in time", ErrIndicator)
	case "L":
		return Reading{}, fmt.Errorf("%w: logical error (S L): the command cannot be executed", ErrIndicator)
	case "":
		return Reading{}, fmt.Errorf("reply %q has no status", string(id))
	default:
		return Reading{}, fmt.Errorf("status %q is not S, D, +, -, I or L", string(status))
	}
	// The unit is the last field; the weight is what comes before it, so
	// that a sign set apart from the digits is read as well.
	rest = trimSpaces(rest)
	cut := bytes.LastIndexByte(rest, ' ')
	if cut < 0 {
		return Reading{}, fmt.Errorf("weight and unit %q are not two fields", string(rest))
	}
	if err := readWeight(&r, &r.Gross, rest[:cut], rest[cut+1:]); err != nil {
		return Reading{}, err
	}
	return r, nil
}

// encodeSICS renders r as the reply to SI: S S or S D with the displayed
// weight right-justified in ten characters, or S + or S - when r is out
// of range.
func encodeSICS(r Reading) []byte {
	switch {
	case r.Overload:
		return []byte("S +\r\n")
	case r.Underload:
		return []byte("S -\r\n")
	}
	u, x, _ := displayed(r)
	m, e := quantize(x, -5, 0, 9, true)
	b := []byte("S S ")
	if !r.Stable {
		b[2] = 'D'
	}
	b = appendNum(b, minus(x, r, ""), m, e, 10, ' ')
	b = append(b, ' ')
	b = append(b, u.sym...)
	return append(b, cr, lf)
}

// nextField returns the first space-separated field of b and the rest
// after it.
func nextField(b []byte) (field, rest []byte) {
	b = b[skipSpaces(b, 0):]
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i:]
}

func isOneOf(b []byte, set []string) bool {
	for _, s := range set {
		if string(b) == s {
			return true
		}
	}
	return false
}
