package assess

import (
	"strings"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

func decl(id string, tare float64, items ...declaration.Item) *declaration.Declaration {
	if items == nil {
		items = []declaration.Item{}
	}
	var sum float64
	for _, it := range items {
		sum += it.GrossKg
	}
	return &declaration.Declaration{DeclarationID: "D-" + id, ContainerID: id, ContainerType: "22G1", ContainerTareKg: tare, DeclaredGrossKg: tare + sum, Items: items}
}

func item(hs string, kg float64) declaration.Item {
	return declaration.Item{HSCode: hs, Description: "goods " + hs, GrossKg: kg}
}

func sidecar(ids ...string) *scanin.Sidecar {
	s := &scanin.Sidecar{ScanID: "S1", Lane: "L1", ScannedAt: time.Date(2020, 4, 1, 10, 0, 0, 0, time.UTC), ContainerIDs: ids}
	return s
}

func box(kg float64) vision.Container {
	return vision.Container{CargoKg: kg, CargoAreaM2: kg / 300, Empty: kg < 400 && kg/300 < 1, InnerWidthM: 2.352}
}

func kg(v float64) *float64 { return &v }

func TestRules(t *testing.T) {
	cfg := config.Default()
	const id = "CSQU3054383"
	masks := item("630790", 3000)
	docs := []declaration.Document{
		{Type: "medical_device_registration", Number: "MDR-1", Issuer: "NMPA"},
		{Type: "compliance_report", Number: "CR-1", Issuer: "SGS"},
	}
	withDocs := func(d *declaration.Declaration, ds []declaration.Document) *declaration.Declaration {
		d.Documents = ds
		return d
	}
	for _, tc := range []struct {
		name    string
		c       Case
		want    []string // finding codes, in any order; nil = none
		verdict string
	}{
		{"honest and weighed", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 10000))},
			GrossKg: kg(14500 + 2200 + 10200), Weighbridge: true, LaneTareKg: 14500, Analysis: &vision.Analysis{Containers: []vision.Container{box(10100)}}},
			nil, inspection.Clear},
		{"within 500 kg of a small declaration", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 2000))},
			GrossKg: kg(14500 + 2200 + 2450), Weighbridge: true, LaneTareKg: 14500, Analysis: &vision.Analysis{Containers: []vision.Container{box(2300)}}},
			nil, inspection.Clear},
		{"declared 10 t weighs 15 t", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 10000))},
			GrossKg: kg(14500 + 2200 + 15000), Weighbridge: true, LaneTareKg: 14500, Analysis: &vision.Analysis{Containers: []vision.Container{box(14800)}}},
			[]string{inspection.WeightMismatch}, inspection.Alert},
		{"x-ray sees far less than weighed", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 10000))},
			GrossKg: kg(14500 + 2200 + 10000), Weighbridge: true, LaneTareKg: 14500, Analysis: &vision.Analysis{Containers: []vision.Container{box(4000)}}},
			[]string{inspection.XrayMassMismatch}, inspection.Review},
		{"dense cargo: x-ray is a lower bound", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200, item("721710", 20000))},
			GrossKg: kg(14500 + 2200 + 20000), Weighbridge: true, LaneTareKg: 14500,
			Analysis: &vision.Analysis{Containers: []vision.Container{{CargoKg: 6000, CargoAreaM2: 5, LowerBound: true, NoPenetration: 0.4}}}},
			[]string{inspection.ImageQuality}, inspection.Clear},
		{"sidecar tare wins over lane tare", Case{Sidecar: func() *scanin.Sidecar { s := sidecar(id); s.Vehicle.TareKg = 9000; return s }(),
			Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 10000))},
			GrossKg:      kg(9000 + 2200 + 10000), Weighbridge: true, LaneTareKg: 14500, Analysis: &vision.Analysis{Containers: []vision.Container{box(10000)}}},
			nil, inspection.Clear},
		{"learned plate tare before lane tare", Case{Sidecar: sidecar(id), PlateTareKg: 9000,
			Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 10000))},
			GrossKg:      kg(9000 + 2200 + 10000), Weighbridge: true, LaneTareKg: 14500, Analysis: &vision.Analysis{Containers: []vision.Container{box(10000)}}},
			nil, inspection.Clear},
		{"declared empty but loaded", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200)},
			GrossKg: kg(14500 + 2200 + 3000), Weighbridge: true, LaneTareKg: 14500, Analysis: &vision.Analysis{Containers: []vision.Container{box(3000)}}},
			[]string{inspection.UndeclaredCargo, inspection.WeightMismatch}, inspection.Alert},
		{"declared goods, empty image", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 8000))},
			Weighbridge: false, Analysis: &vision.Analysis{Containers: []vision.Container{box(50)}}},
			[]string{inspection.EmptyDeclaredLoaded, inspection.NoWeight}, inspection.Alert},
		{"no declaration, no weight", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{nil}, Weighbridge: true,
			Analysis: &vision.Analysis{Containers: []vision.Container{box(5000)}}},
			[]string{inspection.NoDeclaration, inspection.NoWeight}, inspection.Review},
		{"scanner-only lane", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 5000))},
			Analysis: &vision.Analysis{Containers: []vision.Container{box(5000)}}},
			[]string{inspection.NoWeight}, inspection.Clear},
		{"masks without documents", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200, masks)},
			Analysis: &vision.Analysis{Containers: []vision.Container{box(3000)}}},
			[]string{inspection.ControlledUndocumented, inspection.NoWeight}, inspection.Alert},
		{"masks with documents", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{withDocs(decl(id, 2200, masks), docs)},
			Analysis: &vision.Analysis{Containers: []vision.Container{box(3000)}}},
			[]string{inspection.NoWeight}, inspection.Clear},
		{"compliance report from an unaccredited issuer", Case{Sidecar: sidecar(id),
			Declarations: []*declaration.Declaration{withDocs(decl(id, 2200, masks), []declaration.Document{docs[0], {Type: "compliance_report", Number: "X", Issuer: "Self"}})},
			Analysis:     &vision.Analysis{Containers: []vision.Container{box(3000)}}},
			[]string{inspection.ControlledUndocumented, inspection.NoWeight}, inspection.Review},
		{"compliance report by an accredited agency's legal name", Case{Sidecar: sidecar(id),
			Declarations: []*declaration.Declaration{withDocs(decl(id, 2200, masks), []declaration.Document{docs[0],
				{Type: "compliance_report", Number: "CR-2020-1", Issuer: "SGS-CSTC Standards Technical Services Co., Ltd."}})},
			Analysis: &vision.Analysis{Containers: []vision.Container{box(3000)}}},
			[]string{inspection.NoWeight}, inspection.Clear},
		{"registration only, no compliance report", Case{Sidecar: sidecar(id),
			Declarations: []*declaration.Declaration{withDocs(decl(id, 2200, masks), docs[:1])},
			Analysis:     &vision.Analysis{Containers: []vision.Container{box(3000)}}},
			[]string{inspection.ControlledUndocumented, inspection.NoWeight}, inspection.Alert},
		{"invalid container number", Case{Sidecar: sidecar("CSQU3054384"), Declarations: []*declaration.Declaration{nil},
			Analysis: &vision.Analysis{Containers: []vision.Container{box(3000)}}},
			[]string{inspection.InvalidContainerID, inspection.NoDeclaration, inspection.NoWeight}, inspection.Review},
		{"invalid container number corrected", Case{Sidecar: sidecar("CSQU3O54383"), Corrected: []string{id},
			Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 3000))},
			Analysis:     &vision.Analysis{Containers: []vision.Container{box(3000)}}},
			[]string{inspection.InvalidContainerID, inspection.NoWeight}, inspection.Review},
		{"no container in the image", Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{decl(id, 2200, item("610910", 3000))},
			AnalysisErr: vision.ErrNoContainer, Analysis: &vision.Analysis{}},
			[]string{inspection.ImageQuality, inspection.NoWeight}, inspection.Review},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := Assess(cfg, tc.c)
			if len(rs) != 1 {
				t.Fatalf("%d results, want 1", len(rs))
			}
			r := rs[0]
			got := map[string]bool{}
			for _, c := range r.Codes() {
				got[c] = true
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("missing %s; findings %v", w, r.Findings)
				}
				delete(got, w)
			}
			if len(got) > 0 {
				t.Errorf("unexpected findings %v: %v", got, r.Findings)
			}
			if r.Verdict != tc.verdict {
				t.Errorf("verdict %s (risk %v), want %s", r.Verdict, r.Risk, tc.verdict)
			}
			for _, f := range r.Findings {
				if f.Message == "" || f.Severity == "" {
					t.Errorf("finding without message or severity: %+v", f)
				}
			}
		})
	}
}

func TestWatchlist(t *testing.T) {
	cfg := config.Default()
	cfg.Watchlist = []string{"Shady Exports Ltd"}
	d := decl("CSQU3054383", 2200, item("630790", 1000))
	d.Exporter = "shady exports ltd "
	d.Documents = []declaration.Document{{Type: "medical_device_registration", Number: "1"}, {Type: "compliance_report", Number: "2", Issuer: "SGS"}}
	r := Assess(cfg, Case{Sidecar: sidecar("CSQU3054383"), Declarations: []*declaration.Declaration{d}, Analysis: &vision.Analysis{Containers: []vision.Container{box(1000)}}})[0]
	if !r.Has(inspection.ControlledUndocumented) || r.Verdict != inspection.Alert || !strings.Contains(r.Findings[0].Message, "watch list") {
		t.Fatalf("watch-listed exporter not alerted: %+v", r)
	}
}

func TestTwoContainersSplitTheGross(t *testing.T) {
	cfg := config.Default()
	a, b := "CSQU3054383", "MSKU9070323"
	c := Case{Sidecar: sidecar(a, b), Weighbridge: true, LaneTareKg: 14500,
		Declarations: []*declaration.Declaration{decl(a, 2200, item("610910", 8000)), decl(b, 2200, item("610910", 4000))},
		GrossKg:      kg(14500 + 2200 + 2200 + 8000 + 4000),
		Analysis:     &vision.Analysis{Containers: []vision.Container{box(8000), box(4000)}}}
	rs := Assess(cfg, c)
	if len(rs) != 2 {
		t.Fatalf("%d results, want one per container", len(rs))
	}
	for i, want := range []float64{8000, 4000} {
		r := rs[i]
		if r.Container != []string{a, b}[i] || r.InspectionID == rs[1-i].InspectionID {
			t.Errorf("result %d is not about its own container: %+v", i, r)
		}
		if r.Weights.NetKg == nil || abs(*r.Weights.NetKg-want) > 50 {
			t.Errorf("container %d net %v, want about %v (gross split by X-ray mass)", i, r.Weights.NetKg, want)
		}
		if r.Verdict != inspection.Clear {
			t.Errorf("container %d: %s %v", i, r.Verdict, r.Findings)
		}
	}
	// One box hides 3 t more than declared: only its share is off.
	c.GrossKg = kg(*c.GrossKg + 3000)
	c.Analysis.Containers[1] = box(7000)
	rs = Assess(cfg, c)
	if !rs[1].Has(inspection.WeightMismatch) || !strings.Contains(findingMsg(rs[1], inspection.WeightMismatch), "share") {
		t.Errorf("second box's overweight not found or not explained: %+v", rs[1].Findings)
	}
	// The second box is too dense to weigh by X-ray and the pair is 3 t
	// heavy: the first box, whose X-ray mass agrees with its declaration,
	// is not blamed.
	c.Analysis.Containers[1] = vision.Container{CargoKg: 3000, CargoAreaM2: 5, LowerBound: true, NoPenetration: 0.6}
	rs = Assess(cfg, c)
	if rs[0].Has(inspection.WeightMismatch) || !rs[1].Has(inspection.WeightMismatch) {
		t.Errorf("excess not given to the box the X-ray cannot weigh: first %v, second %v", rs[0].Codes(), rs[1].Codes())
	}
}

func TestTwoContainersJoinedByMass(t *testing.T) {
	cfg := config.Default()
	a, b := "CSQU3054383", "MSKU9070323"
	// The numbers are listed front to rear, the cab trails: the image
	// shows the 550 kg box first.
	c := Case{Sidecar: sidecar(a, b), Weighbridge: true, LaneTareKg: 14500,
		Declarations: []*declaration.Declaration{decl(a, 2200, item("610910", 2800)), decl(b, 2200, item("610910", 550))},
		GrossKg:      kg(14500 + 2200 + 2200 + 2800 + 550),
		Analysis:     &vision.Analysis{Containers: []vision.Container{box(560), box(2790)}}}
	rs := Assess(cfg, c)
	for i, r := range rs {
		if r.Verdict != inspection.Clear || r.Has(inspection.XrayMassMismatch) {
			t.Errorf("container %d: %s %v", i, r.Verdict, r.Findings)
		}
		if r.Weights.XrayKg == nil || *r.Weights.XrayKg != []float64{2790, 560}[i] {
			t.Errorf("container %d joined to the X-ray mass %v", i, r.Weights.XrayKg)
		}
	}
	if c.Analysis.Containers[0].CargoKg != 2790 {
		t.Error("the analysis' boxes were not put in the declarations' order (the annotation draws them by index)")
	}
	// Masses that fit either way keep the image order.
	c.Analysis.Containers = []vision.Container{box(2700), box(2790)}
	c.Declarations[1] = decl(b, 2200, item("610910", 2750))
	Assess(cfg, c)
	if c.Analysis.Containers[0].CargoKg != 2700 {
		t.Error("boxes reordered without clear evidence")
	}
}

func TestInspectionIDStable(t *testing.T) {
	cfg := config.Default()
	c := Case{Sidecar: sidecar("CSQU3054383"), Declarations: []*declaration.Declaration{nil}}
	if Assess(cfg, c)[0].InspectionID != Assess(cfg, c)[0].InspectionID {
		t.Fatal("the same scan got two inspection ids")
	}
}

func findingMsg(r inspection.Result, code string) string {
	for _, f := range r.Findings {
		if f.Code == code {
			return f.Message
		}
	}
	return ""
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestOneRegionOneEvidence: the density, layer and controlled-goods
// warnings on one region are one piece of evidence (review), while
// warnings on two places, or a finding with no place, add up (alert).
func TestOneRegionOneEvidence(t *testing.T) {
	cfg := config.Default()
	at := func(code string, sev inspection.Severity, r *inspection.Region) inspection.Finding {
		return inspection.Finding{Code: code, Severity: sev, Message: code, Region: r}
	}
	r2 := &inspection.Region{XM: 0.68, YM: 1.04, WM: 1.24, HM: 0.52}
	layer := &inspection.Region{XM: 0.7, YM: 1.1, WM: 1.2, HM: 0.5}
	far := &inspection.Region{XM: 6, YM: 1, WM: 1, HM: 1}
	for _, tc := range []struct {
		name     string
		findings []inspection.Finding
		want     string
	}{
		{"three readings of one region", []inspection.Finding{at(inspection.LayeredConcealment, inspection.Warning, layer),
			at(inspection.DensityMismatch, inspection.Warning, r2), at(inspection.ControlledUndocumented, inspection.Warning, r2)}, inspection.Review},
		{"two regions and the weighbridge", []inspection.Finding{at(inspection.DensityMismatch, inspection.Warning, r2),
			at(inspection.DensityMismatch, inspection.Warning, far), at(inspection.WeightMismatch, inspection.Warning, nil)}, inspection.Alert},
		{"a critical reading after a warning", []inspection.Finding{at(inspection.DensityMismatch, inspection.Warning, r2),
			at(inspection.ControlledUndocumented, inspection.Critical, r2)}, inspection.Alert},
	} {
		a := assessor{cfg: cfg, r: &inspection.Result{Findings: tc.findings}}
		a.verdict()
		if a.r.Verdict != tc.want {
			t.Errorf("%s: %s (risk %v), want %s", tc.name, a.r.Verdict, a.r.Risk, tc.want)
		}
	}
}
