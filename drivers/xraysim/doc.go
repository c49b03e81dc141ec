// Package xraysim simulates drive-through cargo X-ray scans: a truck with
// one 20/40 ft container (or two 20 ft boxes on one chassis) passing a linac
// portal, rendered as the 16-bit images and sidecar of interfaces.md §1, with
// exact ground truth. It is used by the detector's tests, the evaluation
// command and the demo. It deliberately shares no constants with the
// detector: every structural, beam and artefact parameter is a field that
// the scenarios randomise.
//
// # Geometry
//
// Image column = position along the vehicle's travel (PixelMM.X mm per
// column), row 0 = the highest detector element, PixelMM.Y mm per row at the
// vehicle's centre plane; rows = round(HeightM / pixel_mm.y), the bottom row
// at ground level. The beam crosses the vehicle horizontally (parallel beam),
// or from a point source when Scene.Fan is set, which magnifies what is
// nearer the source and smears horizontal structures (roof, floor) over a
// band of rows. Cargo is given in container coordinates: Box and Coil X from
// the front (end-wall) inner face, Y above the floor boards, Depth along the
// beam. Containers have their doors at the rear; with CabFirst the cab is on
// the left of the image and every container's front is on its left.
//
// Each pixel is the exact area average of the transmission over the pixel
// (pixels are split at every edge inside them; curved edges are sampled
// three times per sub-column), so bands thinner than a pixel — the roof seen
// edge-on, floor boards, corrugation, cross-members — come out with the right
// partial values.
//
// # Physics
//
// Beer–Lambert with a polychromatic beam: for each ray the mass thickness
// t_m (g/cm²) of each material is accumulated and
//
//	T = Σ_b w_b · exp(−Σ_m μ_{m,b} · t_m)
//
// over 8 energy bins. The bins are equal-signal quantiles of a bremsstrahlung
// model spectrum (Kramers thick-target shape, 3 g/cm² lead-equivalent
// filtration, energy-integrating detector of 20 g/cm² lead-equivalent,
// photons above 0.5 MeV) for the end-point energy (6 MeV high, 4 MeV low by
// default), and μ_{m,b} is the signal-weighted mean over the bin. The binned
// transmission agrees with the fine spectrum to within 2 % in −ln T up to
// 300 g/cm². Mass attenuation coefficients come from NIST SRD 126 (Hubbell &
// Seltzer, NISTIR 5632; elements H, C, O, Na, Mg, Al, Si, Ca, Fe, Pb,
// 0.5–10 MeV), combined by the mixture rule as in XCOM, with the compositions
// documented on the Material constants. EffectiveMu gives −ln T / 30 through
// 30 g/cm² of organic matter (≈0.049 cm²/g at 6 MeV, 0.057 at 4 MeV);
// StepWedge gives the full attenuation → mass-thickness calibration.
//
// Structures: corrugated side walls (flats SideWallGCm2 each, webs +13 %),
// top side rails, the roof band seen edge-on (RoofGCm2 along the beam over
// RoofBandM, near-opaque), plywood floor on C-section cross-members with the
// smeared under-floor steel (FloorGCm2, near-opaque band of 0.15 m), end
// wall and doors seen edge-on (two opaque lines of flats, webs between,
// locking bars), corner posts, headers, sills and corner castings; the
// tractor's cab (sheet steel, windows, seats, dashboard, bunk), engine and
// gearbox, frame rails, fuel tank, battery box (lead), fifth wheel, wheels
// (tyres, rims, hubs, axle beams, springs) and the trailer chassis (main
// beams with gooseneck, bolsters, cross-members, landing gear, axles).
//
// Detector: value = dark + (air−dark)·gain_row·pulse_col·drift_col·T' plus
// Gaussian-approximated Poisson noise of Photons·T' quanta and read noise,
// clamped to [0, 65535]. T' = T + Scatter·blur(T)·blur(1−T) adds scatter
// where the beam is attenuated. Pulse jitter is per column (visible in the
// air rows), gain drift is linear along the scan, dead rows are stuck at dark
// or at a constant. The noise is seeded by Scene.Seed: the same scene always
// renders the same pixels. Render is safe for concurrent use.
//
// # Scanner models and wedge scans
//
// Scene.Scanner names the scanner model whose spectrum a scan is rendered
// with (ScannerNames): Standard, the spectrum above, or SoftLinac, tuned
// to 80 % of its stated end-point energy with lighter filtration and
// thinner crystals, 11-12 % more attenuation per g/cm² of organic goods.
// RenderWedge and WriteWedge render a step-wedge calibration scan
// (interfaces.md §1a) with any scene's scanner, beam and detector:
// blocks side by side on a steel fixture, with NAME.wedge.json giving each
// block's material, areal density and pixel ranges, and the noise-free
// attenuation of each step.
//
// # Scenarios
//
// Scenario(name, rng) returns a randomised Scene and the declarations of its
// containers (Declared, which JSON renders as interfaces.md §2); see
// ScenarioNames. Write renders a scene into a scan inbox as NAME.png,
// NAME.low.png and the sidecar NAME.json, written last via temp + rename.
//
// A 40 ft dual-energy scan at 5 mm (3509×920 px) takes about 0.2 s of CPU
// with the parallel beam, about 0.6 s with the fan beam.
package xraysim
