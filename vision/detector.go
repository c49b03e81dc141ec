package vision

import (
	"errors"
	"fmt"
	"image"
	"math"
	"time"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/vision/settings"
)

// Input is one scan as the detector needs it: the images and the physics
// from the sidecar.
type Input struct {
	High, Low gocv.Mat // CV_16UC1; Low is a zero Mat for single energy
	HasLow    bool
	PixelXMM  float64 // travel per column
	PixelYMM  float64 // detector pitch at the container's centre plane
	Air, Dark float64
	MuCm2G    float64 // 0: the config default
	// EnergyHighMeV and EnergyLowMeV are the beams' end-point energies from
	// the sidecar (0: unknown); they select the step wedge and the
	// dual-energy calibration.
	EnergyHighMeV, EnergyLowMeV float64
	Containers                  int      // container numbers read at the gate (0 unknown)
	Types                       []string // declared ISO size-type codes, image order; "" unknown
	// Release, when set, hands the images over to Analyze: it turns their
	// pixels into its attenuation planes in place, and calls Release as
	// soon as it is done reading the high-energy image (low false) or the
	// low-energy one (low true), each at most once, for the caller to
	// close its Mat. A full-size scan then never holds a raw image beside
	// its attenuation. The caller must not read the images after calling
	// Analyze. Without Release the images are left untouched.
	Release func(low bool)
}

// Params are the detector's settings.
type Params = settings.Detector

// Detector analyses scans. It keeps its working buffers between scans;
// it is not safe for concurrent use.
type Detector struct {
	p          Params
	containers []settings.Container

	// The full-resolution working images are one per energy, the
	// attenuation in fixed point (see attScale): a of the whole scan for
	// the high energy, aLo of the containers only for the low one. Nothing
	// else is kept at the scan's size, which is what keeps a full-size
	// dual-energy scan within an edge box's memory; spare is a copy of a
	// raw image that is not continuous. cm is the
	// cargo of the container being measured: its mass thickness (CV_32F),
	// then each energy's attenuation in turn, then its opaque mask in 16
	// bits; tmp and mask are scratch for one container.
	a, aLo, spare gocv.Mat
	// pending is what of a is still raw (when a is the raw image itself).
	pending   pendingAtt
	tmp, mask gocv.Mat
	cm        gocv.Mat
	// cells is the cell grid of the container being measured (grid_m
	// square cells, CV_32F unless said).
	cells                    cellGrid
	area                     areaGrid // how the container's pixels are averaged into its cells
	kernel                   gocv.Mat
	labels, stats, centroids gocv.Mat

	// seen is what the detector learned of the scan being analysed.
	seen scanState

	baseline, baseA, baseL []float64
	sortBuf, qBuf, medBuf  []float32
	countBuf               []int32
	massTab                []float32
	// massFor is the calibration massTab was made with (any scan's).
	massFor struct {
		ok    bool
		wedge [][2]float64
		mu    float64
	}
	passBuf            []bool
	colTop             []float32
	colN               []int32
	rowsBuf, colsBuf   []int
	rowsBuf2, colsBuf2 []int
	runBuf             []span
	spanRows           spanRows
	colq               colQ10s
	wallSums           [3]float64
	seg                segmenter
}

// scanState is what Analyze learns of one scan before it measures the
// containers: each energy's flat-field plane, the calibration chosen for
// the beam, the lead-in and the dead rows. Analyze starts every scan from
// a clean one (begin); the planes' and tables' buffers are kept for the
// next scan.
type scanState struct {
	hi, lo      plane
	hasLow      bool
	aLoAt       image.Point // the image's pixel at aLo's (0, 0)
	mu, pen     float64     // attenuation coefficient, penetration limit (g/cm²)
	wedge       [][2]float64
	lut         wedgeLUT
	dual        *settings.DualEnergy
	leadCols    int
	deadRows    int
	massTab     bool // d.massTab holds this scan's calibration
	refRows     []int
	airRowCount int
}

// begin forgets the previous scan, keeping its buffers.
func (s *scanState) begin() {
	*s = scanState{hi: s.hi, lo: s.lo, lut: s.lut, refRows: s.refRows[:0]}
}

// cellGrid holds a container's cells: what the regions, layers, shapes and
// materials are found from.
type cellGrid struct {
	mass              gocv.Mat // mass thickness, g/cm²
	opaque, opaqueLow gocv.Mat // fraction of the cell the beam did not cross, high and low energy
	attHigh, attLow   gocv.Mat // cargo attenuation, high and low energy (dual energy)
	density           gocv.Mat // apparent density, kg/m³ (mass over the inner width)
	smooth            gocv.Mat // density smoothed over 3×3 cells
	logDensity        gocv.Mat // log of the smoothed density, for segmentation
	dilated, eroded   gocv.Mat // 3×3 local maximum and minimum of logDensity
	mask8             gocv.Mat // 8-bit scratch: the core mask, the circles' picture
}

// Geometry is the shape of one ISO 6346 size code of container.
type Geometry = settings.Container

// New returns a Detector with the site's detector settings and the
// geometries of the containers it may meet. Close it when done.
func New(p Params, containers []Geometry) *Detector {
	singleThreaded()
	d := &Detector{p: p, containers: containers}
	for _, m := range d.mats() {
		*m = gocv.NewMat()
	}
	d.kernel = gocv.GetStructuringElement(gocv.MorphRect, image.Pt(3, 3))
	return d
}

func (d *Detector) mats() []*gocv.Mat {
	return []*gocv.Mat{&d.a, &d.aLo, &d.spare, &d.tmp, &d.mask, &d.cm,
		&d.cells.mass, &d.cells.opaque, &d.cells.opaqueLow, &d.cells.attHigh, &d.cells.attLow, &d.cells.density,
		&d.cells.smooth, &d.cells.logDensity, &d.cells.dilated, &d.cells.eroded, &d.cells.mask8,
		&d.labels, &d.stats, &d.centroids}
}

// Close releases the detector's buffers.
func (d *Detector) Close() {
	for _, m := range d.mats() {
		m.Close()
	}
	d.kernel.Close()
}

// Analysis is what the image shows, before it is compared with the
// declaration and the weighbridge.
type Analysis struct {
	Containers []Container
	// Quality lists scan-wide problems (IMAGE_QUALITY findings).
	Quality []Note
	// TimingsMS is the time spent per stage.
	TimingsMS map[string]float64
	Width     int
	Height    int
	LeadIn    int
	DeadRows  int
	// PixelM is the pixel size in metres (travel, height).
	PixelM [2]float64
	// Calibration says how attenuation became mass thickness.
	Calibration string
	// Dual is set when a low-energy image was used and a dual-energy
	// calibration matched the beam energies: regions then have a Material.
	Dual bool
	// PenetrationGCm2 is the largest mass thickness the scan measures; the
	// beam did not get through more.
	PenetrationGCm2 float64
}

// Container is one container found in the scan.
type Container struct {
	Index       int
	SizeCode    string
	TypeGuessed bool
	OuterPx     image.Rectangle
	InnerPx     image.Rectangle
	LengthM     float64
	InnerWidthM float64
	CargoKg     float64
	CargoAreaM2 float64
	FillLengthM float64 // from the first to the last cargo along the length
	// NoPenetration is the fraction of the cargo area the beam did not
	// cross.
	NoPenetration float64
	// LowerBound is set when so much of the cargo stopped the beam that
	// CargoKg is only a lower bound.
	LowerBound    bool
	SideWallsGCm2 float64
	MeanDensity   float64 // kg/m³ over the cargo area
	Empty         bool
	// Regions are the parts of the cargo of homogeneous apparent density,
	// largest first.
	Regions []Region
	// Layers are light bands found under denser goods, or light blocks
	// behind a wall of denser goods at an end.
	Layers   []Layer
	Findings []Note
}

// Region is a part of the cargo of homogeneous apparent density.
type Region struct {
	Px image.Rectangle
	// M is the bounding box in metres from the container's outer top-left
	// corner as seen in the image.
	M      Box
	AreaM2 float64
	Kg     float64
	// DensityKgM3 is the apparent density (mass thickness over the inner
	// width) averaged over the region; P10, P50, P90 are percentiles over
	// its cells. Where the beam did not get through they are lower bounds.
	DensityKgM3   float64
	P10, P50, P90 float64
	// Homogeneity is P10/P90: 1 for a perfectly even region.
	Homogeneity float64
	// Opaque is the fraction of the region the beam did not cross; above
	// a fifth, LowerBound is set and the densities are lower bounds.
	Opaque     float64
	LowerBound bool
	// OnFloor: the region reaches down to the container floor. Packaging:
	// a thin band on the floor (pallets, dunnage).
	OnFloor   bool
	Packaging bool
	Shape     Shape
	// Material is the dual-energy class: "organic", "mixed", "inorganic",
	// "metal", or "" when unknown (single energy, too thin or opaque).
	Material string
	// MaterialIndex places the region's low/high attenuation ratio between
	// the steel (0) and organic (1) calibration curves, aluminium near 0.5.
	MaterialIndex float64
	// MaterialSD is one standard deviation of MaterialIndex: the
	// calibration's uncertainty on the ratio over how far apart the curves
	// lie at the region's attenuation (thin goods: close together).
	MaterialSD float64
	// Label is the region's number as drawn on the annotated image.
	Label int
}

// Shape describes how a region looks.
type Shape struct {
	// Class is "coils" (discs or rings seen end-on), "stack" (rectangular
	// stacks: cartons, pallets, crates, bales) or "irregular".
	Class string
	// Rectangularity is the region's area over its bounding box's.
	Rectangularity float64
	// Circles counts the coils found in the region, CircleCover the
	// fraction of its area they cover.
	Circles     int
	CircleCover float64
	// Units counts the stacks the region is made of along the length, with
	// their mean pitch and regularity (1: perfectly even rhythm); Pallets
	// is set for a regular rhythm of pallet-sized units.
	Units      int
	UnitPitchM float64
	Regularity float64
	Pallets    bool
}

// Layer is a light band under a denser band: the shape of goods hidden
// beneath a cover load. With Behind set it is a light block along the
// length behind a wall of denser goods stowed at an end of the container
// (goods hidden behind the cover load at the doors).
type Layer struct {
	// Light and Dense index Container.Regions; Dense is -1 when the band
	// above (or the wall) is too thin to be a region of its own.
	Light, Dense int
	// M is the light band where it lies under the dense one (Behind: the
	// light block where it lies behind the wall), in metres.
	M Box
	// LengthM is the light band's extent along the length (Behind: the
	// light block's mean length behind the wall); HeightM its mean height
	// (Behind: the height over which the wall hides it).
	LengthM   float64
	HeightM   float64
	LightKgM3 float64
	DenseKgM3 float64 // a lower bound when DenseOpaque
	// DenseOpaque: the band above (the wall) stopped the beam.
	DenseOpaque bool
	// Behind: the light block lies behind a wall of denser goods at an end
	// of the container, not under them; WallM is the wall's mean thickness
	// along the length.
	Behind bool
	WallM  float64
}

// ErrNoContainer is returned when no container structure is found.
var ErrNoContainer = errors.New("no container found in the image: no roof line along 5.4 m or more; check that the scan shows a container and that air and dark in the sidecar are right")

// Analyze runs the physics and finds containers, cargo, regions, layers
// and materials.
func (d *Detector) Analyze(in Input) (*Analysis, error) {
	var releasedHigh, releasedLow bool
	release := func(low bool) {
		done := &releasedHigh
		if low {
			done = &releasedLow
		}
		if in.Release != nil && !*done {
			*done = true
			in.Release(low)
		}
	}
	defer release(false)
	defer release(true)
	defer d.freeScratch()
	if in.High.Empty() || in.High.Type() != gocv.MatTypeCV16UC1 {
		return nil, fmt.Errorf("high-energy image must be a non-empty 16-bit single-channel Mat")
	}
	if in.PixelXMM <= 0 || in.PixelYMM <= 0 || in.Air <= in.Dark {
		return nil, fmt.Errorf("invalid scan physics: pixel %vx%v mm, air %v, dark %v: the sidecar must give positive pixel sizes and air above dark", in.PixelXMM, in.PixelYMM, in.Air, in.Dark)
	}
	a := &Analysis{TimingsMS: map[string]float64{}, Width: in.High.Cols(), Height: in.High.Rows(),
		PixelM: [2]float64{in.PixelXMM / 1000, in.PixelYMM / 1000}}
	d.seen.begin()
	d.seen.hasLow = in.HasLow && !in.Low.Empty()
	if d.seen.hasLow && (in.Low.Rows() != in.High.Rows() || in.Low.Cols() != in.High.Cols() || in.Low.Type() != gocv.MatTypeCV16UC1) {
		d.seen.hasLow = false
		a.Quality = append(a.Quality, quality(Warning, "the low-energy image differs from the high-energy one in size or type: dual-energy material checks skipped"))
	}
	stage := time.Now()
	lap := func(name string) {
		now := time.Now()
		a.TimingsMS[name] += float64(now.Sub(stage).Microseconds()) / 1000
		stage = now
	}
	for _, n := range d.flatField(&in) {
		a.Quality = append(a.Quality, quality(Warning, n))
	}
	release(false)
	a.LeadIn, a.DeadRows = d.seen.leadCols, d.seen.deadRows
	if d.seen.hi.noise > 0.05 {
		a.Quality = append(a.Quality, quality(Warning, fmt.Sprintf(
			"air signal noise is %.1f %% per pixel (expected under 5 %%): densities are uncertain; check the source output and the detector", 100*d.seen.hi.noise)))
	}
	lap("flat_field")
	d.seen.mu = in.MuCm2G
	if d.seen.mu <= 0 {
		d.seen.mu = d.p.MuCm2G
	}
	var site bool
	a.Calibration, site = d.massThickness(d.seen.mu, in.EnergyHighMeV)
	d.seen.pen = d.massOf(-logf(maxf(d.seen.hi.floor, d.p.ReliableTransmission)))
	a.PenetrationGCm2 = round(d.seen.pen, 1)
	d.seen.dual = nil
	if d.seen.hasLow {
		d.seen.dual = d.dualFor(in.EnergyHighMeV, in.EnergyLowMeV)
		if d.seen.dual == nil {
			a.Quality = append(a.Quality, quality(Info, fmt.Sprintf(
				"no dual-energy calibration for %v/%v MeV in detector.dual_energy: material checks skipped", in.EnergyHighMeV, in.EnergyLowMeV)))
		}
	}
	a.Dual = d.seen.dual != nil
	if d.seen.dual == nil {
		release(true)
	}
	if n, ok := d.calibrationNote(a.Calibration, site, in.EnergyHighMeV); ok {
		a.Quality = append(a.Quality, n)
	}
	lap("attenuation")
	boxes := d.findContainers(&in)
	// The cargo is measured in the inner spaces only (the walls, roof and
	// floor around them are converted for the picture, if it is made).
	for _, b := range boxes {
		d.attNeed(b.inner)
	}
	lap("containers")
	if len(boxes) == 0 {
		return a, ErrNoContainer
	}
	if d.seen.dual != nil {
		// Only the containers need the low-energy image.
		u := boxes[0].inner
		for _, b := range boxes[1:] {
			u = u.Union(b.inner)
		}
		d.lowEnergy(&in, u.Intersect(image.Rect(0, 0, in.Low.Cols(), in.Low.Rows())))
		release(true)
		lap("low_energy")
	}
	px, py := in.PixelXMM/1000, in.PixelYMM/1000
	for i, b := range boxes {
		c, ok := d.cargo(i, b, px, py)
		lap("cargo")
		if ok && !c.Empty {
			d.analyseCargo(&c, b, px, py, lap)
		}
		a.Containers = append(a.Containers, c)
	}
	return a, nil
}

// freeScratch frees the container-sized float images and the low-energy
// plane once a scan is analysed (Annotate needs neither). Keeping them
// would spare a few allocations per scan but hold megabytes through the
// next scan's decoding and flat-field, when memory peaks; the cell grids
// are small and stay.
func (d *Detector) freeScratch() {
	freeMats(&d.tmp, &d.mask, &d.cm, &d.spare, &d.aLo)
}

// Free releases the last scan's attenuation plane. Call it when done with
// the last analysis (after Annotate), so that the plane is not held while
// the next scan is decoded; the next Analyze allocates it again.
func (d *Detector) Free() {
	d.pending.on = false
	freeMats(&d.a)
}

func freeMats(ms ...*gocv.Mat) {
	for _, m := range ms {
		if !m.Empty() {
			m.Close()
			*m = gocv.NewMat()
		}
	}
}

// analyseCargo segments a container's cargo into regions and describes
// them: density statistics, shapes, layers and materials.
func (d *Detector) analyseCargo(c *Container, b box, px, py float64, lap func(string)) {
	nr := d.segment()
	d.measureRegions(c, b, nr, px, py)
	lap("regions")
	d.shapes(c)
	lap("shapes")
	d.layers(c, b, px, py)
	lap("layers")
	d.materials(c)
	lap("materials")
	g := &d.seg.g
	x0, x1 := g.w, 0
	for i := range c.Regions {
		r := &c.Regions[i]
		x0 = min(x0, int(float64(r.Px.Min.X-g.r.Min.X)/g.sx))
		x1 = max(x1, int(math.Ceil(float64(r.Px.Max.X-g.r.Min.X)/g.sx)))
	}
	if x1 > x0 {
		c.FillLengthM = round(float64(x1-x0)*g.cx, 2)
	}
}
