package calib

import (
	"strings"
	"testing"
)

const goodWedge = `{ "steps": [
    { "material": "organic", "name": "polyethylene", "areal_density_g_cm2": 20.0,
      "columns": [410, 470], "rows": [300, 700] },
    { "material": "steel", "name": "S235 steel", "areal_density_g_cm2": 78.5,
      "columns": [2010, 2070], "rows": [300, 700], "vendor_note": "ignored" }
] }`

func TestParseWedge(t *testing.T) {
	w, err := ParseWedge([]byte(goodWedge))
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Steps) != 2 || w.Steps[1].Material != Steel || w.Steps[1].GCm2 != 78.5 || w.Steps[0].Columns != [2]int{410, 470} || w.Steps[0].Rows != [2]int{300, 700} {
		t.Errorf("parsed %+v", w)
	}
	if err := w.CheckImage(2070, 700); err != nil {
		t.Errorf("ranges reaching the image's edge: %v", err)
	}
	if err := w.CheckImage(2069, 700); err == nil || !strings.Contains(err.Error(), "outside the 2069x700 image") {
		t.Errorf("a range past the edge: %v", err)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"empty", ``, "not a JSON object"},
		{"array", `[]`, "not a JSON object"},
		{"null steps", `{"steps": null}`, "no \"steps\""},
		{"no rows", `{"steps": [{"material": "organic", "areal_density_g_cm2": 5, "columns": [1, 2]}]}`, "no \"rows\""},
		{"lead is fine, tin is not", `{"steps": [{"material": "tin", "areal_density_g_cm2": 5, "columns": [1, 2], "rows": [1, 2]}]}`, "material \"tin\""},
		{"zero density", `{"steps": [{"material": "lead", "areal_density_g_cm2": 0, "columns": [1, 2], "rows": [1, 2]}]}`, "areal_density_g_cm2 = 0"},
		{"negative column", `{"steps": [{"material": "lead", "areal_density_g_cm2": 5, "columns": [-1, 2], "rows": [1, 2]}]}`, "0 <= first < last"},
		{"inverted rows", `{"steps": [{"material": "lead", "areal_density_g_cm2": 5, "columns": [1, 2], "rows": [9, 2]}]}`, "0 <= first < last"},
		{"three columns", `{"steps": [{"material": "lead", "areal_density_g_cm2": 5, "columns": [1, 2, 3], "rows": [1, 2]}]}`, "wrong type"},
		{"fractional row", `{"steps": [{"material": "lead", "areal_density_g_cm2": 5, "columns": [1, 2], "rows": [1.5, 2]}]}`, "wrong type"},
		{"too large", `{"steps": [` + strings.Repeat(" ", MaxWedgeBytes) + `]}`, "more than"},
	} {
		if _, err := ParseWedge([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseWedge(f *testing.F) {
	f.Add([]byte(goodWedge))
	f.Add([]byte(`{"steps": [{"material": "lead", "areal_density_g_cm2": 1e308, "columns": [0, 1], "rows": [0, 1]}]}`))
	f.Add([]byte(`{"steps": [{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := ParseWedge(data)
		if err != nil {
			return
		}
		if len(w.Steps) == 0 {
			t.Fatal("a wedge without steps accepted")
		}
		for _, s := range w.Steps {
			if s.check() != nil {
				t.Fatalf("accepted a bad step %+v", s)
			}
			if s.Columns[1] <= s.Columns[0] || s.Rows[1] <= s.Rows[0] || !(s.GCm2 > 0) {
				t.Fatalf("accepted empty ranges or no thickness: %+v", s)
			}
		}
		// Any accepted wedge is checked against any image without panic.
		_ = w.CheckImage(100, 100)
	})
}
