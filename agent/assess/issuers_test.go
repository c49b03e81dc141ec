package assess

import (
	"strings"
	"testing"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/vision"
)

func TestAccreditedIssuer(t *testing.T) {
	list := config.Default().Accredited
	for _, tc := range []struct {
		issuer, want string // want "" when not accredited
	}{
		{"SGS", "SGS"},
		{"sgs", "SGS"},
		{"SGS-CSTC Standards Technical Services Co., Ltd.", "SGS"},
		{"SGS-CSTC Standards Technical Services Co Ltd", "SGS"},
		{"sgs cstc standards technical services co.,ltd", "SGS"},
		{"TÜV SÜD Certification and Testing (China) Co., Ltd.", "TÜV SÜD"},
		{"TUV SUD", "TÜV SÜD"},
		{"Tuev Sued", "TÜV SÜD"},
		{"Bureau Veritas Consumer Products Services (Shanghai) Co., Ltd.", "Bureau Veritas"},
		{"BUREAU VERITAS", "Bureau Veritas"},
		{"Intertek Testing Services Shenzhen Ltd.", "Intertek"},
		{"China Certification & Inspection (Group) Co., Ltd.", "CCIC"},
		{"Centre Testing International Group Co., Ltd.", "CTI"},
		{"Zhejiang Institute of Medical Device Supervision and Testing", "Zhejiang Institute of Medical Device Supervision and Testing"},
		{"", ""},
		{"Self", ""},
		{"Shenzhen Huayi Testing Co., Ltd.", ""},
		{"SGS Trading Partners Ltd", ""},
		{"Intertek-like Lab", ""},
		{"Qingdao Haixin Trading Co., Ltd.", ""},
	} {
		got, ok := accreditedIssuer(tc.issuer, list)
		if ok != (tc.want != "") || ok && got.Name != tc.want {
			t.Errorf("%q: got %q %v, want %q", tc.issuer, got.Name, ok, tc.want)
		}
	}
}

func TestUnlistedIssuerNamedInAWarning(t *testing.T) {
	cfg := config.Default()
	const id = "CSQU3054383"
	d := decl(id, 2200, item("630790", 3000))
	d.Documents = []declaration.Document{
		{Type: "medical_device_registration", Number: "MDR-1", Issuer: "NMPA"},
		{Type: "compliance_report", Number: "CR-2020-77", Issuer: "Shenzhen Huayi Testing Co., Ltd."},
	}
	r := Assess(cfg, Case{Sidecar: sidecar(id), Declarations: []*declaration.Declaration{d},
		Analysis: &vision.Analysis{Containers: []vision.Container{box(3000)}}})[0]
	var f *inspection.Finding
	for i := range r.Findings {
		if r.Findings[i].Code == inspection.ControlledUndocumented {
			f = &r.Findings[i]
		}
	}
	if f == nil || f.Severity != inspection.Warning || !strings.Contains(f.Message, "Shenzhen Huayi Testing") || !strings.Contains(f.Message, "CR-2020-77") {
		t.Fatalf("want a warning naming issuer and report number, got %+v", r.Findings)
	}
}
