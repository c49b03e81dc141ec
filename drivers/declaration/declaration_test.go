package declaration

import (
	"strings"
	"testing"
)

func TestContainerID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want string // "" = valid
	}{
		{"CSQU3054383", ""},   // the ISO 6346 standard's own example
		{"MSKU 907032-3", ""}, // as printed on doors
		{"msku9070323", ""},
		{"CSQU3054384", "check digit"},
		{"CSQX3054383", "category"},
		{"CSQU305438", "11"},
		{"C5QU3054383", "letter"},
		{"CSQUA054383", "digit"},
	} {
		err := ValidContainerID(tc.id)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: %v, want %q", tc.id, err, tc.want)
		}
	}
}

const good = `{"declaration_id":"D1","container_id":"CSQU3054383","container_type":"22G1","container_tare_kg":2200,
"declared_gross_kg":12200,"items":[{"hs_code":"7217.10","description":"black iron wire","gross_kg":10000,"packages":400,"package_type":"RL"}],
"exporter":"X","destination":"DE","documents":[{"type":"compliance_report","number":"1","issuer":"SGS"}]}`

func TestParse(t *testing.T) {
	d, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if d.Items[0].HSCode != "721710" || d.ItemsKg() != 10000 {
		t.Fatalf("%+v", d)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`"declaration_id":"D1",`, ``, `no "declaration_id"`},
		{`CSQU3054383`, `CSQU3054384`, "check digit"},
		{`"22G1"`, `"twenty"`, "container_type"},
		{`"container_tare_kg":2200`, `"container_tare_kg":-5`, "container_tare_kg"},
		{`"hs_code":"7217.10"`, `"hs_code":"72"`, "items[0].hs_code"},
		{`"gross_kg":10000`, `"gross_kg":0`, "items[0].gross_kg"},
		{`"items":[`, `"items":null,"x":[`, "must be an array"},
		{`"description":"black iron wire"`, `"description":" "`, "description is empty"},
		{`{"declaration_id"`, `["declaration_id"`, "not a JSON object"},
	} {
		_, err := Parse([]byte(strings.Replace(good, tc.from, tc.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s→%s: %v, want %q", tc.from, tc.to, err, tc.want)
		}
	}
	empty := strings.Replace(good, good[strings.Index(good, `"items":[`):strings.Index(good, `],`)+1], `"items":[]`, 1)
	if d, err := Parse([]byte(empty)); err != nil || len(d.Items) != 0 {
		t.Fatalf("empty container declaration: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"items":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err == nil && ValidContainerID(d.ContainerID) != nil {
			t.Fatalf("accepted invalid container %q", d.ContainerID)
		}
	})
}

func FuzzContainerID(f *testing.F) {
	f.Add("CSQU3054383")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidContainerID(s) == nil {
			n := Normalize(s)
			if len(n) != 11 {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
