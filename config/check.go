package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config, at a key path such as
// "lanes[0].weighbridge.baud".
type Problem struct {
	Path string
	Line int
	Msg  string
}

func (p Problem) String() string {
	s := p.Path
	if p.Line > 0 {
		s += fmt.Sprintf(" (line %d)", p.Line)
	}
	if s == "" {
		return p.Msg
	}
	return s + ": " + p.Msg
}

// Problems is every problem found in a config.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

var (
	typeOfConfig   = reflect.TypeOf(Config{})
	typeOfDuration = reflect.TypeOf(time.Duration(0))
	typeOfIssuer   = reflect.TypeOf(Issuer{})
)

// checkKeys walks a YAML node against the Go type it will decode into and
// reports every key that has no field, with the closest known key.
func checkKeys(n *yaml.Node, t reflect.Type, path string, probs *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.AliasNode:
		checkKeys(n.Alias, t, path, probs)
	case t == typeOfIssuer && n.Kind == yaml.ScalarNode:
		// An issuer may be given by its name alone.
	case t.Kind() == reflect.Struct && t != typeOfDuration:
		if n.Kind != yaml.MappingNode {
			if n.Tag != "!!null" {
				*probs = append(*probs, Problem{path, n.Line, fmt.Sprintf("expected a mapping, found %q", n.Value)})
			}
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		yamlFields(t, fields, &names)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				msg := "unknown key"
				if s := closest(k.Value, names); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				*probs = append(*probs, Problem{p, k.Line, msg})
				continue
			}
			checkKeys(v, ft, p, probs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), probs)
		}
	}
}

// yamlFields adds the YAML keys of struct t and their types, those of
// inlined structs included.
func yamlFields(t reflect.Type, fields map[string]reflect.Type, names *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case tag == "" && opts == "inline" && f.Type.Kind() == reflect.Struct:
			yamlFields(f.Type, fields, names)
		case tag != "" && tag != "-":
			fields[tag] = f.Type
			*names = append(*names, tag)
		}
	}
}

func join(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	}
	return path + "." + key
}

// closest returns the known name within edit distance 2 of s, if any.
func closest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var (
	reTopicPart = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	reHS        = regexp.MustCompile(`^[0-9]{2,10}$`)
)

// Validate reports every problem in c, with its key path. It also fills
// per-lane defaults that a list in YAML cannot inherit.
func (c *Config) Validate() Problems {
	var ps Problems
	bad := func(path, format string, a ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, a...)})
	}
	c.validateConnections(bad)
	c.validateLanes(bad)
	c.validateDetection(bad)
	c.validateGoods(bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
	return ps
}

// validateConnections checks the site, the broker, the buffer, the inboxes and the listener.
func (c *Config) validateConnections(bad func(path, format string, a ...any)) {
	for _, f := range []struct{ path, v string }{{"site", c.Site}, {"gate", c.Gate}} {
		if !reTopicPart.MatchString(f.v) {
			bad(f.path, "%q must be letters, digits, '.', '_' or '-' (it is part of every MQTT topic)", f.v)
		}
	}
	if c.MQTT.Broker != "embedded" {
		// Messages quote the URL without its password: `config check`
		// output and the reload's log lines get pasted into tickets.
		broker := Redact(c.MQTT.Broker)
		u, err := url.Parse(c.MQTT.Broker)
		switch {
		case err != nil:
			bad("mqtt.broker", "%q is not a URL: %s", broker, Redact(err.Error()))
		case u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "mqtt" && u.Scheme != "mqtts":
			bad("mqtt.broker", "%q: scheme must be tcp://, ssl://, ws:// or wss:// (or \"embedded\")", broker)
		case u.Host == "":
			bad("mqtt.broker", "%q has no host:port", broker)
		}
	} else {
		c.checkEmbedded(bad)
	}
	if (c.MQTT.CertFile == "") != (c.MQTT.KeyFile == "") {
		bad("mqtt.cert_file", "cert_file and key_file go together for mutual TLS; set both or neither")
	}
	if c.MQTT.Keepalive < time.Second {
		bad("mqtt.keepalive", "%v is too short; use at least 1s", c.MQTT.Keepalive)
	}
	if c.Buffer.MaxDiskMB < -1 {
		bad("buffer.max_disk_mb", "%d: give a size in MB (at least 64), 0 for a budget derived from the free space, or -1 for none", c.Buffer.MaxDiskMB)
	}
	if c.Buffer.MinFreeMB < 0 {
		bad("buffer.min_free_mb", "%d cannot be negative (0 turns the free space checks off)", c.Buffer.MinFreeMB)
	}
	if c.Buffer.Dir == "" {
		bad("buffer.dir", "must name the directory Badger keeps its files in")
	}
	if c.Scanner.Inbox == "" {
		bad("scanner.inbox", "must name the directory the scanner writes scans into")
	}
	if c.Scanner.MaxWidth < 16 || c.Scanner.MaxHeight < 16 {
		bad("scanner.max_width", "image limits %dx%d are too small", c.Scanner.MaxWidth, c.Scanner.MaxHeight)
	}
	if c.Scanner.Rescan <= 0 {
		bad("scanner.rescan_interval", "must be positive, e.g. 30s")
	}
	if c.Scanner.MaxAttempts < 1 {
		bad("scanner.max_attempts", "%d: a scan needs at least 1 attempt before quarantine, e.g. 3", c.Scanner.MaxAttempts)
	}
	if c.Scanner.PredecodeImages < 0 || c.Scanner.PredecodeImages > 0 && c.Scanner.PredecodeKeep <= 0 {
		bad("scanner.predecode_images", "%d images kept %v: the images must be 0 (none decoded ahead) or more, and kept a positive time, e.g. 2 and 1m",
			c.Scanner.PredecodeImages, c.Scanner.PredecodeKeep)
	}
	if c.Scanner.SettleTime < 0 || c.Declarations.SettleTime < 0 {
		bad("scanner.settle_time", "settle times must not be negative")
	}
	if c.Shutdown <= 0 {
		bad("shutdown_timeout", "must be positive and below the unit's TimeoutStopSec less 10s, e.g. 20s")
	}
	if c.HTTP.Listen != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			bad("http.listen", "%q is not host:port: %v", c.HTTP.Listen, err)
		} else if !c.HTTP.Loopback() && c.HTTP.Token == "" && c.HTTP.TokenFile == "" {
			bad("http.token", "http.listen %s is reachable from other machines and the page shows every container's contents: set token or token_file, or listen on 127.0.0.1", c.HTTP.Listen)
		}
	}
}

// validateLanes checks the lanes and fills their weighbridges' defaults.
func (c *Config) validateLanes(bad func(path, format string, a ...any)) {
	seen := map[string]bool{}
	for i := range c.Lanes {
		l := &c.Lanes[i]
		p := fmt.Sprintf("lanes[%d]", i)
		if !reTopicPart.MatchString(l.ID) {
			bad(p+".id", "%q must be letters, digits, '.', '_' or '-'", l.ID)
		}
		if seen[l.ID] {
			bad(p+".id", "lane %q is listed twice", l.ID)
		}
		seen[l.ID] = true
		if l.VehicleTareKg < 0 || l.VehicleTareKg > 60000 {
			bad(p+".vehicle_tare_kg", "%v kg is not a plausible tractor and chassis tare (0..60000)", l.VehicleTareKg)
		}
		if w := l.Weighbridge; w != nil {
			w.Line = w.Line.WithDefaults()
			w.Weighing = w.Weighing.WithDefaults()
			keyed(p+".weighbridge", w.Line.Validate(), bad)
			keyed(p+".weighbridge", w.Weighing.Validate(), bad)
		}
	}
}

// validateDetection checks the detector, the rules and the container geometries.
func (c *Config) validateDetection(bad func(path, format string, a ...any)) {
	for _, p := range c.Detector.Check() {
		bad(join("detector", p.Key), "%s", p.Msg)
	}
	r := c.Rules
	if r.ReviewRisk <= 0 || r.AlertRisk <= r.ReviewRisk || r.AlertRisk > 1 {
		bad("rules.alert_risk", "need 0 < review_risk (%v) < alert_risk (%v) <= 1", r.ReviewRisk, r.AlertRisk)
	}
	e := r.Evidence
	if e.WarningKg < 0 || e.CriticalKg < e.WarningKg {
		bad("rules.evidence.critical_kg", "need 0 <= warning_kg (%v) <= critical_kg (%v)", e.WarningKg, e.CriticalKg)
	}
	if e.WarningSigma < 0 || e.CriticalSigma < e.WarningSigma {
		bad("rules.evidence.critical_sigma", "need 0 <= warning_sigma (%v) <= critical_sigma (%v)", e.WarningSigma, e.CriticalSigma)
	}
	if e.LoadSpreadMin <= 0 || e.LoadSpreadMin > 1 {
		bad("rules.evidence.load_spread_min", "%v: a log-density spread, 0.02..1 (0.1 is 10 %%)", e.LoadSpreadMin)
	}
	if e.WarningRatio <= 1 || e.CriticalRatio < e.WarningRatio {
		bad("rules.evidence.critical_ratio", "need 1 < warning_ratio (%v) <= critical_ratio (%v)", e.WarningRatio, e.CriticalRatio)
	}
	if e.EdgeStripM < 0 || e.EdgeStripM > 3 {
		bad("rules.evidence.edge_strip_m", "%v: a length along the lane in metres, 0 (off) to 3", e.EdgeStripM)
	}
	if e.TopLayerM < 0 || e.TopLayerM > 2 {
		bad("rules.evidence.top_layer_m", "%v: a height in metres, 0 (off) to 2", e.TopLayerM)
	}
	if e.LighterMinKgM3 < 0 {
		bad("rules.evidence.lighter_min_kg_m3", "%v: a density, kg/m³, 0 or more", e.LighterMinKgM3)
	}
	if e.DepthFillMin <= 0 || e.DepthFillMin > 1 {
		bad("rules.evidence.depth_fill_min", "%v: a fraction of the container's width, above 0 and at most 1", e.DepthFillMin)
	}
	if w := e.WeighbridgeScale; w[0] <= 0 || w[0] > 1 || w[1] < 1 || w[1] > 3 {
		bad("rules.evidence.weighbridge_scale", "%v: need [low <= 1, high >= 1], e.g. [0.75, 1.35]", w)
	}
	if e.CoilsMin < 1 || e.CoilCoverMin < 0 || e.CoilCoverMin > 1 {
		bad("rules.evidence.coils_min", "need coils_min >= 1 (%v) and coil_cover_min in 0..1 (%v)", e.CoilsMin, e.CoilCoverMin)
	}
	if r.WeightTolerancePct < 0 || r.WeightToleranceKg < 0 {
		bad("rules.weight_tolerance_pct", "tolerances cannot be negative")
	}
	if r.WeightCriticalPct < 0 {
		bad("rules.weight_critical_pct", "%v: a percentage of the declared weight, 0 or more", r.WeightCriticalPct)
	}
	for i, k := range c.Containers {
		for _, p := range k.Check() {
			bad(join(fmt.Sprintf("containers[%d]", i), p.Key), "%s", p.Msg)
		}
	}
}

// validateGoods checks the commodity profiles and the controlled goods.
func (c *Config) validateGoods(bad func(path, format string, a ...any)) {
	for i, pr := range c.Profiles {
		p := fmt.Sprintf("profiles[%d]", i)
		if pr.HSPrefix != "*" && !reHS.MatchString(strings.ReplaceAll(pr.HSPrefix, ".", "")) {
			bad(p+".hs_prefix", "%q is not an HS code prefix (2 to 10 digits, dots allowed; \"*\" for the fallback)", pr.HSPrefix)
		}
		if !pr.WeightOnly && (pr.DensityKgM3[0] < 0 || pr.DensityKgM3[1] <= pr.DensityKgM3[0]) {
			bad(p+".density_kg_m3", "%v: need [low, high] with 0 <= low < high (or weight_only: true)", pr.DensityKgM3)
		}
		switch pr.Material {
		case "", "organic", "mixed", "inorganic", "metal":
		default:
			bad(p+".material", "%q: use organic, mixed, inorganic or metal", pr.Material)
		}
		for j, sh := range pr.Shapes {
			switch sh {
			case "cartons", "pallets", "crates", "bales", "bags", "coils", "upright", "irregular":
			default:
				bad(fmt.Sprintf("%s.shapes[%d]", p, j), "%q: use cartons, pallets, crates, bales, bags, coils, upright or irregular", sh)
			}
		}
		if pr.Packed != [2]float64{} && (pr.Packed[0] <= 0 || pr.Packed[1] <= 1 || pr.Packed[1] > 5) {
			bad(p+".packed_kg_m3", "%v: need [typical density > 0, spread factor 1..5] (or leave it out)", pr.Packed)
		}
		if pr.Uniformity < 0 || pr.Uniformity >= 1 {
			bad(p+".uniformity", "%v: 0 (anything goes) up to below 1 (perfectly uniform)", pr.Uniformity)
		}
	}
	for i, g := range c.Controlled {
		if !reHS.MatchString(strings.ReplaceAll(g.HSPrefix, ".", "")) {
			bad(fmt.Sprintf("controlled_goods[%d].hs_prefix", i), "%q is not an HS code prefix", g.HSPrefix)
		}
	}
	for i, is := range c.Accredited {
		if strings.TrimSpace(is.Name) == "" {
			bad(fmt.Sprintf("accredited_issuers[%d].name", i), "empty: give the agency's usual short name (its legal names go in aliases)")
		}
	}
}

// checkEmbedded checks where the built-in broker listens: it lets in
// whoever connects, so off loopback it requires the credentials it then
// asks every client for.
func (c *Config) checkEmbedded(bad func(path, format string, a ...any)) {
	l := c.MQTT.EmbeddedListen
	if _, _, err := net.SplitHostPort(l); err != nil {
		bad("mqtt.embedded_listen", "%q is not host:port: %v", l, err)
		return
	}
	if !LoopbackAddr(l) && !c.MQTT.HasCredentials() {
		bad("mqtt.embedded_listen", "%s is reachable from other machines and the built-in broker would let anyone publish declarations and read every inspection: set mqtt.username and a password (GATESCAN_MQTT_PASSWORD, password_file or password), which it then requires of every client, or listen on 127.0.0.1", l)
	}
}

// keyed reports each of a package's setting errors under prefix: the
// packages start every message with the setting's key.
func keyed(prefix string, err error, bad func(path, format string, a ...any)) {
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		key, msg, _ := strings.Cut(e.Error(), " ")
		bad(join(prefix, key), "%s", msg)
	}
}
