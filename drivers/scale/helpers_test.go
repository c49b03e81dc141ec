package scale

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
)

// kg returns a pointer to v, for expected weights.
func kg(v float64) *float64 { return &v }

// hasMotion is rd as a protocol with a motion flag decodes it.
func hasMotion(rd Reading) Reading { rd.HasMotion = true; return rd }

// want is the expected result of one call of Reader.Next: a reading, or,
// when err is set, a *FrameError whose message contains err.
type want struct {
	r     Reading
	isErr bool
	err   string
	is    error // if set, the error must match it with errors.Is
}

// ok, bad and badIs build wants.
func ok(r Reading) want                 { return want{r: r} }
func bad(substr string) want            { return want{isErr: true, err: substr} }
func badIs(e error, substr string) want { return want{isErr: true, err: substr, is: e} }

// decodeCase is one stream and what decoding it must give.
type decodeCase struct {
	name string
	in   string
	want []want
}

// outcome is what one call of Reader.Next returned.
type outcome struct {
	r   Reading
	err error
}

func (o outcome) String() string {
	if o.err != nil {
		return "error: " + o.err.Error()
	}
	return describe(o.r)
}

// maxOutcomes bounds decodeAll so that a Reader that fails to terminate
// fails the test instead of hanging it.
func maxOutcomes(n int) int { return 2*n + 16 }

// decodeAll decodes every reading of in, up to io.EOF, reading it through
// wrap (nil for none). It fails t on any error but a *FrameError, and if
// the Reader does not reach io.EOF.
func decodeAll(t testing.TB, p Protocol, in []byte, wrap func(io.Reader) io.Reader) []outcome {
	t.Helper()
	var src io.Reader = bytes.NewReader(in)
	if wrap != nil {
		src = wrap(src)
	}
	rd := NewReader(src, p)
	var out []outcome
	for range maxOutcomes(len(in)) {
		r, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil && !IsFrameError(err) {
			t.Fatalf("Next: %v, want a reading, a *FrameError or io.EOF", err)
		}
		out = append(out, outcome{r, err})
	}
	t.Fatalf("no io.EOF after %d results from %d bytes", maxOutcomes(len(in)), len(in))
	return nil
}

// runDecodeCases decodes each case whole and one byte at a time, and
// checks the results against the case.
func runDecodeCases(t *testing.T, p Protocol, cases []decodeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeAll(t, p, []byte(c.in), nil)
			checkOutcomes(t, got, c.want)
			bytewise := decodeAll(t, p, []byte(c.in), iotest.OneByteReader)
			if !sameOutcomes(got, bytewise) {
				t.Errorf("decoding one byte at a time gives\n%s\nwhole gives\n%s", list(bytewise), list(got))
			}
		})
	}
}

// encodeCase is a reading and the frame that must render it.
type encodeCase struct {
	r    Reading
	want string
}

// runEncodeCases checks that enc renders each case's reading as its frame.
func runEncodeCases(t *testing.T, enc Encoder, cases []encodeCase) {
	t.Helper()
	for _, c := range cases {
		if got := string(enc.Encode(c.r)); got != c.want {
			t.Errorf("Encode(%s) = %q, want %q", describe(c.r), got, c.want)
		}
	}
}

func checkOutcomes(t *testing.T, got []outcome, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d results, want %d:\n%s", len(got), len(wants), list(got))
	}
	for i, w := range wants {
		g := got[i]
		if w.isErr {
			if g.err == nil {
				t.Errorf("result %d: got %s, want an error containing %q", i, g, w.err)
				continue
			}
			if !strings.Contains(g.err.Error(), w.err) {
				t.Errorf("result %d: error %q does not contain %q", i, g.err, w.err)
			}
			if w.is != nil && !errors.Is(g.err, w.is) {
				t.Errorf("result %d: error %q is not %v", i, g.err, w.is)
			}
			continue
		}
		if g.err != nil {
			t.Errorf("result %d: %v, want %s", i, g.err, describe(w.r))
			continue
		}
		if diff := diffReading(g.r, w.r); diff != "" {
			t.Errorf("result %d: %s\n got %s\nwant %s", i, diff, describe(g.r), describe(w.r))
		}
	}
}

// diffReading compares got with w: weights to a relative 1e-9, Division
// and Raw only when w sets them, everything else exactly.
func diffReading(got, w Reading) string {
	var d []string
	cmp := func(name string, g, w *float64) {
		switch {
		case (g == nil) != (w == nil):
			d = append(d, name+" presence differs")
		case g != nil && !near(*g, *w):
			d = append(d, fmt.Sprintf("%s %v, want %v", name, *g, *w))
		}
	}
	cmp("gross", got.Gross, w.Gross)
	cmp("tare", got.Tare, w.Tare)
	cmp("net", got.Net, w.Net)
	if w.Division != 0 && !near(got.Division, w.Division) {
		d = append(d, fmt.Sprintf("division %v, want %v", got.Division, w.Division))
	}
	if w.Raw != "" && got.Raw != w.Raw {
		d = append(d, fmt.Sprintf("raw %q, want %q", got.Raw, w.Raw))
	}
	g, ww := got, w
	g.Gross, g.Tare, g.Net, g.Division, g.Raw = nil, nil, nil, 0, ""
	ww.Gross, ww.Tare, ww.Net, ww.Division, ww.Raw = nil, nil, nil, 0, ""
	if g != ww {
		d = append(d, fmt.Sprintf("flags %+v, want %+v", g, ww))
	}
	return strings.Join(d, "; ")
}

func near(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func sameOutcomes(a, b []outcome) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].String() != b[i].String() || a[i].r.Raw != b[i].r.Raw {
			return false
		}
	}
	return true
}

func list(out []outcome) string {
	var b strings.Builder
	for _, o := range out {
		b.WriteString("\t" + o.String() + "\n")
	}
	return b.String()
}

// describe renders a reading on one line, for failure messages and golden
// files.
func describe(r Reading) string {
	var b strings.Builder
	w := func(name string, v *float64) {
		if v != nil {
			fmt.Fprintf(&b, "%s=%v ", name, *v)
		}
	}
	w("gross", r.Gross)
	w("tare", r.Tare)
	w("net", r.Net)
	if r.HasMotion {
		fmt.Fprintf(&b, "stable=%v ", r.Stable)
	}
	for _, f := range []struct {
		set  bool
		name string
	}{{r.Overload, "overload"}, {r.Underload, "underload"}, {r.Zero, "zero"}} {
		if f.set {
			b.WriteString(f.name + " ")
		}
	}
	if r.Unit != "" {
		fmt.Fprintf(&b, "unit=%s ", r.Unit)
	}
	if r.Division != 0 {
		fmt.Fprintf(&b, "division=%v ", r.Division)
	}
	fmt.Fprintf(&b, "raw=%q", r.Raw)
	return b.String()
}

// parity sets bit 7 of each byte of s for even parity, as a 7E1 line read
// as 8N1 delivers it.
func parity(s string) string {
	b := []byte(s)
	for i, c := range b {
		ones := 0
		for v := c; v != 0; v &= v - 1 {
			ones++
		}
		if ones%2 == 1 {
			b[i] = c | 0x80
		}
	}
	return string(b)
}

// protocol returns the registered protocol name, failing t if there is
// none.
func protocol(t testing.TB, name string) Protocol {
	t.Helper()
	p, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
