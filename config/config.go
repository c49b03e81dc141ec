package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatescan/gatescan/drivers/scale/weighing"
	"github.com/gatescan/gatescan/drivers/serialline"
	"github.com/gatescan/gatescan/vision/settings"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// DefaultsYAML returns the commented default config.
func DefaultsYAML() []byte { return bytes.Clone(defaultsYAML) }

// Config is the whole agent configuration. The keys of interfaces.md §6 are
// fixed; everything else is gatescan's own.
type Config struct {
	Site         string        `yaml:"site"`
	Gate         string        `yaml:"gate"`
	MQTT         MQTT          `yaml:"mqtt"`
	Buffer       Buffer        `yaml:"buffer"`
	Scanner      Scanner       `yaml:"scanner"`
	Declarations Declarations  `yaml:"declarations"`
	Lanes        []Lane        `yaml:"lanes"`
	HTTP         HTTP          `yaml:"http"`
	Detector     Detector      `yaml:"detector"`
	Rules        Rules         `yaml:"rules"`
	Containers   []Container   `yaml:"containers"`
	Profiles     []Profile     `yaml:"profiles"`
	Controlled   []Controlled  `yaml:"controlled_goods"`
	Accredited   []Issuer      `yaml:"accredited_issuers"`
	Watchlist    []string      `yaml:"exporter_watchlist"`
	Log          Log           `yaml:"log"`
	Shutdown     time.Duration `yaml:"shutdown_timeout"`
}

// MQTT is the connection to the control rooms' broker.
type MQTT struct {
	Broker string `yaml:"broker"`
	// EmbeddedListen is where the built-in broker listens when Broker is
	// "embedded".
	EmbeddedListen string        `yaml:"embedded_listen"`
	ClientID       string        `yaml:"client_id"`
	Username       string        `yaml:"username"`
	Password       string        `yaml:"password"`
	PasswordFile   string        `yaml:"password_file"`
	CAFile         string        `yaml:"ca_file"`
	CertFile       string        `yaml:"cert_file"`
	KeyFile        string        `yaml:"key_file"`
	Keepalive      time.Duration `yaml:"keepalive"`
	// ReconnectMin and ReconnectMax bound the backoff between connection
	// attempts (doubling, with jitter).
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// MaxSendAttempts is how many connections in a row may be lost with
	// the same message waiting for its PUBACK before the broker is taken
	// to refuse it.
	MaxSendAttempts int `yaml:"max_send_attempts"`
	Inflight        int `yaml:"inflight"`
	ImageMaxBytes   int `yaml:"image_max_bytes"`
}

// Buffer is the Badger store-and-forward buffer.
type Buffer struct {
	Dir               string        `yaml:"dir"`
	EncryptionKeyFile string        `yaml:"encryption_key_file"`
	SyncWrites        bool          `yaml:"sync_writes"`
	Retention         time.Duration `yaml:"retention"`
	// Housekeeping is how often retention, the disk budget and the
	// value-log GC run.
	Housekeeping time.Duration `yaml:"housekeeping_interval"`
	MaxDiskMB    int64         `yaml:"max_disk_mb"`
	// MinFreeMB is the free space below which the buffer stops keeping
	// images; under half of it, it takes no writes at all.
	MinFreeMB int64 `yaml:"min_free_mb"`
}

// Scanner is the scan inbox.
type Scanner struct {
	Inbox         string        `yaml:"inbox"`
	Rescan        time.Duration `yaml:"rescan_interval"`
	MaxWidth      int           `yaml:"max_width"`
	MaxHeight     int           `yaml:"max_height"`
	MaxFileMB     int64         `yaml:"max_file_mb"`
	SettleTime    time.Duration `yaml:"settle_time"`
	KeepProcessed bool          `yaml:"keep_processed"`
	ProcessedDir  string        `yaml:"processed_dir"`
	// MaxAttempts is how many times a scan may be started without its
	// inspection ending (the agent crashed, was killed or hung on it)
	// before it is quarantined: moved to QuarantineDir (default
	// inbox/quarantine) and alerted for inspection by hand.
	MaxAttempts   int    `yaml:"max_attempts"`
	QuarantineDir string `yaml:"quarantine_dir"`
	// PredecodeImages is how many images at most are held decoded ahead
	// of their sidecar (0: none are); PredecodeKeep how long one waits
	// for its sidecar before it is let go.
	PredecodeImages int           `yaml:"predecode_images"`
	PredecodeKeep   time.Duration `yaml:"predecode_keep"`
}

// Declarations is the customs declaration inputs.
type Declarations struct {
	Inbox  string        `yaml:"inbox"`
	Expiry time.Duration `yaml:"expiry"`
	// SettleTime is how long a declaration file must stay unchanged
	// before it is read.
	SettleTime time.Duration `yaml:"settle_time"`
}

// Lane is one scanning lane; Weighbridge is nil for a scanner-only lane.
type Lane struct {
	ID            string       `yaml:"id"`
	Weighbridge   *Weighbridge `yaml:"weighbridge"`
	VehicleTareKg float64      `yaml:"vehicle_tare_kg"`
}

// Weighbridge is a lane's indicator on a serial port: the serial line's
// settings and the weighing's, each owned and checked by its package, side
// by side under one key.
type Weighbridge struct {
	Line     serialline.Config `yaml:",inline"`
	Weighing weighing.Config   `yaml:",inline"`
}

// HTTP is the metrics, health and technicians' page listener.
type HTTP struct {
	Listen    string `yaml:"listen"`
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

// Loopback reports whether Listen accepts connections from this machine
// only. An empty host (":9108") means every interface, so it does not.
func (h HTTP) Loopback() bool { return LoopbackAddr(h.Listen) }

// LoopbackAddr reports whether a listen address (host:port) accepts
// connections from this machine only.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HasCredentials reports whether a user name and a password (inline,
// from the environment, or from password_file) are configured.
func (m MQTT) HasCredentials() bool {
	return m.Username != "" && (m.Password != "" || m.PasswordFile != "")
}

// LoadToken returns the token the listener requires ("" for none).
func (h HTTP) LoadToken() (string, error) { return h.TokenSecret().Text() }

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// The detector's settings and the containers' geometry are the vision
// package's own (vision/settings): the config only places them.
type (
	Detector   = settings.Detector
	StepWedge  = settings.StepWedge
	DualEnergy = settings.DualEnergy
	Container  = settings.Container
)

// Rules holds the weight and risk rules.
type Rules struct {
	JoinWindow         time.Duration `yaml:"join_window"`
	Grace              time.Duration `yaml:"grace"`
	WeightTolerancePct float64       `yaml:"weight_tolerance_pct"`
	WeightToleranceKg  float64       `yaml:"weight_tolerance_kg"`
	// WeightCriticalPct: a box weighed alone whose net is off its
	// declaration beyond the tolerance and by more than this percentage
	// of it is critical (0: only beyond three tolerances).
	WeightCriticalPct float64      `yaml:"weight_critical_pct"`
	XrayTolerancePct  float64      `yaml:"xray_tolerance_pct"`
	XrayToleranceKg   float64      `yaml:"xray_tolerance_kg"`
	ReviewRisk        float64      `yaml:"review_risk"`
	AlertRisk         float64      `yaml:"alert_risk"`
	SeverityRisk      SeverityRisk `yaml:"severity_risk"`
	Evidence          Evidence     `yaml:"evidence"`
}

// Evidence says how strong the image's evidence against a declaration must
// be for a finding to be a warning or critical rather than info.
type Evidence struct {
	// WarningKg and CriticalKg: the mass the declared goods cannot explain
	// (added mass, or mass missing where other goods stand).
	WarningKg  float64 `yaml:"warning_kg"`
	CriticalKg float64 `yaml:"critical_kg"`
	// WarningSigma and CriticalSigma: how far a region stands out of its
	// load, in units of the load's own region-to-region variation.
	WarningSigma  float64 `yaml:"warning_sigma"`
	CriticalSigma float64 `yaml:"critical_sigma"`
	// LoadSpreadMin is the least variation (log of density) a load is
	// assumed to have, however even it measures.
	LoadSpreadMin float64 `yaml:"load_spread_min"`
	// WarningRatio and CriticalRatio: how many times likelier a region's
	// density is for an export-controlled commodity than for the declared
	// goods, for image evidence of controlled goods.
	WarningRatio  float64 `yaml:"warning_ratio"`
	CriticalRatio float64 `yaml:"critical_ratio"`
	// DepthFillMin: goods may stand this fraction of the container's
	// width deep, so that a side view's apparent density of declared
	// goods may be this much below their packed density.
	DepthFillMin float64 `yaml:"depth_fill_min"`
	// LighterMinKgM3: a region lighter than the declared goods can be, or
	// a band under denser goods that their range explains, is evidence
	// only when this much mass per cubic metre is missing from it against
	// the goods around or above it.
	LighterMinKgM3 float64 `yaml:"lighter_min_kg_m3"`
	// EdgeStripM: a region lighter than the declared goods and no thicker
	// than this is the load's edge when nothing of the load lies beyond it
	// (either end along the lane, or its top: the rounded side of the last
	// reel, a short last row or top layer), and the gap between units when
	// the declared goods are round (reels, coils): not evidence by itself.
	EdgeStripM float64 `yaml:"edge_strip_m"`
	// TopLayerM: a band lighter than the goods under it, at the top of
	// the load with nothing above it and no higher than this, is the
	// load's last layer, partly filled across the width.
	TopLayerM float64 `yaml:"top_layer_m"`
	// WeighbridgeScale bounds the factor net / X-ray mass that scales
	// apparent densities to the weighbridge; outside it (or with the X-ray
	// mass a lower bound) densities stay as measured.
	WeighbridgeScale [2]float64 `yaml:"weighbridge_scale"`
	// CoilsMin and CoilCoverMin: coils seen where none were declared are a
	// warning only with at least this many covering this fraction of a
	// region the beam crossed.
	CoilsMin     int     `yaml:"coils_min"`
	CoilCoverMin float64 `yaml:"coil_cover_min"`
}

// SeverityRisk is the risk each finding severity contributes.
type SeverityRisk struct {
	Info     float64 `yaml:"info"`
	Warning  float64 `yaml:"warning"`
	Critical float64 `yaml:"critical"`
}

// Profile is what a commodity looks like in the X-ray, keyed by HS prefix.
type Profile struct {
	HSPrefix    string     `yaml:"hs_prefix"`
	Name        string     `yaml:"name"`
	DensityKgM3 [2]float64 `yaml:"density_kg_m3"`
	Material    string     `yaml:"material"`
	Shapes      []string   `yaml:"shapes"`
	Uniformity  float64    `yaml:"uniformity"`
	// Packed is the packed bulk density as loaded: [typical, spread], the
	// spread a factor (one standard deviation multiplies or divides the
	// typical density by it). Zero: derived from density_kg_m3 (its
	// geometric middle, its range four standard deviations wide).
	Packed [2]float64 `yaml:"packed_kg_m3"`
	// Source says where the figures come from.
	Source string `yaml:"source"`
	// WeightOnly profiles make no image checks: the goods can look like
	// anything (the "*" fallback for codes no other profile matches).
	WeightOnly bool `yaml:"weight_only"`
}

// Controlled is an export-controlled commodity and the documents it needs.
type Controlled struct {
	HSPrefix  string   `yaml:"hs_prefix"`
	Name      string   `yaml:"name"`
	Documents []string `yaml:"documents"`
}

// Issuer is an accredited testing agency whose compliance reports are
// accepted: its usual short name and the legal names its reports carry.
// A plain string in the YAML is an issuer known by that one name.
type Issuer struct {
	Name    string   `yaml:"name"`
	Aliases []string `yaml:"aliases"`
}

// UnmarshalYAML takes an issuer as a mapping or as a plain name.
func (is *Issuer) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*is = Issuer{Name: n.Value}
		return nil
	}
	type plain Issuer
	return n.Decode((*plain)(is))
}

// Default returns the built-in defaults.
func Default() *Config {
	c, err := Parse(defaultsYAML, "defaults.yaml")
	if err != nil {
		panic("config: built-in defaults are invalid: " + err.Error())
	}
	return c
}

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(b, path)
}

// Parse lays data over the defaults and validates the result. The error, if
// any, is a Problems listing every problem found.
func Parse(data []byte, name string) (*Config, error) {
	c := &Config{}
	var base yaml.Node
	if err := yaml.Unmarshal(defaultsYAML, &base); err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	if err := base.Decode(c); err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	if name == "defaults.yaml" && bytes.Equal(data, defaultsYAML) {
		return c, problemsOrNil(c.Validate())
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Problems{{Path: name, Msg: fmt.Sprintf("not valid YAML: %v", err)}}
	}
	if len(doc.Content) == 0 {
		return c, problemsOrNil(c.Validate())
	}
	// Unknown keys are problems, but the rest is still decoded and checked
	// so that one run lists every problem.
	var probs Problems
	checkKeys(doc.Content[0], typeOfConfig, "", &probs)
	if err := doc.Content[0].Decode(c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, m := range te.Errors {
				probs = append(probs, Problem{Msg: m})
			}
			return nil, probs
		}
		return nil, append(probs, Problem{Msg: err.Error()})
	}
	c.applyEnv()
	vp := c.Validate()
	for i := range vp {
		vp[i].Line = lineOf(doc.Content[0], vp[i].Path)
	}
	probs = append(probs, vp...)
	if len(probs) > 0 {
		return nil, probs
	}
	return c, nil
}

// applyEnv lets the environment supply secrets, never the reverse.
func (c *Config) applyEnv() {
	if p := os.Getenv(PasswordEnv); p != "" {
		c.MQTT.Password = p
	}
}

func problemsOrNil(p Problems) error {
	if len(p) == 0 {
		return nil
	}
	return p
}

// Lane returns the lane with id, or nil.
func (c *Config) Lane(id string) *Lane {
	for i := range c.Lanes {
		if c.Lanes[i].ID == id {
			return &c.Lanes[i]
		}
	}
	return nil
}

// ContainerFor returns the geometry of an ISO 6346 size-type code such as
// "42G1" by its first two characters; ok is false for an unknown size.
func (c *Config) ContainerFor(typeCode string) (Container, bool) {
	if len(typeCode) >= 2 {
		for _, k := range c.Containers {
			if k.SizeCode == typeCode[:2] {
				return k, true
			}
		}
	}
	return Container{}, false
}

// lineOf finds the line of a key path such as "lanes[0].weighbridge.baud"
// in a parsed document, or 0.
func lineOf(n *yaml.Node, path string) int {
	line := 0
	for _, part := range strings.Split(path, ".") {
		if n == nil {
			break
		}
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			key = part[:i]
			fmt.Sscanf(part[i:], "[%d]", &idx)
		}
		var next *yaml.Node
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
		}
		if next != nil && idx >= 0 && next.Kind == yaml.SequenceNode && idx < len(next.Content) {
			next = next.Content[idx]
			line = next.Line
		}
		n = next
	}
	return line
}
