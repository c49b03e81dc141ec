package scale

import (
	"fmt"
	"testing"
)

// smaReply lays out an SMA reply as SCP-0499 does: LF, status, range,
// mode, motion, a reserved space, ten characters of weight, three of unit,
// CR.
func smaReply(status, rng, mode, motion byte, weight, unit string) string {
	return fmt.Sprintf("\n%c%c%c%c %10s%-3s\r", status, rng, mode, motion, weight, unit)
}

func TestSMADecode(t *testing.T) {
	cases := []decodeCase{
		{"gross stable", "\n 1G       24180kg \r", []want{ok(hasMotion(Reading{Gross: kg(24180), Stable: true, Unit: "kg", Raw: "\n 1G       24180kg \r"}))}},
		{"manual example", smaReply(' ', '1', 'G', ' ', "5.025", "lb"), []want{ok(hasMotion(Reading{Gross: kg(5.025 * 0.45359237), Stable: true, Unit: "lb"}))}},
		{"net in motion", "\n 1NM      24.18t  \r", []want{ok(hasMotion(Reading{Net: kg(24180), Unit: "t"}))}},
		{"tare reply", "\n 1T        5000kg \r", []want{ok(hasMotion(Reading{Tare: kg(5000), Stable: true, Unit: "kg"}))}},
		{"high resolution", "\n 1g     24180.5kg \r", []want{ok(hasMotion(Reading{Gross: kg(24180.5), Stable: true, Unit: "kg"}))}},
		{"centre of zero", "\nZ1G           0kg \r", []want{ok(hasMotion(Reading{Gross: kg(0), Stable: true, Zero: true, Unit: "kg"}))}},
		{"over capacity", "\nO1G      120000kg \r", []want{ok(hasMotion(Reading{Gross: kg(120000), Stable: true, Overload: true, Unit: "kg"}))}},
		{"under capacity", "\nU1G        -150kg \r", []want{ok(hasMotion(Reading{Gross: kg(-150), Stable: true, Underload: true, Unit: "kg"}))}},
		{"over capacity marks", smaReply('O', '1', 'G', ' ', "^^^^^^^^^^", "kg"), []want{ok(hasMotion(Reading{Stable: true, Overload: true}))}},
		{"zero error", smaReply('E', '1', 'G', ' ', "----------", "kg"), []want{badIs(ErrIndicator, "zero error (status E)")}},
		{"tare error", smaReply('T', '1', 'N', ' ', "----------", "kg"), []want{badIs(ErrIndicator, "tare error (status T)")}},
		{"no stability in time", smaReply(' ', '1', 'G', ' ', "----------", ""), []want{badIs(ErrIndicator, "dashes")}},
		{"unrecognised command", "\n?\r", []want{badIs(ErrIndicator, "not recognised")}},
		{"communication error", "\n!\r", []want{badIs(ErrIndicator, "parity or framing error")}},
		{"about reply", "\nSMA:2/1.0\r", []want{bad("not a weight reply: 9 bytes between LF and CR, want 18")}},
		{"bad mode", "\n 1X       24180kg \r", []want{bad(`mode 'X' is not G, N, T, g or n`)}},
		{"bad motion", "\n 1GX      24180kg \r", []want{bad(`motion status 'X' is not M or space`)}},
		{"bad range", "\n 0G       24180kg \r", []want{bad(`range '0' is not a digit from 1 to 9`)}},
		{"bad status", "\nQ1G       24180kg \r", []want{bad(`status 'Q'`)}},
		{"bad unit", "\n 1G       24180pcs\r", []want{bad(`unit "pcs" is not a unit of weight`)}},
		{"opened mid-reply", "180kg \r\n 1G       24180kg \r", []want{ok(hasMotion(Reading{Gross: kg(24180), Stable: true, Unit: "kg"}))}},
		{"truncated then good", "\n 1G     24\n 1G       24180kg \r", []want{bad("reply does not run from LF to CR"), ok(hasMotion(Reading{Gross: kg(24180), Stable: true, Unit: "kg"}))}},
		{"CR LF endings", "\n 1G       24180kg \r\n\n 1G       24180kg \r\n", []want{ok(hasMotion(Reading{Gross: kg(24180), Stable: true, Unit: "kg"})), ok(hasMotion(Reading{Gross: kg(24180), Stable: true, Unit: "kg"}))}},
		{"seven bits with even parity", parity("\n 1G       24180kg \r"), []want{ok(hasMotion(Reading{Gross: kg(24180), Stable: true, Unit: "kg"}))}},
	}
	runDecodeCases(t, protocol(t, "sma"), cases)
}

func TestSMAEncode(t *testing.T) {
	runEncodeCases(t, SMA, []encodeCase{
		{Reading{Gross: kg(24180), Stable: true, Unit: "kg"}, "\n 1G       24180kg \r"},
		{Reading{Gross: kg(29180), Tare: kg(5000), Net: kg(24180), Unit: "t"}, "\n 1NM      24.18t  \r"},
		{Reading{Gross: kg(0), Stable: true, Zero: true}, "\nZ1G           0kg \r"},
		{Reading{Gross: kg(-150), Stable: true, Underload: true}, "\nU1G        -150kg \r"},
	})
}
