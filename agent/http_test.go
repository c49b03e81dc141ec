package agent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/web"
	"github.com/gatescan/gatescan/config"
)

func TestLoopback(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:9108": true, "127.1.2.3:80": true, "[::1]:9108": true, "localhost:9108": true,
		"0.0.0.0:9108": false, ":9108": false, "[::]:9108": false, "10.0.0.5:9108": false, "gatebox:9108": false, "junk": false,
	} {
		if got := (config.HTTP{Listen: listen}).Loopback(); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", listen, got, want)
		}
	}
	// config check says so before the daemon starts.
	_, err := config.Parse([]byte("http: {listen: \"0.0.0.0:9108\"}\n"), "t.yaml")
	if err == nil || !strings.Contains(err.Error(), "http.token") {
		t.Errorf("a public listen address without a token: %v, want a problem at http.token", err)
	}
}

// tokenAgent is an agent that is not running, with http settings, for the
// handler's access rules.
func tokenAgent(t *testing.T, h config.HTTP) (*Agent, *opsLog) {
	t.Helper()
	var log opsLog
	cfg := opsConfig(t, opsYAML(t.TempDir(), "  - id: L1", ""))
	cfg.HTTP = h // as given, even where config validation refuses it
	return New(cfg, log.logger(), Options{}), &log
}

func serve(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.Host = "127.0.0.1:9108" // as a browser on the box sends it
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestTokenRequiredOffLoopback(t *testing.T) {
	a, _ := tokenAgent(t, config.HTTP{Listen: "0.0.0.0:9108", Token: "s3cret-token"})
	h := a.web.Handler()
	if w := serve(h, "/healthz"); w.Code != 200 {
		t.Errorf("/healthz without token: %d, want 200 (health checks stay open)", w.Code)
	}
	for _, p := range []string{"/metrics", "/", "/api/status", "/api/page", "/static/page.js"} {
		w := serve(h, p)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s without token: %d %q, want 401 with a Bearer challenge", p, w.Code, w.Header().Get("WWW-Authenticate"))
		}
		if w := serve(h, p, "Authorization", "Bearer wrong"); w.Code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d, want 401", p, w.Code)
		}
	}
	if w := serve(h, "/metrics", "Authorization", "Bearer s3cret-token"); w.Code != 200 || !strings.Contains(w.Body.String(), "gatescan_build_info") {
		t.Errorf("/metrics with the token: %d\n%.300s", w.Code, w.Body.String())
	}
	// The page opened once with ?token= leaves a cookie and a clean address.
	w := serve(h, "/?token=s3cret-token&x=1")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/?x=1" {
		t.Fatalf("?token=: %d to %q, want 303 to /?x=1", w.Code, w.Header().Get("Location"))
	}
	cookie := w.Result().Cookies()
	if len(cookie) != 1 || cookie[0].Name != web.TokenCookie || !cookie[0].HttpOnly || cookie[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v, want one HttpOnly SameSite=Strict %s", cookie, web.TokenCookie)
	}
	if w := serve(h, "/static/page.css", "Cookie", cookie[0].String()); w.Code != 200 {
		t.Errorf("with the cookie: %d, want 200", w.Code)
	}
	if w := serve(h, "/?token=wrong"); w.Code != http.StatusUnauthorized {
		t.Errorf("?token=wrong: %d, want 401", w.Code)
	}
}

func TestTokenFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _ := tokenAgent(t, config.HTTP{Listen: "10.1.2.3:9108", TokenFile: f})
	h := a.web.Handler()
	if w := serve(h, "/metrics", "Authorization", "Bearer from-file"); w.Code != 200 {
		t.Errorf("token from token_file (newline trimmed): %d, want 200", w.Code)
	}
}

// TestNoTokenOffLoopbackRefusesAll: a page on the gate network without a
// token would show every container's contents to anyone; refuse, and say
// what to do.
func TestNoTokenOffLoopbackRefusesAll(t *testing.T) {
	for _, hc := range []config.HTTP{
		{Listen: ":9108"},
		{Listen: "0.0.0.0:9108", TokenFile: "/nonexistent/token"},
	} {
		a, log := tokenAgent(t, hc)
		h := a.web.Handler()
		w := serve(h, "/metrics", "Authorization", "Bearer ")
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "http.token") {
			t.Errorf("%s: %d %q, want 503 naming http.token", hc.Listen, w.Code, w.Body.String())
		}
		if !strings.Contains(log.String(), "refused") {
			t.Errorf("%s: the refusal is not logged", hc.Listen)
		}
		if w := serve(h, "/healthz"); w.Code != 200 {
			t.Errorf("%s: /healthz %d, want 200", hc.Listen, w.Code)
		}
	}
}

func TestLoopbackNeedsNoToken(t *testing.T) {
	a, _ := tokenAgent(t, config.HTTP{Listen: "127.0.0.1:9108", Token: "ignored-here"})
	if w := serve(a.web.Handler(), "/metrics"); w.Code != 200 {
		t.Errorf("/metrics on loopback: %d, want 200", w.Code)
	}
	// Not running: not ready, and /readyz says why.
	if w := serve(a.web.Handler(), "/readyz"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "starting") {
		t.Errorf("/readyz before start: %d %q", w.Code, w.Body.String())
	}
}

// TestLoopbackHostCheck: on loopback, where no token is asked, a request
// naming another host (DNS rebinding: a web page whose name now resolves
// to 127.0.0.1) is refused; localhost and loopback addresses are served.
func TestLoopbackHostCheck(t *testing.T) {
	a, _ := tokenAgent(t, config.HTTP{Listen: "127.0.0.1:9108"})
	h := a.web.Handler()
	for host, want := range map[string]int{
		"127.0.0.1:9108": 200, "localhost:9108": 200, "LOCALHOST": 200, "[::1]:9108": 200, "127.0.0.2": 200,
		"attacker.example:9108": http.StatusMisdirectedRequest, "attacker.example": http.StatusMisdirectedRequest,
		"10.0.0.5:9108": http.StatusMisdirectedRequest, "": http.StatusMisdirectedRequest,
		"localhost.attacker.example": http.StatusMisdirectedRequest,
	} {
		for _, p := range []string{"/api/status", "/metrics", "/healthz"} {
			if w := serve(h, p, "Host", host); w.Code != want {
				t.Errorf("%s with Host %q: %d, want %d", p, host, w.Code, want)
			}
		}
	}
	// Off loopback the token guards the page; any Host goes.
	a, _ = tokenAgent(t, config.HTTP{Listen: "0.0.0.0:9108", Token: "tok"})
	if w := serve(a.web.Handler(), "/metrics", "Host", "gatebox.port.example:9108", "Authorization", "Bearer tok"); w.Code != 200 {
		t.Errorf("off loopback, named host: %d, want 200", w.Code)
	}
}

// TestServerTimeouts: every limit of the server is set, so that a client
// that connects and never sends its request, or never reads the answer,
// is cut off rather than held for ever (net/http enforces them).
func TestServerTimeouts(t *testing.T) {
	a, _ := tokenAgent(t, config.HTTP{Listen: "127.0.0.1:0"})
	srv, err := a.web.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 || srv.ReadHeaderTimeout == 0 {
		t.Fatalf("server timeouts read %v write %v idle %v header %v: all must be set", srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.ReadHeaderTimeout)
	}
	// The server answers through them.
	resp, err := http.Get("http://" + a.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestReadyzOneProbe: with the buffer stalled, /readyz and the watchdog
// wait on one read, not one goroutine per request.
func TestReadyzOneProbe(t *testing.T) {
	a, _ := tokenAgent(t, config.HTTP{Listen: "127.0.0.1:9108"})
	close(a.ready)
	a.ops.startedAt = time.Now()
	release := make(chan struct{})
	defer close(release)
	var reads atomic.Int32
	a.ops.probe.read = func() error { reads.Add(1); <-release; return nil }
	a.ops.probe.timeout = 300 * time.Millisecond
	h := a.web.Handler()
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if w := serve(h, "/readyz"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "disk stalled") {
				t.Errorf("/readyz on a stalled buffer: %d %q", w.Code, w.Body.String())
			}
		})
	}
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Errorf("%d buffer reads started for 40 /readyz requests, want 1", n)
	}
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Errorf("%d goroutines after 40 /readyz requests, %d before: one left behind per request", after, before)
	}
}
