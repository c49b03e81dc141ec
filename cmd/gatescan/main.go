// Command gatescan is the edge scanning agent of a customs port gate.
//
// See `gatescan help` and interfaces.md §5 for the commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/gatescan/gatescan/config"
)

const usage = `gatescan: the edge scanning agent of a customs port gate

usage:
  gatescan run --config FILE        run the daemon
  gatescan demo [--trucks N] [--forever] [--config FILE]
                                    a whole simulated gate on this machine
  gatescan inspect SIDECAR.json [--declaration FILE] [--gross-kg KG] [--config FILE] [--annotate OUT.jpg]
                                    inspect one scan offline, print the result JSON
  gatescan inspect SIDECAR.json SIDECAR2.json ... | DIR [--declaration FILE]... [--gross-kg KG] [--config FILE]
                                    many scans in one process, one result JSON per line
  gatescan scale decode --protocol NAME [FILE]
  gatescan scale read --port DEV --protocol NAME [--baud N] [--data-bits N] [--parity P] [--stop-bits N]
  gatescan calibrate SIDECAR.json [--write CONFIG] [--config FILE]
                                    fit the scanner's calibration from a step-wedge scan
  gatescan config check FILE
  gatescan config defaults
  gatescan eval [--n N] [--seed S] [--scenarios a,b] [--scanner NAME] [--wedge DIR] [-v]
                                    the detector over simulated scans: detection, false alarms, mass error
  gatescan eval --dir DIR [--scenarios c1,p3] [-v]
                                    the same over cases another simulator wrote (xraygen's format)
  gatescan outbox status --config FILE | --dir DIR [--key-file FILE]
                                    the outbox, as JSON: from the running daemon, else a copy of its buffer
  gatescan alerts --broker URL [--site S] [--gate G] [--shared GROUP] [--save DIR] [--client-id ID]
                                    the control room: every gate's alerts, one line each
  gatescan replay --since DURATION [--config NEW.yaml] [--running FILE]
                                    inspect the kept scans again, print what would change
`

// exitError carries an exit code; its message is printed on one line.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func badInput(format string, a ...any) error {
	return &exitError{2, fmt.Errorf(format, a...)}
}

func main() {
	err := dispatch(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintln(os.Stderr, "gatescan: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	os.Exit(code)
}

// command runs one word of the command line with the arguments after it;
// it declares its flags on fs, a flag set named after it that returns its
// errors (parse reports them).
type command func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error

// commands are gatescan's commands by name.
var commands = map[string]command{
	"run":     func(fs *flag.FlagSet, args []string, _, stderr io.Writer) error { return cmdRun(fs, args, stderr) },
	"demo":    cmdDemo,
	"inspect": cmdInspect,
	"scale": group("`scale decode` or `scale read`", map[string]command{
		"decode": cmdScaleDecode,
		"read":   cmdScaleRead,
	}),
	"config": group("`config check FILE` or `config defaults`", map[string]command{
		"defaults": cmdConfigDefaults,
		"check":    cmdConfigCheck,
	}),
	"calibrate": cmdCalibrate,
	"eval":      cmdEval,
	"outbox": group("`outbox status --dir DIR` (or --config FILE)", map[string]command{
		"status": cmdOutboxStatus,
	}),
	"replay": cmdReplay,
	"alerts": cmdAlerts,
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{2, errors.New("no command given")}
	}
	if run, ok := commands[args[0]]; ok {
		return run(flag.NewFlagSet(args[0], flag.ContinueOnError), args[1:], stdout, stderr)
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return badInput("unknown command %q", args[0])
}

// group is a command made of subcommands, the first argument naming one;
// use says what it takes when none is given.
func group(use string, subs map[string]command) command {
	return func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
		name := fs.Name()
		if len(args) == 0 {
			return badInput("%s: use %s", name, use)
		}
		if run, ok := subs[args[0]]; ok {
			return run(flag.NewFlagSet(name+" "+args[0], flag.ContinueOnError), args[1:], stdout, stderr)
		}
		return badInput("%s: unknown subcommand %q", name, args[0])
	}
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, badInput("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseFlagsOnly parses the flags of a command that takes no other
// arguments.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badInput("%s: unexpected argument %q", fs.Name(), pos[0])
	}
	return nil
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	c, err := config.Load(path)
	if err != nil {
		return nil, badInput("config %s: %v", path, err)
	}
	return c, nil
}

// newLogger is the daemon's logger as c.Log says; its level is read from
// the returned variable, so that a reload can change it.
func newLogger(c *config.Config, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.Log.Level))
	lv.Set(l)
	// Every line goes through config.RedactAttr: a password in a
	// user:pass@ broker URL never reaches the journal, whichever error
	// quotes the URL.
	o := &slog.HandlerOptions{Level: lv, ReplaceAttr: config.RedactAttr}
	if c.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, o)), lv
	}
	return slog.New(slog.NewJSONHandler(w, o)), lv
}
