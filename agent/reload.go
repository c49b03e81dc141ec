package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/gatescan/gatescan/config"
)

// restartOnly are the config keys read once at start: the broker
// connection, the buffer, the inboxes' watchers, the listener, the log
// format (log.level applies at once when the agent has its logger's level,
// see Options.LogLevel).
// A reload keeps their running values and says that a restart is needed,
// rather than half-applying them.
var restartOnly = []struct {
	key string
	get func(*config.Config) any
	set func(dst, src *config.Config)
}{
	{"site", func(c *config.Config) any { return c.Site }, func(d, s *config.Config) { d.Site = s.Site }},
	{"gate", func(c *config.Config) any { return c.Gate }, func(d, s *config.Config) { d.Gate = s.Gate }},
	{"mqtt", func(c *config.Config) any { return c.MQTT }, func(d, s *config.Config) { d.MQTT = s.MQTT }},
	{"buffer", func(c *config.Config) any { return c.Buffer }, func(d, s *config.Config) { d.Buffer = s.Buffer }},
	{"scanner.inbox", func(c *config.Config) any { return c.Scanner.Inbox }, func(d, s *config.Config) { d.Scanner.Inbox = s.Scanner.Inbox }},
	{"scanner.rescan_interval", func(c *config.Config) any { return c.Scanner.Rescan }, func(d, s *config.Config) { d.Scanner.Rescan = s.Scanner.Rescan }},
	{"declarations.inbox", func(c *config.Config) any { return c.Declarations.Inbox }, func(d, s *config.Config) { d.Declarations.Inbox = s.Declarations.Inbox }},
	{"http", func(c *config.Config) any { return c.HTTP }, func(d, s *config.Config) { d.HTTP = s.HTTP }},
	{"log.format", func(c *config.Config) any { return c.Log.Format }, func(d, s *config.Config) { d.Log.Format = s.Log.Format }},
	{"shutdown_timeout", func(c *config.Config) any { return c.Shutdown }, func(d, s *config.Config) { d.Shutdown = s.Shutdown }},
}

// Reload puts next in force while the agent runs, without dropping work in
// flight: detector thresholds, rules, profiles and the other settings read
// per scan apply from the next scan on (the scan being inspected finishes
// with the settings it started with); lanes whose weighbridge was added,
// removed or changed are started, stopped or restarted, and only those.
// Keys read only at start (restartOnly) keep their running values, with a
// warning that a restart is needed.
//
// A config that fails validation is rejected: every problem is logged
// with its key path, the config in force stays, and the error lists the
// problems.
func (a *Agent) Reload(next *config.Config) error {
	if ps := next.Validate(); len(ps) > 0 {
		return a.rejectConfig("", ps)
	}
	a.ops.reloadMu.Lock()
	defer a.ops.reloadMu.Unlock()
	old := a.Config()
	cfg := *next
	for _, k := range restartOnly {
		if !reflect.DeepEqual(k.get(old), k.get(&cfg)) {
			a.log.Warn("config key changed but read only at start: restart gatescan to apply it; the running value stays in force",
				"key", k.key)
		}
		k.set(&cfg, old)
	}
	if cfg.Log.Level != old.Log.Level {
		var lv slog.Level
		if a.level == nil || lv.UnmarshalText([]byte(cfg.Log.Level)) != nil {
			a.log.Warn("config key changed but read only at start: restart gatescan to apply it; the running value stays in force", "key", "log.level")
			cfg.Log.Level = old.Log.Level
		} else {
			a.level.Set(lv)
		}
	}
	changed := changedKeys(old, &cfg)
	a.mu.Lock()
	a.cfg = &cfg
	a.mu.Unlock()
	gen := a.ops.gen.Add(1) + 1
	now := time.Now()
	a.ops.loadedAt.Store(&now)
	started, stopped := a.reconcileLanes(cfg.Lanes)
	a.metrics.Reloads.WithLabelValues("applied").Inc()
	a.log.Info("config reloaded", "generation", gen, "changed", changed, "lanes_started", started, "lanes_stopped", stopped)
	return nil
}

// ReloadFile loads, validates and applies the config file at path, as
// SIGHUP does, telling systemd RELOADING=1 before and READY=1 after
// (whatever the outcome: the agent keeps serving either way).
func (a *Agent) ReloadFile(path string) error {
	defer a.sd.reloading(path)()
	a.log.Info("reloading config", "file", path)
	next, err := config.Load(path)
	if err != nil {
		return a.rejectConfig(path, err)
	}
	return a.Reload(next)
}

// ReloadOnSignal has every SIGHUP reload the config file at path, until
// ctx ends. It returns at once, with the signal already caught, so that a
// SIGHUP right after it cannot kill the process; one that comes before Run
// is ready is applied once it is. A rejected config is logged; the agent
// goes on with the old one.
func (a *Agent) ReloadOnSignal(ctx context.Context, path string) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		select {
		case <-ctx.Done():
			return
		case <-a.ready:
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = a.ReloadFile(path) // logged by ReloadFile
			}
		}
	}()
}

// rejectConfig logs every problem of a rejected config and returns the
// error for the caller.
func (a *Agent) rejectConfig(path string, err error) error {
	a.metrics.Reloads.WithLabelValues("rejected").Inc()
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			a.log.Error("config rejected", "file", path, "key", p.Path, "line", p.Line, "problem", p.Msg)
		}
	} else {
		a.log.Error("config rejected", "file", path, "err", err)
	}
	if path == "" {
		path = "new config"
	}
	return fmt.Errorf("%s rejected, the config in force is unchanged (run `gatescan config check` for details): %w", path, err)
}

// changedKeys lists the top-level config keys whose values differ, for the
// reload's log line.
func changedKeys(old, next *config.Config) []string {
	var out []string
	ov, nv := reflect.ValueOf(old).Elem(), reflect.ValueOf(next).Elem()
	for i := 0; i < ov.NumField(); i++ {
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			out = append(out, strings.Split(ov.Type().Field(i).Tag.Get("yaml"), ",")[0])
		}
	}
	return out
}
