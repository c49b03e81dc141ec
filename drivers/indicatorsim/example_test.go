//go:build unix

package indicatorsim_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gatescan/gatescan/drivers/indicatorsim"
)

// A technician's test of a lane without a truck: the agent opens sim.Path()
// as the lane's weighbridge port and should report a stable 24 180 kg.
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
	if err := sim.Start(toledo, 100*time.Millisecond); err != nil {
		log.Fatal(err)
	}
	fmt.Println("weighbridge port:", sim.Path())

	ctx := context.Background()
	if err := sim.Weigh(ctx, indicatorsim.Truck{GrossKg: 24180, Settle: 5 * time.Second}); err != nil {
		log.Fatal(err)
	}
	if err := sim.Leave(ctx); err != nil {
		log.Fatal(err)
	}
}
