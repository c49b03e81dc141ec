package xraysim

import (
	"fmt"
	"math"
	"sort"
	"sync"
)

// Material is the substance of a cargo item or structure, as far as X-ray
// attenuation is concerned. Each has a fixed elemental composition (see
// compositions) from which its mass attenuation coefficient is computed.
type Material string

// The materials the simulator knows.
const (
	Organic   Material = "organic"   // plastics, textiles, masks: 50 % polyolefin + 50 % cellulose by mass
	Paper     Material = "paper"     // cellulose C6H10O5
	Wood      Material = "wood"      // dry wood, H 6 % C 50 % O 44 %
	Aluminium Material = "aluminium" // Al
	Steel     Material = "steel"     // iron
	Ceramic   Material = "ceramic"   // fired clay body: SiO2 70 %, Al2O3 22 %, Na2O 4 %, CaO 4 %
	Glass     Material = "glass"     // soda-lime glass: SiO2 72 %, Na2O 14 %, CaO 10 %, MgO 3 %, Al2O3 1 %
	Water     Material = "water"     // H2O (also liquids in general)
	Lead      Material = "lead"      // Pb
)

// Materials lists every known material, in the order used internally.
func Materials() []Material {
	return append([]Material(nil), materialList[:]...)
}

const nMat = 9

var materialList = [nMat]Material{Organic, Paper, Wood, Aluminium, Steel, Ceramic, Glass, Water, Lead}

func matIndex(m Material) (int, bool) {
	for i, x := range materialList {
		if x == m {
			return i, true
		}
	}
	return 0, false
}

// Element mass attenuation coefficients μ/ρ (cm²/g, total with coherent
// scattering) at the energies of nistE, from NIST Standard Reference Database
// 126: J. H. Hubbell and S. M. Seltzer, "Tables of X-Ray Mass Attenuation
// Coefficients and Mass Energy-Absorption Coefficients", NISTIR 5632 (1996,
// last data update 2004), Table 3 (physics.nist.gov/PhysRefData/XrayMassCoef,
// pages ElemTab/z01 … z82). These are the same values XCOM gives for the
// elements; compounds are formed by the mixture rule, as XCOM does.
var nistE = [...]float64{0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10}

var nistElem = map[string][len(nistE)]float64{
	"H":  {1.729e-1, 1.599e-1, 1.405e-1, 1.263e-1, 1.129e-1, 1.027e-1, 8.769e-2, 6.921e-2, 5.806e-2, 5.049e-2, 4.498e-2, 3.746e-2, 3.254e-2},
	"C":  {8.715e-2, 8.058e-2, 7.076e-2, 6.361e-2, 5.690e-2, 5.179e-2, 4.442e-2, 3.562e-2, 3.047e-2, 2.708e-2, 2.469e-2, 2.154e-2, 1.959e-2},
	"O":  {8.729e-2, 8.070e-2, 7.087e-2, 6.372e-2, 5.697e-2, 5.185e-2, 4.459e-2, 3.597e-2, 3.100e-2, 2.777e-2, 2.552e-2, 2.263e-2, 2.089e-2},
	"Na": {8.372e-2, 7.736e-2, 6.788e-2, 6.100e-2, 5.454e-2, 4.968e-2, 4.282e-2, 3.487e-2, 3.037e-2, 2.753e-2, 2.559e-2, 2.319e-2, 2.181e-2},
	"Mg": {8.647e-2, 7.988e-2, 7.008e-2, 6.296e-2, 5.629e-2, 5.129e-2, 4.426e-2, 3.613e-2, 3.159e-2, 2.873e-2, 2.681e-2, 2.445e-2, 2.313e-2},
	"Al": {8.445e-2, 7.802e-2, 6.841e-2, 6.146e-2, 5.496e-2, 5.006e-2, 4.324e-2, 3.541e-2, 3.106e-2, 2.836e-2, 2.655e-2, 2.437e-2, 2.318e-2},
	"Si": {8.748e-2, 8.077e-2, 7.082e-2, 6.361e-2, 5.688e-2, 5.183e-2, 4.480e-2, 3.678e-2, 3.240e-2, 2.967e-2, 2.788e-2, 2.574e-2, 2.462e-2},
	"Ca": {8.851e-2, 8.148e-2, 7.122e-2, 6.388e-2, 5.709e-2, 5.207e-2, 4.524e-2, 3.780e-2, 3.395e-2, 3.170e-2, 3.035e-2, 2.892e-2, 2.839e-2},
	"Fe": {8.414e-2, 7.704e-2, 6.699e-2, 5.995e-2, 5.350e-2, 4.883e-2, 4.265e-2, 3.621e-2, 3.312e-2, 3.146e-2, 3.057e-2, 2.991e-2, 2.994e-2},
	"Pb": {1.614e-1, 1.248e-1, 8.870e-2, 7.102e-2, 5.876e-2, 5.222e-2, 4.606e-2, 4.234e-2, 4.197e-2, 4.272e-2, 4.391e-2, 4.675e-2, 4.972e-2},
}

// compositions gives the elemental mass fractions of each material. Oxide
// recipes are converted with standard atomic weights (SiO2: Si 0.4674;
// Al2O3: Al 0.5293; Na2O: Na 0.7419; CaO: Ca 0.7147; MgO: Mg 0.6030).
var compositions = map[Material]map[string]float64{
	// 0.5 × polypropylene (H 0.1437, C 0.8563) + 0.5 × cellulose.
	Organic:   {"H": 0.1030, "C": 0.6504, "O": 0.2466},
	Paper:     {"H": 0.0622, "C": 0.4444, "O": 0.4934},
	Wood:      {"H": 0.0600, "C": 0.5000, "O": 0.4400},
	Aluminium: {"Al": 1},
	Steel:     {"Fe": 1},
	Ceramic:   {"Si": 0.3272, "Al": 0.1164, "Na": 0.0297, "Ca": 0.0286, "O": 0.4981},
	Glass:     {"Si": 0.3365, "Na": 0.1039, "Ca": 0.0715, "Mg": 0.0181, "Al": 0.0053, "O": 0.4647},
	Water:     {"H": 0.1119, "O": 0.8881},
	Lead:      {"Pb": 1},
}

// MassAttenuation returns μ/ρ (cm²/g) of material m at photon energy e (MeV),
// interpolated log-log in the NIST tables (0.5 to 10 MeV; clamped outside).
func MassAttenuation(m Material, e float64) float64 {
	comp, ok := compositions[m]
	if !ok {
		return math.NaN()
	}
	mu := 0.0
	for el, f := range comp {
		mu += f * elemMu(el, e)
	}
	return mu
}

func elemMu(el string, e float64) float64 {
	tab := nistElem[el]
	if e <= nistE[0] {
		return tab[0]
	}
	n := len(nistE)
	if e >= nistE[n-1] {
		return tab[n-1]
	}
	i := sort.SearchFloat64s(nistE[:], e)
	// nistE[i-1] < e <= nistE[i]
	x0, x1 := math.Log(nistE[i-1]), math.Log(nistE[i])
	y0, y1 := math.Log(tab[i-1]), math.Log(tab[i])
	return math.Exp(y0 + (y1-y0)*(math.Log(e)-x0)/(x1-x0))
}

// nBins is the number of energy bins the renderer uses per beam.
const nBins = 8

// beam is a polychromatic beam reduced to nBins energy bins: weight of each
// bin in the detector signal, and the bin-averaged μ/ρ of every material.
type beam struct {
	endpoint float64
	meanE    float64 // signal-weighted mean energy, MeV
	w        [nBins]float64
	e        [nBins]float64
	mu       [nBins][nMat]float64
}

var (
	beamMu    sync.Mutex
	beamCache = map[beamKey]*beam{}
)

// Spectrum model (a model, not a measurement). Photon number spectrum of a
// thick-target bremsstrahlung source, Kramers form Φ(E) ∝ (E0−E)/E, hardened
// by the target, backing and collimator (a Scanner's lead-equivalent
// filtration), seen by an energy-integrating detector whose signal per photon
// is E·(1−exp(−μ_Pb(E)·d)) (d the Scanner's lead-equivalent crystal).
// Photons below 0.5 MeV are ignored: the filter and the cargo remove them
// and their share of the signal is a few per cent.
const spectrumMinE = 0.5

// A Scanner is a model of a portal's source and detector: what shapes the
// spectrum the detector integrates, and so how much a g/cm² attenuates.
// Real portals differ in it from site to site, which is what a step-wedge
// calibration measures.
type Scanner struct {
	Name string
	// FilterGCm2 is the lead-equivalent filtration of target, backing and
	// collimator; DetectorGCm2 the lead-equivalent thickness of the
	// detector crystals (a thin crystal favours soft photons).
	FilterGCm2, DetectorGCm2 float64
	// EndpointScale is the electrons' true end-point energy over the
	// nominal one the scanner states in its sidecar (0 means 1): a linac
	// tuned low gives a softer beam than its name says.
	EndpointScale float64
}

// The scanner models. Standard is a typical cargo linac (3 g/cm² of
// filtration, 25–30 mm CdWO4 crystals: the spectrum gatescan's default
// calibration was computed for). SoftLinac is tuned to 80 % of its stated
// end-point energy, lightly filtered and seen by thinner crystals: its beam
// is softer, 11-12 % more attenuation per g/cm² of organic goods than
// Standard's at 4, 6 and 9 MeV, from 30 to 200 g/cm².
var (
	Standard  = Scanner{Name: "standard", FilterGCm2: 3, DetectorGCm2: 20}
	SoftLinac = Scanner{Name: "soft-linac", FilterGCm2: 2, DetectorGCm2: 10, EndpointScale: 0.8}
)

// ScannerNames lists the scanner models Scene.Scanner may name.
func ScannerNames() []string { return []string{Standard.Name, SoftLinac.Name} }

// ScannerByName returns a scanner model; "" is Standard.
func ScannerByName(name string) (Scanner, error) {
	switch name {
	case "", Standard.Name:
		return Standard, nil
	case SoftLinac.Name:
		return SoftLinac, nil
	}
	return Scanner{}, fmt.Errorf("xraysim: unknown scanner model %q; know %v", name, ScannerNames())
}

func (sc Scanner) signalWeight(e, e0 float64) float64 {
	if e >= e0 || e < spectrumMinE {
		return 0
	}
	phi := (e0 - e) / e
	filt := math.Exp(-elemMu("Pb", e) * sc.FilterGCm2)
	eff := 1 - math.Exp(-elemMu("Pb", e)*sc.DetectorGCm2)
	return phi * filt * e * eff
}

type beamKey struct {
	sc Scanner
	e0 float64
}

// getBeam returns the standard scanner's binned beam for an end-point
// energy (MeV).
func getBeam(e0 float64) *beam { return Standard.beam(e0) }

// beam returns the binned beam of the scanner for an end-point energy (MeV).
func (sc Scanner) beam(e0 float64) *beam {
	if !(e0 > 1) || math.IsInf(e0, 0) {
		e0 = 6
	}
	if sc.EndpointScale > 0 {
		e0 *= sc.EndpointScale
	}
	e0 = min(e0, 10)
	beamMu.Lock()
	defer beamMu.Unlock()
	if b, ok := beamCache[beamKey{sc, e0}]; ok {
		return b
	}
	// Fine grid, then equal-signal quantile bins.
	const de = 0.005
	var es, ws []float64
	total := 0.0
	for e := spectrumMinE + de/2; e < e0; e += de {
		w := sc.signalWeight(e, e0)
		es = append(es, e)
		ws = append(ws, w)
		total += w
	}
	b := &beam{endpoint: e0}
	var mus [nMat][]float64
	for m := range materialList {
		mus[m] = make([]float64, len(es))
		for i, e := range es {
			mus[m][i] = MassAttenuation(materialList[m], e)
		}
	}
	acc := 0.0
	bin := 0
	var sw, swe float64
	var swmu [nMat]float64
	flush := func() {
		if sw == 0 {
			return
		}
		b.w[bin] = sw / total
		b.e[bin] = swe / sw
		for m := range swmu {
			b.mu[bin][m] = swmu[m] / sw
		}
		bin++
		sw, swe = 0, 0
		swmu = [nMat]float64{}
	}
	for i, e := range es {
		w := ws[i]
		sw += w
		swe += w * e
		for m := range swmu {
			swmu[m] += w * mus[m][i]
		}
		acc += w
		if bin < nBins-1 && acc >= total*float64(bin+1)/nBins {
			flush()
		}
	}
	flush()
	for i := 0; i < nBins; i++ {
		b.meanE += b.w[i] * b.e[i]
	}
	beamCache[beamKey{sc, e0}] = b
	return b
}

// transmission of the beam through mass thicknesses t (g/cm², by material).
func (b *beam) transmission(t *[nMat]float64) float64 {
	var idx [nMat]int
	n := 0
	for m, v := range t {
		if v > 0 {
			idx[n] = m
			n++
		}
	}
	if n == 0 {
		return 1
	}
	s := 0.0
	for k := 0; k < nBins; k++ {
		a := 0.0
		mu := &b.mu[k]
		for _, m := range idx[:n] {
			a += mu[m] * t[m]
		}
		if a < 60 {
			s += b.w[k] * math.Exp(-a)
		}
	}
	return s
}

// fineTransmission is the unbinned reference used by tests.
func fineTransmission(e0 float64, t map[Material]float64) float64 {
	const de = 0.005
	var s, tot float64
	for e := spectrumMinE + de/2; e < e0; e += de {
		w := Standard.signalWeight(e, e0)
		a := 0.0
		for m, v := range t {
			a += MassAttenuation(m, e) * v
		}
		s += w * math.Exp(-a)
		tot += w
	}
	return s / tot
}

// Transmission returns the noise-free transmission T of the simulated beam
// with end-point energy energyMeV through the given mass thicknesses (g/cm²)
// of each material, exactly as the renderer computes it.
func Transmission(energyMeV float64, gcm2 map[Material]float64) (float64, error) {
	return Standard.Transmission(energyMeV, gcm2)
}

// Transmission is the package's Transmission for this scanner model.
func (sc Scanner) Transmission(energyMeV float64, gcm2 map[Material]float64) (float64, error) {
	var t [nMat]float64
	for m, v := range gcm2 {
		i, ok := matIndex(m)
		if !ok {
			return 0, fmt.Errorf("xraysim: unknown material %q", m)
		}
		if v < 0 || math.IsNaN(v) {
			return 0, fmt.Errorf("xraysim: bad mass thickness %v for %s", v, m)
		}
		t[i] += v
	}
	return sc.beam(energyMeV).transmission(&t), nil
}

// EffectiveMu returns the effective mass attenuation coefficient (cm²/g) of
// the simulated beam with end-point energy energyMeV through 30 g/cm² of
// organic matter: −ln(T)/30. It is what Write puts in the sidecar's
// mu_cm2_g. Because the beam hardens, thicker or denser cargo attenuates
// less per g/cm² than this; StepWedge gives the full curve.
func EffectiveMu(energyMeV float64) float64 { return Standard.EffectiveMu(energyMeV) }

// EffectiveMu is the package's EffectiveMu for this scanner model.
func (sc Scanner) EffectiveMu(energyMeV float64) float64 {
	const ref = 30.0
	var t [nMat]float64
	t[0] = ref
	return -math.Log(sc.beam(energyMeV).transmission(&t)) / ref
}

// WedgeStep is one step of a step-wedge calibration: A = −ln T measured
// behind GCm2 g/cm² of the wedge material.
type WedgeStep struct {
	A, GCm2 float64
}

// StepWedge returns the attenuation → mass thickness calibration table of
// the simulated beam (end point energyMeV) for a wedge of material m, as a
// technician measures it in the field with a step wedge: steps+1 steps from
// 0 to maxGCm2 g/cm² inclusive, each step's A = −ln T averaged over many
// pixels (so noise-free; scatter-free because a wedge is measured with a
// narrow collimated beam). A rises monotonically with GCm2; the table is
// ordered by increasing GCm2. Typical wedges: steel 0..240 g/cm² (0..300 mm),
// organic 0..150 g/cm². Returns nil for an unknown material or steps < 1.
func StepWedge(energyMeV float64, m Material, maxGCm2 float64, steps int) []WedgeStep {
	return Standard.StepWedge(energyMeV, m, maxGCm2, steps)
}

// StepWedge is the package's StepWedge for this scanner model.
func (sc Scanner) StepWedge(energyMeV float64, m Material, maxGCm2 float64, steps int) []WedgeStep {
	i, ok := matIndex(m)
	if !ok || steps < 1 || !(maxGCm2 > 0) {
		return nil
	}
	b := sc.beam(energyMeV)
	out := make([]WedgeStep, 0, steps+1)
	for k := 0; k <= steps; k++ {
		g := maxGCm2 * float64(k) / float64(steps)
		var t [nMat]float64
		t[i] = g
		tr := b.transmission(&t)
		out = append(out, WedgeStep{A: -math.Log(tr), GCm2: g})
	}
	return out
}

// MeanEnergy returns the signal-weighted mean photon energy (MeV) of the
// simulated beam with the given end-point energy.
func MeanEnergy(energyMeV float64) float64 { return getBeam(energyMeV).meanE }
