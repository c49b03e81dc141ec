package main

/*
#include <malloc.h>
*/
import "C"

// tuneMalloc sets glibc's allocator, which holds OpenCV's image buffers,
// for a long-running daemon on a small box. By default glibc raises its
// mmap threshold to the size of any large block once it is freed, so a
// scan's planes (tens of MB) land in the arenas afterwards and stay
// resident between scans; a fixed 1 MB threshold gives every image-sized
// block back to the system when it is freed. Two arenas are enough for
// the one thread at a time that runs the detector.
func tuneMalloc() {
	C.mallopt(C.M_MMAP_THRESHOLD, 1<<20)
	C.mallopt(C.M_ARENA_MAX, 2)
}
