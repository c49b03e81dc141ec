// Package vision is gatescan's X-ray detector: the hot path every truck goes
// through.
//
// Physics first. Each row is flat-fielded from the lead-in air columns, each
// column from the air rows above the vehicle; dead and stuck rows are
// filled from their neighbours; transmission is clamped at the noise floor
// and pixels the beam did not really cross are marked. Attenuation
// A = -ln T becomes mass thickness (g/cm²) through a step-wedge
// calibration for the beam's energy, or the effective mass attenuation
// coefficient of the sidecar or the config.
//
// The container is found from its own structure: the roof line along more
// than 5.4 m, the side walls below it (two 20 ft boxes are two spans), the
// floor (a thin band dense all along the box) and the underside of the roof.
// Per row, the side walls and the smear of roof and floor are taken out
// using the columns that hold no cargo; the end walls' corrugations and the
// roof bows and floor cross-members are taken out too. The cargo's X-ray
// mass is the rest, integrated; where the beam did not get through it is a
// lower bound.
//
// The cargo is then averaged into cells of about 4 cm and segmented into
// regions of homogeneous apparent density (mass thickness over the inner
// width): a morphological gradient of log density marks the edges,
// connected components with stats are the pieces between them, and pieces
// that touch and have similar densities are merged. Each region gets its
// area and position in metres from the container's corner, density
// percentiles and homogeneity, how much of it is opaque, and a shape: coils
// found with Hough circles and checked against their surroundings, the
// rhythm of the stacks it was merged from, its rectangularity. Light bands
// under denser goods are Layers. With a low-energy image and a dual-energy
// calibration for the beam energies, each region gets a material class from
// the ratio of its low- and high-energy attenuations.
//
// The comparison with the declared goods is agent/assess's: this package
// measures. Nothing here depends on a particular scanner: image size, where
// the vehicle sits, noise and gain come from the image itself, the sidecar
// or the config. The work is done on whole gocv Mats and reused buffers,
// with no allocation per pixel; a Detector holds those buffers, so use one
// Detector per goroutine and Close it.
//
// Memory is what an edge box has little of, so the only images of the
// scan's size are its attenuation planes, one per energy, in 16-bit fixed
// point, written row by row from the raw image, in place of it when the
// caller hands the image over (Input.Release); everything else is one
// container's worth or the cell grid.
package vision
