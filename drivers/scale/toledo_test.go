package scale

import (
	"testing"
)

// Toledo frames from the layout in the Mettler Toledo manuals. Status word
// A '*' (0x2A) is XXXXXX with count-by 1; status word B '0' (0x30) is
// gross, positive, in range, stable, kg; status word C ' ' (0x20) defers
// to B for the unit. Checksums were computed independently.
const (
	tolGross     = "\x02*0 024180000000\r"  // checksum 0x28 '('
	tolNet       = "\x02*1 024180005000\r"  // checksum 0x22 '"'
	tolCks2      = "\x02*0 024180029999\r"  // its checksum is STX
	tolNetNeg    = "\x02*3 001200005000\r"  // checksum 0x2c ','
	tolMotion    = "\x02*8 024180000000\r"  // checksum 0x20 ' '
	tolOver      = "\x02*4 999999000000\r"  // checksum 0x7d '}'
	tolUnder     = "\x02*6 000100000000\r"  // checksum 0x30 '0'
	tolPounds    = "\x02*  053300000000\r"  // B bit 4 clear: lb
	tolTonnes    = "\x02,0\"002418000000\r" // A code 4 XXXX.XX, C code 2 t
	tolByTwenty  = "\x021  002418000000\r"  // A code 1 XXXXX0, count-by 2; lb
	tolByFiveC   = "\x0280 000245000000\r"  // A code 0 XXXX00, count-by 5
	tolBlankOver = "\x02*4       000000\r"  // out of range, weight blanked
)

func TestToledoDecode(t *testing.T) {
	stable := func(r Reading) Reading { r.Stable, r.HasMotion = true, true; return r }
	gross24180 := stable(Reading{Gross: kg(24180), Tare: kg(0), Unit: "kg", Division: 1})
	cases := []decodeCase{
		{"gross without checksum", tolGross, []want{ok(Reading{Gross: kg(24180), Tare: kg(0), Stable: true, HasMotion: true, Unit: "kg", Division: 1, Raw: tolGross})}},
		{"gross with checksum", tolGross + "(", []want{ok(Reading{Gross: kg(24180), Tare: kg(0), Stable: true, HasMotion: true, Unit: "kg", Raw: tolGross + "("})}},
		{"stream with checksums", tolGross + "(" + tolNet + "\"" + tolGross + "(", []want{
			ok(gross24180),
			ok(stable(Reading{Gross: kg(29180), Tare: kg(5000), Net: kg(24180), Unit: "kg"})),
			ok(gross24180),
		}},
		{"stream without checksums", tolGross + tolNet + tolGross, []want{
			ok(gross24180),
			ok(stable(Reading{Gross: kg(29180), Tare: kg(5000), Net: kg(24180), Unit: "kg"})),
			ok(gross24180),
		}},
		{"net negative", tolNetNeg + ",", []want{ok(stable(Reading{Gross: kg(3800), Tare: kg(5000), Net: kg(-1200), Unit: "kg"}))}},
		{"motion", tolMotion + " ", []want{ok(Reading{Gross: kg(24180), Tare: kg(0), HasMotion: true, Unit: "kg"})}},
		{"overload", tolOver + "}", []want{ok(stable(Reading{Gross: kg(999999), Tare: kg(0), Overload: true, Unit: "kg"}))}},
		{"underload", tolUnder + "0", []want{ok(stable(Reading{Gross: kg(-100), Tare: kg(0), Underload: true, Unit: "kg"}))}},
		{"overload blanked", tolBlankOver, []want{ok(stable(Reading{Overload: true, Unit: "kg"}))}},
		{"pounds", tolPounds, []want{ok(stable(Reading{Gross: kg(53300 * 0.45359237), Tare: kg(0), Unit: "lb", Division: 0.45359237}))}},
		{"tonnes two decimals", tolTonnes, []want{ok(stable(Reading{Gross: kg(24180), Tare: kg(0), Unit: "t", Division: 10}))}},
		{"count by 2 tens", tolByTwenty, []want{ok(stable(Reading{Gross: kg(24180 * 0.45359237), Tare: kg(0), Unit: "lb", Division: 20 * 0.45359237}))}},
		{"count by 5 hundreds", tolByFiveC, []want{ok(stable(Reading{Gross: kg(24500), Tare: kg(0), Unit: "kg", Division: 500}))}},
		{"checksum that is STX", tolCks2 + "\x02" + tolGross + "(", []want{
			ok(stable(Reading{Gross: kg(24180), Tare: kg(29999), Unit: "kg"})),
			ok(gross24180),
		}},
		{"checksum STX at end of stream", tolCks2 + "\x02", []want{ok(stable(Reading{Gross: kg(24180), Tare: kg(29999), Unit: "kg", Raw: tolCks2 + "\x02"}))}},
		{"no checksum where it would be STX", tolCks2 + tolGross, []want{
			ok(stable(Reading{Gross: kg(24180), Tare: kg(29999), Unit: "kg", Raw: tolCks2})),
			ok(gross24180),
		}},
		{"line end instead of checksum", tolGross + "\r\n" + tolGross + "\r\n", []want{ok(gross24180), ok(gross24180)}},
		{"seven bits with even parity", parity(tolGross + "(" + tolNet + "\""), []want{
			ok(gross24180),
			ok(stable(Reading{Gross: kg(29180), Tare: kg(5000), Net: kg(24180), Unit: "kg"})),
		}},
		{"bad checksum", tolGross + ")" + tolGross + "(", []want{badIs(ErrChecksum, "checksum character is 0x29, want 0x28"), ok(gross24180)}},
		{"leading garbage", "4180000000\r(\x00\xff\x13" + tolGross + "(", []want{ok(gross24180)}},
		{"truncated then good", "\x02*0 0241" + tolGross + "(", []want{bad("frame is 8 bytes, want 17, or 18 with checksum"), ok(gross24180)}},
		{"dropped byte", "\x02*0 02418000000\r(" + tolGross + "(", []want{bad("frame is 16 bytes"), ok(gross24180)}},
		{"truncated at end", tolGross + "(" + "\x02*0 02", []want{ok(gross24180), bad("frame is 6 bytes")}},
		{"no CR", "\x02*0 0241800000000000" + tolGross, []want{bad(`byte 17 is '0', want CR`), ok(gross24180)}},
		{"STX STX", "\x02" + tolGross + "(", []want{ok(gross24180)}},
		{"status bit 5 clear", "\x02\x0a0 024180000000\r", []want{bad("status word A is 0x0a: bit 5, always set, is clear")}},
		{"custom units", "\x02*0'024180000000\r", []want{bad("custom units")}},
		{"letter in weight", "\x02*0 02x180000000\r", []want{bad(`weight "02x180" is not a number: unexpected 'x' at offset 2`)}},
		{"empty", "", nil},
	}
	runDecodeCases(t, protocol(t, "toledo"), cases)
}

func TestToledoEncode(t *testing.T) {
	g, tr, n := 29180.0, 5000.0, 24180.0
	for _, c := range []struct {
		name string
		p    Toledo
		r    Reading
		want string
	}{
		{"gross", Toledo{}, Reading{Gross: &n, Stable: true, Unit: "kg"}, tolGross + "("},
		{"gross with net and no tare", Toledo{}, Reading{Gross: &n, Tare: kg(0), Net: &n, Stable: true}, tolGross + "("},
		{"net", Toledo{}, Reading{Gross: &g, Tare: &tr, Net: &n, Stable: true, Unit: "kg"}, tolNet + "\""},
		{"no checksum", Toledo{OmitChecksum: true}, Reading{Gross: &n, Stable: true}, tolGross},
		{"tonnes", Toledo{OmitChecksum: true}, Reading{Gross: &n, Stable: true, Unit: "t", Division: 10}, tolTonnes},
		{"count by 5", Toledo{OmitChecksum: true}, Reading{Gross: kg(24480), Stable: true, Division: 500}, tolByFiveC},
		{"overload", Toledo{}, Reading{Gross: kg(999999), Tare: kg(0), Stable: true, Overload: true}, tolOver + "}"},
	} {
		if got := string(c.p.Encode(c.r)); got != c.want {
			t.Errorf("%s: Encode = %q, want %q", c.name, got, c.want)
		}
	}
}
