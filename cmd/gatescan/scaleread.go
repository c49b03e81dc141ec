package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/serialline"
)

func cmdScaleRead(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scale read", flag.ContinueOnError)
	var c serialline.Config
	fs.StringVar(&c.Port, "port", "", "serial device, e.g. /dev/ttyUSB0")
	fs.StringVar(&c.Protocol, "protocol", "", "indicator protocol")
	fs.IntVar(&c.Baud, "baud", 9600, "baud rate")
	fs.IntVar(&c.DataBits, "data-bits", 8, "data bits (7 or 8)")
	fs.StringVar(&c.Parity, "parity", "none", "none, even, odd, mark or space")
	fs.Float64Var(&c.StopBits, "stop-bits", 1, "stop bits (1, 1.5 or 2)")
	fs.DurationVar(&c.PollInterval, "poll", 0, "poll interval for indicators that answer requests (sics, sma)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return badInput("scale read: %v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	line, err := serialline.New(c, log)
	if err != nil {
		return badInput("scale read: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	enc := json.NewEncoder(stdout)
	return ignoreCancel(line.Run(ctx, func(r scale.Reading) {
		r.Raw = rawText(r.Raw)
		_ = enc.Encode(r)
	}))
}

func ignoreCancel(err error) error {
	if err == context.Canceled {
		return nil
	}
	return err
}
