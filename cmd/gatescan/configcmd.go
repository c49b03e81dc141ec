package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gatescan/gatescan/config"
)

// cmdConfigDefaults prints the commented defaults.
func cmdConfigDefaults(_ *flag.FlagSet, _ []string, stdout, _ io.Writer) error {
	_, err := stdout.Write(config.DefaultsYAML())
	return err
}

// cmdConfigCheck prints each problem of one config file.
func cmdConfigCheck(_ *flag.FlagSet, args []string, stdout, _ io.Writer) error {
	if len(args) != 1 {
		return badInput("config check: give exactly one FILE")
	}
	_, err := config.Load(args[0])
	if err == nil {
		fmt.Fprintf(stdout, "%s: ok\n", args[0])
		return nil
	}
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintf(stdout, "%s: %s\n", args[0], p)
		}
		return &exitError{2, fmt.Errorf("%s: %d problem(s)", args[0], len(ps))}
	}
	return badInput("%v", err)
}
