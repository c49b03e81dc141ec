package scale

import "testing"

func TestSICSDecode(t *testing.T) {
	stable := func(v float64, unit string) Reading {
		return Reading{Gross: kg(v), Stable: true, HasMotion: true, Unit: unit}
	}
	cases := []decodeCase{
		{"stable kg", "S S      24180 kg\r\n", []want{ok(Reading{Gross: kg(24180), Stable: true, HasMotion: true, Unit: "kg", Raw: "S S      24180 kg"})}},
		{"dynamic", "S D      24160 kg\r\n", []want{ok(Reading{Gross: kg(24160), HasMotion: true, Unit: "kg"})}},
		{"negative", "S S     -12.34 kg\r\n", []want{ok(stable(-12.34, "kg"))}},
		{"sign apart", "S S -    12.34 kg\r\n", []want{ok(stable(-12.34, "kg"))}},
		{"tonnes", "S S      24.18 t\r\n", []want{ok(stable(24180, "t"))}},
		{"grams", "S S   100.00 g\r\n", []want{ok(stable(0.1, "g"))}},
		{"pounds", "S S    53300 lb\r\n", []want{ok(stable(53300*0.45359237, "lb"))}},
		{"overload", "S +\r\n", []want{ok(Reading{Overload: true, HasMotion: true})}},
		{"underload", "S -\r\n", []want{ok(Reading{Underload: true, HasMotion: true})}},
		{"answer to SIR", "SIR S      24180 kg\r\n", []want{ok(stable(24180, "kg"))}},
		{"busy", "S I\r\n", []want{badIs(ErrIndicator, "command not executable (S I)")}},
		{"syntax error", "ES\r\n", []want{badIs(ErrIndicator, "syntax error (ES)")}},
		{"transmission error", "ET\r\n", []want{badIs(ErrIndicator, "transmission error (ET)")}},
		{"logical error", "EL\r\n", []want{badIs(ErrIndicator, "logical error (EL)")}},
		{"other reply", "I4 A \"B123456789\"\r\n", []want{bad(`reply "I4" is not a weight reply`)}},
		{"unknown status", "S X      24180 kg\r\n", []want{bad(`status "X" is not S, D, +, -, I or L`)}},
		{"unknown unit", "S S      24180 PCS\r\n", []want{bad(`unit "PCS" is not a unit of weight`)}},
		{"no unit", "S S      24180\r\n", []want{bad(`weight and unit "24180" are not two fields`)}},
		{"CR only and LF only", "S S      24180 kg\rS S      24180 kg\n", []want{ok(stable(24180, "kg")), ok(stable(24180, "kg"))}},
		{"empty lines", "\r\n\r\n\nS S      24180 kg\r\n\r\n", []want{ok(stable(24180, "kg"))}},
		{"opened mid-line", "180 kg\r\nS S      24180 kg\r\n", []want{bad(`reply "180" is not a weight reply`), ok(stable(24180, "kg"))}},
		{"noise in line", "S S   \x0024180 kg\r\nS S      24180 kg\r\n", []want{bad(`unexpected '\x00'`), ok(stable(24180, "kg"))}},
		{"last line unterminated", "S S      24180 kg", []want{ok(stable(24180, "kg"))}},
		{"seven bits with even parity", parity("S S      24180 kg\r\n"), []want{ok(stable(24180, "kg"))}},
		{"line too long", string(make([]byte, 200)) + "\r\nS S      24180 kg\r\n", []want{bad("reply"), bad("reply"), ok(stable(24180, "kg"))}},
	}
	runDecodeCases(t, protocol(t, "sics"), cases)
}

func TestSICSEncode(t *testing.T) {
	runEncodeCases(t, SICS, []encodeCase{
		{Reading{Gross: kg(24180), Stable: true, Unit: "kg"}, "S S      24180 kg\r\n"},
		{Reading{Gross: kg(-12.34), Unit: "kg"}, "S D     -12.34 kg\r\n"},
		{Reading{Gross: kg(24180), Stable: true, Unit: "t"}, "S S      24.18 t\r\n"},
		{Reading{Overload: true}, "S +\r\n"},
		{Reading{Underload: true}, "S -\r\n"},
	})
}
