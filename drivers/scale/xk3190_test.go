package scale

import "testing"

// XK3190-A9 frames; the first two are as captured from an indicator
// (02 2B 30 30 31 35 36 30 30 31 39 03 with 1560 kg on the bridge).
const (
	xkCaptured1560 = "\x02+0015600" + "19" + "\x03"
	xkCapturedZero = "\x02+0000000" + "1B" + "\x03"
	xk24180        = "\x02+0241800" + "14" + "\x03"
)

func TestXK3190Decode(t *testing.T) {
	gross := func(v float64) Reading { return Reading{Gross: kg(v)} }
	cases := []decodeCase{
		{"captured", xkCaptured1560 + xkCapturedZero, []want{ok(Reading{Gross: kg(1560), Raw: xkCaptured1560}), ok(gross(0))}},
		{"negative one decimal", "\x02-0012001" + "1F" + "\x03", []want{ok(gross(-120))}},
		{"two decimals", "\x02+0241802" + "16" + "\x03", []want{ok(gross(241.8))}},
		{"four decimals", "\x02+9999994" + "1F" + "\x03", []want{ok(gross(99.9999))}},
		{"lower-case check", "\x02+0015600" + "19" + "\x03\x02+0000000" + "1b" + "\x03", []want{ok(gross(1560)), ok(gross(0))}},
		{"check as nibble plus '0'", "\x02+0000000" + "1;" + "\x03", []want{ok(gross(0))}},
		{"bad check", "\x02+0241800" + "15" + "\x03" + xk24180, []want{badIs(ErrChecksum, `check characters "15", want 14`), ok(gross(24180))}},
		{"five decimals", "\x02+0241805" + "11" + "\x03", []want{bad(`decimal places '5' is not a digit from 0 to 4`)}},
		{"bad sign", "\x02 0241800" + "1F" + "\x03", []want{bad(`sign ' ' is not + or -`)}},
		{"leading garbage", "180014\x03\xff\x00" + xk24180, []want{ok(gross(24180))}},
		{"truncated then good", "\x02+02418" + xk24180, []want{bad("frame is 7 bytes, want 12"), ok(gross(24180))}},
		{"no ETX", "\x02+0241800" + "14" + "\x00" + xk24180, []want{bad(`frame runs from '\x02' to '\x00', want STX to ETX`), ok(gross(24180))}},
		{"seven bits with even parity", parity(xk24180), []want{ok(gross(24180))}},
	}
	runDecodeCases(t, protocol(t, "xk3190"), cases)
}

func TestXK3190Encode(t *testing.T) {
	runEncodeCases(t, XK3190, []encodeCase{
		{Reading{Gross: kg(1560)}, xkCaptured1560},
		{Reading{Gross: kg(0)}, xkCapturedZero},
		{Reading{Gross: kg(-120)}, "\x02-0001200" + "1E" + "\x03"},
		{Reading{Gross: kg(2418.25)}, "\x02+2418252" + "11" + "\x03"},
	})
}

func TestXK3190EQDecode(t *testing.T) {
	gross := func(v float64) Reading { return Reading{Gross: kg(v)} }
	cases := []decodeCase{
		// The examples of the XK3190-A23P and A26 manuals.
		{"3.000", "=000.3000=000.3000", []want{ok(gross(3)), ok(gross(3))}},
		{"-1.00", "=00.1000-=00.1000-", []want{ok(gross(-1)), ok(gross(-1))}},
		{"24180", "=08142000", []want{ok(Reading{Gross: kg(24180), Raw: "=08142000"})}},
		{"space sign", "=0814200 ", []want{ok(gross(24180))}},
		{"bad sign", "=0814200x", []want{bad(`sign 'x' is not '0' or '-'`)}},
		{"two points", "=0.1.2000", []want{bad(`display "002.1.0" is not a number: unexpected '.' at offset 5`)}},
		{"opened mid-frame", "142000=08142000", []want{ok(gross(24180))}},
		{"dropped byte", "=0814200=08142000", []want{bad("frame is 8 bytes, want 9"), ok(gross(24180))}},
		{"noise", "=08\x0042000=08142000", []want{bad(`unexpected '\x00'`), ok(gross(24180))}},
		{"truncated at end", "=08142000=081", []want{ok(gross(24180)), bad("frame is 4 bytes, want 9")}},
		{"equals alone", "===08142000=", []want{ok(gross(24180))}},
		{"seven bits with even parity", parity("=08142000"), []want{ok(gross(24180))}},
	}
	runDecodeCases(t, protocol(t, "xk3190-eq"), cases)
}

func TestXK3190EQEncode(t *testing.T) {
	runEncodeCases(t, XK3190EQ, []encodeCase{
		{Reading{Gross: kg(24180)}, "=08142000"},
		{Reading{Gross: kg(3)}, "=30000000"},
		{Reading{Gross: kg(-1)}, "=1000000-"},
		{Reading{Gross: kg(-1.25)}, "=52.1000-"},
	})
}
