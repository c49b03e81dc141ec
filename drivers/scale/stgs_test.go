package scale

import "testing"

func TestSTGSDecode(t *testing.T) {
	const line = "ST,GS,+0012450kg\r\n"
	gross := hasMotion(Reading{Gross: kg(12450), Stable: true, Unit: "kg"})
	cases := []decodeCase{
		{"gross", line, []want{ok(hasMotion(Reading{Gross: kg(12450), Stable: true, Unit: "kg", Raw: "ST,GS,+0012450kg"}))}},
		{"spaces", "ST,GS,+  12450 kg\r\n", []want{ok(gross)}},
		{"unstable net", "US,NT,-0001.25t\r\n", []want{ok(hasMotion(Reading{Net: kg(-1250), Unit: "t"}))}},
		{"tare", "ST,TR,+0005000kg\r\n", []want{ok(hasMotion(Reading{Tare: kg(5000), Stable: true, Unit: "kg"}))}},
		{"pounds", "ST,GS,+0053300lb\r\n", []want{ok(hasMotion(Reading{Gross: kg(53300 * 0.45359237), Stable: true, Unit: "lb"}))}},
		{"A&D without mode", "ST,+00012.45  g\r\n", []want{ok(hasMotion(Reading{Gross: kg(0.01245), Stable: true, Unit: "g"}))}},
		{"unit after comma", "ST,GS,  12.450,t\r\n", []want{ok(hasMotion(Reading{Gross: kg(12450), Stable: true, Unit: "t"}))}},
		{"upper-case unit", "ST,GS,+0012450KG\r\n", []want{ok(gross)}},
		{"overload blank", "OL,GS,+           \r\n", []want{ok(hasMotion(Reading{Overload: true}))}},
		{"underload blank", "OL,GS,-           \r\n", []want{ok(hasMotion(Reading{Underload: true}))}},
		{"overload with weight", "OL,GS,+9999999kg\r\n", []want{ok(hasMotion(Reading{Gross: kg(9999999), Overload: true, Unit: "kg"}))}},
		{"bad mode", "ST,XX,+0012450kg\r\n", []want{bad(`mode "XX" is not GS, NT or TR`)}},
		{"no unit", "ST,GS,+0012450\r\n", []want{bad(`unit field "" is blank`)}},
		{"bad unit", "ST,GS,+0012450pcs\r\n", []want{bad(`unit "pcs" is not a unit of weight`)}},
		{"bad weight", "ST,GS,+00x2450kg\r\n", []want{bad(`weight "+00x2450" is not a number: unexpected 'x' at offset 3`)}},
		{"two signs", "ST,GS,+-012450kg\r\n", []want{bad(`weight "+-012450" is not a number: unexpected '-' at offset 1`)}},
		{"opened mid-line", "450kg\r\n" + line, []want{ok(gross)}},
		{"garbage before header", "\xff\x00xxST,GS,+0012450kg\r\n", []want{ok(gross)}},
		{"other lines skipped", "QT,+0000012PC\r\n" + line, []want{ok(gross)}},
		{"dropped line end", "ST,GS,+0012450kgST,GS,+0012450kg\r\n", []want{ok(gross), ok(gross)}},
		{"truncated then good", "ST,GS,+00" + line, []want{bad(`unit field "" is blank`), ok(gross)}},
		{"header alone at end", line + "ST,", []want{ok(gross)}},
		{"LF only", "ST,GS,+0012450kg\nST,GS,+0012450kg\n", []want{ok(gross), ok(gross)}},
		{"seven bits with even parity", parity(line), []want{ok(gross)}},
	}
	runDecodeCases(t, protocol(t, "stgs"), cases)
}

func TestSTGSEncode(t *testing.T) {
	runEncodeCases(t, STGS, []encodeCase{
		{Reading{Gross: kg(12450), Stable: true, Unit: "kg"}, "ST,GS,+0012450kg\r\n"},
		{Reading{Gross: kg(12450), Tare: kg(0), Net: kg(12450), Stable: true}, "ST,GS,+0012450kg\r\n"},
		{Reading{Net: kg(12450), Stable: true}, "ST,NT,+0012450kg\r\n"},
		{Reading{Gross: kg(29180), Tare: kg(5000), Net: kg(24180), Unit: "t"}, "US,NT,+0024.18t\r\n"},
		{Reading{Tare: kg(5000), Stable: true}, "ST,TR,+0005000kg\r\n"},
		{Reading{Overload: true, Stable: true}, "OL,GS,+       kg\r\n"},
		{Reading{Underload: true, Stable: true}, "OL,GS,-       kg\r\n"},
	})
}
