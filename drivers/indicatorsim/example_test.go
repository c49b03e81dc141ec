package indicatorsim_test

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"time"

	"github.com/gatescan/gatescan/drivers/indicatorsim"
	"github.com/gatescan/gatescan/drivers/scale"
)

// A simulated indicator writes its protocol's frames to any port: a
// pseudo-terminal for a technician's test of a lane (NewPTY), a real
// serial port on a test bench, or here one end of a pipe whose other end
// a scale.Reader decodes.
func Example() {
	port, line := net.Pipe()
	sim := indicatorsim.New(port)
	sim.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	defer sim.Close()
	sics, err := indicatorsim.Encoder("sics")
	if err != nil {
		log.Fatal(err)
	}
	sim.Noise = 0
	sim.Set(24180, false)
	if err := sim.Start(sics, 20*time.Millisecond); err != nil {
		log.Fatal(err)
	}
	proto, err := scale.Lookup("sics")
	if err != nil {
		log.Fatal(err)
	}
	r := scale.NewReader(line, proto)
	for {
		reading, err := r.Next()
		if err != nil {
			log.Fatal(err)
		}
		if reading.Gross != nil && reading.Stable {
			fmt.Printf("%.0f kg stable\n", *reading.Gross)
			return
		}
	}
	// Output:
	// 24180 kg stable
}
