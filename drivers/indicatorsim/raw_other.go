//go:build unix && !linux

package indicatorsim

import "os"

// makeRaw does nothing here: the serial driver that opens the slave sets
// raw mode itself.
func makeRaw(*os.File) error { return nil }
