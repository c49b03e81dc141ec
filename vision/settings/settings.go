package settings

import (
	"fmt"
	"time"
)

// Detector holds the X-ray detector's physics and thresholds.
type Detector struct {
	MuCm2G float64 `yaml:"mu_cm2_g"`
	// StepWedge is a calibration used whatever the beam energy;
	// StepWedges, keyed by end-point energy, come first.
	StepWedge                [][2]float64 `yaml:"step_wedge"`
	StepWedges               []StepWedge  `yaml:"step_wedges"`
	DualEnergy               []DualEnergy `yaml:"dual_energy"`
	LeadInMinColumns         int          `yaml:"lead_in_min_columns"`
	LeadInMaxColumns         int          `yaml:"lead_in_max_columns"`
	StructureTransmission    float64      `yaml:"structure_transmission"`
	ReliableTransmission     float64      `yaml:"reliable_transmission"`
	CargoMinKgM3             float64      `yaml:"cargo_min_kg_m3"`
	EmptyMaxKg               float64      `yaml:"empty_max_kg"`
	EmptyMaxAreaM2           float64      `yaml:"empty_max_area_m2"`
	NoPenetrationMaxFraction float64      `yaml:"no_penetration_max_fraction"`
	RegionMinAreaM2          float64      `yaml:"region_min_area_m2"`
	GridM                    float64      `yaml:"grid_m"`
	EdgeRatio                float64      `yaml:"edge_ratio"`
	MergeRatio               float64      `yaml:"merge_ratio"`
	PackagingMaxHeightM      float64      `yaml:"packaging_max_height_m"`
	CoilRadiusM              [2]float64   `yaml:"coil_radius_m"`
	LayerMinHeightM          float64      `yaml:"layer_min_height_m"`
	LayerMinLengthM          float64      `yaml:"layer_min_length_m"`
	LayerDensityRatio        float64      `yaml:"layer_density_ratio"`
	MaterialMinAttenuation   float64      `yaml:"material_min_attenuation"`
	// MaterialRatioSD is one standard deviation of a region's A_low/A_high
	// ratio, relative, [with dual-energy curves measured on the site,
	// with the default curves]: how far the curves may sit from this
	// scanner's, which is what a material index's evidence is weighed
	// against.
	MaterialRatioSD   [2]float64 `yaml:"material_ratio_sd"`
	ProfileMarginPct  float64    `yaml:"profile_margin_pct"`
	MismatchMinAreaM2 float64    `yaml:"mismatch_min_area_m2"`
	AnnotateMaxWidth  int        `yaml:"annotate_max_width"`
}

// StepWedge is a step-wedge calibration for one beam end-point energy:
// [attenuation -ln T, g/cm²] pairs, both increasing.
type StepWedge struct {
	EnergyMeV  float64      `yaml:"energy_mev"`
	Steps      [][2]float64 `yaml:"steps"`
	Calibrated `yaml:",inline"`
}

// Calibrated says where a calibration table comes from. A table without
// CalibratedAt is a default, not a measurement of this site's scanner.
type Calibrated struct {
	// CalibratedAt is when the wedge was scanned (RFC 3339), Source which
	// scan it was (as `gatescan calibrate` writes them).
	CalibratedAt string `yaml:"calibrated_at,omitempty"`
	Source       string `yaml:"source,omitempty"`
}

// Site reports whether the table was measured on the site's scanner.
func (c Calibrated) Site() bool { return c.CalibratedAt != "" }

func (c Calibrated) check(key string, bad func(key, format string, a ...any)) {
	if c.CalibratedAt == "" {
		return
	}
	if _, err := time.Parse(time.RFC3339, c.CalibratedAt); err != nil {
		bad(key+".calibrated_at", "%q: give the time the wedge was scanned, RFC 3339 (e.g. 2026-12-06T07:00:00Z)", c.CalibratedAt)
	}
}

// DualEnergy is the material calibration of a dual-energy scanner for one
// pair of end-point energies: for each reference material, [A_high, A_low]
// attenuation pairs measured behind wedge steps of it, A_high increasing.
type DualEnergy struct {
	EnergyMeV  [2]float64   `yaml:"energy_mev"`
	Organic    [][2]float64 `yaml:"organic"`
	Aluminium  [][2]float64 `yaml:"aluminium"`
	Steel      [][2]float64 `yaml:"steel"`
	Calibrated `yaml:",inline"`
}

// Container is the geometry of one ISO 6346 size code.
type Container struct {
	SizeCode      string  `yaml:"size_code"`
	Name          string  `yaml:"name"`
	LengthM       float64 `yaml:"length_m"`
	HeightM       float64 `yaml:"height_m"`
	InnerLengthM  float64 `yaml:"inner_length_m"`
	InnerWidthM   float64 `yaml:"inner_width_m"`
	InnerHeightM  float64 `yaml:"inner_height_m"`
	SideWallsGCm2 float64 `yaml:"side_walls_g_cm2"`
}

// A Problem is one setting that cannot be used: Key is its path below the
// section (as in the YAML config), Msg what is wrong and what to do.
type Problem struct {
	Key string
	Msg string
}

func collect() (*[]Problem, func(key, format string, a ...any)) {
	var ps []Problem
	return &ps, func(key, format string, a ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
}

// Check reports every problem with the detector's settings.
func (d *Detector) Check() []Problem {
	ps, bad := collect()
	if d.MuCm2G <= 0 || d.MuCm2G > 1 {
		bad("mu_cm2_g", "%v cm²/g is not a plausible MeV mass attenuation coefficient (0.02..0.1)", d.MuCm2G)
	}
	for i, s := range d.StepWedge {
		if s[0] <= 0 || s[1] <= 0 || (i > 0 && (s[0] <= d.StepWedge[i-1][0] || s[1] <= d.StepWedge[i-1][1])) {
			bad(fmt.Sprintf("step_wedge[%d]", i), "%v: entries must be positive [attenuation, g/cm²] pairs, both increasing", s)
		}
	}
	for i, w := range d.StepWedges {
		p := fmt.Sprintf("step_wedges[%d]", i)
		if w.EnergyMeV <= 0 || w.EnergyMeV > 20 {
			bad(p+".energy_mev", "%v MeV: give the beam's end-point energy, e.g. 6", w.EnergyMeV)
		}
		w.check(p, bad)
		if len(w.Steps) < 2 {
			bad(p+".steps", "a wedge needs at least 2 [attenuation, g/cm²] steps")
		}
		for j, s := range w.Steps {
			if s[0] <= 0 || s[1] <= 0 || (j > 0 && (s[0] <= w.Steps[j-1][0] || s[1] <= w.Steps[j-1][1])) {
				bad(fmt.Sprintf("%s.steps[%d]", p, j), "%v: entries must be positive [attenuation, g/cm²] pairs, both increasing", s)
			}
		}
	}
	for i, de := range d.DualEnergy {
		p := fmt.Sprintf("dual_energy[%d]", i)
		if de.EnergyMeV[0] <= de.EnergyMeV[1] || de.EnergyMeV[1] <= 0 {
			bad(p+".energy_mev", "%v: give [high, low] end-point energies, high > low > 0", de.EnergyMeV)
		}
		de.check(p, bad)
		for _, m := range []struct {
			name string
			tab  [][2]float64
		}{{"organic", de.Organic}, {"aluminium", de.Aluminium}, {"steel", de.Steel}} {
			if len(m.tab) < 2 {
				bad(p+"."+m.name, "needs at least 2 [A_high, A_low] pairs measured behind wedge steps")
			}
			for j, s := range m.tab {
				if s[0] <= 0 || s[1] <= 0 || (j > 0 && s[0] <= m.tab[j-1][0]) {
					bad(fmt.Sprintf("%s.%s[%d]", p, m.name, j), "%v: entries must be positive [A_high, A_low] pairs, A_high increasing", s)
				}
			}
		}
	}
	if d.GridM < 0.01 || d.GridM > 0.2 {
		bad("grid_m", "%v m: the segmentation cell must be 0.01..0.2 m", d.GridM)
	}
	if d.EdgeRatio <= 1 || d.MergeRatio <= 1 || d.LayerDensityRatio <= 1 {
		bad("edge_ratio", "edge_ratio (%v), merge_ratio (%v) and layer_density_ratio (%v) are density ratios and must exceed 1", d.EdgeRatio, d.MergeRatio, d.LayerDensityRatio)
	}
	if d.CoilRadiusM[0] <= 0 || d.CoilRadiusM[1] <= d.CoilRadiusM[0] {
		bad("coil_radius_m", "%v: need [smallest, largest] coil radius in metres, 0 < smallest < largest", d.CoilRadiusM)
	}
	if d.LayerMinHeightM <= 0 || d.LayerMinLengthM <= 0 || d.PackagingMaxHeightM < 0 || d.PackagingMaxHeightM >= d.LayerMinHeightM {
		bad("layer_min_height_m", "need 0 <= packaging_max_height_m (%v) < layer_min_height_m (%v) and layer_min_length_m (%v) > 0", d.PackagingMaxHeightM, d.LayerMinHeightM, d.LayerMinLengthM)
	}
	if d.MaterialRatioSD[0] <= 0 || d.MaterialRatioSD[1] < d.MaterialRatioSD[0] || d.MaterialRatioSD[1] > 0.2 {
		bad("material_ratio_sd", "%v: give [site-calibrated, default curves] relative standard deviations of the dual-energy ratio, 0 < site <= default <= 0.2, e.g. [0.005, 0.015]", d.MaterialRatioSD)
	}
	if d.ProfileMarginPct < 0 || d.ProfileMarginPct > 100 {
		bad("profile_margin_pct", "%v: a percentage, 0..100", d.ProfileMarginPct)
	}
	if d.StructureTransmission <= 0.5 || d.StructureTransmission >= 1 {
		bad("structure_transmission", "%v must be in (0.5, 1)", d.StructureTransmission)
	}
	if d.ReliableTransmission <= 0 || d.ReliableTransmission >= 0.2 {
		bad("reliable_transmission", "%v must be in (0, 0.2)", d.ReliableTransmission)
	}
	return *ps
}

// Check reports every problem with a container geometry.
func (k *Container) Check() []Problem {
	ps, bad := collect()
	if len(k.SizeCode) != 2 {
		bad("size_code", "%q: the first two characters of the ISO 6346 size-type code, e.g. \"42\"", k.SizeCode)
	}
	if k.LengthM <= 0 || k.HeightM <= 0 || k.InnerWidthM <= 0 || k.InnerHeightM <= 0 || k.InnerHeightM >= k.HeightM {
		bad("", "dimensions must be positive with inner height below outer height")
	}
	return *ps
}
