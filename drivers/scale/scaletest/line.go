package scaletest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatescan/gatescan/drivers/scale"
)

// Line is a tiny line protocol, "W<kg>[M]\r\n" with M for motion, under
// the name it holds. Register it (scale.Register) under a name no other
// test package uses.
type Line string

// Name returns the protocol's name.
func (p Line) Name() string { return string(p) }

// Split finds the next line, without its CR LF.
func (Line) Split(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, bytes.TrimRight(data[:i], "\r"), nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Parse decodes one line: a stable gross weight in kilograms, or one in
// motion.
func (Line) Parse(frame []byte) (scale.Reading, error) {
	s, ok := strings.CutPrefix(string(frame), "W")
	if !ok {
		return scale.Reading{}, errors.New("frame does not start with W")
	}
	s, motion := strings.CutSuffix(s, "M")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return scale.Reading{}, fmt.Errorf("weight %q: %w", s, err)
	}
	return scale.Reading{Gross: &v, Stable: !motion, HasMotion: true, Unit: "kg"}, nil
}

// Encode renders r's gross weight, to the kilogram, as a line.
func (Line) Encode(r scale.Reading) []byte {
	m := ""
	if !r.Stable {
		m = "M"
	}
	return fmt.Appendf(nil, "W%.0f%s\r\n", *r.Gross, m)
}

// Polled is Line answering "P\r\n" requests.
type Polled struct{ Line }

// Request returns "P\r\n".
func (Polled) Request() []byte { return []byte("P\r\n") }
