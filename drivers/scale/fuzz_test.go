package scale

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
)

// Each fuzz target is seeded from the captured-style streams under
// testdata/<protocol>/, frames of every protocol (a port configured with
// the wrong protocol is a real fault) and the cases below.

func FuzzToledo(f *testing.F) {
	fuzzProtocol(f, "toledo", tolGross+"(", tolCks2+"\x02"+tolGross, tolNetNeg, tolByFiveC, tolBlankOver, "\x02*0'024180000000\r")
}

func FuzzSICS(f *testing.F) {
	fuzzProtocol(f, "sics", "S S     -12.34 kg\r\n", "S +\r\nS -\r\nS I\r\nES\r\n", "SIR D   1.5 t\n", "S S - 1 lb")
}

func FuzzSMA(f *testing.F) {
	fuzzProtocol(f, "sma", "\nO1G   ^^^^^^^^^^kg \r", "\n?\r\n!\r", "\nSMA:2/1.0\r", "\n 1n     -0.005lb \r\n")
}

func FuzzXK3190(f *testing.F) {
	fuzzProtocol(f, "xk3190", xkCaptured1560, "\x02-0012001"+"1F"+"\x03", "\x02+0000000"+"1;"+"\x03")
}

func FuzzXK3190EQ(f *testing.F) {
	fuzzProtocol(f, "xk3190-eq", "=00.1000-=000.3000", "=0.1.2000", "===")
}

func FuzzRLWS(f *testing.F) {
	fuzzProtocol(f, "rlws", "\x02-   1200LN \r\n", "\x02 -------KGO\r", "\x02  24.180TGZ\r")
}

func FuzzSTGS(f *testing.F) {
	fuzzProtocol(f, "stgs", "ST,+00012.45  g\r\n", "OL,GS,-           \r\n", "ST,GS,  12.450,t\r\n", "US,NT,-0001.25t\nST,")
}

func fuzzProtocol(f *testing.F, name string, seeds ...string) {
	p := protocol(f, name)
	for _, s := range streams(f, name) {
		f.Add(s.data)
	}
	for _, other := range Names() {
		f.Add(protocol(f, other).(Encoder).Encode(Reading{Gross: kg(24180), Stable: true, Unit: "kg"}))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkStream(t, p, data) })
}

// checkStream checks what must hold for any input: decoding ends in
// io.EOF without panics or errors other than frame errors, gives the same
// results whatever the read sizes, and yields only finite weights from
// frames found in the input; Split advances within its data and never
// stalls on a full frame's worth of it; Encode renders any decoded reading
// as a frame that decodes again.
func checkStream(t *testing.T, p Protocol, data []byte) {
	whole := decodeAll(t, p, data, nil)
	for _, wrap := range []func(r io.Reader) io.Reader{iotest.OneByteReader, iotest.DataErrReader} {
		if other := decodeAll(t, p, data, wrap); !sameOutcomes(whole, other) {
			t.Fatalf("results depend on read sizes:\n%s\nversus\n%s", list(whole), list(other))
		}
	}
	for _, o := range whole {
		if o.err != nil {
			continue
		}
		checkReading(t, o.r)
		if o.r.Raw == "" || !bytes.Contains(data, []byte(o.r.Raw)) {
			t.Fatalf("reading from %q, which is not in the input", o.r.Raw)
		}
		frame := p.(Encoder).Encode(o.r)
		again := decodeAll(t, p, frame, nil)
		if len(again) != 1 || again[0].err != nil {
			t.Fatalf("%s re-encoded as %q decodes as\n%s", describe(o.r), frame, list(again))
		}
	}
	if r, err := p.Parse(data); err == nil {
		checkReading(t, r)
	}
	for _, atEOF := range []bool{false, true} {
		adv, tok, err := p.Split(data, atEOF)
		if err != nil || adv < 0 || adv > len(data) || len(tok) > len(data) {
			t.Fatalf("Split(%d bytes, %v) = %d, %d bytes, %v", len(data), atEOF, adv, len(tok), err)
		}
		if len(data) >= MaxFrame && adv == 0 {
			t.Fatalf("Split(%d bytes, %v) does not advance", len(data), atEOF)
		}
	}
}

func checkReading(t *testing.T, r Reading) {
	for _, w := range []*float64{r.Gross, r.Tare, r.Net, &r.Division} {
		if w != nil && (math.IsNaN(*w) || math.IsInf(*w, 0)) {
			t.Fatalf("reading with a weight of %v: %s", *w, describe(r))
		}
	}
	if strings.ContainsAny(r.Unit, " \x00") {
		t.Fatalf("unit %q", r.Unit)
	}
}
