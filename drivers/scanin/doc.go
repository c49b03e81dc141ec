// Package scanin ingests X-ray scans from the scanner's inbox
// (interfaces.md §1): it parses and checks the sidecar, checks image
// dimensions from the file header before any pixel is decoded, decodes the
// 16-bit images (in Go, streaming into the Mat, for 16-bit grey PNG and
// uncompressed TIFF; through OpenCV for other layouts), and moves what is not a valid scan to inbox/rejected with a
// .error text beside it.
package scanin
