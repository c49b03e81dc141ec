package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/drivers/scale/weighing"
	"github.com/gatescan/gatescan/drivers/serialline"
)

func TestDefaultsLoadAndValidate(t *testing.T) {
	c := Default()
	if p := c.Validate(); len(p) > 0 {
		t.Fatalf("defaults do not validate: %v", p)
	}
	if c.MQTT.Broker == "" || c.Buffer.Dir == "" || len(c.Lanes) != 1 || c.Lanes[0].Weighbridge.Line.Protocol != "toledo" {
		t.Fatalf("defaults lost a fixed key: %+v", c)
	}
	if _, ok := c.ContainerFor("45G1"); !ok {
		t.Fatal("no geometry for 45G1 in defaults")
	}
	for _, hs := range []string{"6307.90", "6210", "3822", "9018", "9019", "9025.19", "3923.21", "3923.29", "3923.30", "6702", "7217", "6907", "4802", "4810", "6109", "9403"} {
		found := false
		for _, p := range c.Profiles {
			found = found || p.HSPrefix == hs
		}
		if !found {
			t.Errorf("no default commodity profile for HS %s", hs)
		}
	}
}

func TestParseInterfaceExample(t *testing.T) {
	c, err := Load("testdata/interfaces.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Site != "qingdao-port" || c.Gate != "gate-3" || c.Lanes[0].Weighbridge.Line.Baud != 9600 || c.Lanes[0].VehicleTareKg != 14500 {
		t.Fatalf("example not read as written: %+v", c)
	}
	// Unset keys keep their defaults.
	if c.Rules.WeightTolerancePct != 5 || c.Lanes[0].Weighbridge.Weighing.Division != 20 {
		t.Fatalf("defaults not kept: %+v %+v", c.Rules, c.Lanes[0].Weighbridge)
	}
}

func TestBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of problems, each must appear
	}{
		{"unknown key", "mqtt:\n  brokr: tcp://x:1\n", []string{"mqtt.brokr (line 2): unknown key; did you mean \"broker\"?"}},
		{"unknown top", "gatee: x\n", []string{"gatee (line 1): unknown key; did you mean \"gate\"?"}},
		{"nested list key", "lanes:\n  - id: L1\n    weighbridge:\n      port: /dev/x\n      protocl: toledo\n", []string{"lanes[0].weighbridge.protocl (line 5): unknown key"}},
		{"bad protocol", "lanes:\n  - id: L1\n    weighbridge: {port: /dev/x, protocol: mettler}\n", []string{"lanes[0].weighbridge.protocol (line 3)", "\"mettler\": is not a known weighbridge protocol"}},
		{"bad baud", "lanes:\n  - id: L1\n    weighbridge: {port: /dev/x, protocol: toledo, baud: 9601}\n", []string{"lanes[0].weighbridge.baud", "9601"}},
		{"bad site", "site: a/b\n", []string{"site (line 1):", "a/b"}},
		{"bad broker", "mqtt:\n  broker: http://x\n", []string{"mqtt.broker (line 2)", "scheme"}},
		{"dup lane", "lanes:\n  - {id: L1}\n  - {id: L1}\n", []string{"lanes[1].id", "listed twice"}},
		{"wrong type", "rules:\n  alert_risk: lots\n", []string{"lots"}},
		{"bad risk", "rules:\n  alert_risk: 0.1\n", []string{"rules.alert_risk"}},
		{"not yaml", "site: [\n", []string{"not valid YAML"}},
		{"issuer without name", "accredited_issuers:\n  - {aliases: [X Testing Co.]}\n  - {name: Y, alias: [Z]}\n", []string{"accredited_issuers[0].name", "accredited_issuers[1].alias (line 3): unknown key"}},
		{"bad profile", "profiles:\n  - {hs_prefix: abc, density_kg_m3: [5, 1], material: plasma}\n", []string{"profiles[0].hs_prefix", "profiles[0].density_kg_m3", "profiles[0].material"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "test.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is %T, want Problems: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems %q lack %q", err.Error(), w)
				}
			}
		})
	}
}

func TestIssuersAsNamesOrMappings(t *testing.T) {
	c, err := Parse([]byte("accredited_issuers:\n  - SGS\n  - {name: CTI, aliases: [Centre Testing International]}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Accredited) != 2 || c.Accredited[0].Name != "SGS" || c.Accredited[1].Aliases[0] != "Centre Testing International" {
		t.Errorf("issuers %+v", c.Accredited)
	}
}

func TestEnvOverridesPassword(t *testing.T) {
	t.Setenv("GATESCAN_MQTT_PASSWORD", "from-env")
	c, err := Parse([]byte("mqtt:\n  password: from-file\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTT.Password != "from-env" {
		t.Fatalf("password %q, want the environment's", c.MQTT.Password)
	}
}

func TestDefaultsYAMLIsCommented(t *testing.T) {
	b := DefaultsYAML()
	if n := strings.Count(string(b), "#"); n < 50 {
		t.Fatalf("defaults have only %d comments", n)
	}
	// Printing and reloading the defaults is a fixed point.
	f := t.TempDir() + "/d.yaml"
	os.WriteFile(f, b, 0o600)
	if _, err := Load(f); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("site: x\n"))
	f.Add(DefaultsYAML())
	f.Add([]byte("lanes:\n  - id: L1\n    weighbridge: {port: /dev/x}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, "fuzz.yaml")
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
	})
}

func TestEveryProblemInOneRun(t *testing.T) {
	_, err := Parse([]byte("mqtt:\n  brokr: tcp://a:1\nlanes:\n  - id: L1\n    weighbridge: {port: /dev/x, protocol: mettler, baud: 9601}\n"), "t.yaml")
	for _, w := range []string{"mqtt.brokr (line 2): unknown key", "lanes[0].weighbridge.protocol (line 5)", "lanes[0].weighbridge.baud (line 5)"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("problems %v lack %q", err, w)
		}
	}
}

// The weighbridge values defaults.yaml documents are the packages' own
// defaults: one source of truth, written down twice.
func TestDefaultsYAMLWeighbridgeIsPackageDefaults(t *testing.T) {
	w := Default().Lanes[0].Weighbridge
	line := serialline.Config{Port: w.Line.Port, Protocol: w.Line.Protocol}.WithDefaults()
	if !reflect.DeepEqual(w.Line, line) {
		t.Errorf("defaults.yaml weighbridge line %+v, serialline defaults %+v", w.Line, line)
	}
	if want := (weighing.Config{}).WithDefaults(); !reflect.DeepEqual(w.Weighing, want) {
		t.Errorf("defaults.yaml weighing %+v, weighing defaults %+v", w.Weighing, want)
	}
}
