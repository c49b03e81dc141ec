package xraysim

import (
	"image"
	"math"
	"sort"
)

// Geometry. The vehicle is built in vehicle coordinates: u metres from the
// front bumper towards the rear, y metres above the ground, z metres across
// the vehicle from its centre plane, positive away from the source. The
// builder maps u to x, metres along the scan from the first column's left
// edge (mirrored when the cab is not first). Everything is made of prims:
// axis-aligned boxes, or cylinders with their axis along the beam (z), each of
// one material at a density in g/cm³ (structures are "smeared": a thin sheet
// seen edge-on over a band of rows is a band of the equivalent mean density).

type prim struct {
	x0, x1         float64 // along the scan
	y0, y1         float64 // box heights
	z0, z1         float64
	disc           bool
	cx, cy, ri, ro float64 // cylinder: centre (scan x, height), radii
	mat            int
	rho            float64 // g/cm³
}

type layout struct {
	cabEnd       float64   // u of the cab's rear wall
	fronts       []float64 // u of each container's outer front
	dims         []isoDims
	trailerStart float64
	trailerEnd   float64
	length       float64
}

func (s *Scene) layout() (layout, error) {
	t := s.Truck.withDefaults()
	var l layout
	l.cabEnd = t.CabLengthM
	u := t.CabLengthM + t.GapM
	for i, c := range s.Containers {
		d, err := dimsFor(c.Type)
		if err != nil {
			return l, err
		}
		if i > 0 {
			u += t.Between20sM
		}
		l.fronts = append(l.fronts, u)
		l.dims = append(l.dims, d)
		u += d.outerL
	}
	l.length = t.TractorLengthM
	if len(s.Containers) > 0 {
		l.trailerStart = l.fronts[0] - 0.05
		l.trailerEnd = u + t.TrailerTailM
		l.length = math.Max(l.length, l.trailerEnd)
	}
	return l, nil
}

func (s *Scene) vehicleLength() (float64, error) {
	l, err := s.layout()
	return l.length, err
}

type builder struct {
	s        *Scene
	t        Truck
	lay      layout
	cabFirst bool
	leadIn   float64
	prims    []prim
	// fan
	fan    bool
	ys, sd float64
}

func (b *builder) x(u float64) float64 {
	if b.cabFirst {
		return b.leadIn + u
	}
	return b.leadIn + b.lay.length - u
}

func (b *builder) xr(u0, u1 float64) (float64, float64) {
	x0, x1 := b.x(u0), b.x(u1)
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	return x0, x1
}

func mi(m Material) int {
	i, _ := matIndex(m)
	return i
}

// box adds a box prim; rho in g/cm³.
func (b *builder) box(u0, u1, y0, y1, z0, z1 float64, m Material, rho float64) {
	if u1 <= u0 || y1 <= y0 || z1 <= z0 || rho <= 0 {
		return
	}
	x0, x1 := b.xr(u0, u1)
	b.prims = append(b.prims, prim{x0: x0, x1: x1, y0: y0, y1: y1, z0: z0, z1: z1, mat: mi(m), rho: rho})
}

// sym adds a box and its mirror image across the centre plane (z0,z1 > 0 side given).
func (b *builder) sym(u0, u1, y0, y1, z0, z1 float64, m Material, rho float64) {
	b.box(u0, u1, y0, y1, z0, z1, m, rho)
	b.box(u0, u1, y0, y1, -z1, -z0, m, rho)
}

// cyl adds a cylinder (ring) with its axis along the beam.
func (b *builder) cyl(u, y, ri, ro, z0, z1 float64, m Material, rho float64) {
	if ro <= ri || z1 <= z0 || rho <= 0 {
		return
	}
	cx := b.x(u)
	b.prims = append(b.prims, prim{x0: cx - ro, x1: cx + ro, y0: y - ro, y1: y + ro, z0: z0, z1: z1,
		disc: true, cx: cx, cy: y, ri: ri, ro: ro, mat: mi(m), rho: rho})
}

// proj maps a point at height y, lateral position z to its height on the
// centre plane as the detector sees it.
func (b *builder) proj(y, z float64) float64 {
	if !b.fan {
		return y
	}
	return b.ys + (y-b.ys)*b.sd/(z+b.sd)
}

// projRange is the projected vertical extent of [y0,y1]×[z0,z1].
func (b *builder) projRange(y0, y1, z0, z1 float64) (float64, float64) {
	a := []float64{b.proj(y0, z0), b.proj(y0, z1), b.proj(y1, z0), b.proj(y1, z1)}
	lo, hi := a[0], a[0]
	for _, v := range a[1:] {
		lo = math.Min(lo, v)
		hi = math.Max(hi, v)
	}
	return lo, hi
}

const steelRho = 7.85

// truck builds the tractor, its cab and the trailer chassis.
func (b *builder) truck() {
	t := b.t
	CL, CH, TL := t.CabLengthM, t.CabHeightM, t.TractorLengthM
	// Cab.
	b.box(0, 0.15, 0.45, 0.75, -1.2, 1.2, Steel, 0.35)                 // bumper
	b.box(0.05, 0.12, 0.8, CH-1.05, -1.15, 1.15, Steel, 0.45)          // front panel, grille
	b.box(0.08, 0.20, CH-1.05, CH-0.12, -1.1, 1.1, Glass, 0.15)        // windscreen edge-on
	b.box(0.05, CL, CH-0.06, CH, -1.2, 1.2, Steel, 0.25)               // roof
	b.box(0.05, CL, 1.0, 1.08, -1.2, 1.2, Steel, 0.9)                  // floor
	b.box(CL-0.05, CL, 1.0, CH-0.06, -1.15, 1.15, Steel, 0.35)         // rear wall
	b.sym(0.05, CL, 1.08, CH-1.05, 1.19, 1.2, Steel, 1.2)              // side panels + doors (12 mm smeared)
	b.sym(0.05, 0.05+0.55*CL, CH-1.05, CH-0.06, 1.19, 1.2, Glass, 1.0) // side windows
	b.sym(0.05+0.55*CL, CL, CH-1.05, CH-0.06, 1.19, 1.2, Steel, 1.0)   // sleeper panels
	b.sym(0.85, 1.45, 1.1, 2.2, 0.35, 0.9, Organic, 0.12)              // seats
	b.sym(0.9, 1.4, 1.1, 1.4, 0.35, 0.9, Steel, 0.1)                   // seat frames
	b.box(0.12, 0.6, 1.5, 2.05, -1.1, 1.1, Organic, 0.08)              // dashboard
	b.box(0.12, 0.6, 1.5, 2.05, -1.1, 1.1, Steel, 0.01)
	b.box(CL-0.8, CL-0.1, 1.45, 1.65, -1.1, 1.1, Organic, 0.12) // bunk
	// Drive train.
	b.box(0.18, 0.3, 0.6, 1.4, -0.5, 0.5, Aluminium, 0.25) // radiator
	b.box(0.18, 0.3, 0.6, 1.4, -0.5, 0.5, Water, 0.2)
	b.box(0.5, 1.6, 0.55, 1.35, -0.4, 0.4, Steel, 2.2)      // engine block
	b.box(1.6, 2.3, 0.6, 1.05, -0.25, 0.25, Steel, 2.0)     // gearbox
	b.box(2.3, TL-1.9, 0.62, 0.72, -0.05, 0.05, Steel, 3.0) // drive shaft
	// Frame rails: I-beams at z = ±0.43.
	b.sym(0.2, TL, 0.75, 1.05, 0.426, 0.434, Steel, steelRho)
	b.sym(0.2, TL, 0.75, 0.76, 0.39, 0.47, Steel, steelRho)
	b.sym(0.2, TL, 1.04, 1.05, 0.39, 0.47, Steel, steelRho)
	// Fuel tank (diesel in aluminium) and battery box (lead + acid).
	b.box(2.4, 3.5, 0.5, 1.1, -1.25, -0.65, Organic, 0.59)
	b.box(2.4, 3.5, 0.5, 1.1, -1.25, -0.65, Aluminium, 0.03)
	b.box(2.5, 3.05, 0.55, 0.8, 0.7, 1.2, Lead, 0.5)
	b.box(2.5, 3.05, 0.55, 0.8, 0.7, 1.2, Water, 0.25)
	b.box(TL-1.7, TL-0.7, 1.05, 1.22, -0.45, 0.45, Steel, 2.5) // fifth wheel
	// Wheels.
	b.axle(1.35, false, true)
	b.axle(TL-1.95, true, true)
	b.axle(TL-0.65, true, true)

	if len(b.lay.fronts) == 0 {
		return
	}
	// Trailer chassis.
	D := t.DeckHeightM
	ts, te := b.lay.trailerStart, b.lay.trailerEnd
	neck := math.Min(ts+3.0, te)
	for _, seg := range [][3]float64{{ts, neck, D - 0.22}, {neck, te, D - 0.42}} {
		b.sym(seg[0], seg[1], seg[2], D-0.02, 0.496, 0.504, Steel, steelRho) // webs
		b.sym(seg[0], seg[1], seg[2], seg[2]+0.014, 0.425, 0.575, Steel, steelRho)
		b.sym(seg[0], seg[1], D-0.034, D-0.02, 0.425, 0.575, Steel, steelRho)
	}
	b.box(ts, ts+1.5, D-0.23, D-0.22, -0.6, 0.6, Steel, steelRho) // upper coupler plate
	for u := ts + 1.0; u < te-0.5; u += 1.0 {                     // cross-members
		b.box(u, u+0.1, D-0.2, D-0.05, -0.5, 0.5, Steel, 0.5)
	}
	for i, f := range b.lay.fronts { // bolsters under the corner castings
		L := b.lay.dims[i].outerL
		b.box(f, f+0.2, D-0.25, D, -1.219, 1.219, Steel, 0.5)
		b.box(f+L-0.2, f+L, D-0.25, D, -1.219, 1.219, Steel, 0.5)
		if L > 10 {
			b.box(f+L/2-0.1, f+L/2+0.1, D-0.25, D, -1.219, 1.219, Steel, 0.5)
		}
	}
	b.sym(ts+1.8, ts+1.95, 0.35, D-0.3, 0.85, 0.97, Steel, 1.3) // landing gear
	b.sym(ts+1.7, ts+2.05, 0.3, 0.35, 0.8, 1.02, Steel, 2.0)
	b.box(te-0.12, te, 0.45, 0.58, -1.2, 1.2, Steel, 0.35) // under-run bar
	axles := 2
	if te-ts > 10 {
		axles = 3
	}
	for i := 0; i < axles; i++ {
		b.axle(te-1.5-1.31*float64(i), true, true)
	}
}

// axle adds a pair of wheel stations (both sides) and the axle beam.
func (b *builder) axle(u float64, dual, springs bool) {
	R := b.t.WheelRadiusM
	yc := R - 0.02 // loaded radius
	tw := 0.3
	if dual {
		tw = 0.6
	}
	for _, side := range []float64{-1, 1} {
		zc := side * 0.95
		z0, z1 := zc-tw/2, zc+tw/2
		b.cyl(u, yc, R-0.035, R, z0, z1, Organic, 1.15) // tread
		b.cyl(u, yc, R-0.035, R, z0, z1, Steel, 0.15)   // belts
		b.cyl(u, yc, 0.29, R-0.035, z0, z1, Organic, 0.15)
		b.cyl(u, yc, 0.25, 0.29, z0, z1, Steel, 1.0) // rim
		hz0, hz1 := 0.72, 1.02
		if side < 0 {
			hz0, hz1 = -1.02, -0.72
		}
		b.cyl(u, yc, 0, 0.25, hz0, hz1, Steel, 1.5) // wheel disc, brake drum
		hz0, hz1 = 0.6, 1.0
		if side < 0 {
			hz0, hz1 = -1.0, -0.6
		}
		b.cyl(u, yc, 0, 0.12, hz0, hz1, Steel, 3.5) // hub
	}
	b.cyl(u, yc, 0, 0.07, -0.75, 0.75, Steel, 2.5) // axle beam
	if springs {
		b.sym(u-0.6, u+0.6, yc+0.08, yc+0.2, 0.45, 0.55, Steel, steelRho)
	}
}

// container adds the steel structure of one container with its outer front
// at u = a (doors at the rear).
func (b *builder) container(a float64, d isoDims, sh Shell) {
	yb := b.t.DeckHeightM
	top := yb + d.outerH
	b.containerWalls(a, d.outerL, yb, top, sh)
	b.containerFloor(a, d.outerL, yb, sh)
	// Ends. e(u) measures inwards from each end.
	for _, end := range []shellEnd{{true, 0.006, 0.15, 0.1}, {false, 0.008, 0.16, 0.15}} {
		b.containerEnd(a, d.outerL, yb, top, end, sh)
	}
}

// containerWalls adds the corrugated side walls, the top side rails and
// the roof of a container L long with its outer front at u = a, its
// bottom at yb and its top at top.
func (b *builder) containerWalls(a, L, yb, top float64, sh Shell) {
	const zi, zo = innerW / 2, outerW / 2

	// Side walls, corrugated: flat, web, flat, web per pitch.
	tw := sh.SideWallGCm2 / steelRho / 100
	P := sh.CorrugationPitchM
	fr := [4]float64{0.26, 0.24, 0.26, 0.24}
	fac := [4]float64{1, 1.13, 1, 1.13}
	for u := a + 0.15; u < a+L-0.16; {
		for k := 0; k < 4 && u < a+L-0.16; k++ {
			u1 := math.Min(u+fr[k]*P, a+L-0.16)
			t := tw * fac[k]
			b.sym(u, u1, yb+0.158, top-0.06, zo-0.02-t, zo-0.02, Steel, steelRho)
			u = u1
		}
	}
	// Top side rails: 60×60×4 mm tubes.
	b.sym(a, a+L, top-0.06, top, zo-0.004, zo, Steel, steelRho)
	b.sym(a, a+L, top-0.06, top, zo-0.06, zo-0.056, Steel, steelRho)
	b.sym(a, a+L, top-0.004, top, zo-0.056, zo-0.004, Steel, steelRho)
	b.sym(a, a+L, top-0.06, top-0.056, zo-0.056, zo-0.004, Steel, steelRho)
	// Roof seen edge-on: transverse corrugations and sag across 2.35 m put
	// the sheet in the way of every ray in the band; alternate 1.3/0.7.
	rr := sh.RoofGCm2 / (2 * zi * 100)
	for u, k := a+0.1, 0; u < a+L-0.1; k++ {
		u1 := math.Min(u+0.1, a+L-0.1)
		f := 1.3
		if k%2 == 1 {
			f = 0.7
		}
		b.box(u, u1, top-sh.RoofBandM, top-0.002, -zi, zi, Steel, rr*f)
		u = u1
	}
}

// containerFloor adds the floor, its cross-members and the bottom side
// rails of a container L long with its outer front at u = a, its bottom at
// yb.
func (b *builder) containerFloor(a, L, yb float64, sh Shell) {
	ft := yb + floorT
	const zi, zo = innerW / 2, outerW / 2
	// Floor: plywood boards on C-section cross-members, bottom side rails.
	b.box(a+frontWallT, a+L-doorEndT, ft-0.028, ft, -zi, zi, Wood, sh.FloorBoardDensity/1000)
	b.box(a+0.1, a+L-0.1, yb+0.0045, ft-0.028, -zi, zi, Steel, sh.FloorGCm2/(2*zi*100))
	for u := a + 0.2; u < a+L-0.2; u += sh.CrossMemberPitchM {
		b.box(u, u+0.0045, yb+0.0045, ft-0.0325, -zi, zi, Steel, steelRho)
		b.box(u, u+0.045, yb, yb+0.0045, -zi, zi, Steel, steelRho)
		b.box(u, u+0.045, ft-0.0325, ft-0.028, -zi, zi, Steel, steelRho)
	}
	b.sym(a, a+L, yb, yb+0.158, zo-0.0045, zo, Steel, steelRho)
	b.sym(a, a+L, yb, yb+0.006, zo-0.05, zo-0.0045, Steel, steelRho)
	b.sym(a, a+L, yb+0.152, yb+0.158, zo-0.05, zo-0.0045, Steel, steelRho)
}

// shellEnd is one end of a container: the front wall or the doors,
// with its corner posts' thickness and depth and its header's height.
type shellEnd struct {
	front bool
	postT float64
	postD float64
	head  float64
}

// containerEnd adds the corner posts, header, sill, corner castings and the
// end wall or door leaves of one end of a container L long with its outer
// front at u = a.
func (b *builder) containerEnd(a, L, yb, top float64, end shellEnd, sh Shell) {
	const zi, zo = innerW / 2, outerW / 2
	flat := steelRho * 0.26
	e := func(d0, d1 float64) (float64, float64) {
		if end.front {
			return a + d0, a + d1
		}
		return a + L - d1, a + L - d0
	}
	// Corner posts (near and far side).
	u0, u1 := e(0, end.postD)
	b.sym(u0, u1, yb, top, zo-end.postT, zo, Steel, steelRho)
	b.sym(u0, u1, yb, top, zo-0.113, zo-0.113+end.postT, Steel, steelRho)
	p0, p1 := e(0, end.postT)
	b.sym(p0, p1, yb, top, zo-0.113, zo, Steel, steelRho)
	p0, p1 = e(end.postD-end.postT, end.postD)
	b.sym(p0, p1, yb, top, zo-0.113, zo, Steel, steelRho)
	// Header and sill.
	h0, h1 := e(0, 0.1)
	b.box(h0, h1, top-end.head, top, -zi, zi, Steel, 1.2)
	b.box(h0, h1, yb, yb+0.12, -zi, zi, Steel, 1.2)
	// Corner castings, top and bottom, both sides.
	c0, c1 := e(0, 0.178)
	b.sym(c0, c1, top-0.118, top, zo-0.162, zo, Steel, 3.0)
	b.sym(c0, c1, yb, yb+0.118, zo-0.162, zo, Steel, 3.0)
	// End wall or door leaves seen edge-on: two lines of flats, webs between.
	w0 := 0.012
	web := sh.EndWallGCm2 / (2 * zi * 100)
	if !end.front {
		w0 = 0.035
		web *= 1.3
	}
	f0, f1 := e(w0, w0+0.002)
	b.box(f0, f1, yb+0.12, top-end.head, -zi, zi, Steel, flat)
	f0, f1 = e(w0+0.038, w0+0.040)
	b.box(f0, f1, yb+0.12, top-end.head, -zi, zi, Steel, flat)
	f0, f1 = e(w0+0.002, w0+0.038)
	b.box(f0, f1, yb+0.12, top-end.head, -zi, zi, Steel, web)
	if !end.front {
		// Four locking bars, Ø 27 mm.
		r0, r1 := e(0.005, 0.032)
		for _, zc := range []float64{-0.9, -0.3, 0.3, 0.9} {
			b.box(r0, r1, yb+0.05, top-0.05, zc-0.0105, zc+0.0105, Steel, steelRho)
		}
	}
}

// cargo adds the boxes and coils of a container whose outer front is at u = a.
func (b *builder) cargo(a float64, c Container) {
	ft := b.t.DeckHeightM + floorT
	ui := a + frontWallT
	for _, x := range c.Boxes {
		b.box(ui+x.X0, ui+x.X1, ft+x.Y0, ft+x.Y1, x.Z-x.Depth/2, x.Z+x.Depth/2, x.Material, x.Density/1000)
	}
	for _, k := range c.Coils {
		b.cyl(ui+k.X, ft+k.Y, k.RInner, k.ROuter, k.Z-k.Depth/2, k.Z+k.Depth/2, k.Material, k.Density/1000)
	}
}

// build makes all prims and the truth (pixel rectangles need the image
// height htop = rows·pitch and the pitches in metres).
func (s *Scene) build(px, py, htop float64) (*builder, Truth, error) {
	lay, err := s.layout()
	if err != nil {
		return nil, Truth{}, err
	}
	b := &builder{s: s, t: s.Truck.withDefaults(), lay: lay, cabFirst: s.CabFirst, leadIn: s.LeadInM}
	if s.Fan {
		b.fan = true
		b.sd = s.SourceDistM
		if b.sd == 0 {
			b.sd = 12
		}
		b.ys = s.SourceHeightM
		if b.ys == 0 {
			b.ys = 2.2
		}
	}
	b.truck()
	for i, c := range s.Containers {
		b.container(lay.fronts[i], lay.dims[i], c.Shell.withDefaults())
		b.cargo(lay.fronts[i], c)
	}
	sort.Slice(b.prims, func(i, j int) bool { return b.prims[i].x0 < b.prims[j].x0 })

	toPx := func(x0, x1, y0, y1 float64) image.Rectangle {
		r := image.Rect(int(math.Round(x0/px)), int(math.Round((htop-y1)/py)),
			int(math.Round(x1/px)), int(math.Round((htop-y0)/py)))
		if r.Dx() == 0 {
			r.Max.X++
		}
		if r.Dy() == 0 {
			r.Max.Y++
		}
		return r
	}
	var tr Truth
	tr.CabSpan[0], tr.CabSpan[1] = spanPx(b, 0, lay.cabEnd, px)
	tr.VehicleSpan[0], tr.VehicleSpan[1] = spanPx(b, 0, lay.length, px)
	vt := s.VehicleTareKg
	if vt == 0 {
		vt = 14500
	}
	tr.GrossKg = vt
	const zi, zo = innerW / 2, outerW / 2
	yb := b.t.DeckHeightM
	for i, c := range s.Containers {
		d := lay.dims[i]
		a := lay.fronts[i]
		ox0, ox1 := b.xr(a, a+d.outerL)
		oy0, oy1 := b.projRange(yb, yb+d.outerH, -zo, zo)
		ix0, ix1 := b.xr(a+frontWallT, a+d.outerL-doorEndT)
		ft := yb + floorT
		iy0, iy1 := b.projRange(ft, ft+d.innerH, -zi, zi)
		ct := ContainerTruth{
			ID: c.ID, Type: c.Type,
			OuterPx:   toPx(ox0, ox1, oy0, oy1),
			InnerPx:   toPx(ix0, ix1, iy0, iy1),
			CargoKg:   c.CargoKg(),
			TareKg:    c.Tare(),
			FrontLeft: s.CabFirst,
		}
		ui := a + frontWallT
		region := func(u0, u1, y0, y1, z0, z1 float64) (image.Rectangle, [4]float64) {
			x0, x1 := b.xr(u0, u1)
			p0, p1 := b.projRange(y0, y1, z0, z1)
			return toPx(x0, x1, p0, p1), [4]float64{x0 - ox0, oy1 - p1, x1 - x0, p1 - p0}
		}
		for _, x := range c.Boxes {
			r, m := region(ui+x.X0, ui+x.X1, ft+x.Y0, ft+x.Y1, x.Z-x.Depth/2, x.Z+x.Depth/2)
			rt := RegionTruth{Label: x.Label, Material: x.Material, Density: x.Density, Kg: x.Kg(), Hidden: x.Hidden, Px: r}
			rt.M.X, rt.M.Y, rt.M.W, rt.M.H = m[0], m[1], m[2], m[3]
			ct.Regions = append(ct.Regions, rt)
		}
		for _, k := range c.Coils {
			r, m := region(ui+k.X-k.ROuter, ui+k.X+k.ROuter, ft+k.Y-k.ROuter, ft+k.Y+k.ROuter, k.Z-k.Depth/2, k.Z+k.Depth/2)
			rt := RegionTruth{Label: k.Label, Material: k.Material, Density: k.Density, Kg: k.Kg(), Hidden: k.Hidden, Coil: true, Px: r}
			rt.M.X, rt.M.Y, rt.M.W, rt.M.H = m[0], m[1], m[2], m[3]
			ct.Regions = append(ct.Regions, rt)
		}
		tr.GrossKg += ct.CargoKg + ct.TareKg
		tr.Containers = append(tr.Containers, ct)
	}
	sort.SliceStable(tr.Containers, func(i, j int) bool { return tr.Containers[i].OuterPx.Min.X < tr.Containers[j].OuterPx.Min.X })
	return b, tr, nil
}

func spanPx(b *builder, u0, u1, px float64) (int, int) {
	x0, x1 := b.xr(u0, u1)
	return int(math.Floor(x0 / px)), int(math.Ceil(x1 / px))
}
