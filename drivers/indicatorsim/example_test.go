//go:build unix

package indicatorsim_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"github.com/gatescan/gatescan/drivers/indicatorsim"
	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/serialline"
)

// A technician's test of a lane without a truck: the agent opens sim.Path()
// as the lane's weighbridge port, in any protocol, and reads the weight the
// simulator shows.
func Example() {
	sim, err := indicatorsim.NewPTY()
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	sics, err := indicatorsim.Encoder("sics")
	if err != nil {
		log.Fatal(err)
	}
	if err := sim.Start(sics, 50*time.Millisecond); err != nil {
		log.Fatal(err)
	}
	sim.Set(24180, false)

	line, err := serialline.New(serialline.Config{Port: sim.Path(), Protocol: "sics"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = line.Run(ctx, func(r scale.Reading) {
		if r.Gross != nil && *r.Gross == 24180 && r.Stable {
			fmt.Printf("%.0f kg stable\n", *r.Gross)
			cancel()
		}
	})
	// Output:
	// 24180 kg stable
}
