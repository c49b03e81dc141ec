package calib

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/vision"
	"github.com/gatescan/gatescan/vision/settings"
)

// Measured is one wedge step as the scan shows it.
type Measured struct {
	Step
	Index int // in the wedge file
	// Pixels counts the pixels measured (dead rows left out). AHigh and
	// ALow are the medians of their attenuation -ln T (ALow 0 for a
	// single-energy scan); SpreadHigh is the robust per-pixel scatter of
	// the high energy's (1.4826 × the median absolute deviation).
	Pixels      int
	AHigh, ALow float64
	SpreadHigh  float64
	// LeftOut says why the step takes no part in the fit ("" when it
	// does); LeftOutLow why it takes no part in the dual-energy curves
	// although the high energy measured it.
	LeftOut, LeftOutLow string
	// RefGCm2 is an organic step's areal density as the reference
	// organic's (see refZA). FitGCm2 and FitALow are the fitted curves'
	// values at the step's attenuation (0 where no curve applies);
	// ResidualPct and ResidualLowPct their relative errors against RefGCm2
	// and the measured ALow.
	RefGCm2                 float64
	FitGCm2, ResidualPct    float64
	FitALow, ResidualLowPct float64
}

// Measure measures each step of wedge wd on the flat-fielded scan att.
// Ranges outside the image are an error; steps that cannot be measured
// are returned with LeftOut set.
func Measure(wd *Wedge, att *vision.Attenuation) ([]Measured, error) {
	if err := wd.CheckImage(att.W, att.H); err != nil {
		return nil, err
	}
	dead := make([]bool, att.H)
	for _, r := range att.DeadRows {
		dead[r] = true
	}
	var out []Measured
	var buf, dev []float64
	for i, s := range wd.Steps {
		m := Measured{Step: s, Index: i}
		hi, lo, clipHi, clipLo := buf[:0], []float64(nil), 0, 0
		for r := s.Rows[0]; r < s.Rows[1]; r++ {
			if dead[r] {
				continue
			}
			for c := s.Columns[0]; c < s.Columns[1]; c++ {
				a := float64(att.High[r*att.W+c])
				hi = append(hi, a)
				if a >= att.OpaqueHigh {
					clipHi++
				}
				if att.Low != nil {
					al := float64(att.Low[r*att.W+c])
					lo = append(lo, al)
					if al >= att.OpaqueLow {
						clipLo++
					}
				}
			}
		}
		buf = hi
		m.Pixels = len(hi)
		if len(hi) < minPixels {
			m.LeftOut = fmt.Sprintf("only %d pixels off dead rows (need %d): widen its ranges", len(hi), minPixels)
			out = append(out, m)
			continue
		}
		m.AHigh = median(hi)
		dev = dev[:0]
		for _, a := range hi {
			dev = append(dev, math.Abs(a-m.AHigh))
		}
		m.SpreadHigh = 1.4826 * median(dev)
		if lo != nil {
			m.ALow = median(lo)
		}
		n := float64(len(hi))
		switch {
		case float64(clipHi) > clipFraction*n:
			m.LeftOut = fmt.Sprintf("the beam did not get through as the detector counts it: %.0f %% of its pixels at the noise floor or below detector.reliable_transmission",
				100*float64(clipHi)/n)
		case m.AHigh > att.OpaqueHigh-math.Ln2:
			m.LeftOut = nearOpaque("", m.AHigh, att.OpaqueHigh)
		case att.NoiseHigh > 0 && m.SpreadHigh > spreadFactor*expectedSpread(att.NoiseHigh, m.AHigh)+spreadSlack:
			m.LeftOut = fmt.Sprintf("not uniform: its pixels scatter by %.3f in -ln T where the air noise allows %.3f; something else is in the beam there (an edge, the fixture): narrow its ranges",
				m.SpreadHigh, expectedSpread(att.NoiseHigh, m.AHigh))
		case m.AHigh < minAttenuation:
			m.LeftOut = fmt.Sprintf("attenuates nothing measurable (-ln T %.4f)", m.AHigh)
		case s.Material == Lead:
			m.LeftOut = "lead: no curve of the detector uses lead"
		case float64(clipLo) > clipFraction*n:
			m.LeftOutLow = fmt.Sprintf("the low energy did not get through: %.0f %% of its low-energy pixels at the noise floor or below detector.reliable_transmission",
				100*float64(clipLo)/n)
		case lo != nil && m.ALow > att.OpaqueLow-math.Ln2:
			m.LeftOutLow = nearOpaque("low-energy ", m.ALow, att.OpaqueLow)
		}
		out = append(out, m)
	}
	return out, nil
}

const (
	// leadInMargin keeps the lead-in clear of the first block's edge:
	// the ranges stay inside blocks, the blocks are wider.
	leadInMargin = 8
	minPixels    = 50
	// clipFraction of a step's pixels opaque to the detector: its median
	// is then biased by the clamp and by scatter, and the detector never
	// turns such attenuation into mass anyway.
	clipFraction = 0.01
	// A step's pixels may scatter spreadFactor times what the air noise
	// predicts for quanta alone, plus spreadSlack (residual gain and
	// scatter texture), before it counts as not uniform.
	spreadFactor   = 4
	spreadSlack    = 0.02
	minAttenuation = 0.01
)

// nearOpaque says why a step whose transmission is less than twice the
// least the detector counts is left out: scatter, which adds a roughly
// constant signal behind thick blocks, biases it most there.
func nearOpaque(energy string, a, opaque float64) string {
	return fmt.Sprintf("%stransmission %.2f %% is less than twice the %.2f %% the detector counts as opaque, where scatter biases it", energy, 100*math.Exp(-a), 100*math.Exp(-opaque))
}

// expectedSpread is the per-pixel scatter of -ln T behind attenuation a
// when the air signal scatters by noise: quantum noise grows as the
// transmitted quanta fall, as 1/√T.
func expectedSpread(noise, a float64) float64 {
	return noise * math.Exp(a/2)
}

// median of v (reordered).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Run calibrates from a wedge scan: flat-fields in with the detector's
// own code, measures the steps of wd and fits the curves for the scan's
// energies (in.EnergyHighMeV, and in.EnergyLowMeV when in.HasLow).
func Run(det *vision.Detector, in vision.Input, wd *Wedge, from settings.Calibrated) (*Calibration, error) {
	if err := wd.CheckImage(in.High.Cols(), in.High.Rows()); err != nil {
		return nil, err
	}
	// The lead-in ends a few columns before the first block.
	first := in.High.Cols()
	for _, s := range wd.Steps {
		first = min(first, s.Columns[0])
	}
	att, err := det.Flatten(in, max(1, first-leadInMargin))
	if err != nil {
		return nil, err
	}
	ms, err := Measure(wd, att)
	if err != nil {
		return nil, err
	}
	notes := saturation(in.High, "high", ms)
	if in.HasLow {
		notes = append(notes, saturation(in.Low, "low", ms)...)
	}
	energy := [2]float64{in.EnergyHighMeV, 0}
	if in.HasLow {
		energy[1] = in.EnergyLowMeV
		if !(energy[1] > 0) {
			return nil, errors.New("the dual-energy wedge scan's sidecar gives no energy_mev.low: have the scanner state both energies")
		}
	}
	c, err := Fit(ms, energy, from)
	if err != nil {
		return nil, err
	}
	for _, n := range att.Notes {
		c.Notes = append(c.Notes, n.Message)
	}
	c.Notes = append(c.Notes, notes...)
	return c, nil
}

// saturation leaves out the steps whose raw pixels in image m sit at the
// 16-bit ceiling, where the detector clipped, and says how much of the
// image did: clipped air biases every step's flat field.
func saturation(m gocv.Mat, energy string, ms []Measured) []string {
	if !m.IsContinuous() {
		return nil
	}
	px, err := m.DataPtrUint16()
	if err != nil {
		return nil
	}
	w := m.Cols()
	n := 0
	for _, v := range px {
		if v == math.MaxUint16 {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	for i := range ms {
		s := &ms[i]
		k, all := 0, 0
		for r := s.Rows[0]; r < s.Rows[1]; r++ {
			for _, v := range px[r*w+s.Columns[0] : r*w+s.Columns[1]] {
				all++
				if v == math.MaxUint16 {
					k++
				}
			}
		}
		if s.LeftOut == "" && float64(k) > clipFraction*float64(all) {
			why := fmt.Sprintf("the detector saturated: %.0f %% of its %s-energy pixels at 65535", 100*float64(k)/float64(all), energy)
			if energy == "low" {
				s.LeftOutLow = why
			} else {
				s.LeftOut = why
			}
		}
	}
	if frac := float64(n) / float64(len(px)); frac > 1e-3 {
		return []string{fmt.Sprintf("%.1f %% of the %s-energy image's pixels are at the 16-bit ceiling (65535): the detector saturates, and air read there biases every step; lower the gain and scan the wedge again", 100*frac, energy)}
	}
	return nil
}
