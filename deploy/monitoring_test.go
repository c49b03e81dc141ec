package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/agenttest"
	"github.com/gatescan/gatescan/internal/testkit"
)

// promRules is what the test reads of a Prometheus rules file.
type promRules struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert       string
			Expr        string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

// grafanaDashboard is what the test reads of a Grafana dashboard.
type grafanaDashboard struct {
	Panels []struct {
		Title   string
		Type    string
		Targets []struct{ Expr string }
	}
	Templating struct {
		List []struct {
			Name       string
			Definition string
		}
	}
}

// fromPrometheus are the series Prometheus makes itself, not the agent.
var fromPrometheus = []string{"up"}

// metricRef finds the metric names in a PromQL expression: the agent's own
// (gatescan_, and the Go and process collectors') and Prometheus's.
var metricRef = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:"])((?:gatescan|go|process)_[a-zA-Z0-9_]+|up)\b(\{[^}]*\})?`)

// selectorLabel is one matcher in a selector: label, then =, !=, =~ or !~.
var selectorLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)

// exprs returns every PromQL expression of the rules and the dashboard,
// each with where it comes from.
func exprs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	var rules promRules
	b, err := os.ReadFile("prometheus/gatescan.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("gatescan.rules.yml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("rule %+v: want alert, expr, a severity label, summary and description", r)
			}
			out["alert "+r.Alert] = r.Expr
		}
	}
	var dash grafanaDashboard
	b, err = os.ReadFile("grafana/gatescan.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("gatescan.json: %v", err)
	}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, q := range p.Targets {
			out[fmt.Sprintf("panel %q query %d", p.Title, i)] = q.Expr
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			out["variable "+v.Name] = v.Definition
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d expressions in the rules and the dashboard", len(out))
	}
	return out
}

// exposition reads /metrics: every sample's name with the label names it
// comes with.
func exposition(body string) map[string][]string {
	names := map[string][]string{}
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? `)
	for _, l := range strings.Split(body, "\n") {
		m := sample.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		for _, kv := range selectorLabel.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(names[m[1]], kv[1]) {
				names[m[1]] = append(names[m[1]], kv[1])
			}
		}
		if _, ok := names[m[1]]; !ok {
			names[m[1]] = nil
		}
	}
	return names
}

// TestRulesAndDashboardUseExportedMetrics runs an agent (built-in broker,
// a lane with a Toledo indicator on a pseudo-terminal and a scanner-only
// lane that inspects one scan, so that per-code and per-stage series
// exist), scrapes its /metrics and checks that every metric the alerting
// rules and the Grafana dashboard name is one it exports, with the labels
// their selectors use.
func TestRulesAndDashboardUseExportedMetrics(t *testing.T) {
	queries := exprs(t)

	dir := t.TempDir()
	ind := agenttest.Indicator(t, 0)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`site: watch-port
gate: g9
mqtt: {broker: embedded, embedded_listen: "127.0.0.1:0"}
buffer: {dir: %q, sync_writes: false, max_disk_mb: 512}
scanner: {inbox: %q, rescan_interval: 1s, settle_time: 10ms}
declarations: {inbox: %q}
http: {listen: "127.0.0.1:0"}
rules: {grace: 1s}
lanes:
  - id: L1
    weighbridge: {port: %q, protocol: toledo}
  - id: L2
`, filepath.Join(dir, "buffer"), filepath.Join(dir, "scans"), filepath.Join(dir, "decl"), ind.Path())), "watch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var log testkit.LogBuffer
	a := agent.New(cfg, slog.New(slog.NewJSONHandler(&log, nil)), agent.Options{})
	agenttest.Start(t, a)
	scene, decls, _ := agenttest.OverweightTruck(t)
	agenttest.PutDeclarations(t, cfg.Declarations.Inbox, decls)
	if _, err := xraysim.Write(cfg.Scanner.Inbox, "scan-1", scene, xraysim.SidecarMeta{ScanID: "scan-1", Lane: "L2"}); err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		resp, err := http.Get("http://" + a.HTTPAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var body string
	testkit.Eventually(t, 60*time.Second, "the scan inspected and its lane counted", func() bool {
		body = scrape()
		return strings.Contains(body, `gatescan_lane_scans_total{lane="L2"} 1`) && strings.Contains(body, `gatescan_lane_up{lane="L1"} 1`)
	})
	exported := exposition(body)
	for _, want := range []string{`gatescan_gate_info{gate="g9",site="watch-port"} 1`, `gatescan_buffer_disk_budget_bytes 5.36870912e+08`,
		`gatescan_lane_trucks_total{lane="L1"} 0`, `gatescan_scans_quarantined_total 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	used := map[string]bool{}
	for where, q := range queries {
		refs := metricRef.FindAllStringSubmatch(q, -1)
		if len(refs) == 0 && !strings.HasPrefix(where, "variable ") {
			t.Errorf("%s names no metric: %s", where, q)
		}
		for _, m := range refs {
			name := m[1]
			used[name] = true
			if slices.Contains(fromPrometheus, name) {
				continue
			}
			labels, ok := exported[name]
			if !ok {
				t.Errorf("%s uses %s, which the agent does not export", where, name)
				continue
			}
			for _, l := range selectorLabel.FindAllStringSubmatch(m[2], -1) {
				// site and gate come from gatescan_gate_info's own labels.
				if !slices.Contains(labels, l[1]) {
					t.Errorf("%s selects %s on label %q; the agent exports it with %v", where, name, l[1], labels)
				}
			}
		}
	}
	// What the issue asks the rules and the dashboard to watch.
	for _, m := range []string{"gatescan_outbox_oldest_age_seconds", "gatescan_mqtt_connected", "gatescan_lane_silent", "gatescan_lane_trucks_total",
		"gatescan_lane_scans_total", "gatescan_scans_quarantined_total", "gatescan_buffer_disk_budget_bytes", "gatescan_inspections_total",
		"gatescan_findings_total", "gatescan_inspection_stage_seconds_bucket", "gatescan_outbox_messages", "gatescan_lane_up"} {
		if !used[m] {
			t.Errorf("neither the rules nor the dashboard use %s", m)
		}
	}
}

// TestRulesWithPromtool checks the rules file and runs its unit tests
// (gatescan.rules.test.yml: each alert fires on made-up series of two gates,
// and only where it should) with Prometheus's promtool, when installed.
func TestRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus): the rules' own unit tests are not run")
	}
	for _, args := range [][]string{{"check", "rules", "gatescan.rules.yml"}, {"test", "rules", "gatescan.rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
