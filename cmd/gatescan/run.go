package main

import (
	"context"
	"flag"
	"io"
	"os/signal"
	"syscall"

	"github.com/gatescan/gatescan/agent"
)

func cmdRun(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := fs.String("config", "/etc/gatescan/gatescan.yaml", "config file")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return agent.New(cfg, log).Run(ctx)
}
