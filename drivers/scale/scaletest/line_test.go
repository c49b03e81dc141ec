package scaletest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/drivers/scale"
)

// TestLine decodes what Line encodes and refuses what is not a line of it.
func TestLine(t *testing.T) {
	p := Line("scaletest")
	gross := func(kg float64, stable bool) scale.Reading {
		return scale.Reading{Gross: &kg, Stable: stable, HasMotion: true, Unit: "kg"}
	}
	stream := string(p.Encode(gross(24180, true))) + "X1\r\n" + string(p.Encode(gross(-5, false))) + "Wheavy\r\n"
	rd := scale.NewReader(strings.NewReader(stream), p)
	for i, want := range []string{"24180 kg stable", "frame does not start with W", "-5 kg moving", `weight "heavy"`} {
		r, err := rd.Next()
		got := ""
		switch {
		case err != nil:
			got = err.Error()
		case r.Stable:
			got = fmt.Sprintf("%v %s stable", *r.Gross, r.Unit)
		default:
			got = fmt.Sprintf("%v %s moving", *r.Gross, r.Unit)
		}
		if !strings.Contains(got, want) {
			t.Errorf("reading %d: %q, want %q", i, got, want)
		}
	}
	if _, ok := any(Polled{p}).(scale.Poller); !ok {
		t.Error("Polled does not answer requests")
	}
}
