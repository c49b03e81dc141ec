package agent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestTokenRequiredOffLoopback(t *testing.T) {
	a, _ := tokenAgent(t, config.HTTP{Listen: "0.0.0.0:9108", Token: "s3cret-token"})
	h := a.Handler()
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
	if len(cookie) != 1 || cookie[0].Name != tokenCookie || !cookie[0].HttpOnly || cookie[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v, want one HttpOnly SameSite=Strict %s", cookie, tokenCookie)
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
	h := a.Handler()
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
		h := a.Handler()
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
	if w := serve(a.Handler(), "/metrics"); w.Code != 200 {
		t.Errorf("/metrics on loopback: %d, want 200", w.Code)
	}
	// Not running: not ready, and /readyz says why.
	if w := serve(a.Handler(), "/readyz"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "starting") {
		t.Errorf("/readyz before start: %d %q", w.Code, w.Body.String())
	}
}
