package calib

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Material classes of wedge steps (interfaces.md §1a).
const (
	Organic   = "organic"
	Aluminium = "aluminium"
	Steel     = "steel"
	Lead      = "lead"
)

// Step is one block of a step wedge and the pixel ranges, [first, last),
// where the beam crosses it and nothing else but air.
type Step struct {
	Material string  `json:"material"`
	Name     string  `json:"name"`
	GCm2     float64 `json:"areal_density_g_cm2"`
	Columns  [2]int  `json:"columns"`
	Rows     [2]int  `json:"rows"`
}

// Wedge is a NAME.wedge.json file.
type Wedge struct {
	Steps []Step `json:"steps"`
}

// MaxWedgeBytes bounds a wedge file; a wedge has tens of steps.
const MaxWedgeBytes = 1 << 20

// maxSteps bounds the steps of a wedge: no portal holds more blocks.
const maxSteps = 1000

// ParseWedge decodes and checks a wedge file. Unknown fields are ignored,
// as in the sidecar; every step must have a known material, a positive
// areal density and non-empty pixel ranges.
func ParseWedge(data []byte) (*Wedge, error) {
	if len(data) > MaxWedgeBytes {
		return nil, fmt.Errorf("wedge file is %d bytes, more than the %d a wedge file can be", len(data), MaxWedgeBytes)
	}
	var raw struct {
		Steps *[]map[string]json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("wedge file is not a JSON object with \"steps\": %w", err)
	}
	if raw.Steps == nil || len(*raw.Steps) == 0 {
		return nil, errors.New("wedge file has no \"steps\": list the wedge's blocks (interfaces.md §1a)")
	}
	if len(*raw.Steps) > maxSteps {
		return nil, fmt.Errorf("wedge file has %d steps, more than %d", len(*raw.Steps), maxSteps)
	}
	w := &Wedge{}
	for i, m := range *raw.Steps {
		for _, k := range []string{"material", "areal_density_g_cm2", "columns", "rows"} {
			if _, ok := m[k]; !ok {
				return nil, fmt.Errorf("wedge step %d has no %q: it is required (interfaces.md §1a)", i, k)
			}
		}
		b, _ := json.Marshal(m)
		var in struct {
			Material string  `json:"material"`
			Name     string  `json:"name"`
			GCm2     float64 `json:"areal_density_g_cm2"`
			Columns  []int   `json:"columns"`
			Rows     []int   `json:"rows"`
		}
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&in); err != nil {
			return nil, fmt.Errorf("wedge step %d: a field has the wrong type: %w", i, err)
		}
		if len(in.Columns) != 2 || len(in.Rows) != 2 {
			return nil, fmt.Errorf("wedge step %d: columns %v, rows %v: a field has the wrong type: each is a [first, last) pair", i, in.Columns, in.Rows)
		}
		s := Step{Material: in.Material, Name: in.Name, GCm2: in.GCm2, Columns: [2]int{in.Columns[0], in.Columns[1]}, Rows: [2]int{in.Rows[0], in.Rows[1]}}
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("wedge step %d: %w", i, err)
		}
		w.Steps = append(w.Steps, s)
	}
	return w, nil
}

func (s Step) check() error {
	switch s.Material {
	case Organic, Aluminium, Steel, Lead:
	default:
		return fmt.Errorf("material %q: want organic, aluminium, steel or lead", s.Material)
	}
	if !(s.GCm2 > 0 && s.GCm2 <= 5000) || math.IsNaN(s.GCm2) {
		return fmt.Errorf("areal_density_g_cm2 = %v: want the block's mass per area along the beam, 0 < g/cm² <= 5000", s.GCm2)
	}
	if s.Columns[0] < 0 || s.Columns[1] <= s.Columns[0] || s.Rows[0] < 0 || s.Rows[1] <= s.Rows[0] {
		return fmt.Errorf("columns %v, rows %v: want [first, last) pixel ranges, 0 <= first < last", s.Columns, s.Rows)
	}
	if len(s.Name) > 200 || strings.ContainsRune(s.Name, 0) {
		return errors.New("name: want at most 200 characters")
	}
	return nil
}

// CheckImage reports the first step whose ranges lie outside a w×h image.
func (wd *Wedge) CheckImage(w, h int) error {
	for i, s := range wd.Steps {
		if s.Columns[1] > w || s.Rows[1] > h {
			return fmt.Errorf("wedge step %d (%v g/cm² %s): columns %v, rows %v lie outside the %dx%d image: the wedge file does not match its scan",
				i, s.GCm2, s.Material, s.Columns, s.Rows, w, h)
		}
	}
	return nil
}
