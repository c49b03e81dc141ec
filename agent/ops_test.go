package agent

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/internal/agenttest"
)

// Helpers of the operations tests (reload, notify, page, metrics); named
// ops* so as not to collide with the other tests of the package.

// opsLog is a logger whose JSON lines the test can search.
type opsLog struct{ agenttest.LogBuffer }

func (l *opsLog) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// opsYAML is a complete config for a test gate: the built-in broker on a
// free port, every directory under dir, the page on a free loopback port;
// lanes is the YAML of the lanes list, extra more top-level keys.
func opsYAML(dir, lanes, extra string) string {
	return fmt.Sprintf(`site: ops-port
gate: g1
mqtt: {broker: embedded, embedded_listen: "127.0.0.1:0", keepalive: 2s}
buffer: {dir: %q, sync_writes: false}
scanner: {inbox: %q, rescan_interval: 1s, settle_time: 10ms}
declarations: {inbox: %q}
http: {listen: "127.0.0.1:0"}
lanes:
%s
%s
`, filepath.Join(dir, "buffer"), filepath.Join(dir, "scans"), filepath.Join(dir, "decl"), lanes, extra)
}

func opsConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(yaml), "ops.yaml")
	if err != nil {
		t.Fatalf("test config: %v\n%s", err, yaml)
	}
	return c
}

// opsRun runs an agent until the test ends and returns it once ready.
func opsRun(t *testing.T, cfg *config.Config, log *opsLog) *Agent {
	t.Helper()
	a := New(cfg, log.logger(), Options{})
	agenttest.Start(t, a)
	return a
}

// opsGet fetches a URL and returns status and body.
func opsGet(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func opsLane(a *Agent, id string) *lane {
	a.lanes.mu.Lock()
	defer a.lanes.mu.Unlock()
	for _, l := range a.lanes.lanes {
		if l.id == id {
			return l
		}
	}
	return nil
}

func opsLaneIDs(a *Agent) string {
	var ids []string
	for _, s := range a.laneStatus() {
		ids = append(ids, s.ID)
	}
	return strings.Join(ids, ",")
}

// opsSeries gathers the agent's metrics and returns the series of the
// metric name by their labels as name="value" pairs joined with commas,
// for counters, gauges and untyped; a histogram gives its sample count.
func opsSeries(t *testing.T, a *Agent, name string) map[string]float64 {
	t.Helper()
	mfs, err := a.metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue() + float64(m.GetHistogram().GetSampleCount())
			out[strings.Join(ls, ",")] = v
		}
	}
	return out
}
