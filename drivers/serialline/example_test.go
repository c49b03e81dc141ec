//go:build unix

package serialline_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"github.com/gatescan/gatescan/drivers/indicatorsim"
	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/scale/weighing"
	"github.com/gatescan/gatescan/drivers/serialline"
)

// One lane: the indicator's readings become truck events. Here the
// indicator is simulated on a pseudo-terminal; at a gate Port is the
// serial device, e.g. /dev/serial/by-id/usb-FTDI_…
func Example() {
	sim, err := indicatorsim.NewPTY()
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	toledo, err := indicatorsim.Encoder("toledo")
	if err != nil {
		log.Fatal(err)
	}
	if err := sim.Start(toledo, 50*time.Millisecond); err != nil {
		log.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	line, err := serialline.New(serialline.Config{Port: sim.Path(), Protocol: "toledo"}, logger)
	if err != nil {
		log.Fatal(err) // every problem of the config, with its key
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go sim.Weigh(ctx, indicatorsim.Truck{GrossKg: 24180})

	w := weighing.New("L1", weighing.Config{})
	// Run returns only when ctx ends; it reopens the port when it fails.
	_ = line.Run(ctx, func(r scale.Reading) {
		for _, e := range w.Add(r, time.Now()) {
			if e.Kind == weighing.Settled {
				fmt.Printf("%s %.0f kg\n", e.Kind, e.GrossKg)
				cancel()
			}
		}
	})
	// Output:
	// settled 24180 kg
}
