package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/gatescan/gatescan/drivers/scale"
	"github.com/gatescan/gatescan/drivers/serialline"
)

// cmdScaleDecode decodes a captured indicator byte stream, a file or
// stdin.
func cmdScaleDecode(fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
	proto := fs.String("protocol", "", "indicator protocol: "+fmt.Sprint(scale.Names()))
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	p, err := scale.Lookup(*proto)
	if err != nil {
		return badInput("%v", err)
	}
	var r io.Reader = os.Stdin
	if len(pos) > 1 {
		return badInput("scale decode: at most one FILE")
	}
	if len(pos) == 1 {
		f, err := os.Open(pos[0])
		if err != nil {
			return badInput("%v", err)
		}
		defer f.Close()
		r = f
	}
	return decodeStream(scale.NewReader(r, p), stdout)
}

// decodeStream prints one JSON line per reading or bad frame.
func decodeStream(rd *scale.Reader, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	for {
		reading, err := rd.Next()
		switch {
		case err == nil:
			reading.Raw = rawText(reading.Raw)
			if err := enc.Encode(reading); err != nil {
				return err
			}
		case errors.Is(err, io.EOF):
			return nil
		case scale.IsFrameError(err):
			var fe *scale.FrameError
			errors.As(err, &fe)
			if err := enc.Encode(map[string]string{"error": fe.Err.Error(), "raw": rawText(string(fe.Raw))}); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// rawText shows a frame's bytes losslessly to a person: Go escapes for
// control characters and bytes that are not text (7-bit framing with the
// parity bit set, line noise), the rest as it is.
func rawText(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func cmdScaleRead(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
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
