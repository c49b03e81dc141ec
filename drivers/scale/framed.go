package scale

import "fmt"

// framed is a protocol given as values rather than as a type of its own:
// its name, the framer that finds its frames, and the functions that decode
// and render one. Every protocol but Toledo, whose Split looks past the
// frame for a checksum and whose Encode takes an option, is one.
type framed struct {
	name   string
	framer *framer
	// kind is what a frame is called in errors, for protocols whose frames
	// are at most framer.size bytes; "" means every frame is that long.
	kind string
	// parse decodes a frame of the right length, with bit 7 of its bytes
	// still to be cleared.
	parse  func(frame []byte) (Reading, error)
	encode func(r Reading) []byte
}

// fixedFrames declares a protocol whose frames are all size bytes long,
// from head to end (to the frame's length when end is "").
func fixedFrames(name, head, end string, size int, parse func(frame []byte) (Reading, error), encode func(r Reading) []byte) *framed {
	return &framed{name: name, framer: newFramer([]string{head}, end, size, false), parse: parse, encode: encode}
}

// Name returns the protocol's name.
func (p *framed) Name() string { return p.name }

// Split finds the next frame with the protocol's framer.
func (p *framed) Split(data []byte, atEOF bool) (advance int, token []byte, err error) {
	return p.framer.split(data, atEOF)
}

// Parse decodes one frame, refusing one of a length the protocol never
// sends before its parse sees it.
func (p *framed) Parse(frame []byte) (Reading, error) {
	n, size := len(frame), p.framer.size
	switch {
	case p.kind == "" && n != size:
		return Reading{}, fmt.Errorf("frame is %d bytes, want %d", n, size)
	case n > size:
		return Reading{}, fmt.Errorf("frame is %d bytes, longer than any %s (%d)", n, p.kind, size)
	}
	return p.parse(frame)
}

// Encode renders r as the indicator would send it.
func (p *framed) Encode(r Reading) []byte { return p.encode(r) }

// polled is a framed protocol whose indicator answers request.
type polled struct {
	framed
	request string
}

// Request returns the command that asks the indicator for a reading.
func (p *polled) Request() []byte { return []byte(p.request) }
