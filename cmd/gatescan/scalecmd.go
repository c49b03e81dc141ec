package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/gatescan/gatescan/drivers/scale"
)

func cmdScale(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return badInput("scale: use `scale decode` or `scale read`")
	}
	switch args[0] {
	case "decode":
		fs := flag.NewFlagSet("scale decode", flag.ContinueOnError)
		proto := fs.String("protocol", "", "indicator protocol: "+fmt.Sprint(scale.Names()))
		pos, err := parse(fs, args[1:])
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
	case "read":
		return cmdScaleRead(args[1:], stdout, stderr)
	}
	return badInput("scale: unknown subcommand %q", args[0])
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
