// Package scale decodes the serial output of weighbridge indicators.
//
// Each indicator protocol is a Protocol registered by its stable lower-case
// name (interfaces.md §3); registry.go registers them all:
//
//	toledo     Mettler Toledo standard continuous output      Toledo
//	sics       Mettler Toledo MT-SICS replies                  SICS
//	sma        SMA SCP-0499 replies                            SMA
//	xk3190     Yaohua XK3190-A9 STX frame with XOR check       XK3190
//	xk3190-eq  Yaohua "=" stream, least significant first      XK3190EQ
//	rlws       Rice Lake RLWS stream                           RLWS
//	stgs       "ST,GS,+0012450kg" lines (A&D, Dini Argeo …)    STGS
//
// A Reader finds frames of one protocol in an arbitrary byte stream, the
// way bufio.Scanner finds lines: a port opened in mid-frame, line noise and
// dropped bytes cost a FrameError for the damaged frame and never stop
// decoding. Bytes before the first frame, or between frames, are skipped
// silently; a frame cut short is reported and decoding resumes at the
// next frame's start. No frame is longer than MaxFrame.
//
// Every protocol is 7-bit ASCII, and bit 7 of each byte is ignored: an
// indicator sending 7 data bits with parity decodes as well on a port set
// to 8 data bits without parity, both being ten bits a character.
//
// Weights are reported in kilograms, converted from the unit the indicator
// sent (lb × 0.45359237, t × 1000, g ÷ 1000, and oz, troy oz, dwt, short
// and long tons), which Reading.Unit keeps. The xk3190 protocols carry no
// unit and are taken to send kilograms.
//
// A frame in which the indicator reports that it has no weight to give (a
// command error, busy, invalid, a zero or tare error) is a FrameError
// wrapping ErrIndicator; a frame whose check fails wraps ErrChecksum.
//
// Every protocol is also an Encoder, rendering a Reading as its indicator
// would send it, for simulators; sics and sma, whose indicators answer
// requests, are Pollers.
package scale
