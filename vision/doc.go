// Package vision is gatescan's X-ray detector: the hot path every truck goes
// through.
//
// Physics first. Each row is flat-fielded from the lead-in air columns, each
// column from the air rows above the vehicle; transmission becomes
// attenuation A = -ln T and, through the effective mass attenuation
// coefficient (or a step-wedge calibration), mass thickness in g/cm². The
// container is found from its own structure — roof, floor and end walls are
// thin near-opaque lines seen edge-on — its side walls are subtracted, and the
// cargo's mass and apparent density follow. Regions of the cargo are then
// compared with what the declared goods look like.
//
// Nothing here depends on a particular scanner: image size, where the
// vehicle sits, noise and gain come from the image itself, the sidecar or the
// config. The work is done on whole gocv Mats and reused buffers; a Detector
// holds those buffers, so use one Detector per goroutine.
package vision
