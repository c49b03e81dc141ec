package scale

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// The protocol names of interfaces.md §3, which are part of the config
// contract.
var contractNames = []string{"rlws", "sics", "sma", "stgs", "toledo", "xk3190", "xk3190-eq"}

func TestRegistry(t *testing.T) {
	if got := Names(); !slices.Equal(got, contractNames) {
		t.Fatalf("Names() = %q, want %q", got, contractNames)
	}
	for _, name := range contractNames {
		p := protocol(t, name)
		if p.Name() != name {
			t.Errorf("Lookup(%q).Name() = %q", name, p.Name())
		}
		if _, ok := p.(Encoder); !ok {
			t.Errorf("%s does not implement Encoder", name)
		}
	}
	_, err := Lookup("mettler")
	if err == nil || !strings.Contains(err.Error(), `"mettler"`) || !strings.Contains(err.Error(), "toledo") {
		t.Errorf("Lookup of an unknown name: %v, want an error naming it and the known ones", err)
	}
}

func TestPollers(t *testing.T) {
	for name, req := range map[string]string{"sics": "SI\r\n", "sma": "\nW\r"} {
		p, ok := protocol(t, name).(Poller)
		if !ok {
			t.Errorf("%s does not implement Poller", name)
			continue
		}
		if got := string(p.Request()); got != req {
			t.Errorf("%s Request() = %q, want %q", name, got, req)
		}
	}
	for _, name := range []string{"toledo", "xk3190", "xk3190-eq", "rlws", "stgs"} {
		if _, ok := protocol(t, name).(Poller); ok {
			t.Errorf("%s implements Poller, but its indicators only stream", name)
		}
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering toledo twice did not panic")
		}
	}()
	Register(Toledo{})
}

func TestFrameError(t *testing.T) {
	_, err := NewReader(strings.NewReader("\x02*0 024180000000\r)"), Toledo{}).Next()
	var fe *FrameError
	if !errors.As(err, &fe) {
		t.Fatalf("Next: %v, want a *FrameError", err)
	}
	if fe.Protocol != "toledo" || string(fe.Raw) != "\x02*0 024180000000\r)" || !errors.Is(err, ErrChecksum) {
		t.Errorf("FrameError = %+v", fe)
	}
	const msg = `toledo: bad frame "\x02*0 024180000000\r)": checksum mismatch: checksum character is 0x29, want 0x28`
	if err.Error() != msg {
		t.Errorf("Error() = %q\nwant      %q", err, msg)
	}
}

// stallingProtocol never finds a frame and never advances, as a careless
// Split may behave.
type stallingProtocol struct{ Protocol }

func (stallingProtocol) Name() string { return "stall" }
func (stallingProtocol) Split(data []byte, atEOF bool) (int, []byte, error) {
	return 0, nil, nil
}

// repeatingProtocol returns a token without advancing.
type repeatingProtocol struct{ Protocol }

func (repeatingProtocol) Split(data []byte, atEOF bool) (int, []byte, error) {
	return 0, data, nil
}

// failingProtocol's Split returns an error.
type failingProtocol struct{ Protocol }

func (failingProtocol) Split(data []byte, atEOF bool) (int, []byte, error) {
	return 0, nil, errors.New("split failed")
}

func TestReaderSurvivesBadSplits(t *testing.T) {
	in := bytes.Repeat([]byte("ST,GS,+0012450kg\r\n"), 200)
	for _, p := range []Protocol{stallingProtocol{STGS}, repeatingProtocol{STGS}, failingProtocol{STGS}} {
		rd := NewReader(bytes.NewReader(in), p)
		var frameErrs, others int
		for n := 0; ; n++ {
			if n > 1000 {
				t.Fatalf("%T: Reader did not terminate", p)
			}
			_, err := rd.Next()
			if err == io.EOF || err == io.ErrNoProgress {
				break
			}
			switch {
			case IsFrameError(err):
				frameErrs++
			case err != nil:
				others++
			}
		}
		if others != 0 {
			t.Errorf("%T: %d errors that are neither frame errors nor the end", p, others)
		}
	}
}

// zeroReader returns no data and no error, as a serial port with a read
// timeout does while the line is quiet.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	_, err := NewReader(zeroReader{}, STGS).Next()
	if err != io.ErrNoProgress {
		t.Errorf("Next on a reader that returns nothing: %v, want io.ErrNoProgress", err)
	}
}

// flakyReader fails once after the first line, then goes on.
type flakyReader struct {
	data   []byte
	failed bool
}

var errFlaky = errors.New("flaky")

func (f *flakyReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.data[:min(len(f.data), 18)])
	f.data = f.data[n:]
	if !f.failed {
		f.failed = true
		return n, errFlaky
	}
	return n, nil
}

func TestReaderResumesAfterReadError(t *testing.T) {
	const line = "ST,GS,+0012450kg\r\n"
	rd := NewReader(&flakyReader{data: []byte(line + line)}, STGS)
	var got []string
	for range 10 {
		r, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			got = append(got, err.Error())
			continue
		}
		got = append(got, r.Raw)
	}
	want := []string{"ST,GS,+0012450kg", "flaky", "ST,GS,+0012450kg"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReaderGarbageWithoutFrames(t *testing.T) {
	// Megabytes of bytes that never form a frame must be consumed in
	// bounded memory and end in io.EOF.
	noise := bytes.Repeat([]byte("\x00\xff\x55\x10garbage"), 1<<17)
	for _, name := range contractNames {
		p := protocol(t, name)
		for _, wrap := range []func(io.Reader) io.Reader{nil, iotest.HalfReader} {
			out := decodeAll(t, p, noise, wrap)
			for _, o := range out {
				if o.err == nil {
					t.Errorf("%s: noise decoded as %s", name, o)
				}
				if fe := (*FrameError)(nil); errors.As(o.err, &fe) && len(fe.Raw) > MaxFrame {
					t.Errorf("%s: frame error of %d bytes, more than MaxFrame", name, len(fe.Raw))
				}
			}
		}
	}
}

func TestReaderEmptyStream(t *testing.T) {
	for _, name := range contractNames {
		rd := NewReader(strings.NewReader(""), protocol(t, name))
		for range 2 {
			if _, err := rd.Next(); err != io.EOF {
				t.Errorf("%s: Next on an empty stream: %v, want io.EOF", name, err)
			}
		}
	}
}

// TestSplitWithScanner checks that each Split is a bufio.SplitFunc that a
// bufio.Scanner with a MaxFrame buffer can drive through noise and the
// captured-style streams without stopping, and that it finds the frames a
// Reader finds.
func TestSplitWithScanner(t *testing.T) {
	noise := bytes.Repeat([]byte("\x00\xff\x55\x10garbage\r\n\x02=ST,"), 1<<12)
	for _, name := range contractNames {
		p := protocol(t, name)
		files, _ := filepath.Glob(filepath.Join("testdata", name, "*.bin"))
		for _, file := range files {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in = append(append(noise[:len(noise):len(noise)], in...), noise...)
			sc := bufio.NewScanner(bytes.NewReader(in))
			sc.Buffer(make([]byte, MaxFrame), MaxFrame)
			sc.Split(p.Split)
			var tokens []string
			for sc.Scan() {
				tokens = append(tokens, sc.Text())
			}
			if err := sc.Err(); err != nil {
				t.Errorf("%s: Scanner stopped: %v", file, err)
			}
			var raws []string
			for _, o := range decodeAll(t, p, in, nil) {
				var fe *FrameError
				if errors.As(o.err, &fe) {
					raws = append(raws, string(fe.Raw))
				} else {
					raws = append(raws, o.r.Raw)
				}
			}
			if !slices.Equal(tokens, raws) {
				i := 0
				for i < len(tokens) && i < len(raws) && tokens[i] == raws[i] {
					i++
				}
				t.Errorf("%s: Scanner finds %d frames, Reader %d; first difference at %d: %q versus %q", file, len(tokens), len(raws), i, tokens[i:min(i+3, len(tokens))], raws[i:min(i+3, len(raws))])
			}
		}
	}
}
