package scanin

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatescan/gatescan/internal/jsondoc"
)

// Sidecar is the scan's JSON description (interfaces.md §1). Encoded
// (as the simulator writes it), the optional container_ids and vehicle are
// left out when empty.
type Sidecar struct {
	ScanID       string    `json:"scan_id"`
	Lane         string    `json:"lane"`
	ScannedAt    time.Time `json:"scanned_at"`
	ContainerIDs []string  `json:"container_ids,omitempty"`
	Images       struct {
		High string `json:"high"`
		Low  string `json:"low,omitempty"`
	} `json:"images"`
	PixelMM struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
	} `json:"pixel_mm"`
	Air       float64 `json:"air"`
	Dark      float64 `json:"dark"`
	EnergyMeV struct {
		High float64 `json:"high,omitempty"`
		Low  float64 `json:"low,omitempty"`
	} `json:"energy_mev"`
	MuCm2G  float64 `json:"mu_cm2_g,omitempty"`
	Vehicle struct {
		Plate  string  `json:"plate,omitempty"`
		TareKg float64 `json:"tare_kg,omitempty"`
	} `json:"vehicle,omitzero"`
}

// MaxSidecarBytes bounds a sidecar; a larger file is not a sidecar.
const MaxSidecarBytes = 1 << 20

// ParseSidecar decodes and checks a sidecar. Unknown fields are ignored, as
// the contract says; every required field and every value is checked.
func ParseSidecar(data []byte) (*Sidecar, error) {
	if len(data) > MaxSidecarBytes {
		return nil, fmt.Errorf("sidecar is %d bytes, more than the %d a sidecar can be", len(data), MaxSidecarBytes)
	}
	var s Sidecar
	if err := jsondoc.Decode(data, &s, "sidecar", "§1", "scan_id", "lane", "scanned_at", "images", "pixel_mm", "air"); err != nil {
		return nil, err
	}
	return &s, s.Check()
}

// Check validates the values of a sidecar.
func (s *Sidecar) Check() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.ScanID == "" || len(s.ScanID) > 128 || strings.ContainsAny(s.ScanID, "/\\\x00") {
		bad("scan_id %q must be 1 to 128 characters without slashes", s.ScanID)
	}
	if s.Lane == "" || len(s.Lane) > 64 || strings.ContainsAny(s.Lane, "/#+\x00") {
		bad("lane %q must be 1 to 64 characters without /, # or +", s.Lane)
	}
	if s.ScannedAt.IsZero() {
		bad("scanned_at is missing or zero; give an RFC 3339 time")
	}
	if len(s.ContainerIDs) > 2 {
		bad("container_ids has %d numbers; a chassis carries at most 2", len(s.ContainerIDs))
	}
	if err := checkName(s.Images.High); err != nil {
		bad("images.high: %v", err)
	}
	if s.Images.Low != "" {
		if err := checkName(s.Images.Low); err != nil {
			bad("images.low: %v", err)
		}
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"pixel_mm.x", s.PixelMM.X}, {"pixel_mm.y", s.PixelMM.Y}} {
		if !(v.v >= 0.2 && v.v <= 100) {
			bad("%s = %v mm is not a plausible pixel size (0.2..100 mm)", v.name, v.v)
		}
	}
	if !(s.Air > 0 && s.Air <= 65535) {
		bad("air = %v must be a detector value in (0, 65535]", s.Air)
	}
	if !(s.Dark >= 0 && s.Dark < s.Air) || math.IsNaN(s.Dark) {
		bad("dark = %v must be at least 0 and below air (%v)", s.Dark, s.Air)
	} else if s.Air-s.Dark < 100 {
		bad("air - dark = %v leaves no dynamic range; check the scanner's calibration", s.Air-s.Dark)
	}
	if s.MuCm2G != 0 && !(s.MuCm2G > 0.005 && s.MuCm2G < 1) {
		bad("mu_cm2_g = %v is not a plausible MeV mass attenuation coefficient (0.005..1 cm²/g)", s.MuCm2G)
	}
	if s.Vehicle.TareKg < 0 || s.Vehicle.TareKg > 60000 {
		bad("vehicle.tare_kg = %v is not a plausible tare (0..60000 kg)", s.Vehicle.TareKg)
	}
	return errors.Join(errs...)
}

// checkName accepts a plain file name in the inbox only: absolute paths and
// names that climb out are rejected before anything is opened.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("no file name")
	case filepath.IsAbs(name) || strings.HasPrefix(name, "/"):
		return fmt.Errorf("%q is absolute; the image must be a file name in the inbox", name)
	case strings.ContainsAny(name, "/\\\x00") || name == "." || name == "..":
		return fmt.Errorf("%q is not a plain file name in the inbox", name)
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".tif", ".tiff":
	default:
		return fmt.Errorf("%q: the image must be .png, .tif or .tiff", name)
	}
	return nil
}
