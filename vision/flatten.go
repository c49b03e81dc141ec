package vision

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// Attenuation is a scan flat-fielded exactly as Analyze does it, for
// measurements that need the attenuation itself (a step-wedge
// calibration): -ln T per pixel and energy, row-major.
type Attenuation struct {
	W, H int
	// High and Low hold -ln T; Low is nil for a single-energy scan.
	// Pixels of dead rows are bridged from their neighbours, as the
	// detector does; DeadRows lists them (of either energy) so that a
	// measurement can leave them out.
	High, Low []float32
	DeadRows  []int
	// OpaqueHigh and OpaqueLow are the attenuations from which the
	// detector counts a pixel of each energy as one the beam did not get
	// through: its transmission at the noise floor (a signal-to-noise of
	// 3 in the scan's own air noise) or below the reliable transmission of
	// the settings (scatter dominates there). NoiseHigh and NoiseLow are the relative scatter of the
	// air signal per pixel.
	OpaqueHigh, OpaqueLow float64
	NoiseHigh, NoiseLow   float64
	// Notes are problems with the scan (as Analysis.Quality).
	Notes []Note
}

// Flatten flat-fields a scan with the detector's own code (lead-in
// columns, air rows, row gains, column reference, dead and stuck rows)
// and returns its attenuation. It does not look for containers. The
// images are left to the caller (in.Release is ignored).
//
// leadInMax, when positive, bounds the lead-in air columns the rows are
// flat-fielded from: a wedge file says where its first block stands, and
// a light first step would otherwise pass for air.
func (d *Detector) Flatten(in Input, leadInMax int) (*Attenuation, error) {
	defer d.freeScratch()
	defer d.Free()
	in.Release = nil
	if leadInMax > 0 && leadInMax < d.p.LeadInMaxColumns {
		keep := d.p.LeadInMaxColumns
		d.p.LeadInMaxColumns = leadInMax
		defer func() { d.p.LeadInMaxColumns = keep }()
	}
	if in.High.Empty() || in.High.Type() != gocv.MatTypeCV16UC1 {
		return nil, fmt.Errorf("high-energy image must be a non-empty 16-bit single-channel Mat")
	}
	if in.Air <= in.Dark {
		return nil, fmt.Errorf("air %v is not above dark %v: the sidecar must give the detector's air and dark levels", in.Air, in.Dark)
	}
	w, h := in.High.Cols(), in.High.Rows()
	if in.HasLow && (in.Low.Empty() || in.Low.Rows() != h || in.Low.Cols() != w || in.Low.Type() != gocv.MatTypeCV16UC1) {
		return nil, fmt.Errorf("the low-energy image must be a 16-bit single-channel image of the high one's size (%dx%d)", w, h)
	}
	out := &Attenuation{W: w, H: h}
	for _, n := range d.flatField(&in) {
		out.Notes = append(out.Notes, quality(Warning, n))
	}
	out.High = planeFloats(d.a)
	out.OpaqueHigh = d.opaqueFrom(&d.seen.hi)
	out.NoiseHigh = d.seen.hi.noise
	dead := append([]bool(nil), d.seen.hi.deadRow[:h]...)
	if in.HasLow {
		d.lowEnergy(&in, image.Rect(0, 0, w, h))
		out.Low = planeFloats(d.aLo)
		out.OpaqueLow = d.opaqueFrom(&d.seen.lo)
		out.NoiseLow = d.seen.lo.noise
		for r, v := range d.seen.lo.deadRow[:h] {
			dead[r] = dead[r] || v
		}
	}
	for r, v := range dead {
		if v {
			out.DeadRows = append(out.DeadRows, r)
		}
	}
	return out, nil
}

// planeFloats converts a fixed-point attenuation plane to floats.
func planeFloats(m gocv.Mat) []float32 {
	px, _ := m.DataPtrUint16()
	f := make([]float32, len(px))
	for i, v := range px {
		f[i] = attOf(v)
	}
	return f
}
