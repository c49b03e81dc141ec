package xraysim

import (
	"math"
	"math/rand"
)

// Worn turns a scene's imaging into what an older or differently built
// portal gives: several dead or stuck rows, a gain that drifts along the
// scan, more scatter, a flickering pulse, noisier rows and a lead-in of
// air too short to flat-field comfortably. The cargo and the vehicle stay
// as they were, so the same scenario scored both ways shows what the
// imaging alone costs the detector.
func Worn(s *Scene, rng *rand.Rand) {
	u := func(a, b float64) float64 { return a + (b-a)*rng.Float64() }
	s.DeadRows += 3 + rng.Intn(8)
	s.GainDriftPerM = math.Copysign(u(0.003, 0.006), rng.Float64()-0.5)
	s.Scatter = u(0.01, 0.03)
	s.PulseJitter = u(0.03, 0.06)
	s.RowGainSpread = u(0.04, 0.08)
	s.ReadNoise *= 2
	s.LeadInM = u(0.25, 0.5)
}
