// Package eval measures the detector against the physics simulator: it
// renders scenarios into scan files, inspects them through the same path as
// the daemon, and compares verdicts, findings and masses with the truth.
package eval
