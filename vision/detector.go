package vision

import (
	"errors"
	"fmt"
	"image"
	"time"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
)

// Input is one scan as the detector needs it: the images and the physics
// from the sidecar.
type Input struct {
	High, Low  gocv.Mat // CV_16UC1; Low is a zero Mat for single energy
	HasLow     bool
	PixelXMM   float64 // travel per column
	PixelYMM   float64 // detector pitch at the container's centre plane
	Air, Dark  float64
	MuCm2G     float64  // 0: the config default
	Containers int      // container numbers read at the gate (0 unknown)
	Types      []string // declared ISO size-type codes, image order; "" unknown
}

// Params are the detector's settings.
type Params = config.Detector

// Detector analyses scans. It keeps its working buffers between scans;
// it is not safe for concurrent use.
type Detector struct {
	p          Params
	containers []config.Container

	t, m, cm, tmp, noPen, noPen8, rho, smooth, mask, labels, stats, centroids gocv.Mat

	rowGain, baseline               []float64
	colRef, colMean, sortBuf        []float32
	deadRow, passBuf                []bool
	rowsBuf, colsBuf                []int
	runBuf                          []span
	level, noise, tFloor            float64
	leadCols, deadRows, airRowCount int
}

// New returns a Detector with the config's detector parameters and
// container geometries.
func New(c *config.Config) *Detector {
	d := &Detector{p: c.Detector, containers: c.Containers}
	for _, m := range []*gocv.Mat{&d.t, &d.m, &d.cm, &d.tmp, &d.noPen, &d.noPen8, &d.rho, &d.smooth, &d.mask, &d.labels, &d.stats, &d.centroids} {
		*m = gocv.NewMat()
	}
	return d
}

// Close releases the detector's buffers.
func (d *Detector) Close() {
	for _, m := range []*gocv.Mat{&d.t, &d.m, &d.cm, &d.tmp, &d.noPen, &d.noPen8, &d.rho, &d.smooth, &d.mask, &d.labels, &d.stats, &d.centroids} {
		m.Close()
	}
}

// Analysis is what the image shows, before it is compared with the
// declaration and the weighbridge.
type Analysis struct {
	Containers []Container
	// Quality lists scan-wide problems (IMAGE_QUALITY findings).
	Quality []inspection.Finding
	// TimingsMS is the time spent per stage.
	TimingsMS map[string]float64
	Width     int
	Height    int
	LeadIn    int
	DeadRows  int
	// PixelM is the pixel size in metres (travel, height).
	PixelM [2]float64
}

// Container is one container found in the scan.
type Container struct {
	Index         int
	SizeCode      string
	TypeGuessed   bool
	OuterPx       image.Rectangle
	InnerPx       image.Rectangle
	LengthM       float64
	InnerWidthM   float64
	CargoKg       float64
	CargoAreaM2   float64
	FillLengthM   float64 // from the front wall to the far end of the cargo
	NoPenetration float64 // fraction of the cargo area the beam did not cross
	// LowerBound is set when so much of the cargo stopped the beam that
	// CargoKg is only a lower bound.
	LowerBound    bool
	SideWallsGCm2 float64
	MeanDensity   float64 // kg/m³ over the cargo area
	Empty         bool
	Regions       []Region
	Findings      []inspection.Finding
}

// Region is a connected part of the cargo.
type Region struct {
	Px          image.Rectangle
	M           inspection.Region
	AreaM2      float64
	Kg          float64
	DensityKgM3 float64
}

// ErrNoContainer is returned when no container structure is found.
var ErrNoContainer = errors.New("no container found in the image: no roof line")

// Analyze runs the physics and finds containers and cargo.
func (d *Detector) Analyze(in Input) (*Analysis, error) {
	if in.High.Empty() || in.High.Type() != gocv.MatTypeCV16UC1 {
		return nil, fmt.Errorf("high-energy image must be a non-empty 16-bit single-channel Mat")
	}
	if in.PixelXMM <= 0 || in.PixelYMM <= 0 || in.Air <= in.Dark {
		return nil, fmt.Errorf("invalid scan physics: pixel %vx%v mm, air %v, dark %v", in.PixelXMM, in.PixelYMM, in.Air, in.Dark)
	}
	a := &Analysis{TimingsMS: map[string]float64{}, Width: in.High.Cols(), Height: in.High.Rows(),
		PixelM: [2]float64{in.PixelXMM / 1000, in.PixelYMM / 1000}}
	stage := time.Now()
	lap := func(name string) {
		now := time.Now()
		a.TimingsMS[name] = float64(now.Sub(stage).Microseconds()) / 1000
		stage = now
	}
	for _, n := range d.flatField(&in) {
		a.Quality = append(a.Quality, inspection.Finding{Code: inspection.ImageQuality, Severity: inspection.Warning, Message: n})
	}
	a.LeadIn, a.DeadRows = d.leadCols, d.deadRows
	lap("flat_field")
	mu := in.MuCm2G
	if mu <= 0 {
		mu = d.p.MuCm2G
	}
	d.massThickness(mu)
	lap("attenuation")
	if debugHook != nil {
		debugHook(d, in.PixelXMM/1000)
	}
	boxes := d.findContainers(&in)
	lap("containers")
	if len(boxes) == 0 {
		return a, ErrNoContainer
	}
	for i, b := range boxes {
		c := d.cargo(i, b, in.PixelXMM/1000, in.PixelYMM/1000)
		a.Containers = append(a.Containers, c)
	}
	lap("cargo")
	return a, nil
}

// debugHook lets internal tests look at intermediate buffers.
var debugHook func(d *Detector, px float64)
