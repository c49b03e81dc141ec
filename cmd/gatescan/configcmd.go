package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/gatescan/gatescan/config"
)

func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return badInput("config: use `config check FILE` or `config defaults`")
	}
	switch args[0] {
	case "defaults":
		_, err := stdout.Write(config.DefaultsYAML())
		return err
	case "check":
		if len(args) != 2 {
			return badInput("config check: give exactly one FILE")
		}
		_, err := config.Load(args[1])
		if err == nil {
			fmt.Fprintf(stdout, "%s: ok\n", args[1])
			return nil
		}
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintf(stdout, "%s: %s\n", args[1], p)
			}
			return &exitError{2, fmt.Errorf("%s: %d problem(s)", args[1], len(ps))}
		}
		return badInput("%v", err)
	}
	return badInput("config: unknown subcommand %q", args[0])
}
