package web

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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatescan/gatescan/config"
)

// Source is what the web part reads of the agent.
type Source interface {
	// Config returns the config in force.
	Config() *config.Config
	// Status returns the agent's state; the server adds the recent
	// inspections.
	Status() Status
	// NotReady says why the agent cannot inspect right now, or nil.
	NotReady() error
	// StoredResult returns a result from the buffer, ErrStarting before
	// the buffer is open.
	StoredResult(inspectionID string) ([]byte, error)
}

// ErrStarting is StoredResult's error before the agent's buffer is open.
var ErrStarting = errors.New("the agent is starting")

// Server serves the agent's page, API, metrics and health checks, and
// keeps the recent inspections the page shows.
type Server struct {
	src     Source
	metrics prometheus.Gatherer
	log     *slog.Logger
	recent  ring
	// addr is where the server listens; set by Listen.
	addr string
}

// New makes the web part of the agent src; metrics is what /metrics
// serves.
func New(src Source, metrics prometheus.Gatherer, log *slog.Logger) *Server {
	return &Server{src: src, metrics: metrics, log: log}
}

// Addr returns the address Listen listens on ("" before, or without one).
func (s *Server) Addr() string { return s.addr }

// TokenCookie carries the token in the browser once the page was opened
// with ?token=..., so that its requests need not repeat it.
const TokenCookie = "gatescan_token"

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
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.src.NotReady(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	private := http.NewServeMux()
	private.Handle("GET /metrics", promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}))
	private.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.status()) })
	private.HandleFunc("GET /api/inspections/{id}", s.serveResult)
	private.HandleFunc("GET /api/inspections/{id}/image", s.serveImage)
	s.pageRoutes(private)
	mux.Handle("/", s.requireToken(private))
	if s.src.Config().HTTP.Loopback() {
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

// status is the agent's state for /api/status and the page, with the
// recent inspections.
func (s *Server) status() Status {
	st := s.src.Status()
	for _, it := range s.recent.list() {
		r := it.Result
		st.Inspections = append(st.Inspections, InspectionSummary{ID: r.InspectionID, ScanID: r.ScanID, Lane: r.Lane,
			ContainerIDs: r.ContainerIDs, Container: r.Container, Verdict: r.Verdict, Risk: r.Risk, Codes: r.Codes(),
			InspectedAt: r.InspectedAt, HasImage: it.Image != nil})
	}
	return st
}

func (s *Server) serveResult(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if it, ok := s.recent.get(id); ok {
		writeJSON(w, it.Result)
		return
	}
	b, err := s.src.StoredResult(id)
	if errors.Is(err, ErrStarting) {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("inspection %q is not in the buffer (older than buffer.retention, or never made here)", id), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *Server) serveImage(w http.ResponseWriter, r *http.Request) {
	it, ok := s.recent.get(r.PathValue("id"))
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
func (s *Server) requireToken(next http.Handler) http.Handler {
	h := s.src.Config().HTTP
	if h.Loopback() {
		return next
	}
	token, err := h.LoadToken()
	if err == nil && token == "" {
		err = fmt.Errorf("http.listen %s is not a loopback address and neither http.token nor http.token_file is set", h.Listen)
	}
	if err != nil {
		s.log.Error("page, metrics and API refused on every request", "err", err)
		msg := err.Error() + ": set a token and restart gatescan"
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, msg, http.StatusServiceUnavailable)
		})
	}
	ok := func(given string) bool { return subtle.ConstantTimeCompare([]byte(given), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("token"); q != "" && ok(q) {
			// Remember it, then drop it from the address bar and history.
			http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
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
		if c, err := r.Cookie(TokenCookie); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatescan"`)
		http.Error(w, "token required: send Authorization: Bearer TOKEN, or open the page once with ?token=TOKEN (http.token in the config)", http.StatusUnauthorized)
	})
}

// The HTTP server's limits (see Listen).
const (
	httpReadTimeout  = 10 * time.Second
	httpWriteTimeout = 30 * time.Second
	httpIdleTimeout  = 60 * time.Second
)

// Listen starts serving Handler on listen ("" serves nothing) and
// returns the server for shutdown.
func (s *Server) Listen(listen string) (*http.Server, error) {
	if listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w (another process on the port? pick another in the config)", listen, err)
	}
	s.addr = ln.Addr().String()
	// Timeouts: a client that opens connections and sends nothing, or
	// reads nothing, must not hold them (and their goroutines) for ever.
	// The page polls every second; the largest answer is an annotated
	// image of a few hundred kB.
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: httpReadTimeout,
		WriteTimeout: httpWriteTimeout, IdleTimeout: httpIdleTimeout}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	s.log.Info("serving the technicians' page, /metrics and health checks", "addr", "http://"+s.addr+"/")
	return srv, nil
}
