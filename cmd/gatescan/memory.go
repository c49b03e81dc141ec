package main

/*
#include <malloc.h>
*/
import "C"

import (
	"os"
	"runtime/debug"
)

// tuneMalloc sets glibc's allocator, which holds OpenCV's image buffers,
// for the daemon (run, demo): a long-running process on a small box. By default glibc raises its
// mmap threshold to the size of any large block once it is freed, so a
// scan's planes (megabytes each) land in the arenas afterwards and stay
// resident between scans; a fixed 1 MB threshold gives every image-sized
// block back to the system when it is freed. Two arenas are enough for
// the one thread at a time that runs the detector (eval, which runs one
// detector per CPU, keeps glibc's defaults).
func tuneMalloc() {
	C.mallopt(C.M_MMAP_THRESHOLD, 1<<20)
	C.mallopt(C.M_ARENA_MAX, 2)
}

// daemonGoMemory is the daemon's soft limit on Go memory (heap, stacks,
// runtime), unless GOMEMLIMIT says otherwise. The buffer's bursts of
// compaction would otherwise let the heap settle at twice its live size
// (GOGC) and keep it; with the limit the collector and the scavenger hand
// it back. The live heap is a fraction of this (about 20 MB under a burst
// of 600 scans with the broker away); being over it only makes the
// collector work harder, it is no hard cap.
const daemonGoMemory = 32 << 20

// limitGoMemory applies daemonGoMemory when GOMEMLIMIT is not set.
func limitGoMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(daemonGoMemory)
	}
}
