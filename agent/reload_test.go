package agent

import (
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/agenttest"
)

// TestReloadLive reloads a running gate: thresholds, rules and lanes apply
// at once, only the lanes that changed are restarted, a scan waiting in
// the pipeline survives, a config that fails validation is rejected with
// its problems logged and the old one kept, and keys read only at start
// keep their running values.
func TestReloadLive(t *testing.T) {
	dir := t.TempDir()
	ind1, ind3 := agenttest.Indicator(t, 0), agenttest.Indicator(t, 0)
	laneL1 := func(baud int) string {
		return fmt.Sprintf("  - id: L1\n    weighbridge: {port: %q, protocol: toledo, baud: %d, stable_for: 1s}\n", ind1.Path(), baud)
	}
	laneL2 := "  - id: L2\n"
	laneL3 := fmt.Sprintf("  - id: L3\n    weighbridge: {port: %q, protocol: toledo}\n", ind3.Path())
	path := filepath.Join(dir, "gatescan.yaml")
	write := func(yaml string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(opsYAML(dir, laneL1(9600)+laneL2, "rules: {grace: 60s}"))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var log opsLog
	a := opsRun(t, cfg, &log)
	lineUp := func(id string) bool {
		for _, s := range a.laneStatus() {
			if s.ID == id {
				return s.Line.State == "up"
			}
		}
		return false
	}
	agenttest.Eventually(t, 10*time.Second, "lane L1 up", func() bool { return lineUp("L1") })
	l1 := opsLane(a, "L1")
	broker := a.Config().MQTT.Broker // the built-in broker's address

	// A scan on the scanner-only lane waits for its declaration.
	scene, decls, err := xraysim.Scenario("honest-tshirts", rand.New(rand.NewSource(3)))
	if err != nil {
		t.Fatal(err)
	}
	scene.Containers, decls = scene.Containers[:1], decls[:1]
	if _, err := xraysim.Write(cfg.Scanner.Inbox, "held", scene, xraysim.SidecarMeta{ScanID: "held", Lane: "L2"}); err != nil {
		t.Fatal(err)
	}
	agenttest.Eventually(t, 10*time.Second, "the scan waiting for its declaration", func() bool {
		a.scans.mu.Lock()
		defer a.scans.mu.Unlock()
		_, ok := a.scans.firstSeen[filepath.Join(cfg.Scanner.Inbox, "held.json")]
		return ok
	})

	// 1. New thresholds and rules, and a lane added.
	write(opsYAML(dir, laneL1(9600)+laneL2+laneL3, "rules: {grace: 60s, review_risk: 0.25}\ndetector: {empty_max_kg: 300}"))
	if err := a.ReloadFile(path); err != nil {
		t.Fatalf("good config rejected: %v", err)
	}
	if c := a.Config(); c.Rules.ReviewRisk != 0.25 || c.Detector.EmptyMaxKg != 300 || c.Rules.Grace != 60*time.Second || c.MQTT.Broker != broker {
		t.Errorf("config in force after reload: review_risk %v, empty_max_kg %v, grace %v, broker %q",
			c.Rules.ReviewRisk, c.Detector.EmptyMaxKg, c.Rules.Grace, c.MQTT.Broker)
	}
	if opsLane(a, "L1") != l1 {
		t.Error("lane L1 was restarted although its weighbridge did not change")
	}
	agenttest.Eventually(t, 10*time.Second, "added lane L3 up", func() bool { return lineUp("L3") })
	agenttest.Eventually(t, 10*time.Second, "the scan loop's detector rebuilt with the new thresholds", func() bool {
		return a.ops.detGen.Load() == a.configGeneration()
	})
	if got := a.configGeneration(); got != 2 {
		t.Errorf("config generation %d, want 2", got)
	}
	for _, want := range []string{`"msg":"config reloaded"`, `"changed":["lanes","detector","rules"]`, `"lanes_started":["L3"]`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("reload log lacks %s:\n%s", want, log.String())
		}
	}
	if strings.Contains(log.String(), "restart gatescan to apply") {
		t.Errorf("nothing read only at start changed (the embedded broker included), yet a restart was asked for:\n%s", log.String())
	}

	// The waiting scan was not dropped: its declaration arrives, it is inspected.
	b, err := decls[0].JSON("D-held")
	if err != nil {
		t.Fatal(err)
	}
	// Written aside and renamed into the inbox, as customs systems must.
	agenttest.Put(t, cfg.Declarations.Inbox, "d.json", b)
	agenttest.Eventually(t, 60*time.Second, "the held scan inspected after the reload", func() bool {
		for _, it := range a.web.Recent() {
			if it.Result.ScanID == "held" && it.Result.DeclarationID == "D-held" {
				return true
			}
		}
		return false
	})

	// 2. A lane changed (restarted) and one removed (stopped).
	write(opsYAML(dir, laneL1(19200)+laneL2, "rules: {grace: 60s, review_risk: 0.25}"))
	if err := a.ReloadFile(path); err != nil {
		t.Fatalf("good config rejected: %v", err)
	}
	if l := opsLane(a, "L1"); l == nil || l == l1 || l.wb.Line.Baud != 19200 {
		t.Errorf("lane L1 not restarted with baud 19200: %+v", l)
	}
	if ids := opsLaneIDs(a); ids != "L1" {
		t.Errorf("weighbridge lanes %q after removing L3, want L1", ids)
	}
	agenttest.Eventually(t, 10*time.Second, "gatescan_lane_up for L1 only", func() bool {
		s := opsSeries(t, a, "gatescan_lane_up")
		_, ok := s[`lane="L1"`]
		return len(s) == 1 && ok
	})

	// 3. A config that fails validation: rejected, problems logged, old kept.
	before := a.Config()
	write(opsYAML(dir, laneL1(9600)+laneL2, "rules: {grace: 60s, review_risk: 0.8, alert_risk: 0.5}\ndetector: {empty_max_kgs: 1}"))
	err = a.ReloadFile(path)
	if err == nil || !strings.Contains(err.Error(), "unchanged") {
		t.Fatalf("bad config: %v, want a rejection saying the config in force is unchanged", err)
	}
	write(opsYAML(dir, laneL1(9600)+laneL2, "rules: {grace: 60s, review_risk: 0.8, alert_risk: 0.5}"))
	if err := a.ReloadFile(path); err == nil || !strings.Contains(err.Error(), "rules.alert_risk") {
		t.Fatalf("bad config: %v, want the problem with its key path", err)
	}
	if a.Config() != before {
		t.Error("a rejected config replaced the one in force")
	}
	for _, want := range []string{`"key":"detector.empty_max_kgs"`, `did you mean`, `"key":"rules.alert_risk"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the rejection log lacks %s", want)
		}
	}
	if got := opsSeries(t, a, "gatescan_config_reloads_total")[`result="rejected"`]; got != 2 {
		t.Errorf("rejected reloads counted %v, want 2", got)
	}
	if got := opsSeries(t, a, "gatescan_config_reloads_total")[`result="applied"`]; got != 2 {
		t.Errorf("applied reloads counted %v, want 2", got)
	}

	// 4. Keys read only at start keep their running values.
	running := a.Config()
	changed := strings.Replace(opsYAML(dir, laneL1(19200)+laneL2, "rules: {grace: 60s, review_risk: 0.3}"),
		`http: {listen: "127.0.0.1:0"}`, `http: {listen: "127.0.0.1:9"}`, 1)
	write(strings.Replace(changed, "gate: g1", "gate: g2", 1))
	if err := a.ReloadFile(path); err != nil {
		t.Fatal(err)
	}
	c := a.Config()
	if c.HTTP.Listen != running.HTTP.Listen || c.Gate != "g1" || c.MQTT.Broker != running.MQTT.Broker || c.Rules.ReviewRisk != 0.3 {
		t.Errorf("after a reload changing http.listen and gate: listen %q gate %q broker %q review_risk %v",
			c.HTTP.Listen, c.Gate, c.MQTT.Broker, c.Rules.ReviewRisk)
	}
	for _, key := range []string{`"key":"http"`, `"key":"gate"`} {
		if !strings.Contains(log.String(), key) {
			t.Errorf("no restart warning for %s", key)
		}
	}
}

// TestReloadLogLevel: log.level applies at once on reload when the agent
// has its logger's level; log.format stays as started, with a warning that
// a restart is needed.
func TestReloadLogLevel(t *testing.T) {
	dir := t.TempDir()
	cfg := opsConfig(t, opsYAML(dir, "  - id: L1\n", "log: {level: info, format: json}"))
	var log opsLog
	level := new(slog.LevelVar)
	a := New(cfg, slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: level})), Options{LogLevel: level})
	agenttest.Start(t, a)

	a.log.Debug("hidden before the reload")
	next := opsConfig(t, opsYAML(dir, "  - id: L1\n", "log: {level: debug, format: text}"))
	next.MQTT.Broker = a.Config().MQTT.Broker // the built-in broker as it runs
	if err := a.Reload(next); err != nil {
		t.Fatal(err)
	}
	if level.Level() != slog.LevelDebug || a.Config().Log.Level != "debug" {
		t.Errorf("log level after reload: %v (config %q), want debug", level.Level(), a.Config().Log.Level)
	}
	if f := a.Config().Log.Format; f != "json" {
		t.Errorf("log format %q after reload, want json kept until a restart", f)
	}
	a.log.Debug("shown after the reload")
	out := log.String()
	if strings.Contains(out, "hidden before the reload") || !strings.Contains(out, "shown after the reload") {
		t.Errorf("debug lines before/after the reload wrong:\n%s", out)
	}
	if !strings.Contains(out, `"key":"log.format"`) || strings.Contains(out, `"key":"log.level"`) {
		t.Errorf("want a restart warning for log.format only:\n%s", out)
	}
}
