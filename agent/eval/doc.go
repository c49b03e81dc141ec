// Package eval measures the detector against the physics simulator: it
// renders scenarios into scans (in memory, or as files read back through
// scanin as the daemon reads them), inspects them through the same path as
// the daemon with the truth's weighbridge gross and the export documents in
// order, and compares verdicts, findings and masses with the truth.
// `gatescan eval` prints its table.
package eval
