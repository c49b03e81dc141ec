package agent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatescan/gatescan/agent/publish"
	"github.com/gatescan/gatescan/buffer"
)

// tokenCookie carries the token in the browser once the page was opened
// with ?token=..., so that its requests need not repeat it.
const tokenCookie = "gatescan_token"

// Handler serves, on http.listen:
//
//	/healthz                     200 while the process serves (liveness)
//	/readyz                      200 once ready to inspect; 503 and the reason otherwise
//	/metrics                     Prometheus metrics
//	/                            the technicians' page
//	/part/{name}                 one section of the page, for its live updates
//	/api/status                  the agent's state as JSON
//	/api/page                    the page's live values as JSON
//	/api/inspections/{id}        a recent or stored inspection result
//	/api/inspections/{id}/image  a recent inspection's annotated JPEG
//
// On a loopback address everything is open to the box's own users. On any
// other address everything but the health checks requires http.token (or
// the content of http.token_file), as "Authorization: Bearer TOKEN", or as
// ?token=TOKEN once, which leaves a cookie for the page's own requests.
func (a *Agent) Handler() http.Handler {
	a.metrics.live.bind(a)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := a.pipelineAlive(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	private := http.NewServeMux()
	private.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}))
	private.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.status()) })
	private.HandleFunc("GET /api/inspections/{id}", a.serveResult)
	private.HandleFunc("GET /api/inspections/{id}/image", a.serveImage)
	a.pageRoutes(private)
	mux.Handle("/", a.requireToken(private))
	if a.Config().HTTP.Loopback() {
		return loopbackHost(mux)
	}
	return mux
}

// loopbackHost refuses requests whose Host is not a loopback name or
// address. On loopback the page needs no token, so a web page elsewhere
// could otherwise reach it through DNS rebinding: its own name made to
// resolve to 127.0.0.1, the browser sends that name as Host.
func loopbackHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		ip := net.ParseIP(host)
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, fmt.Sprintf("Host %q refused: on a loopback address the agent answers only to localhost or 127.0.0.1 (open http://127.0.0.1:PORT/; a page that renamed itself to reach this one is refused)", r.Host),
				http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// status is the agent's state for /api/status and the page.
func (a *Agent) status() Status {
	cfg := a.Config()
	s := Status{Version: Version, Site: cfg.Site, Gate: cfg.Gate, StartedAt: a.ops.startedAt,
		Config: ConfigStatus{Generation: a.configGeneration(), LoadedAt: a.ops.startedAt},
		Lanes:  a.laneStatus()}
	if t := a.ops.loadedAt.Load(); t != nil {
		s.Config.LoadedAt = *t
	}
	if err := a.pipelineAlive(); err != nil {
		s.NotReady = err.Error()
	} else {
		s.Ready = true
	}
	for _, l := range cfg.Lanes {
		if l.Weighbridge == nil {
			s.ScannerOnly = append(s.ScannerOnly, l.ID)
		}
	}
	if a.pub != nil {
		s.MQTT = a.pub.State()
	}
	if a.store != nil {
		st, err := a.store.Stats()
		s.Outbox = OutboxStatus{Stats: st, Disk: a.diskStatus()}
		if err != nil {
			s.Outbox.Error = err.Error()
		}
	}
	for _, it := range a.ops.recent.list() {
		r := it.Result
		s.Inspections = append(s.Inspections, InspectionSummary{ID: r.InspectionID, ScanID: r.ScanID, Lane: r.Lane,
			ContainerIDs: r.ContainerIDs, Container: r.Container, Verdict: r.Verdict, Risk: r.Risk, Codes: r.Codes(),
			InspectedAt: r.InspectedAt, HasImage: it.Image != nil})
	}
	return s
}

// Status is the agent's state as /api/status reports it.
type Status struct {
	Version   string    `json:"version"`
	Site      string    `json:"site"`
	Gate      string    `json:"gate"`
	StartedAt time.Time `json:"started_at"`
	// Ready is /readyz: started, the scan loop turning, the buffer
	// answering; NotReady says why not.
	Ready       bool                `json:"ready"`
	NotReady    string              `json:"not_ready,omitempty"`
	Config      ConfigStatus        `json:"config"`
	Outbox      OutboxStatus        `json:"outbox"`
	MQTT        publish.State       `json:"mqtt"`
	Lanes       []LaneStatus        `json:"lanes"`
	ScannerOnly []string            `json:"scanner_only_lanes,omitempty"`
	Inspections []InspectionSummary `json:"inspections"`
}

// ConfigStatus tells which config is in force.
type ConfigStatus struct {
	// Generation is 1 for the config the agent started with, plus one per
	// applied reload.
	Generation uint64    `json:"generation"`
	LoadedAt   time.Time `json:"loaded_at"`
}

// OutboxStatus is the buffer's outbox (what waits for the broker) and its
// size, or why it could not be read.
type OutboxStatus struct {
	buffer.Stats
	Disk  DiskStatus `json:"disk"`
	Error string     `json:"error,omitempty"`
}

// InspectionSummary is a recent inspection in /api/status.
type InspectionSummary struct {
	ID           string    `json:"inspection_id"`
	ScanID       string    `json:"scan_id"`
	Lane         string    `json:"lane"`
	ContainerIDs []string  `json:"container_ids"`
	Container    string    `json:"container_id,omitempty"`
	Verdict      string    `json:"verdict"`
	Risk         float64   `json:"risk"`
	Codes        []string  `json:"codes"`
	InspectedAt  time.Time `json:"inspected_at"`
	HasImage     bool      `json:"has_image"`
}

func (a *Agent) serveResult(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if it, ok := a.ops.recent.get(id); ok {
		writeJSON(w, it.Result)
		return
	}
	if a.store == nil {
		http.Error(w, "the agent is starting", http.StatusServiceUnavailable)
		return
	}
	b, err := a.store.Result(id)
	if err != nil {
		http.Error(w, fmt.Sprintf("inspection %q is not in the buffer (older than buffer.retention, or never made here)", id), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (a *Agent) serveImage(w http.ResponseWriter, r *http.Request) {
	it, ok := a.ops.recent.get(r.PathValue("id"))
	if !ok || it.Image == nil {
		http.Error(w, "no annotated image for this inspection here: the page keeps only the latest ones", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	// An inspection's image never changes: its id is derived from the scan.
	w.Header().Set("Cache-Control", "private, max-age=86400, immutable")
	w.Write(it.Image)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// requireToken guards next with the token when http.listen is not a
// loopback address. Without a usable token there it refuses everything:
// an open page on the gate network would show every container's contents.
func (a *Agent) requireToken(next http.Handler) http.Handler {
	h := a.Config().HTTP
	if h.Loopback() {
		return next
	}
	token, err := h.LoadToken()
	if err == nil && token == "" {
		err = fmt.Errorf("http.listen %s is not a loopback address and neither http.token nor http.token_file is set", h.Listen)
	}
	if err != nil {
		a.log.Error("page, metrics and API refused on every request", "err", err)
		msg := err.Error() + ": set a token and restart gatescan"
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, msg, http.StatusServiceUnavailable)
		})
	}
	ok := func(given string) bool { return subtle.ConstantTimeCompare([]byte(given), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("token"); q != "" && ok(q) {
			// Remember it, then drop it from the address bar and history.
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			u := *r.URL
			qs := u.Query()
			qs.Del("token")
			u.RawQuery = qs.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if b, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && ok(b) {
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(tokenCookie); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatescan"`)
		http.Error(w, "token required: send Authorization: Bearer TOKEN, or open the page once with ?token=TOKEN (http.token in the config)", http.StatusUnauthorized)
	})
}

// The HTTP server's limits (see serveHTTP).
const (
	httpReadTimeout  = 10 * time.Second
	httpWriteTimeout = 30 * time.Second
	httpIdleTimeout  = 60 * time.Second
)

// serveHTTP starts serving Handler on listen ("" serves nothing) and
// returns the server for shutdown.
// Run calls it once, early, so it also marks when the agent started.
func (a *Agent) serveHTTP(listen string) (*http.Server, error) {
	a.ops.startedAt = time.Now()
	if listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w (another process on the port? pick another in the config)", listen, err)
	}
	a.ops.httpAddr = ln.Addr().String()
	// Timeouts: a client that opens connections and sends nothing, or
	// reads nothing, must not hold them (and their goroutines) for ever.
	// The page polls every second; the largest answer is an annotated
	// image of a few hundred kB.
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: httpReadTimeout,
		WriteTimeout: httpWriteTimeout, IdleTimeout: httpIdleTimeout}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server stopped", "err", err)
		}
	}()
	a.log.Info("serving the technicians' page, /metrics and health checks", "addr", "http://"+a.ops.httpAddr+"/")
	return srv, nil
}
