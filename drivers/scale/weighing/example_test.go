package weighing_test

import (
	"fmt"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/scale/weighing"
)

func Example() {
	w := weighing.New("L1", weighing.Config{})
	at := time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)
	add := func(kg float64, motion bool, n int) {
		for range n {
			r := scale.Reading{Gross: &kg, HasMotion: true, Stable: !motion}
			for _, e := range w.Add(r, at) {
				fmt.Printf("%s %s %.0f kg stable=%v\n", e.At.Format("15:04:05.0"), e.Kind, e.GrossKg, e.Stable)
			}
			at = at.Add(100 * time.Millisecond)
		}
	}
	add(0, false, 30)     // empty bridge, 3 s
	add(12000, true, 10)  // a truck drives on
	add(24180, false, 30) // and stands still for 3 s
	add(9000, true, 10)   // drives off
	add(0, false, 30)
	// Output:
	// 08:00:02.0 bridge_empty 0 kg stable=true
	// 08:00:03.0 truck_arrived 12000 kg stable=false
	// 08:00:06.0 settled 24180 kg stable=true
	// 08:00:08.0 truck_left 24180 kg stable=true
	// 08:00:10.0 bridge_empty 0 kg stable=true
}
