package inspection

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Finding codes: stable, add new ones, never rename.
const (
	WeightMismatch         = "WEIGHT_MISMATCH"
	XrayMassMismatch       = "XRAY_MASS_MISMATCH"
	DensityMismatch        = "DENSITY_MISMATCH"
	MaterialMismatch       = "MATERIAL_MISMATCH"
	ShapeMismatch          = "SHAPE_MISMATCH"
	LayeredConcealment     = "LAYERED_CONCEALMENT"
	UndeclaredCargo        = "UNDECLARED_CARGO"
	EmptyDeclaredLoaded    = "EMPTY_DECLARED_LOADED"
	NoDeclaration          = "NO_DECLARATION"
	NoWeight               = "NO_WEIGHT"
	ControlledUndocumented = "CONTROLLED_GOODS_UNDOCUMENTED"
	InvalidContainerID     = "INVALID_CONTAINER_ID"
	ImageQuality           = "IMAGE_QUALITY"
)

// Verdicts.
const (
	Clear  = "clear"
	Review = "review"
	Alert  = "alert"
)

// Severity of a finding.
type Severity string

// Severities, in increasing order.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Weights compares the masses known for an inspection, in kg; nil is unknown.
type Weights struct {
	GrossKg    *float64 `json:"gross_kg"`
	NetKg      *float64 `json:"net_kg"`
	DeclaredKg *float64 `json:"declared_kg"`
	XrayKg     *float64 `json:"xray_kg"`
}

// Finding is one reason for the verdict.
type Finding struct {
	Code     string      `json:"code"`
	Severity Severity    `json:"severity"`
	Message  string      `json:"message"`
	Region   *Region     `json:"region,omitempty"`
	Measured *float64    `json:"measured,omitempty"`
	Expected *[2]float64 `json:"expected,omitempty"`
	// Evidence says how strong an image finding's case is (a compatible
	// extension of the contract; absent on other findings).
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Region is a rectangle in metres from the container's top-left corner as
// seen in the image.
type Region struct {
	XM float64 `json:"x_m"`
	YM float64 `json:"y_m"`
	WM float64 `json:"w_m"`
	HM float64 `json:"h_m"`
}

// Evidence is the strength of an image finding: the mass the declared
// goods cannot explain, how far the region stands out of what they
// explain in units of the load's own variation, and for image evidence
// of controlled goods how many times likelier its density is for them
// than for the declared goods. Zero where it does not apply.
type Evidence struct {
	Kg              float64 `json:"kg"`
	Sigma           float64 `json:"sigma"`
	LikelihoodRatio float64 `json:"likelihood_ratio,omitempty"`
}

// Result is one inspection: one container of one scan.
type Result struct {
	InspectionID  string             `json:"inspection_id"`
	ScanID        string             `json:"scan_id"`
	Lane          string             `json:"lane"`
	Site          string             `json:"site"`
	Gate          string             `json:"gate"`
	ScannedAt     time.Time          `json:"scanned_at"`
	ContainerIDs  []string           `json:"container_ids"`
	DeclarationID string             `json:"declaration_id"`
	Verdict       string             `json:"verdict"`
	Risk          float64            `json:"risk"`
	Weights       Weights            `json:"weights"`
	Findings      []Finding          `json:"findings"`
	TimingsMS     map[string]float64 `json:"timings_ms"`
	InspectedAt   time.Time          `json:"inspected_at"`
	Version       string             `json:"agent_version,omitempty"`
	// Container is the number of the container this result is about when a
	// scan carries two; it is also in ContainerIDs.
	Container string `json:"container_id,omitempty"`
}

// ID derives the inspection id from gate, scan and container index, so that a
// scan processed twice (after a crash) yields the same id and consumers can
// drop the duplicate.
func ID(site, gate, scanID string, index int) string {
	h := sha256.New()
	for _, s := range []string{site, gate, scanID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write([]byte{byte(index)})
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Ptr returns a pointer to v, for the optional numeric fields.
func Ptr(v float64) *float64 { return &v }

// Has reports whether r has a finding with code.
func (r *Result) Has(code string) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// Codes lists the finding codes of r in order.
func (r *Result) Codes() []string {
	c := make([]string, len(r.Findings))
	for i, f := range r.Findings {
		c[i] = f.Code
	}
	return c
}
