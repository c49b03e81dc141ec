package scale

import (
	"bytes"
	"fmt"
)

// smaBodyLen is the length of a weight reply between LF and CR.
const smaBodyLen = 18

// smaMaxReply bounds a reply: information replies have up to 25 characters
// of data after a three-letter field name.
const smaMaxReply = 40

// SMA is the Scale Manufacturers Association standard serial protocol,
// SMA SCP-0499 (protocol name "sma"). The host sends commands such as
// <LF>W<CR> (the displayed weight) and the indicator replies
//
//	<LF> s r n m f xxxxxx.xxx uuu <CR>
//
// where s is the scale status (Z centre of zero, O over capacity, U under
// capacity, E zero error, I initial zero error, T tare error, space for
// none of these), r the range (1 on a single-range scale), n the mode (G
// gross, N net, T tare, g and n for high-resolution gross and net), m M
// in motion or space, f reserved; then a ten-character weight with sign
// and decimal point and a three-character unit. Under E, I and T the
// weight is dashes and the reply carries no weight. <LF>?<CR> answers a
// command the indicator does not recognise and <LF>!<CR> one it received
// with a parity or framing error. Replies to other commands (about,
// information, diagnostics) are not weights and are reported as bad
// frames.
//
// Its Request is "\nW\r", the command for the displayed weight. Its Split
// finds the next reply, from LF to CR.
var SMA = &polled{
	framed: framed{
		name:   "sma",
		framer: newFramer([]string{"\n"}, "\r", smaMaxReply, false),
		kind:   "reply",
		parse:  parseSMA,
		encode: encodeSMA,
	},
	request: "\nW\r",
}

// parseSMA decodes one reply.
func parseSMA(frame []byte) (Reading, error) {
	var buf [smaMaxReply]byte
	b := mask7(buf[:0], frame)
	if len(b) < 2 || b[0] != lf || b[len(b)-1] != cr {
		return Reading{}, fmt.Errorf("reply does not run from LF to CR")
	}
	body := b[1 : len(b)-1]
	switch string(body) {
	case "?":
		return Reading{}, fmt.Errorf("%w: the command was not recognised (<LF>?<CR>)", ErrIndicator)
	case "!":
		return Reading{}, fmt.Errorf("%w: the command arrived with a parity or framing error (<LF>!<CR>)", ErrIndicator)
	}
	if len(body) != smaBodyLen {
		return Reading{}, fmt.Errorf("not a weight reply: %d bytes between LF and CR, want %d", len(body), smaBodyLen)
	}
	status, rng, mode, motion := body[0], body[1], body[2], body[3]
	field, unitField := body[5:15], body[15:18]
	r := Reading{HasMotion: true}
	switch status {
	case ' ':
	case 'Z':
		r.Zero = true
	case 'O':
		r.Overload = true
	case 'U':
		r.Underload = true
	case 'E':
		return Reading{}, fmt.Errorf("%w: zero error (status E)", ErrIndicator)
	case 'I':
		return Reading{}, fmt.Errorf("%w: initial zero error (status I)", ErrIndicator)
	case 'T':
		return Reading{}, fmt.Errorf("%w: tare error (status T)", ErrIndicator)
	default:
		return Reading{}, fmt.Errorf("status %q is not Z, O, U, E, I, T or space", status)
	}
	if rng < '1' || rng > '9' {
		return Reading{}, fmt.Errorf("range %q is not a digit from 1 to 9", rng)
	}
	switch motion {
	case ' ':
		r.Stable = true
	case 'M':
	default:
		return Reading{}, fmt.Errorf("motion status %q is not M or space", motion)
	}
	var dst **float64
	switch mode {
	case 'G', 'g':
		dst = &r.Gross
	case 'N', 'n':
		dst = &r.Net
	case 'T':
		dst = &r.Tare
	default:
		return Reading{}, fmt.Errorf("mode %q is not G, N, T, g or n", mode)
	}
	if bytes.Count(field, []byte{'-'}) == len(field) {
		return Reading{}, fmt.Errorf("%w: weight field %q is dashes, as when no stable weight came in time", ErrIndicator, string(field))
	}
	if err := readWeight(&r, dst, field, unitField); err != nil {
		return Reading{}, err
	}
	return r, nil
}

// encodeSMA renders r as the reply to <LF>W<CR>.
func encodeSMA(r Reading) []byte {
	u, x, mode := displayed(r)
	m, e := quantize(x, -5, 0, 9, true)
	b := make([]byte, 0, smaBodyLen+2)
	status := byte(' ')
	switch {
	case r.Overload:
		status = 'O'
	case r.Underload:
		status = 'U'
	case r.Zero:
		status = 'Z'
	}
	motion := byte(' ')
	if !r.Stable {
		motion = 'M'
	}
	b = append(b, lf, status, '1', mode, motion, ' ')
	b = appendNum(b, minus(x, r, ""), m, e, 10, ' ')
	b = append(b, u.sym...)
	for len(b) < smaBodyLen+1 {
		b = append(b, ' ')
	}
	return append(b, cr)
}
