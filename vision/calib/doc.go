// Package calib fits a scanner's calibration from a step-wedge scan
// (interfaces.md §1a): the attenuation → organic-equivalent mass thickness
// curve of its beam, and for a dual-energy scanner the organic, aluminium
// and steel curves its material classes are told apart by.
//
// The scan is flat-fielded by the detector's own code (vision.Detector.
// Flatten), so the calibration sees attenuation exactly as inspections
// will. Each step is measured robustly: the median over its pixels, dead
// rows left out; a step the beam did not get through, or whose pixels
// scatter far more than the scan's own air noise allows (an edge or a
// fixture in its range), is named and left out. The curves are smooth
// monotone least-squares fits, tabulated in the config's form
// (settings.StepWedge, settings.DualEnergy).
package calib
