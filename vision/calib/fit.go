package calib

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gatescan/gatescan/vision/settings"
)

// MinSteps is how many usable steps a material's curve needs.
const MinSteps = 4

// Calibration is what a wedge scan gives: the config's tables for the
// scanner's energies, and each step with its fitted value.
type Calibration struct {
	Steps []Measured
	// Wedge is the attenuation → organic-equivalent mass thickness curve of
	// the high energy; Dual the material curves of a dual-energy scan (nil
	// for single energy, or when the wedge has no aluminium or steel).
	Wedge settings.StepWedge
	Dual  *settings.DualEnergy
	// Notes say what the calibration leaves out and why.
	Notes []string
	// MaxResidualPct is the largest |residual| of any fitted step, %.
	MaxResidualPct float64
}

// Fit fits the curves to the measured steps of a scan at end-point
// energies energy ([high, low]; low 0 for single energy) and stamps them
// with from. It fails when a curve has fewer than MinSteps usable steps or
// attenuation does not rise with thickness.
func Fit(ms []Measured, energy [2]float64, from settings.Calibrated) (*Calibration, error) {
	c := &Calibration{Steps: ms}
	dual := energy[1] > 0
	if !(energy[0] > 0) {
		return nil, errors.New("the wedge scan's sidecar gives no energy_mev.high: the calibration is per beam energy; have the scanner state it")
	}
	c.Notes = append(c.Notes, organicNotes(ms)...)
	g := groupSteps(ms, dual)
	if !g.material && dual {
		c.Notes = append(c.Notes, "no dual-energy material curves: the wedge has no aluminium or no steel steps")
	}
	if err := usable(ms, Organic, g.by[Organic], false); err != nil {
		return nil, err
	}
	if g.material {
		for _, cl := range g.classes {
			if err := usable(ms, cl, g.byDual[cl], true); err != nil {
				return nil, err
			}
		}
	}
	if err := c.fitMass(ms, g.by[Organic], energy[0], from); err != nil {
		return nil, err
	}
	if !g.material {
		return c, nil
	}
	de, err := c.fitDual(ms, g, energy, from)
	if err != nil {
		return nil, err
	}
	c.Dual = de
	return c, nil
}

// stepGroups is the wedge's usable steps sorted by material, so that Fit's
// stages share one pass over the measurements.
type stepGroups struct {
	// by holds the steps the high energy measured, for the mass curve;
	// byDual those both energies did, for the material curves.
	by, byDual map[string][]*Measured
	// classes are the materials that get a dual-energy curve: organic
	// alone unless the scan is dual energy with aluminium and steel steps.
	classes []string
	// material says whether the material curves are fitted at all.
	material bool
}

// groupSteps sorts the usable steps by material and marks the metal steps
// of a single-energy scan left out, since only two energies tell
// materials apart.
func groupSteps(ms []Measured, dual bool) stepGroups {
	g := stepGroups{by: map[string][]*Measured{}, byDual: map[string][]*Measured{}}
	present := map[string]bool{}
	for i := range ms {
		m := &ms[i]
		present[m.Material] = true
		if m.LeftOut == "" {
			g.by[m.Material] = append(g.by[m.Material], m)
			if dual && m.LeftOutLow == "" {
				g.byDual[m.Material] = append(g.byDual[m.Material], m)
			}
		}
	}
	g.classes = []string{Organic}
	if dual && present[Aluminium] && present[Steel] {
		g.classes = append(g.classes, Aluminium, Steel)
	}
	g.material = len(g.classes) > 1
	for _, cl := range []string{Aluminium, Steel} {
		if !dual && present[cl] {
			for _, m := range g.by[cl] {
				m.LeftOut = "single energy: material curves need a dual-energy scan"
			}
		}
	}
	return g
}

// fitMass fits the organic-equivalent mass curve g/cm² = A·q(A) to the
// organic steps org, records each organic step's fit and residual, and
// tabulates the curve at the steps and midway between them, so the
// config's interpolation follows the fit rather than straight chords.
func (c *Calibration) fitMass(ms []Measured, org []*Measured, high float64, from settings.Calibrated) error {
	mass, _, err := curve(org, func(m *Measured) float64 { return m.RefGCm2 })
	if err != nil {
		return fmt.Errorf("organic curve: %w", err)
	}
	for i := range ms {
		m := &ms[i]
		if m.Material == Organic && m.AHigh > 0 {
			m.FitGCm2 = mass(m.AHigh)
			m.ResidualPct = 100 * (m.FitGCm2 - m.RefGCm2) / m.RefGCm2
			if m.LeftOut == "" {
				c.MaxResidualPct = math.Max(c.MaxResidualPct, math.Abs(m.ResidualPct))
			}
		}
	}
	c.Wedge = settings.StepWedge{EnergyMeV: high, Calibrated: from}
	var at []float64
	at = append(at, org[0].AHigh/2)
	for i, m := range org {
		if i > 0 {
			at = append(at, (org[i-1].AHigh+m.AHigh)/2)
		}
		at = append(at, m.AHigh)
	}
	c.Wedge.Steps = table(at, mass)
	return nil
}

// fitDual fits each class's low- against high-energy attenuation curve,
// records each step's fit and residual, and returns the material tables.
func (c *Calibration) fitDual(ms []Measured, g stepGroups, energy [2]float64, from settings.Calibrated) (*settings.DualEnergy, error) {
	de := &settings.DualEnergy{EnergyMeV: energy, Calibrated: from}
	for _, cl := range g.classes {
		low, xs, err := curve(g.byDual[cl], func(m *Measured) float64 { return m.ALow })
		if err != nil {
			return nil, fmt.Errorf("%s dual-energy curve: %w", cl, err)
		}
		for i := range ms {
			m := &ms[i]
			if m.Material == cl && m.AHigh > 0 && m.ALow > 0 {
				m.FitALow = low(m.AHigh)
				m.ResidualLowPct = 100 * (m.FitALow - m.ALow) / m.ALow
				if m.LeftOut == "" && m.LeftOutLow == "" {
					c.MaxResidualPct = math.Max(c.MaxResidualPct, math.Abs(m.ResidualLowPct))
				}
			}
		}
		// Beam hardening goes on beyond the thickest step measured at both
		// energies (scatter keeps thicker ones out): the fit carries the
		// ratio's trend on to half again further, where holding the last
		// ratio would drift towards the next class.
		top := xs[len(xs)-1]
		tab := table(append(xs, 1.25*top, 1.5*top), low)
		switch cl {
		case Organic:
			de.Organic = tab
		case Aluminium:
			de.Aluminium = tab
		case Steel:
			de.Steel = tab
		}
	}
	return de, nil
}

// curve fits v(A) = A·q(A) to the steps' high-energy attenuations A and
// values v, and returns it with the steps' A.
func curve(steps []*Measured, v func(*Measured) float64) (func(float64) float64, []float64, error) {
	xs, ys := make([]float64, len(steps)), make([]float64, len(steps))
	for i, m := range steps {
		xs[i], ys[i] = m.AHigh, v(m)/m.AHigh
	}
	q, err := monotoneFit(xs, ys)
	if err != nil {
		return nil, nil, err
	}
	return func(a float64) float64 { return a * poly(q, a) }, xs, nil
}

// usable checks that a curve of class cl has MinSteps steps whose
// attenuation (and, with low, the low energy's) rises with thickness; it
// sorts steps by thickness.
func usable(ms []Measured, cl string, steps []*Measured, low bool) error {
	if len(steps) < MinSteps {
		what := ""
		if low {
			what = " at both energies"
		}
		return fmt.Errorf("only %d usable %s steps%s (need %d)%s", len(steps), cl, what, MinSteps, leftOut(ms, cl, low))
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].GCm2 < steps[j].GCm2 })
	for i := 1; i < len(steps); i++ {
		p, q := steps[i-1], steps[i]
		if q.GCm2 == p.GCm2 {
			return fmt.Errorf("steps %d and %d are both %v g/cm² of %s: give each thickness once", p.Index, q.Index, q.GCm2, cl)
		}
		if q.AHigh <= p.AHigh || (low && q.ALow <= p.ALow) {
			return fmt.Errorf("attenuation not rising with thickness: %s step %d (%v g/cm²) has -ln T %.4f (low %.4f), step %d (%v g/cm²) %.4f (low %.4f): check the order and the ranges of the wedge file",
				cl, q.Index, q.GCm2, q.AHigh, q.ALow, p.Index, p.GCm2, p.AHigh, p.ALow)
		}
	}
	return nil
}

// leftOut lists why a class's steps were left out, for an error message.
func leftOut(ms []Measured, cl string, low bool) string {
	var why []string
	for _, m := range ms {
		reason := m.LeftOut
		if reason == "" && low {
			reason = m.LeftOutLow
		}
		if m.Material == cl && reason != "" {
			why = append(why, fmt.Sprintf("step %d (%v g/cm²): %s", m.Index, m.GCm2, reason))
		}
	}
	if len(why) == 0 {
		return ""
	}
	return "; left out: " + strings.Join(why, "; ")
}

// table tabulates f at the increasing attenuations at, rounded as the
// config keeps them, dropping points that rounding leaves not increasing.
func table(at []float64, f func(float64) float64) [][2]float64 {
	var t [][2]float64
	for _, a := range at {
		p := [2]float64{round(a, 4), round(f(a), 4)}
		if n := len(t); n > 0 && (p[0] <= t[n-1][0] || p[1] <= t[n-1][1]) {
			continue
		}
		t = append(t, p)
	}
	return t
}

func round(v float64, digits int) float64 {
	s := math.Pow(10, float64(digits))
	return math.Round(v*s) / s
}

// monotoneFit fits y ≈ q(x), a polynomial of degree 2 or less, by least
// squares in relative terms (each point weighs 1/y², so that every step's
// residual counts as a percentage), such that x·q(x) rises with x from 0
// to half again beyond the last point: the curve may bend (beam hardening)
// but never turn back. It lowers the degree until that holds.
func monotoneFit(x, y []float64) ([]float64, error) {
	w := make([]float64, len(y))
	xmax := 0.0
	for i, v := range y {
		if !(v > 0) {
			return nil, fmt.Errorf("step at -ln T %.4f gives a ratio %v: not positive", x[i], v)
		}
		w[i] = 1 / (v * v)
		xmax = math.Max(xmax, x[i])
	}
	for deg := min(2, len(x)-2); deg >= 0; deg-- {
		q, ok := polyfit(x, y, w, deg)
		if ok && rising(q, 1.5*xmax) {
			return q, nil
		}
	}
	return nil, errors.New("no rising curve fits the steps")
}

// rising reports whether x·q(x) is positive and increasing on (0, top].
func rising(q []float64, top float64) bool {
	prev := 0.0
	for i := 1; i <= 300; i++ {
		x := top * float64(i) / 300
		v := x * poly(q, x)
		if v <= prev {
			return false
		}
		prev = v
	}
	return true
}

func poly(q []float64, x float64) float64 {
	v := 0.0
	for i := len(q) - 1; i >= 0; i-- {
		v = v*x + q[i]
	}
	return v
}

// polyfit solves the weighted least-squares normal equations for the
// coefficients (constant first) of a polynomial of degree deg.
func polyfit(x, y, w []float64, deg int) ([]float64, bool) {
	n := deg + 1
	if len(x) < n {
		return nil, false
	}
	// Scale x to about 1 for a well-conditioned system.
	s := 0.0
	for _, v := range x {
		s = math.Max(s, math.Abs(v))
	}
	if s == 0 {
		return nil, false
	}
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
	}
	for k := range x {
		xs := x[k] / s
		pw := make([]float64, 2*n)
		pw[0] = 1
		for i := 1; i < 2*n; i++ {
			pw[i] = pw[i-1] * xs
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				a[i][j] += w[k] * pw[i+j]
			}
			a[i][n] += w[k] * pw[i] * y[k]
		}
	}
	// Gaussian elimination with partial pivoting.
	for col := 0; col < n; col++ {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		if math.Abs(a[piv][col]) < 1e-300 {
			return nil, false
		}
		a[col], a[piv] = a[piv], a[col]
		for r := 0; r < n; r++ {
			if r == col {
				continue
			}
			f := a[r][col] / a[col][col]
			for c := col; c <= n; c++ {
				a[r][c] -= f * a[col][c]
			}
		}
	}
	q := make([]float64, n)
	for i := range q {
		q[i] = a[i][n] / a[i][i] / math.Pow(s, float64(i))
	}
	return q, true
}
