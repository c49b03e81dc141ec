package main

import (
	"context"
	"flag"
	"io"
	"os/signal"
	"syscall"

	"github.com/gatescan/gatescan/agent"
)

// cmdRun runs the daemon: SIGINT or SIGTERM stop it cleanly, SIGHUP
// reloads the config file (interfaces.md §5; `systemctl reload`), and under
// systemd it reports readiness, watchdog pings and shutdown over
// $NOTIFY_SOCKET.
func cmdRun(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	cfgPath := fs.String("config", "/etc/gatescan/gatescan.yaml", "config file")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log, level := newLogger(cfg, stderr)
	tuneMalloc()
	limitGoMemory()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a := agent.New(cfg, log, agent.Options{LogLevel: level, Systemd: true})
	a.ReloadOnSignal(ctx, *cfgPath)
	return a.Run(ctx)
}
