package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatescan/gatescan/internal/agenttest"
)

// TestRunUnderSystemd runs `gatescan run` as systemd would: with
// $NOTIFY_SOCKET and a watchdog, reloaded with real SIGHUPs (a good config
// applied, a bad one rejected and the old kept) and stopped with SIGTERM.
// It checks the notifications in order: READY=1, WATCHDOG=1 pings,
// RELOADING=1 and READY=1 around each reload, STOPPING=1.
func TestRunUnderSystemd(t *testing.T) {
	dir := t.TempDir()
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	t.Setenv("NOTIFY_SOCKET", filepath.Join(dir, "notify"))
	t.Setenv("WATCHDOG_USEC", "400000")
	t.Setenv("WATCHDOG_PID", "")
	cfgPath := filepath.Join(dir, "gatescan.yaml")
	write := func(rules string) {
		t.Helper()
		yaml := strings.Replace(gateYAML(dir, ""), `http: {listen: ""}`, `http: {listen: "127.0.0.1:0"}`, 1)
		yaml = strings.Replace(yaml, "rules: {grace: 1s}", rules, 1)
		if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rules: {grace: 1s}")
	var log agenttest.LogBuffer
	done := make(chan error, 1)
	go func() { done <- dispatch([]string{"run", "--config", cfgPath}, io.Discard, &log) }()

	// next returns the next notification other than a watchdog ping,
	// counting the pings.
	pings := 0
	next := func() string {
		t.Helper()
		buf := make([]byte, 4096)
		for {
			sock.SetReadDeadline(time.Now().Add(30 * time.Second))
			n, err := sock.Read(buf)
			if err != nil {
				t.Fatalf("no notification: %v\nlog:\n%s", err, log.String())
			}
			if s := string(buf[:n]); s != "WATCHDOG=1" {
				return s
			}
			pings++
		}
	}
	ready := next()
	if !strings.HasPrefix(ready, "READY=1\nSTATUS=inspecting") {
		t.Fatalf("first notification %q, want READY=1 with a status", ready)
	}
	m := regexp.MustCompile(`page on (http://[0-9.:]+/)`).FindStringSubmatch(ready)
	if m == nil {
		t.Fatalf("the status %q does not say where the page is", ready)
	}
	page := m[1]
	thresholds := func() string {
		t.Helper()
		resp, err := http.Get(page + "part/thresholds")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if !strings.Contains(thresholds(), "<th>rules.review_risk</th><td>0.3</td>") {
		t.Fatalf("default review_risk not shown:\n%s", thresholds())
	}

	// reload writes the config with rules and sends SIGHUP: systemd hears
	// RELOADING=1, then READY=1 with config #2 in force.
	reload := func(rules string) {
		t.Helper()
		write(rules)
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		if n := next(); !strings.HasPrefix(n, "RELOADING=1") {
			t.Fatalf("got %q, want RELOADING=1", n)
		}
		if n := next(); !strings.HasPrefix(n, "READY=1") || !strings.Contains(n, "config #2") {
			t.Fatalf("got %q, want READY=1 with config #2", n)
		}
	}
	reload("rules: {grace: 1s, review_risk: 0.4}")
	if !strings.Contains(thresholds(), "<th>rules.review_risk</th><td>0.4</td>") {
		t.Error("the reloaded review_risk is not in force")
	}
	reload("rules: {grace: 1s, review_risk: 0.9, alert_risk: 0.5}") // rejected
	if !strings.Contains(thresholds(), "<th>rules.review_risk</th><td>0.4</td>") {
		t.Error("a rejected config replaced the one in force")
	}
	if !strings.Contains(log.String(), `"key":"rules.alert_risk"`) {
		t.Errorf("the rejected config's problem is not logged with its key:\n%s", log.String())
	}
	// WATCHDOG_USEC=400000: a ping every 100 ms while the pipeline lives.
	for pings == 0 {
		sock.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		n, err := sock.Read(buf)
		if err != nil {
			t.Fatalf("no watchdog ping: %v", err)
		}
		if string(buf[:n]) != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", buf[:n])
		}
		pings++
	}

	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	if n := next(); !strings.HasPrefix(n, "STOPPING=1") {
		t.Fatalf("got %q, want STOPPING=1", n)
	}
	agenttest.Returns(t, done, 30*time.Second, "run (after SIGTERM)")
}
