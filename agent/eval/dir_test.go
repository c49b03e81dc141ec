package eval

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCaseTargets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		truth string
		ids   []string
		want  []bool
	}{
		{"honest", `{"positive":false,"containers":[{"id":"A","cargo_kg":900,"declared_items_kg":9000}]}`, []string{"A"}, []bool{false}},
		{"hidden in the rear box", `{"positive":true,"containers":[{"id":"A","cargo_kg":5000,"declared_items_kg":5000},{"id":"B","cargo_kg":5000,"declared_items_kg":5000}],"regions":[{"container_id":"B"}]}`,
			[]string{"A", "B"}, []bool{false, true}},
		{"misdeclared weight", `{"positive":true,"containers":[{"id":"A","cargo_kg":5000,"declared_items_kg":2500},{"id":"B","cargo_kg":5000,"declared_items_kg":5000}]}`,
			[]string{"A", "B"}, []bool{true, false}},
		{"nothing stands out: all", `{"positive":true,"containers":[{"id":"A","cargo_kg":5000,"declared_items_kg":5000}]}`, []string{"A"}, []bool{true}},
	} {
		dir := t.TempDir()
		c := filepath.Join(dir, "case")
		if err := os.MkdirAll(c, 0o755); err != nil {
			t.Fatal(err)
		}
		truth := strings.Replace(tc.truth, "{", `{"scenario":"x","case_id":"`+tc.name+`",`, 1)
		for name, body := range map[string]string{"truth.json": truth, "scan.json": "{}"} {
			if err := os.WriteFile(filepath.Join(c, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := Cases(dir)
		if err != nil || len(cs) != 1 {
			t.Fatalf("%s: Cases: %v, %d cases", tc.name, err, len(cs))
		}
		if got := cs[0].Truth.targets(tc.ids); !slices.Equal(got, tc.want) {
			t.Errorf("%s: targets %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCasesRefusesOtherDirectories(t *testing.T) {
	dir := t.TempDir()
	if _, err := Cases(dir); err == nil || !strings.Contains(err.Error(), "no cases") {
		t.Errorf("empty dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "truth.json"), []byte(`{"steps":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scan.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Cases(dir); err == nil || !strings.Contains(err.Error(), "no scenario") {
		t.Errorf("a truth without scenario: %v", err)
	}
}
