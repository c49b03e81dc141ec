package jsondoc

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	type doc struct {
		ID string  `json:"id"`
		Kg float64 `json:"kg"`
	}
	for _, c := range []struct {
		name, in string
		want     doc
		err      string
	}{
		{"complete", `{"id":"A","kg":0,"extra":1}`, doc{ID: "A"}, ""},
		{"required key left out", `{"id":"A"}`, doc{}, `note has no "kg": it is required (interfaces.md §9)`},
		{"not an object", `[1]`, doc{}, "note is not a JSON object"},
		{"trailing garbage", `{"id":"A","kg":1} x`, doc{}, "note is not a JSON object"},
		{"wrong type", `{"id":"A","kg":"heavy"}`, doc{}, "note field has the wrong type"},
		{"null for a required key", `{"id":"A","kg":null}`, doc{ID: "A"}, ""},
	} {
		var got doc
		err := Decode([]byte(c.in), &got, "note", "§9", "id", "kg")
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
		case c.err == "" && got != c.want:
			t.Errorf("%s: decoded %+v, want %+v", c.name, got, c.want)
		}
	}
}
