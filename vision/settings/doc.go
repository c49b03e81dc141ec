// Package settings holds what the X-ray detector is told by the site: its
// physics calibration (step wedges, dual-energy material curves), its
// thresholds and the geometry of the containers it looks for, with the
// checks of each value. It is plain Go, so the config package can hold and
// check these settings without linking OpenCV; package vision uses them.
package settings
