package assess

import (
	"strings"
	"testing"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/vision"
)

func TestMatchProfile(t *testing.T) {
	cfg := config.Default()
	for _, tc := range []struct {
		hs, want string
		weight   bool
	}{
		{"630790", "face masks", false},
		{"6307900010", "face masks", false},
		{"630710", "unprofiled goods", true}, // 6307.10 floor cloths: no profile
		{"721710", "iron or steel wire", false},
		{"901920", "ventilators", false},
		{"392330", "plastic bottles", false},
		{"392321", "plastic bags (ethylene)", false},
		{"481013", "coated paper reels", false},
		{"010121", "unprofiled goods", true},
	} {
		p, ok := MatchProfile(cfg.Profiles, tc.hs)
		if !ok || p.Name != tc.want || p.WeightOnly != tc.weight {
			t.Errorf("HS %s: profile %q (weight only %v, ok %v), want %q", tc.hs, p.Name, p.WeightOnly, ok, tc.want)
		}
	}
	if _, ok := MatchProfile([]config.Profile{{HSPrefix: "7217"}}, "630790"); ok {
		t.Error("matched without a profile or a fallback")
	}
}

// reg is a penetrated region of area m² and median density kg/m³.
func reg(label int, area, p50 float64) vision.Region {
	return vision.Region{Label: label, AreaM2: area, P50: p50, P10: p50 * 0.95, P90: p50 * 1.05, DensityKgM3: p50,
		M: vision.Box{XM: float64(label), YM: 0.5, WM: 1, HM: 1.5}, Shape: vision.Shape{Class: vision.ShapeStack, Rectangularity: 0.95}}
}

// at places region r from x to x+w metres along the lane.
func at(r vision.Region, x, w float64) vision.Region { r.M.XM, r.M.WM = x, w; return r }

// reels is a load of upright paper reels the beam crossed at their
// centres only at a lower bound, from 0.4 to 11.6 m along the lane.
func reels(extra ...vision.Region) []vision.Region {
	rs := []vision.Region{at(opaque(reg(1, 6, 520)), 0.4, 5.4), at(opaque(reg(2, 5, 515)), 6, 5.6), at(reg(3, 2, 340), 2.3, 0.4)}
	return append(rs, extra...)
}

// top makes region r a band h metres high at the top of the load (the
// load's other regions start at 0.5 m down).
func top(r vision.Region, h float64) vision.Region { r.M.YM, r.M.HM = 0.5, h; return r }

// under lowers region r by a metre, under the top of the load.
func under(r vision.Region) vision.Region { r.M.YM++; return r }

func opaque(r vision.Region) vision.Region { r.LowerBound, r.Opaque = true, 0.8; return r }

func coils(r vision.Region) vision.Region {
	r.Shape = vision.Shape{Class: vision.ShapeCoils, Circles: 5, CircleCover: 0.8, Rectangularity: 0.78}
	return r
}

// material gives region r a dual-energy class and index known to within
// 0.1 (thick goods, curves measured on site); its mass is its density over
// the ISO inner width.
func material(r vision.Region, m string, idx float64) vision.Region {
	r.Material, r.MaterialIndex, r.MaterialSD = m, idx, 0.1
	r.Kg = r.P50 * r.AreaM2 * 2.352
	return r
}

// thin makes region r's material index uncertain (thin goods, default
// curves).
func thin(r vision.Region, sd float64) vision.Region { r.MaterialSD = sd; return r }

func declared(hs ...string) *declaration.Declaration {
	d := &declaration.Declaration{DeclarationID: "D1", ContainerID: "MSKU1234565", ContainerType: "22G1", Items: []declaration.Item{}}
	for _, h := range hs {
		d.Items = append(d.Items, declaration.Item{HSCode: h, Description: "goods", GrossKg: 1000})
	}
	return d
}

func TestProfileFindings(t *testing.T) {
	cfg := config.Default()
	layer := vision.Layer{Light: 0, Dense: 1, LightKgM3: 120, DenseKgM3: 900, DenseOpaque: true, LengthM: 3, HeightM: 0.7,
		M: vision.Box{XM: 2, YM: 1.8, WM: 3, HM: 0.7}}
	behind := vision.Layer{Light: 0, Dense: 1, LightKgM3: 120, DenseKgM3: 900, DenseOpaque: true, LengthM: 7, HeightM: 2.2, WallM: 2, Behind: true,
		M: vision.Box{XM: 3, YM: 0.2, WM: 7, HM: 2.2}}
	for _, tc := range []struct {
		name    string
		decl    *declaration.Declaration
		regions []vision.Region
		layers  []vision.Layer
		want    map[string]inspection.Severity // code → severity of its first finding
	}{
		{"honest flowers", declared("670290"), []vision.Region{reg(1, 6, 65)}, nil, nil},
		{"masks as flowers", declared("670290"), []vision.Region{reg(1, 6, 120)}, nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Critical, inspection.ControlledUndocumented: inspection.Critical}},
		{"masks as bottles, at the top of the bottles' range", declared("392330"), []vision.Region{reg(1, 16, 84)}, nil,
			map[string]inspection.Severity{inspection.ControlledUndocumented: inspection.Critical}},
		{"honest bottles", declared("392330"), []vision.Region{reg(1, 16, 50)}, nil, nil},
		{"light patches in a light load", declared("670290"), []vision.Region{reg(1, 16, 63), reg(2, 0.5, 30), reg(3, 0.6, 32)}, nil, nil},
		{"denser patch in a light load", declared("670290"), []vision.Region{reg(1, 16, 50), reg(2, 3, 80)}, nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Critical}},
		{"a little dense for flowers", declared("670290"), []vision.Region{reg(1, 6, 89)}, nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Info}},
		{"steel block in garments", declared("621010"), []vision.Region{reg(1, 8, 200), opaque(reg(2, 0.15, 900))}, nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Critical}},
		{"small light region ignored", declared("621010"), []vision.Region{reg(1, 8, 200), reg(2, 0.2, 60)}, nil, nil},
		{"opaque tiles", declared("690721"), []vision.Region{opaque(reg(1, 6, 700))}, nil, nil},
		{"masks block in bags", declared("392321"), []vision.Region{reg(1, 5, 320), reg(2, 2.5, 120)}, nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Critical, inspection.ControlledUndocumented: inspection.Critical}},
		{"a block of masks inside bags the beam did not cross", declared("392321"), []vision.Region{opaque(reg(1, 6, 451)), reg(2, 1.7, 274)}, nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Critical}},
		{"bags and masks declared", declared("392321", "630790"), []vision.Region{reg(1, 5, 320), reg(2, 2.5, 120)}, nil, nil},
		{"packaging ignored", declared("690721"), []vision.Region{opaque(reg(1, 6, 700)), func() vision.Region { r := reg(2, 1.2, 140); r.Packaging = true; return r }()}, nil, nil},
		{"coils declared as t-shirts", declared("610910"), []vision.Region{coils(reg(1, 3, 250))}, nil,
			map[string]inspection.Severity{inspection.ShapeMismatch: inspection.Warning}},
		{"upright coils declared as wire", declared("721710"), []vision.Region{opaque(coils(reg(1, 3, 800))), opaque(reg(2, 2, 700))}, nil, nil},
		{"carton edges as circles in t-shirts", declared("610910"), []vision.Region{func() vision.Region {
			r := reg(1, 3, 250)
			r.Shape = vision.Shape{Class: vision.ShapeCoils, Circles: 1, CircleCover: 0.4, Rectangularity: 0.9}
			return r
		}()}, nil, map[string]inspection.Severity{inspection.ShapeMismatch: inspection.Info}},
		{"tiles read as coils where the beam did not get through", declared("690721"), []vision.Region{opaque(coils(reg(1, 3, 900)))}, nil,
			map[string]inspection.Severity{inspection.ShapeMismatch: inspection.Info}},
		{"organic under wire", declared("721710"), []vision.Region{material(reg(1, 2, 300), "organic", 1.0)}, nil,
			map[string]inspection.Severity{inspection.MaterialMismatch: inspection.Critical, inspection.ControlledUndocumented: inspection.Critical}},
		{"thin bottles a little off the default curves", declared("392330"), []vision.Region{thin(material(reg(1, 10, 52), "inorganic", 0.62), 0.6)}, nil,
			map[string]inspection.Severity{inspection.MaterialMismatch: inspection.Info}},
		{"a metal block in bottles", declared("392330"), []vision.Region{material(reg(1, 10, 52), "organic", 1), material(reg(2, 0.5, 900), "metal", 0.05)}, nil,
			map[string]inspection.Severity{inspection.MaterialMismatch: inspection.Critical, inspection.DensityMismatch: inspection.Critical}},
		{"inorganic goods in a t-shirt load: neighbouring classes", declared("610910"), []vision.Region{material(reg(1, 4, 250), "inorganic", 0.4)}, nil,
			map[string]inspection.Severity{inspection.MaterialMismatch: inspection.Warning}},
		{"mixed ventilators", declared("901920"), []vision.Region{material(reg(1, 2, 240), "inorganic", 0.5)}, nil, nil},
		{"masks under wire", declared("721710"), []vision.Region{reg(1, 2, 120), opaque(coils(reg(2, 3, 900)))}, []vision.Layer{layer},
			map[string]inspection.Severity{inspection.LayeredConcealment: inspection.Critical, inspection.DensityMismatch: inspection.Critical,
				inspection.ControlledUndocumented: inspection.Critical}},
		{"lighter band of the same light goods", declared("392330"), []vision.Region{reg(1, 2, 30), reg(2, 10, 45)},
			[]vision.Layer{{Light: 0, Dense: 1, LightKgM3: 30, DenseKgM3: 45, LengthM: 1, HeightM: 0.6, M: vision.Box{XM: 2, YM: 1.8, WM: 1, HM: 0.6}}},
			map[string]inspection.Severity{inspection.LayeredConcealment: inspection.Info}},
		{"layer, unknown goods", declared("010121"), []vision.Region{reg(1, 2, 120), opaque(reg(2, 3, 900))}, []vision.Layer{layer},
			map[string]inspection.Severity{inspection.LayeredConcealment: inspection.Warning}},
		{"masks behind a wall of tiles", declared("690721"), []vision.Region{reg(1, 14, 120), opaque(reg(2, 4, 900))}, []vision.Layer{behind},
			map[string]inspection.Severity{inspection.LayeredConcealment: inspection.Critical, inspection.DensityMismatch: inspection.Critical,
				inspection.ControlledUndocumented: inspection.Critical}},
		{"the rounded side of the first reel at the load's end", declared("480256"), reels(at(reg(4, 0.4, 222), 0.16, 0.24)), nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Info}},
		{"the gap between two reels", declared("480256"), reels(at(reg(4, 0.7, 295), 5.8, 0.48)), nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Info}},
		{"a block of light goods between reels", declared("480256"), reels(at(reg(4, 2.4, 222), 5.8, 1.1)), nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Critical, inspection.ControlledUndocumented: inspection.Critical}},
		{"a short top layer of bags", declared("392321"), []vision.Region{at(reg(1, 8.3, 277), 0.1, 5.2), top(at(reg(2, 0.4, 135), 4.2, 1.1), 0.4)}, nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Info}},
		{"headroom over reels read a little dense", declared("480256"), append(reels(), top(at(reg(4, 1.5, 13), 0.1, 10.9), 0.52)), nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Info}},
		{"a short top layer of t-shirts behind a wall of cartons at the doors", declared("610910"),
			[]vision.Region{at(reg(1, 6, 200), 0.1, 9.4), at(reg(2, 1.5, 180), 9.5, 2.1), top(at(reg(3, 0.9, 91), 9.5, 2.1), 0.4)},
			[]vision.Layer{{Light: 2, Dense: 1, LightKgM3: 91, DenseKgM3: 180, LengthM: 1.9, HeightM: 0.4, WallM: 0.6, Behind: true, M: vision.Box{XM: 9.5, YM: 0.5, WM: 2.1, HM: 0.4}}},
			map[string]inspection.Severity{inspection.LayeredConcealment: inspection.Info, inspection.DensityMismatch: inspection.Info}},
		{"a light band inside bags", declared("392321"), []vision.Region{at(reg(1, 8.3, 277), 0.1, 5.2), under(top(at(reg(2, 0.4, 135), 4.2, 1.1), 0.4))}, nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Warning, inspection.ControlledUndocumented: inspection.Warning}},
		{"light goods filling the door end of a reel load", declared("480256"), reels(at(reg(4, 2.4, 222), 11.6, 1.1)), nil,
			map[string]inspection.Severity{inspection.DensityMismatch: inspection.Critical, inspection.ControlledUndocumented: inspection.Critical}},
		{"unknown goods, no image checks", declared("010121"), []vision.Region{reg(1, 6, 5000)}, nil, nil},
		{"declared empty", declared(), []vision.Region{reg(1, 6, 300)}, nil, nil},
	} {
		box := &vision.Container{Regions: tc.regions, Layers: tc.layers, CargoKg: 3000, CargoAreaM2: 8}
		r := &inspection.Result{Findings: []inspection.Finding{}}
		profileFindings(cfg, r, box, tc.decl, 1)
		got := map[string]inspection.Severity{}
		for _, f := range r.Findings {
			if _, ok := got[f.Code]; !ok {
				got[f.Code] = f.Severity
			}
			if f.Region == nil || f.Measured == nil || f.Expected == nil || !strings.Contains(f.Message, "m") {
				t.Errorf("%s: %s lacks region, measured value or expected range: %+v", tc.name, f.Code, f)
			}
			if (f.Code == inspection.DensityMismatch || f.Code == inspection.ControlledUndocumented) && (f.Evidence == nil || f.Evidence.Kg <= 0) {
				t.Errorf("%s: %s does not say how strong its evidence is: %+v", tc.name, f.Code, f)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: findings %v, want %v", tc.name, r.Codes(), tc.want)
			continue
		}
		for c, sev := range tc.want {
			if got[c] != sev {
				t.Errorf("%s: %s is %q, want %q (%v)", tc.name, c, got[c], sev, r.Findings)
			}
		}
	}
}

func TestControlledEvidenceNamesTheGoods(t *testing.T) {
	cfg := config.Default()
	box := &vision.Container{Regions: []vision.Region{reg(1, 7.6, 115)}, CargoKg: 2000, CargoAreaM2: 8, InnerWidthM: 2.352}
	r := &inspection.Result{Findings: []inspection.Finding{}}
	profileFindings(cfg, r, box, declared("670290"), 1)
	var msg string
	for _, f := range r.Findings {
		if f.Code == inspection.ControlledUndocumented {
			msg = f.Message
		}
	}
	if !strings.Contains(msg, "possible undeclared medical face masks, 17.9 m³ at 115 kg/m³ (2056 kg") {
		t.Fatalf("evidence finding %q does not name masks with volume and density", msg)
	}
	// Declared masks with documents: the document rule judges them, no evidence finding.
	r = &inspection.Result{Findings: []inspection.Finding{}}
	profileFindings(cfg, r, box, declared("670290", "630790"), 1)
	if r.Has(inspection.ControlledUndocumented) {
		t.Fatalf("evidence raised though controlled goods are declared: %v", r.Findings)
	}
}

func TestBehindLayerMessage(t *testing.T) {
	cfg := config.Default()
	box := &vision.Container{Regions: []vision.Region{reg(1, 14, 120), opaque(reg(2, 4, 900))}, CargoKg: 3000, CargoAreaM2: 18,
		Layers: []vision.Layer{{Light: 0, Dense: 1, LightKgM3: 120, DenseKgM3: 900, DenseOpaque: true, LengthM: 7, HeightM: 2.2, WallM: 2, Behind: true,
			M: vision.Box{XM: 3, YM: 0.2, WM: 7, HM: 2.2}}}}
	r := &inspection.Result{Findings: []inspection.Finding{}}
	profileFindings(cfg, r, box, declared("690721"), 1)
	for _, f := range r.Findings {
		if f.Code == inspection.LayeredConcealment {
			if !strings.Contains(f.Message, "runs 7.0 m behind a 2.0 m wall of goods too dense for the beam to cross (R2) at the end") {
				t.Errorf("behind message %q", f.Message)
			}
			return
		}
	}
	t.Fatalf("no LAYERED_CONCEALMENT: %v", r.Findings)
}

// Masks declared as flowers at half their weight: a density above
// the flowers' range fits masks several times better; with the weighbridge
// finding more mass than declared, the two make a strong case.
func TestControlledEvidenceWeighsTheWeighbridge(t *testing.T) {
	cfg := config.Default()
	box := &vision.Container{Regions: []vision.Region{reg(1, 9, 103)}, CargoKg: 2200, CargoAreaM2: 9.4, InnerWidthM: 2.352}
	for _, tc := range []struct {
		overweight bool
		want       inspection.Severity
	}{{false, inspection.Warning}, {true, inspection.Critical}} {
		r := &inspection.Result{Findings: []inspection.Finding{}}
		if tc.overweight {
			r.Findings = append(r.Findings, inspection.Finding{Code: inspection.WeightMismatch, Severity: inspection.Warning,
				Measured: inspection.Ptr(2000.0), Expected: &[2]float64{645, 1645}})
		}
		profileFindings(cfg, r, box, declared("670290"), 1)
		got := inspection.Severity("")
		for _, f := range r.Findings {
			if f.Code == inspection.ControlledUndocumented {
				got = f.Severity
			}
		}
		if got != tc.want {
			t.Errorf("overweight %v: controlled-goods evidence %q, want %q: %v", tc.overweight, got, tc.want, r.Findings)
		}
	}
}
