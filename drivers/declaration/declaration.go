package declaration

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/gatescan/gatescan/internal/jsondoc"
)

// Declaration is one container's customs declaration.
type Declaration struct {
	DeclarationID   string     `json:"declaration_id"`
	ContainerID     string     `json:"container_id"`
	ContainerType   string     `json:"container_type"`
	ContainerTareKg float64    `json:"container_tare_kg"`
	DeclaredGrossKg float64    `json:"declared_gross_kg"`
	Items           []Item     `json:"items"`
	Exporter        string     `json:"exporter,omitempty"`
	Destination     string     `json:"destination,omitempty"`
	Documents       []Document `json:"documents,omitempty"`
	// IssuedAt and Revision order the versions of a container's
	// declaration (gatescan's compatible extension of interfaces.md §2,
	// both optional): when the customs system issued this version, and
	// the amendment number of the declaration. Over MQTT versions may
	// arrive in any order and a broker replays retained copies: these
	// decide which one is newer.
	IssuedAt time.Time `json:"issued_at,omitzero"`
	Revision int       `json:"revision,omitempty"`
}

// Supersedes reports whether d is a newer version than old of a
// container's declaration, by their own order: the later issued_at when
// both carry one, else the higher revision of the same declaration_id.
// decided is false when nothing in them orders them; the caller then goes
// by arrival.
func (d *Declaration) Supersedes(old *Declaration) (newer, decided bool) {
	if !d.IssuedAt.IsZero() && !old.IssuedAt.IsZero() && !d.IssuedAt.Equal(old.IssuedAt) {
		return d.IssuedAt.After(old.IssuedAt), true
	}
	if d.DeclarationID == old.DeclarationID && d.Revision > 0 && old.Revision > 0 {
		return d.Revision > old.Revision, true
	}
	if !d.IssuedAt.IsZero() && d.IssuedAt.Equal(old.IssuedAt) {
		return false, true // the same version again
	}
	return false, false
}

// Item is one line of goods.
type Item struct {
	HSCode      string  `json:"hs_code"`
	Description string  `json:"description"`
	GrossKg     float64 `json:"gross_kg"`
	Packages    int     `json:"packages,omitempty"`
	PackageType string  `json:"package_type,omitempty"`
}

// Document is a certificate accompanying the declaration.
type Document struct {
	Type   string `json:"type"`
	Number string `json:"number"`
	Issuer string `json:"issuer"`
}

// MaxBytes bounds one declaration.
const MaxBytes = 1 << 20

var (
	reHS   = regexp.MustCompile(`^[0-9]{6,10}$`)
	reType = regexp.MustCompile(`^[0-9A-Z]{2}[0-9A-Z]{2}$`)
)

// Parse decodes and validates a declaration; errors name the field and value.
func Parse(data []byte) (*Declaration, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("declaration is %d bytes; at most %d", len(data), MaxBytes)
	}
	var d Declaration
	if err := jsondoc.Decode(data, &d, "declaration", "§2",
		"declaration_id", "container_id", "container_type", "container_tare_kg", "declared_gross_kg", "items"); err != nil {
		return nil, err
	}
	if d.Items == nil {
		return nil, errors.New(`declaration "items" must be an array (empty for an empty container), not null`)
	}
	return &d, d.Check()
}

// Check validates the declaration's values.
func (d *Declaration) Check() error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if strings.TrimSpace(d.DeclarationID) == "" || len(d.DeclarationID) > 64 {
		bad("declaration_id %q must be 1 to 64 characters", d.DeclarationID)
	}
	d.ContainerID = Normalize(d.ContainerID)
	if err := ValidContainerID(d.ContainerID); err != nil {
		bad("container_id: %v", err)
	}
	d.ContainerType = strings.ToUpper(strings.TrimSpace(d.ContainerType))
	if !reType.MatchString(d.ContainerType) {
		bad("container_type %q is not an ISO 6346 size-type code such as 22G1, 42G1 or 45G1", d.ContainerType)
	}
	if !finite(d.ContainerTareKg) || d.ContainerTareKg < 1000 || d.ContainerTareKg > 6000 {
		bad("container_tare_kg %v is not a plausible container tare (1000..6000 kg)", d.ContainerTareKg)
	}
	if !finite(d.DeclaredGrossKg) || d.DeclaredGrossKg < d.ContainerTareKg || d.DeclaredGrossKg > 40000 {
		bad("declared_gross_kg %v must be at least the tare (%v) and at most 40000 kg", d.DeclaredGrossKg, d.ContainerTareKg)
	}
	for i := range d.Items {
		it := &d.Items[i]
		it.HSCode = strings.ReplaceAll(strings.TrimSpace(it.HSCode), ".", "")
		if !reHS.MatchString(it.HSCode) {
			bad("items[%d].hs_code %q must be 6 to 10 digits", i, it.HSCode)
		}
		if strings.TrimSpace(it.Description) == "" {
			bad("items[%d].description is empty", i)
		}
		if !finite(it.GrossKg) || it.GrossKg <= 0 || it.GrossKg > 40000 {
			bad("items[%d].gross_kg %v must be in (0, 40000]", i, it.GrossKg)
		}
		if it.Packages < 0 {
			bad("items[%d].packages %d cannot be negative", i, it.Packages)
		}
	}
	if d.Revision < 0 {
		bad("revision %d cannot be negative", d.Revision)
	}
	return errors.Join(errs...)
}

// ItemsKg is the sum of the declared items' gross masses.
func (d *Declaration) ItemsKg() float64 {
	var s float64
	for _, it := range d.Items {
		s += it.GrossKg
	}
	return s
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Order puts declarations in the order of a scan's container numbers
// (nil where none matches); a scan without numbers takes them as given.
func Order(ids []string, ds []*Declaration) []*Declaration {
	if len(ids) == 0 {
		return ds
	}
	out := make([]*Declaration, len(ids))
	for i, id := range ids {
		for _, d := range ds {
			if d.ContainerID == Normalize(id) {
				out[i] = d
			}
		}
	}
	return out
}
