package serialline_test

import (
	"context"
	"log"
	"log/slog"
	"time"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/scale/weighing"
	"github.com/gatescan/gatescan/drivers/serialline"
)

// One lane: the indicator's readings become truck events.
func Example() {
	logger := slog.Default().With("lane", "L1")
	line, err := serialline.New(serialline.Config{Port: "/dev/ttyUSB0", Protocol: "toledo", Baud: 9600}, logger)
	if err != nil {
		log.Fatal(err) // every problem of the config, with its key
	}
	w := weighing.New("L1", weighing.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Run returns only when ctx ends; it reopens the port when it fails.
	_ = line.Run(ctx, func(r scale.Reading) {
		for _, e := range w.Add(r, time.Now()) {
			logger.Info("weighbridge", "event", e.Kind, "gross_kg", e.GrossKg)
		}
	})
}
