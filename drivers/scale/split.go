package scale

// Indicator protocols are 7-bit ASCII. A line set up for 7 data bits with
// parity and read as 8 data bits (or the other way round on the indicator's
// side) delivers the parity in bit 7, so every protocol compares bytes with
// bit 7 cleared: the stream decodes either way.
const asciiMask = 0x7f

// Control characters the protocols use.
const (
	stx = 0x02
	etx = 0x03
	lf  = '\n'
	cr  = '\r'
)

// A framer finds the frames of one protocol in a byte stream; its split
// method is the body of each Protocol's Split.
//
// A frame begins with one of heads and ends with one of ends, or, for
// fixed-length frames (ends == ""), after size bytes. Bytes before a head are
// line noise or the tail of a frame the port was opened into; they are
// skipped silently. A candidate frame is cut short at the next head, at size
// bytes, or at the end of the stream, and handed to Parse all the same, so
// that a damaged frame costs exactly one FrameError and decoding resumes on
// the next head.
type framer struct {
	// heads are the ways a frame can begin, all of one length. Nil means
	// a frame begins wherever the last one ended, as lines do; an empty
	// line is then skipped.
	heads []string
	// ends are the bytes that end a frame; "" for fixed-length frames.
	ends string
	// size is the length of a fixed-length frame, or the longest frame
	// including its end byte.
	size int
	// strip leaves the end byte out of the token, as for text lines.
	strip bool

	first [128]bool // first[b] reports whether a head begins with b
	end   [128]bool // end[b] reports whether b is in ends
}

// newFramer returns a framer; see the fields of framer for the arguments.
func newFramer(heads []string, ends string, size int, strip bool) *framer {
	f := &framer{heads: heads, ends: ends, size: size, strip: strip}
	for _, h := range heads {
		if len(h) == 0 || len(h) != len(heads[0]) || len(h) >= size {
			panic("scale: frame heads must be of one length, shorter than the frame")
		}
		f.first[h[0]&asciiMask] = true
	}
	for i := 0; i < len(ends); i++ {
		f.end[ends[i]&asciiMask] = true
	}
	return f
}

// split implements bufio.SplitFunc. It never returns an error, and it
// always advances once it holds f.size bytes, so it cannot stall a Reader
// or a bufio.Scanner. It skips garbage and looks on for a frame in the same
// call, since a bufio.Scanner at EOF stops at the first call that advances
// without a token.
func (f *framer) split(data []byte, atEOF bool) (advance int, token []byte, err error) {
	for advance < len(data) {
		n, tok := f.next(data[advance:], atEOF)
		advance += n
		if tok != nil || n == 0 {
			return advance, tok, nil
		}
	}
	return advance, nil, nil
}

// next is one step of split: it returns a frame at the start of data, or
// how many bytes of garbage to skip, or 0 and nil to ask for more data.
func (f *framer) next(data []byte, atEOF bool) (advance int, token []byte) {
	headLen := 0
	if f.heads == nil {
		if f.isEnd(data[0]) {
			return 1, nil
		}
	} else {
		headLen = len(f.heads[0])
		i, partial := f.findHead(data)
		switch {
		case i < 0:
			return len(data), nil
		case partial && atEOF:
			return len(data), nil
		case partial || i > 0:
			return i, nil
		}
	}
	for i := 1; i < len(data) && i < f.size; i++ {
		if f.heads != nil {
			full, partial := f.headAt(data[i:])
			switch {
			case full && i <= headLen:
				// Nothing but a head, as in STX STX: no frame to report.
				return i, nil
			case full:
				return i, data[:i]
			case partial && !atEOF:
				// Whether a head cuts the frame short here depends on
				// bytes yet to come.
				return 0, nil
			}
		}
		if f.isEnd(data[i]) {
			if f.strip {
				return i + 1, data[:i]
			}
			return i + 1, data[:i+1]
		}
	}
	switch {
	case len(data) >= f.size:
		// A fixed-length frame, or one that runs past the longest frame
		// without its end byte: Parse says which.
		return f.size, data[:f.size]
	case atEOF && len(data) <= headLen:
		return len(data), nil // a head alone at the end: no frame
	case atEOF:
		return len(data), data
	}
	return 0, nil
}

// findHead returns the offset of the first head in data. When data ends in
// what may be the beginning of a head, it returns that offset and partial
// true. It returns -1 when data holds no head at all.
func (f *framer) findHead(data []byte) (i int, partial bool) {
	for i = range data {
		if !f.first[data[i]&asciiMask] {
			continue
		}
		if full, part := f.headAt(data[i:]); full || part {
			return i, part
		}
	}
	return -1, false
}

// headAt reports whether p begins with a head (full), or whether p is too
// short to tell but is the beginning of one (partial).
func (f *framer) headAt(p []byte) (full, partial bool) {
	if len(p) == 0 || !f.first[p[0]&asciiMask] {
		return false, false
	}
	for _, h := range f.heads {
		n := min(len(h), len(p))
		j := 0
		for j < n && p[j]&asciiMask == h[j] {
			j++
		}
		if j == n {
			if n == len(h) {
				return true, false
			}
			partial = true
		}
	}
	return false, partial
}

func (f *framer) isEnd(b byte) bool { return f.end[b&asciiMask] }

// mask7 appends frame to dst with bit 7 of every byte cleared.
func mask7(dst, frame []byte) []byte {
	for _, b := range frame {
		dst = append(dst, b&asciiMask)
	}
	return dst
}
