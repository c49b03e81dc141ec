package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/agent/web"
	"github.com/gatescan/gatescan/drivers/indicatorsim"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/internal/agenttest"
)

// TestPageMetricsAndStatusWithAFreshInspection runs a gate through one
// truck (a Toledo indicator on a pseudo-terminal, a declaration, an
// overweight scan) and then checks what the technicians and Prometheus
// see of it: the metrics, the status API and the page in headless
// Chromium, with its annotated image loaded; the page's screenshot is kept.
func TestPageMetricsAndStatusWithAFreshInspection(t *testing.T) {
	dir := t.TempDir()
	ind := agenttest.Indicator(t, 0)
	lanes := fmt.Sprintf("  - id: L1\n    weighbridge: {port: %q, protocol: toledo, stable_for: 1s}\n  - id: L2\n", ind.Path())
	cfg := opsConfig(t, opsYAML(dir, lanes, "rules: {grace: 20s}"))
	var log opsLog
	a := opsRun(t, cfg, &log)
	base := "http://" + a.HTTPAddr()

	// The truck: a box declared 10 t and truly 15 t.
	scene, decls, grossKg := agenttest.OverweightTruck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ind.Weigh(ctx, indicatorsim.Truck{GrossKg: grossKg, Settle: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	agenttest.PutDeclarations(t, cfg.Declarations.Inbox, decls)
	if _, err := xraysim.Write(cfg.Scanner.Inbox, "truck-1", scene, xraysim.SidecarMeta{ScanID: "truck-1", Lane: "L1"}); err != nil {
		t.Fatal(err)
	}
	n := len(decls)
	agenttest.Eventually(t, 60*time.Second, "every container inspected", func() bool { return len(a.web.Recent()) == n })
	recent := a.web.Recent()
	var over inspection.Result
	for _, it := range recent {
		if it.Image == nil {
			t.Errorf("inspection %s kept without its annotated image", it.Result.InspectionID)
		}
		if it.Result.Has(inspection.WeightMismatch) {
			over = it.Result
		}
	}
	if over.InspectionID == "" {
		t.Fatalf("no WEIGHT_MISMATCH among %+v", recent)
	}

	t.Run("metrics", func(t *testing.T) {
		code, body := opsGet(t, base+"/metrics")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		for _, want := range []string{
			`gatescan_weighbridge_readings_total{lane="L1"}`,
			`gatescan_weighbridge_bad_frames_total{lane="L1"}`,
			`gatescan_lane_up{lane="L1"} 1`,
			`gatescan_lane_silent{lane="L1"} 0`,
			`gatescan_scans_ingested_total 1`,
			`gatescan_scans_rejected_total 0`,
			`gatescan_sidecar_to_commit_seconds_count 1`,
			fmt.Sprintf(`gatescan_inspection_stage_seconds_bucket{stage="detector",le="+Inf"} %d`, n),
			fmt.Sprintf(`gatescan_inspection_stage_seconds_count{stage="decode"} %d`, n),
			`gatescan_inspections_total{verdict="alert"}`,
			`gatescan_inspections_total{verdict="clear"}`,
			`gatescan_findings_total{code="WEIGHT_MISMATCH"}`,
			`gatescan_outbox_messages `,
			`gatescan_outbox_oldest_age_seconds `,
			`gatescan_outbox_alerts `,
			`gatescan_mqtt_connected 1`,
			`gatescan_buffer_disk_bytes `,
			`gatescan_config_generation 1`,
			`gatescan_config_reloads_total{result="rejected"} 0`,
			`gatescan_build_info{version="dev"} 1`,
			fmt.Sprintf(`gatescan_declarations_total{outcome="accepted"} %d`, n),
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		// Every sample is a valid exposition line.
		line := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eE]+|NaN|[+-]Inf$`)
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") && !line.MatchString(l) {
				t.Errorf("malformed metrics line %q", l)
			}
		}
	})

	t.Run("status and images", func(t *testing.T) {
		code, body := opsGet(t, base+"/api/status")
		if code != 200 {
			t.Fatalf("/api/status: %d", code)
		}
		var s web.Status
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatal(err)
		}
		if !s.Ready || !s.MQTT.Connected || len(s.Lanes) != 1 || s.Lanes[0].ID != "L1" || len(s.ScannerOnly) != 1 ||
			len(s.Inspections) != n || !s.Inspections[0].HasImage || s.Config.Generation != 1 {
			t.Errorf("status: %s", body)
		}
		if s.Lanes[0].LastTruck == nil || abs64(s.Lanes[0].LastTruck.GrossKg-grossKg) > 60 {
			t.Errorf("lane L1's last truck %+v, want %.0f kg", s.Lanes[0].LastTruck, grossKg)
		}
		code, img := opsGet(t, base+"/api/inspections/"+over.InspectionID+"/image")
		if code != 200 || !strings.HasPrefix(img, "\xff\xd8") {
			t.Errorf("image: %d, %d bytes", code, len(img))
		}
		if code, _ := opsGet(t, base+"/api/inspections/nope/image"); code != 404 {
			t.Errorf("unknown image: %d, want 404", code)
		}
		code, res := opsGet(t, base+"/api/inspections/"+over.InspectionID)
		if code != 200 || !strings.Contains(res, inspection.WeightMismatch) {
			t.Errorf("result: %d %.200s", code, res)
		}
		code, part := opsGet(t, base+"/part/inspections")
		if code != 200 || !strings.Contains(part, `data-id="`+over.InspectionID+`"`) || !strings.Contains(part, `data-version="`+recent[0].Result.InspectionID+`"`) {
			t.Errorf("/part/inspections: %d %.300s", code, part)
		}
		if code, _ := opsGet(t, base+"/part/nope"); code != 404 {
			t.Errorf("/part/nope: %d, want 404", code)
		}
	})

	t.Run("page in chromium", func(t *testing.T) {
		// The page fills itself from /api/page; a loaded machine may need
		// Chromium's budget more than once.
		var dom string
		for try := 0; try < 3 && !strings.Contains(dom, `id="updated">live, `); try++ {
			dom = chromium(t, base+"/", "--dump-dom")
		}
		for _, want := range []string{
			`data-id="` + over.InspectionID + `"`,
			`data-verdict="alert"`,
			`<code>WEIGHT_MISMATCH</code>`,
			`data-live="lane.L1.weight"`,
			`scanner only: no weighbridge`,
			`rules.review_risk`,
			`face masks`,          // a commodity profile in force
			`id="updated">live, `, // the script polled /api/page
			`data-connection="ok"`,
		} {
			if !strings.Contains(dom, want) {
				t.Errorf("page lacks %s", want)
			}
		}
		// Every inspection image was decoded by the browser.
		loaded := regexp.MustCompile(`<img class="scan"[^>]*data-loaded="true"`).FindAllString(dom, -1)
		if len(loaded) != n {
			t.Errorf("%d inspection images loaded in the browser, want %d", len(loaded), n)
		}
		// The lane's live weight is the truck's.
		w := regexp.MustCompile(`data-live="lane.L1.weight" data-state="(\w+)">([^<]*)<`).FindStringSubmatch(dom)
		if w == nil || w[1] != "ok" || !strings.HasSuffix(w[2], " kg") {
			t.Errorf("lane L1 live weight %q, want a stable weight in kg", w)
		}

		shot := filepath.Join(t.TempDir(), "page.png")
		chromium(t, base+"/", "--screenshot="+shot, "--window-size=1280,2000")
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 1000 {
			t.Errorf("screenshot is %v", b)
		}
		t.Logf("screenshot: %s", shot)
	})
}

// chromium runs Debian's headless Chromium on url with args and returns
// its standard output. The virtual time budget lets the page's script
// poll a few times before Chromium reports.
func chromium(t *testing.T, url string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run `make test-deps` (apt-get install chromium)")
	}
	profile, err := os.MkdirTemp("", "gatescan-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: Chromium's helpers may still write there as it exits.
	t.Cleanup(func() { os.RemoveAll(profile) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir=" + profile, "--virtual-time-budget=4000"}, append(args, url)...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

func abs64(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
