// Package benchscan provides the scans the speed benchmarks measure
// (make bench): 40 ft container scans as scanners write them, from
// xraygen (the independent simulator, when it is installed beside the
// project) or else from drivers/xraysim, generated once into the system's
// temporary directory and reused by every benchmark binary of a run. Only
// tests and benchmarks import it.
package benchscan
