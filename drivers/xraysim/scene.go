package xraysim

import (
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/gatescan/gatescan/internal/defaults"
)

// Box is a block of cargo inside a container: a stack of cartons, a pallet,
// a crate, a hidden block. Coordinates are metres from the container's
// inside front-left-bottom corner.
type Box struct {
	// X0, X1: along the container's length, from the front (end-wall) inner
	// face towards the doors. Y0, Y1: height above the floor boards.
	X0, X1, Y0, Y1 float64
	// Depth is the path length along the beam, i.e. across the container's
	// width (inner width 2.352 m).
	Depth float64
	// Z is the lateral offset of the box's centre from the container's
	// longitudinal centre plane, positive away from the source; 0 = centred.
	// It only matters for the fan beam, and for the check that the box fits.
	Z        float64
	Material Material
	// Density is the bulk density as loaded, kg/m³ (mass of the block divided
	// by its outer volume, packaging and voids included).
	Density float64
	Label   string // e.g. "face masks"
	// Hidden marks goods not covered by the declaration (concealed or
	// undeclared). It is copied to the truth and does not change the image.
	Hidden bool
}

// Coil is a reel or coil lying with its axis along the beam (across the
// container), so that it is seen end-on as a disc (RInner 0) or a ring.
// Several coils side by side across the width are one Coil whose Depth is
// the sum of their widths.
type Coil struct {
	X, Y           float64 // centre: metres from the front inner wall / above the floor
	ROuter, RInner float64 // metres
	Depth          float64 // path along the beam, metres
	Z              float64 // lateral offset of the centre, as for Box
	Material       Material
	Density        float64 // kg/m³ of the ring's volume as wound
	Label          string
	Hidden         bool
}

// Container is one ISO container on the vehicle.
type Container struct {
	Type   string // ISO 6346 size-type code: "22G1" (20 ft), "42G1" (40 ft), "45G1" (40 ft high cube)
	Boxes  []Box
	Coils  []Coil
	ID     string  // ISO 6346 number, e.g. "MSKU1234565"; may be empty
	TareKg float64 // from the CSC plate; 0 = typical for the type
	// Shell varies the steel structure; the zero value is a typical box.
	Shell Shell
}

// Shell holds the structural parameters of a container. Zero fields take the
// typical value given in brackets.
type Shell struct {
	SideWallGCm2      float64 // mass thickness of one corrugated side wall's flat panel, g/cm² [1.6]; webs are 13 % more
	CorrugationPitchM float64 // side-wall corrugation pitch [0.278]
	RoofGCm2          float64 // steel mass thickness along the beam of the roof band seen edge-on [150]
	RoofBandM         float64 // vertical extent of the roof structure (corrugation + sag) [0.043]
	FloorBoardDensity float64 // plywood floor, kg/m³ [700]
	CrossMemberPitchM float64 // floor cross-member spacing [0.30]
	// FloorGCm2 is the smeared steel of the under-floor structure (bottom
	// side-rail flanges, fork pockets, cross-member flanges seen slightly
	// obliquely, gooseneck tunnel) along the beam, g/cm² [80]: with the
	// plywood and the cross-members it makes the floor a near-opaque band.
	FloorGCm2   float64
	EndWallGCm2 float64 // end wall seen edge-on, g/cm² along the beam between the flats [50]; doors 1.3× this
}

// Truck describes the tractor and chassis. Zero fields take the typical value
// given in brackets.
type Truck struct {
	CabLengthM     float64 // cab body, bumper to rear wall [2.3]
	CabHeightM     float64 // cab roof above the ground [3.6]
	TractorLengthM float64 // front bumper to the end of the tractor frame [6.4]
	GapM           float64 // cab rear wall to the first container's front [0.8]
	DeckHeightM    float64 // ground to the containers' underside [1.30]
	WheelRadiusM   float64 // [0.52]
	TrailerTailM   float64 // chassis beyond the last container [0.25]
	Between20sM    float64 // gap between two 20 ft boxes on one chassis [0.076]
}

// Scene is everything needed to render one drive-through scan.
type Scene struct {
	Seed    int64 // seeds the noise and artefacts
	PixelMM struct {
		X, Y float64 // travel per column; detector pitch at the centre plane (3..8 mm)
	}
	HeightM           float64 // detector column height: rows = round(HeightM/pixel_mm.y)
	LeadInM, LeadOutM float64 // air before / after the vehicle
	// CabFirst: the cab enters the beam first, so it is on the left of the
	// image (low columns); otherwise the vehicle is mirrored.
	CabFirst bool
	// Containers, front (nearest the cab) to rear: 1, or 2 twenty-foot boxes
	// on one chassis; may be empty (a bare chassis).
	Containers []Container
	Truck      Truck

	Air, Dark float64 // detector value with nothing in the beam / beam off
	// Photons is the number of quanta per pixel in air: noise is Poisson
	// (Gaussian approximation) on Photons·T. PhotonsLow is the same for the
	// low-energy image [Photons/2].
	Photons, PhotonsLow float64
	ReadNoise           float64 // detector read noise, std dev in output counts
	RowGainSpread       float64 // std dev of per-row gain around 1 (e.g. 0.03)
	PulseJitter         float64 // std dev of column-to-column source output (0.01..0.03)
	GainDriftPerM       float64 // gain change per metre of scan, linear along the scan
	DeadRows            int     // dead/stuck detector rows
	// Scatter (e.g. 0.005) is the fraction of blurred transmitted signal added where the
	// beam is attenuated: T' = T + Scatter·blur(T)·blur(1−T) with a kernel of
	// about ScatterRadiusM [0.25].
	Scatter        float64
	ScatterRadiusM float64
	DualEnergy     bool    // also render the low-energy image
	EnergyHighMeV  float64 // end-point energy of the high beam [6]
	EnergyLowMeV   float64 // end-point energy of the low beam [4]
	// Scanner names the scanner model (ScannerNames) whose spectrum the
	// scan is rendered with; "" is Standard.
	Scanner string
	// Fan enables the fan-beam geometry: a point source SourceDistM [12]
	// from the vehicle's centre plane at SourceHeightM [2.2] above the ground,
	// so that what is nearer the source is magnified. Off: parallel beam.
	Fan           bool
	SourceDistM   float64
	SourceHeightM float64

	VehicleTareKg float64 // tractor + chassis, for Truth.GrossKg [14500]
}

// Truth is the ground truth of a rendered scene.
type Truth struct {
	Containers []ContainerTruth // per container, in image order (left to right)
	// CabSpan is the tractor cab's columns, [first, end).
	CabSpan [2]int
	// VehicleSpan is the columns holding any part of the vehicle, [first, end).
	VehicleSpan [2]int
	DeadRows    []int   // rows that are dead or stuck
	GrossKg     float64 // vehicle tare + container tares + cargo: what a weighbridge reads
	Width       int     // image size
	Height      int
}

// ContainerTruth is the ground truth for one container.
type ContainerTruth struct {
	ID, Type string
	// OuterPx is the container's outer box in pixels, InnerPx its inside
	// (walls, floor and roof excluded). Rectangles are half-open (Max
	// excluded) with edges rounded to the nearest pixel boundary; with the
	// fan beam they bound the projection.
	OuterPx, InnerPx image.Rectangle
	CargoKg          float64 // exact mass of all boxes and coils
	TareKg           float64
	// FrontLeft is true when the container's front (end wall, opposite the
	// doors) is on the left of the image.
	FrontLeft bool
	Regions   []RegionTruth
}

// RegionTruth is one box or coil as seen in the image.
type RegionTruth struct {
	Label    string
	Material Material
	Density  float64 // kg/m³
	Kg       float64
	Hidden   bool
	Coil     bool
	Px       image.Rectangle
	// M is the region in metres from the container's outer top-left corner
	// as seen in the image (the convention of interfaces.md §4 findings).
	M struct{ X, Y, W, H float64 }
}

// ISO container dimensions.
type isoDims struct {
	outerL, outerH, innerL, innerH, tare float64
}

const (
	outerW     = 2.438
	innerW     = 2.352
	frontWallT = 0.07 // outer front face to inner face of the end wall
	doorEndT   = 0.09
	floorT     = 0.153 // underside to floor-board top
)

func dimsFor(typ string) (isoDims, error) {
	if len(typ) != 4 {
		return isoDims{}, fmt.Errorf("xraysim: container type %q: want a 4-character ISO 6346 size-type code", typ)
	}
	var d isoDims
	switch typ[0] {
	case '2':
		d.outerL = 6.058
		d.tare = 2250
	case '4':
		d.outerL = 12.192
		d.tare = 3750
	default:
		return d, fmt.Errorf("xraysim: container type %q: only 20 ft (2…) and 40 ft (4…) are simulated", typ)
	}
	switch typ[1] {
	case '2', '0':
		d.outerH = 2.591
	case '5':
		d.outerH = 2.896
		d.tare += 150
	default:
		return d, fmt.Errorf("xraysim: container type %q: unsupported height code %q", typ, typ[1])
	}
	d.innerL = d.outerL - frontWallT - doorEndT
	d.innerH = d.outerH - floorT - 0.045
	return d, nil
}

// InnerDims returns the inside length, width and height (metres) of an ISO
// size-type code, the space Box and Coil coordinates live in.
func InnerDims(typ string) (l, w, h float64, err error) {
	d, err := dimsFor(typ)
	if err != nil {
		return 0, 0, 0, err
	}
	return d.innerL, innerW, d.innerH, nil
}

// typicalTruck and typicalShell hold the values in brackets in the
// comments of Truck and Shell, which their zero fields take.
var (
	typicalTruck = Truck{CabLengthM: 2.3, CabHeightM: 3.6, TractorLengthM: 6.4, GapM: 0.8,
		DeckHeightM: 1.30, WheelRadiusM: 0.52, TrailerTailM: 0.25, Between20sM: 0.076}
	typicalShell = Shell{SideWallGCm2: 1.6, CorrugationPitchM: 0.278, RoofGCm2: 150, RoofBandM: 0.043,
		FloorBoardDensity: 700, CrossMemberPitchM: 0.30, FloorGCm2: 80, EndWallGCm2: 50}
)

func (t Truck) withDefaults() Truck { return defaults.Fill(t, typicalTruck) }

func (s Shell) withDefaults() Shell { return defaults.Fill(s, typicalShell) }

func (s *Scene) energies() (hi, lo float64) {
	hi, lo = s.EnergyHighMeV, s.EnergyLowMeV
	if hi == 0 {
		hi = 6
	}
	if lo == 0 {
		lo = 4
	}
	return
}

// Size returns the image width and height Render will produce.
func (s *Scene) Size() (w, h int, err error) {
	if err := s.validateBasics(); err != nil {
		return 0, 0, err
	}
	l, err := s.vehicleLength()
	if err != nil {
		return 0, 0, err
	}
	px, py := s.PixelMM.X/1000, s.PixelMM.Y/1000
	w = int(math.Ceil((s.LeadInM+l+s.LeadOutM)/px - 1e-9))
	h = int(math.Round(s.HeightM / py))
	return w, h, nil
}

func finite(v ...float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func (s *Scene) validateBasics() error {
	var errs []error
	if !finite(s.PixelMM.X, s.PixelMM.Y) || s.PixelMM.X < 0.5 || s.PixelMM.X > 50 || s.PixelMM.Y < 0.5 || s.PixelMM.Y > 50 {
		errs = append(errs, fmt.Errorf("pixel size %v×%v mm out of range 0.5..50", s.PixelMM.X, s.PixelMM.Y))
	}
	if !finite(s.HeightM) || s.HeightM < 1 || s.HeightM > 10 {
		errs = append(errs, fmt.Errorf("height %v m out of range 1..10", s.HeightM))
	}
	if !finite(s.LeadInM, s.LeadOutM) || s.LeadInM < 0 || s.LeadOutM < 0 || s.LeadInM > 50 || s.LeadOutM > 50 {
		errs = append(errs, fmt.Errorf("lead-in/out %v/%v m out of range 0..50", s.LeadInM, s.LeadOutM))
	}
	if !finite(s.Air, s.Dark) || s.Air <= s.Dark || s.Dark < 0 || s.Air > 65535 {
		errs = append(errs, fmt.Errorf("air %v / dark %v: want 0 <= dark < air <= 65535", s.Air, s.Dark))
	}
	if !finite(s.Photons, s.PhotonsLow) || s.Photons <= 0 || s.PhotonsLow < 0 {
		errs = append(errs, fmt.Errorf("photons %v must be > 0", s.Photons))
	}
	if !finite(s.ReadNoise, s.RowGainSpread, s.PulseJitter, s.GainDriftPerM, s.Scatter, s.ScatterRadiusM) ||
		s.ReadNoise < 0 || s.RowGainSpread < 0 || s.RowGainSpread > 0.3 || s.PulseJitter < 0 || s.PulseJitter > 0.3 ||
		s.Scatter < 0 || s.Scatter > 1 || s.ScatterRadiusM < 0 || math.Abs(s.GainDriftPerM) > 0.05 {
		errs = append(errs, errors.New("noise/artefact parameters out of range"))
	}
	if s.DeadRows < 0 {
		errs = append(errs, errors.New("negative DeadRows"))
	}
	if _, err := ScannerByName(s.Scanner); err != nil {
		errs = append(errs, err)
	}
	hi, lo := s.energies()
	if !finite(hi, lo) || hi < 1 || hi > 10 || lo < 1 || lo > 10 {
		errs = append(errs, fmt.Errorf("energies %v/%v MeV out of range 1..10", hi, lo))
	}
	if s.Fan && (!finite(s.SourceDistM, s.SourceHeightM) || s.SourceDistM < 0 || (s.SourceDistM > 0 && s.SourceDistM < 3) || s.SourceHeightM < 0) {
		errs = append(errs, fmt.Errorf("fan source %v m away at %v m: want >= 3 m", s.SourceDistM, s.SourceHeightM))
	}
	if len(s.Containers) > 2 {
		errs = append(errs, fmt.Errorf("%d containers: at most 2", len(s.Containers)))
	}
	if len(s.Containers) == 2 {
		for _, c := range s.Containers {
			if len(c.Type) > 0 && c.Type[0] != '2' {
				errs = append(errs, errors.New("two containers on one chassis must both be 20 ft"))
				break
			}
		}
	}
	t := s.Truck.withDefaults()
	if !finite(t.CabLengthM, t.CabHeightM, t.TractorLengthM, t.GapM, t.DeckHeightM, t.WheelRadiusM, t.TrailerTailM, t.Between20sM) ||
		t.CabLengthM < 1 || t.CabHeightM < 2 || t.TractorLengthM < t.CabLengthM || t.GapM < 0 || t.DeckHeightM < 0.8 ||
		t.WheelRadiusM < 0.3 || t.WheelRadiusM > 0.8 || t.TrailerTailM < 0 || t.Between20sM < 0 {
		errs = append(errs, errors.New("truck dimensions out of range"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("xraysim: invalid scene: %w", errors.Join(errs...))
	}
	return nil
}

func (s *Scene) validateCargo() error {
	var errs []error
	const eps = 1e-6
	for ci, c := range s.Containers {
		d, err := dimsFor(c.Type)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i, b := range c.Boxes {
			where := fmt.Sprintf("container %d box %d (%s)", ci, i, b.Label)
			if _, ok := matIndex(b.Material); !ok {
				errs = append(errs, fmt.Errorf("%s: unknown material %q", where, b.Material))
			}
			if !finite(b.X0, b.X1, b.Y0, b.Y1, b.Depth, b.Z, b.Density) || b.X1 <= b.X0 || b.Y1 <= b.Y0 || b.Depth <= 0 || b.Density <= 0 || b.Density > 20000 {
				errs = append(errs, fmt.Errorf("%s: bad extent or density", where))
				continue
			}
			if b.X0 < -eps || b.X1 > d.innerL+eps || b.Y0 < -eps || b.Y1 > d.innerH+eps || math.Abs(b.Z)+b.Depth/2 > innerW/2+eps {
				errs = append(errs, fmt.Errorf("%s: does not fit inside %s (%.3f×%.3f×%.3f m)", where, c.Type, d.innerL, innerW, d.innerH))
			}
		}
		for i, k := range c.Coils {
			where := fmt.Sprintf("container %d coil %d (%s)", ci, i, k.Label)
			if _, ok := matIndex(k.Material); !ok {
				errs = append(errs, fmt.Errorf("%s: unknown material %q", where, k.Material))
			}
			if !finite(k.X, k.Y, k.ROuter, k.RInner, k.Depth, k.Z, k.Density) || k.ROuter <= 0 || k.RInner < 0 || k.RInner >= k.ROuter || k.Depth <= 0 || k.Density <= 0 || k.Density > 20000 {
				errs = append(errs, fmt.Errorf("%s: bad extent or density", where))
				continue
			}
			if k.X-k.ROuter < -eps || k.X+k.ROuter > d.innerL+eps || k.Y-k.ROuter < -eps || k.Y+k.ROuter > d.innerH+eps || math.Abs(k.Z)+k.Depth/2 > innerW/2+eps {
				errs = append(errs, fmt.Errorf("%s: does not fit inside %s", where, c.Type))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("xraysim: invalid cargo: %w", errors.Join(errs...))
	}
	return nil
}

// Kg returns the box's mass.
func (b Box) Kg() float64 { return b.Density * (b.X1 - b.X0) * (b.Y1 - b.Y0) * b.Depth }

// Kg returns the coil's mass.
func (k Coil) Kg() float64 {
	return k.Density * math.Pi * (k.ROuter*k.ROuter - k.RInner*k.RInner) * k.Depth
}

// CargoKg returns the exact mass of everything loaded in the container.
func (c Container) CargoKg() float64 {
	m := 0.0
	for _, b := range c.Boxes {
		m += b.Kg()
	}
	for _, k := range c.Coils {
		m += k.Kg()
	}
	return m
}

// Tare returns the container's tare, the typical one for its type when
// TareKg is 0.
func (c Container) Tare() float64 {
	if c.TareKg > 0 {
		return c.TareKg
	}
	d, err := dimsFor(c.Type)
	if err != nil {
		return 0
	}
	return d.tare
}
