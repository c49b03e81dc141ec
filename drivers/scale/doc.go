// Package scale decodes the serial output of weighbridge indicators.
//
// Each indicator protocol is a Protocol registered by its stable lower-case
// name (interfaces.md §3). A Reader finds frames of one protocol in an
// arbitrary byte stream, the way bufio.Scanner finds lines: a port opened in
// mid-frame, line noise and dropped bytes cost a FrameError for the damaged
// frame and never stop decoding.
package scale
