//go:build race

package testkit

// Race is true when the tests run under the race detector (go test
// -race), which makes Go code several times slower: a test that measures
// statistics over many simulated scans runs fewer of them then, enough to
// cover its code paths for the detector.
const Race = true
