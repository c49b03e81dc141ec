package scale

import "testing"

// RLWS frames from the Rice Lake stream layout: STX, polarity, seven
// characters of weight, unit, G/N, status, CR LF.
func TestRLWSDecode(t *testing.T) {
	const gross = "\x02   24180KG \r\n"
	grossKg := hasMotion(Reading{Gross: kg(24180), Stable: true, Unit: "kg"})
	cases := []decodeCase{
		{"gross", gross, []want{ok(hasMotion(Reading{Gross: kg(24180), Stable: true, Unit: "kg", Raw: "\x02   24180KG \r"}))}},
		{"CR only", "\x02   24180KG \r\x02   24180KG \r", []want{ok(grossKg), ok(grossKg)}},
		{"net negative pounds", "\x02-   1200LN \r\n", []want{ok(hasMotion(Reading{Net: kg(-1200 * 0.45359237), Stable: true, Unit: "lb"}))}},
		{"motion", "\x02   24160KGM\r\n", []want{ok(hasMotion(Reading{Gross: kg(24160), Unit: "kg"}))}},
		{"centre of zero", "\x02       0KGZ\r\n", []want{ok(hasMotion(Reading{Gross: kg(0), Stable: true, Zero: true, Unit: "kg"}))}},
		{"tons with decimals", "\x02  24.180TG \r\n", []want{ok(hasMotion(Reading{Gross: kg(24180), Stable: true, Unit: "t"}))}},
		{"leading zero before point", "\x02   0.500KG \r\n", []want{ok(hasMotion(Reading{Gross: kg(0.5), Stable: true, Unit: "kg"}))}},
		{"grams and ounces", "\x02    1500GG \r\n\x02      16OG \r\n", []want{
			ok(hasMotion(Reading{Gross: kg(1.5), Stable: true, Unit: "g"})),
			ok(hasMotion(Reading{Gross: kg(16 * 0.028349523125), Stable: true, Unit: "oz"})),
		}},
		{"over range", "\x02  999999KGO\r\n", []want{ok(hasMotion(Reading{Gross: kg(999999), Overload: true, Unit: "kg"}))}},
		{"under range", "\x02-    150KGO\r\n", []want{ok(hasMotion(Reading{Gross: kg(-150), Underload: true, Unit: "kg"}))}},
		{"over range dashes", "\x02 -------KGO\r\n", []want{ok(hasMotion(Reading{Overload: true, Unit: "kg"}))}},
		{"invalid", "\x02   24180KGI\r\n", []want{badIs(ErrIndicator, "weight flagged invalid (status I)")}},
		{"bad unit", "\x02   24180XG \r\n", []want{bad(`unit 'X' is not L, K, T, G or O`)}},
		{"bad mode", "\x02   24180KT \r\n", []want{bad(`mode 'T' is not G or N`)}},
		{"bad status", "\x02   24180KGQ\r\n", []want{bad(`status 'Q'`)}},
		{"bad polarity", "\x02+  24180KG \r\n", []want{bad(`polarity '+' is not space or '-'`)}},
		{"leading garbage", "180KG \r\n\xfe\x00" + gross, []want{ok(grossKg)}},
		{"truncated then good", "\x02   241" + gross, []want{bad("frame is 7 bytes, want 13"), ok(grossKg)}},
		{"dropped CR", "\x02   24180KG \n" + gross, []want{bad(`frame runs from '\x02' to '\n', want STX to CR`), ok(grossKg)}},
		{"seven bits with even parity", parity(gross), []want{ok(grossKg)}},
	}
	runDecodeCases(t, protocol(t, "rlws"), cases)
}

func TestRLWSEncode(t *testing.T) {
	runEncodeCases(t, RLWS, []encodeCase{
		{Reading{Gross: kg(24180), Stable: true, Unit: "kg"}, "\x02   24180KG \r\n"},
		{Reading{Gross: kg(29180), Tare: kg(5000), Net: kg(24180), Unit: "t"}, "\x02   24.18TNM\r\n"},
		{Reading{Gross: kg(0), Stable: true, Zero: true}, "\x02       0KGZ\r\n"},
		{Reading{Gross: kg(-150), Stable: true, Underload: true}, "\x02-    150KGO\r\n"},
	})
}
