package scale

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Reading is one decoded indicator frame. Weights are in kilograms whatever
// unit the indicator sent; a nil weight is one the protocol does not carry.
type Reading struct {
	Gross     *float64 `json:"gross_kg,omitempty"`
	Tare      *float64 `json:"tare_kg,omitempty"`
	Net       *float64 `json:"net_kg,omitempty"`
	Stable    bool     `json:"stable"`
	Overload  bool     `json:"overload,omitempty"`
	Underload bool     `json:"underload,omitempty"`
	Zero      bool     `json:"zero,omitempty"`
	// HasMotion reports whether the protocol carries a motion flag at all;
	// when false, Stable is meaningless and stability must be judged from
	// successive readings.
	HasMotion bool   `json:"-"`
	Unit      string `json:"unit,omitempty"` // the unit as sent: "kg", "lb", "t", "g"
	// Division is the display step in kg when the frame tells it (0 if not).
	Division float64 `json:"-"`
	Raw      string  `json:"raw"`
}

// Protocol is one indicator output format.
type Protocol interface {
	// Name is the stable lower-case name used in config and on the command line.
	Name() string
	// Split finds the next candidate frame in data, as a bufio.SplitFunc.
	// It must resynchronise on garbage rather than fail.
	Split(data []byte, atEOF bool) (advance int, token []byte, err error)
	// Parse decodes one frame returned by Split.
	Parse(frame []byte) (Reading, error)
}

// Poller is implemented by protocols whose indicator answers requests
// instead of (or as well as) streaming. Request is written to the port every
// poll interval.
type Poller interface {
	Request() []byte
}

// FrameError reports a frame that could not be decoded. Decoding goes on.
type FrameError struct {
	Protocol string
	Raw      []byte
	Err      error
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("%s: bad frame %q: %v", e.Protocol, e.Raw, e.Err)
}

func (e *FrameError) Unwrap() error { return e.Err }

var (
	mu        sync.RWMutex
	protocols = map[string]Protocol{}
)

// Register makes a protocol available by name. It panics on a duplicate
// name, as the names are part of the config contract.
func Register(p Protocol) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := protocols[p.Name()]; dup {
		panic("scale: protocol registered twice: " + p.Name())
	}
	protocols[p.Name()] = p
}

// Lookup returns the protocol registered under name.
func Lookup(name string) (Protocol, error) {
	mu.RLock()
	defer mu.RUnlock()
	p, ok := protocols[name]
	if !ok {
		return nil, fmt.Errorf("unknown weighbridge protocol %q: use one of %v", name, namesLocked())
	}
	return p, nil
}

// Names lists the registered protocol names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	n := make([]string, 0, len(protocols))
	for k := range protocols {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// MaxFrame bounds a frame so that a stream without terminators cannot grow
// the buffer without limit.
const MaxFrame = 256

// readBufSize is the Reader's buffer: room for several frames, so that a
// Split that looks ahead past a frame (as toledo does for its optional
// checksum) always has the bytes it needs.
const readBufSize = 4 * MaxFrame

// maxStalls bounds how often in a row the underlying reader may return no
// data and no error, and a Split may return a token without advancing,
// before Next gives up with io.ErrNoProgress.
const maxStalls = 100

// Reader decodes successive readings of one protocol from a byte stream.
//
// Unlike a bufio.Scanner, a Reader never stops on bad input: a Split that
// finds no frame in a full buffer costs a FrameError for the oldest bytes,
// and decoding goes on after them.
type Reader struct {
	p     Protocol
	r     io.Reader
	buf   []byte // the unread bytes are buf[start:end]
	start int
	end   int
	eof   bool  // r has returned io.EOF
	err   error // a read error not yet returned
	stuck int   // tokens the Split has returned in a row without advancing
}

// NewReader returns a Reader for protocol p reading from r.
func NewReader(r io.Reader, p Protocol) *Reader {
	return &Reader{p: p, r: r, buf: make([]byte, readBufSize)}
}

// Next returns the next reading. A *FrameError means one frame was bad and
// the caller may call Next again; io.EOF means the stream ended; any other
// error is the underlying reader's. After such an error Next may be called
// again: it goes on reading, which suits a serial port whose read failed
// for a moment, and returns the same error again from a reader that stays
// broken.
func (r *Reader) Next() (Reading, error) {
	stalls := 0
	for {
		if r.end > r.start {
			adv, tok, err := r.p.Split(r.buf[r.start:r.end], r.eof)
			final := err == bufio.ErrFinalToken
			if err == nil && (adv < 0 || adv > r.end-r.start) {
				err = fmt.Errorf("split advanced %d bytes of %d", adv, r.end-r.start)
			}
			if err != nil && !final {
				// A broken Split costs what is buffered, not the stream.
				raw := append([]byte(nil), r.buf[r.start:r.end]...)
				r.start = r.end
				return Reading{}, &FrameError{Protocol: r.p.Name(), Raw: raw, Err: err}
			}
			r.start += adv
			if final {
				// The protocol wants nothing after this token.
				r.start, r.end, r.eof = 0, 0, true
			}
			if adv > 0 || final {
				r.stuck = 0
			} else if tok != nil {
				if r.stuck++; r.stuck > maxStalls {
					return Reading{}, io.ErrNoProgress
				}
			}
			if tok != nil {
				if len(tok) > 0 {
					return r.parse(tok)
				}
				continue
			}
			if adv > 0 {
				continue
			}
		}
		if r.eof {
			// What is left, if anything, the Split has declined at EOF.
			r.start, r.end = 0, 0
			return Reading{}, io.EOF
		}
		if r.err != nil {
			err := r.err
			r.err = nil
			return Reading{}, err
		}
		n, fe := r.fill()
		if fe != nil {
			return Reading{}, fe
		}
		if n == 0 && r.err == nil && !r.eof {
			if stalls++; stalls > maxStalls {
				return Reading{}, io.ErrNoProgress
			}
		}
	}
}

// fill reads more of the stream into the buffer and reports how many bytes
// it read. When the Split has found no frame in a full buffer, fill drops
// the oldest bytes instead and returns them as a FrameError.
func (r *Reader) fill() (int, *FrameError) {
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) {
		n := len(r.buf) - MaxFrame
		r.start = n
		return 0, &FrameError{
			Protocol: r.p.Name(),
			Raw:      append([]byte(nil), r.buf[:n]...),
			Err:      fmt.Errorf("no frame found in %d bytes", n),
		}
	}
	n, err := r.r.Read(r.buf[r.end:])
	if n < 0 || n > len(r.buf)-r.end {
		r.err = fmt.Errorf("scale: reader returned %d bytes for a %d-byte buffer", n, len(r.buf)-r.end)
		return 0, nil
	}
	r.end += n
	switch {
	case err == io.EOF:
		r.eof = true
	case err != nil:
		r.err = err
	}
	return n, nil
}

func (r *Reader) parse(tok []byte) (Reading, error) {
	rd, err := r.p.Parse(tok)
	if err != nil {
		return Reading{}, &FrameError{Protocol: r.p.Name(), Raw: append([]byte(nil), tok...), Err: err}
	}
	rd.Raw = string(tok)
	return rd, nil
}

// IsFrameError reports whether err is a recoverable bad frame.
func IsFrameError(err error) bool {
	var fe *FrameError
	return errors.As(err, &fe)
}

// Encoder is implemented by protocols that the indicator simulator can
// speak: Encode renders one reading as the indicator would send it.
type Encoder interface {
	Encode(r Reading) []byte
}
