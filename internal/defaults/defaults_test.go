package defaults

import (
	"math"
	"reflect"
	"testing"
	"time"
)

type settings struct {
	Baud    int
	Parity  string
	Stop    float64
	Timeout time.Duration
	Blocks  []int // not comparable: never filled
	hidden  int   // unexported: never filled
}

var def = settings{Baud: 9600, Parity: "none", Stop: 1, Timeout: time.Second, Blocks: []int{1}, hidden: 7}

func TestFill(t *testing.T) {
	for _, c := range []struct {
		name    string
		in, out settings
	}{
		{"all zero", settings{}, settings{Baud: 9600, Parity: "none", Stop: 1, Timeout: time.Second}},
		{"all set", settings{Baud: 19200, Parity: "even", Stop: 2, Timeout: time.Millisecond, Blocks: []int{2}, hidden: 1},
			settings{Baud: 19200, Parity: "even", Stop: 2, Timeout: time.Millisecond, Blocks: []int{2}, hidden: 1}},
		{"some set", settings{Parity: "odd"}, settings{Baud: 9600, Parity: "odd", Stop: 1, Timeout: time.Second}},
		{"negative zero is zero", settings{Stop: math.Copysign(0, -1)}, settings{Baud: 9600, Parity: "none", Stop: 1, Timeout: time.Second}},
		{"negative kept", settings{Baud: -1, Timeout: -time.Second}, settings{Baud: -1, Parity: "none", Stop: 1, Timeout: -time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Fill(c.in, def); !reflect.DeepEqual(got, c.out) {
				t.Errorf("Fill(%+v) = %+v, want %+v", c.in, got, c.out)
			}
		})
	}
}

func TestFillKeepsNaN(t *testing.T) {
	if got := Fill(settings{Stop: math.NaN()}, def); !math.IsNaN(got.Stop) {
		t.Errorf("Fill turned a NaN stop into %v; cmp.Or keeps NaN", got.Stop)
	}
}
