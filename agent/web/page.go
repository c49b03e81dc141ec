package web

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
)

// The technicians' page: server-rendered HTML, its CSS and a little
// JavaScript, all embedded (the gate box has no internet). The script polls
// /api/page once a second: live values (weights, line states, outbox) are
// replaced in place, and a section is fetched again, rendered by the same
// template as the page, when its version changes (a new inspection, a
// reload).

//go:embed page.html static
var webFS embed.FS

var pageTmpl = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"kg":      fmtKg,
	"clock":   fmtClock,
	"pct":     func(v float64) string { return fmt.Sprintf("%.0f %%", 100*v) },
	"timings": sortedTimings,
	"verdict": verdictState,
}).ParseFS(webFS, "page.html"))

// pageParts are the sections /part/{name} renders.
var pageParts = []string{"lanes", "inspections", "thresholds"}

func (s *Server) pageRoutes(mux *http.ServeMux) {
	static, _ := fs.Sub(webFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { s.render(w, "page.html") })
	mux.HandleFunc("GET /part/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		for _, p := range pageParts {
			if p == name {
				s.render(w, name)
				return
			}
		}
		http.Error(w, fmt.Sprintf("no page section %q (sections: %s)", name, strings.Join(pageParts, ", ")), http.StatusNotFound)
	})
	mux.HandleFunc("GET /api/page", func(w http.ResponseWriter, _ *http.Request) {
		d := s.pageData()
		writeJSON(w, map[string]any{"live": d.Live, "parts": d.Parts})
	})
}

// render executes one template of the page into a buffer first, so that a
// failure is a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, name string) {
	var b bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&b, name, s.pageData()); err != nil {
		s.log.Error("page not rendered", "template", name, "err", err)
		http.Error(w, "page not rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Everything the page needs is served from here; nothing else may load.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	w.Write(b.Bytes())
}

// pageData is what the page's templates see.
type pageData struct {
	S      Status
	Cfg    *config.Config
	Recent []Inspection
	// Live holds the values the script updates in place, by key.
	Live map[string]liveValue
	// Parts holds each section's version: the script fetches a section
	// again when its version changes.
	Parts map[string]string
	// Rules, Detector, Profiles and Controlled are the thresholds in force,
	// laid out from the config's own keys, so that a new key shows without
	// touching the page.
	Rules, Detector      []keyValue
	Calibration          []keyValue // which calibration is in force, per energy
	Profiles, Controlled table
}

// liveValue is one value the page updates in place: its text, and a state
// the style sheet colours by (ok, warn, bad, or "").
type liveValue struct {
	Text  string `json:"text"`
	State string `json:"state"`
}

type keyValue struct{ Key, Value string }

type table struct {
	Head []string
	Rows [][]string
}

func (s *Server) pageData() pageData {
	cfg := s.src.Config()
	d := pageData{S: s.status(), Cfg: cfg, Recent: s.recent.list(), Live: map[string]liveValue{}}
	gen := strconv.FormatUint(d.S.Config.Generation, 10)
	newest := "none"
	if len(d.Recent) > 0 {
		newest = d.Recent[0].Result.InspectionID
	}
	d.Parts = map[string]string{"lanes": gen, "inspections": newest, "thresholds": gen}
	flatten("rules", reflect.ValueOf(cfg.Rules), &d.Rules)
	flatten("detector", reflect.ValueOf(cfg.Detector), &d.Detector)
	d.Calibration = calibrationRows(cfg.Detector)
	d.Profiles = tableOf(cfg.Profiles)
	d.Controlled = tableOf(cfg.Controlled)

	set := func(key, text, state string) { d.Live[key] = liveValue{text, state} }
	if d.S.Ready {
		set("ready", "ready to inspect", "ok")
	} else {
		set("ready", "not ready: "+d.S.NotReady, "bad")
	}
	set("config", fmt.Sprintf("#%d, loaded %s", d.S.Config.Generation, fmtClock(d.S.Config.LoadedAt)), "")
	for _, l := range d.S.Lanes {
		p := "lane." + l.ID + "."
		state := map[string]string{"up": "ok", "silent": "warn", "down": "bad"}[string(l.Line.State)]
		set(p+"state", fmt.Sprintf("%s since %s", l.Line.State, fmtClock(l.Line.Since)), state)
		stable, st := "moving", "warn"
		if l.Stable {
			stable, st = "stable", "ok"
		}
		if l.At.IsZero() {
			set(p+"weight", "no reading yet", "")
			set(p+"stable", "—", "")
		} else {
			set(p+"weight", fmtKg(l.GrossKg), st)
			set(p+"stable", stable, st)
		}
		set(p+"counts", fmt.Sprintf("%d readings, %d bad frames, %d reconnects", l.Line.Readings, l.Line.BadFrames, l.Line.Reconnects), "")
		set(p+"error", orNone(l.Line.LastError), badIf(l.Line.LastError != ""))
		truck := "—"
		if t := l.LastTruck; t != nil {
			truck = fmt.Sprintf("%s, %s at %s", fmtKg(t.GrossKg), t.Kind, fmtClock(t.At))
		}
		set(p+"truck", truck, "")
	}
	if d.S.MQTT.Connected {
		set("mqtt.state", "connected", "ok")
	} else {
		set("mqtt.state", "not connected", "bad")
	}
	set("mqtt.delivered", fmt.Sprintf("%d delivered, %d failures", d.S.MQTT.Delivered, d.S.MQTT.Failures), "")
	set("mqtt.error", orNone(d.S.MQTT.LastError), badIf(d.S.MQTT.LastError != ""))
	// What …/status reports: delivery stuck, a subscription denied, the disk.
	probs := make([]string, 0, len(d.S.MQTT.Problems))
	for _, p := range d.S.MQTT.Problems {
		probs = append(probs, fmt.Sprintf("%s since %s: %s", p.Code, fmtClock(p.Since), p.Message))
	}
	set("problems", orNone(strings.Join(probs, "; ")), badIf(len(probs) > 0))
	o := d.S.Outbox
	switch {
	case o.Error != "":
		set("outbox.pending", "unreadable: "+o.Error, "bad")
	case o.Pending == 0:
		set("outbox.pending", "empty", "ok")
	default:
		set("outbox.pending", fmt.Sprintf("%d waiting", o.Pending), "warn")
	}
	oldest := "—"
	if o.Pending > 0 {
		oldest = (time.Duration(o.OldestAgeS) * time.Second).String()
	}
	set("outbox.oldest", oldest, "")
	set("buffer.size", fmt.Sprintf("%.1f MB", float64(o.DiskBytes)/1e6), "")
	dk := o.Disk
	budget := "no budget"
	if dk.BudgetBytes > 0 {
		budget = fmt.Sprintf("budget %d MB", dk.BudgetBytes>>20)
	}
	set("buffer.disk", fmt.Sprintf("%s: %d MB free (keeps %d MB), %s", dk.State, dk.FreeBytes>>20, dk.MinFreeBytes>>20, budget),
		map[string]string{"ok": "ok", "low": "warn", "full": "bad"}[dk.State])
	return d
}

// L renders the live value key (its parts joined) as a span the script
// keeps up to date.
func (d pageData) L(parts ...string) template.HTML {
	key := strings.Join(parts, "")
	v := d.Live[key]
	return template.HTML(fmt.Sprintf(`<span data-live="%s" data-state="%s">%s</span>`,
		html.EscapeString(key), html.EscapeString(v.State), html.EscapeString(v.Text)))
}

// flatten lists a config struct's leaves under their key paths.
func flatten(prefix string, v reflect.Value, out *[]keyValue) {
	if v.Kind() == reflect.Struct {
		for i := 0; i < v.NumField(); i++ {
			tag := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]
			if tag != "" && tag != "-" {
				flatten(prefix+"."+tag, v.Field(i), out)
			}
		}
		return
	}
	*out = append(*out, keyValue{prefix, fmtValue(v)})
}

// tableOf lays a list of config structs out as a table, one column per key.
func tableOf(list any) table {
	v := reflect.ValueOf(list)
	t := v.Type().Elem()
	var tb table
	var cols []int
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			tb.Head = append(tb.Head, tag)
			cols = append(cols, i)
		}
	}
	for r := 0; r < v.Len(); r++ {
		var row []string
		for _, c := range cols {
			row = append(row, fmtValue(v.Index(r).Field(c)))
		}
		tb.Rows = append(tb.Rows, row)
	}
	return tb
}

func fmtValue(v reflect.Value) string {
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice, reflect.Array:
		if v.Len() == 0 {
			return "—"
		}
		// Calibration tables are not thresholds: say how big, not what.
		if k := v.Type().Elem().Kind(); v.Kind() == reflect.Slice && (k == reflect.Struct || k == reflect.Slice || k == reflect.Array) {
			return fmt.Sprintf("%d entries (see the config file)", v.Len())
		}
		s := make([]string, v.Len())
		for i := range s {
			s[i] = fmtValue(v.Index(i))
		}
		return strings.Join(s, ", ")
	case reflect.Pointer:
		if v.IsNil() {
			return "—"
		}
		return fmtValue(v.Elem())
	case reflect.Struct:
		var kv []keyValue
		flatten("", v, &kv)
		s := make([]string, len(kv))
		for i, p := range kv {
			s[i] = strings.TrimPrefix(p.Key, ".") + " " + p.Value
		}
		return strings.Join(s, "; ")
	}
	return fmt.Sprint(v.Interface())
}

func badIf(b bool) string {
	if b {
		return "bad"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// fmtKg formats a mass in whole kg with thin spaces between thousands, or
// "—" for an unknown one (a nil *float64).
func fmtKg(v any) string {
	var kg float64
	switch x := v.(type) {
	case float64:
		kg = x
	case *float64:
		if x == nil {
			return "—"
		}
		kg = *x
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(int64(kg+copysignHalf(kg)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "\u202f" + s[i:]
	}
	if neg {
		s = "−" + s
	}
	return s + " kg"
}

func copysignHalf(v float64) float64 {
	if v < 0 {
		return -0.5
	}
	return 0.5
}

// fmtClock shows a time of today as its clock time, an older one with its
// date, in the gate box's time zone.
func fmtClock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.Local()
	if y, m, d := t.Date(); y == time.Now().Year() && m == time.Now().Month() && d == time.Now().Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

type stageTime struct {
	Stage string
	MS    float64
}

// sortedTimings lists an inspection's stage timings, slowest first.
func sortedTimings(m map[string]float64) []stageTime {
	out := make([]stageTime, 0, len(m))
	for k, v := range m {
		out = append(out, stageTime{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].MS > out[j].MS || (out[i].MS == out[j].MS && out[i].Stage < out[j].Stage)
	})
	return out
}

// verdictState maps a verdict to the page's colours.
func verdictState(v string) string {
	switch v {
	case inspection.Alert:
		return "bad"
	case inspection.Review:
		return "warn"
	}
	return "ok"
}
