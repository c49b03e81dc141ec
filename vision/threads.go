package vision

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: -O2 --std=c++11
void vision_cv_threads(int n);
*/
import "C"

import "sync"

var oneThread sync.Once

// singleThreaded keeps OpenCV's calls on the calling thread. The
// detector's OpenCV work is on cell grids of a few thousand cells, where
// handing a call to worker threads costs more than it saves, and the
// workers spin on their cores while they wait for the next call: CPU the
// other lanes' scans and the agent need. Scans are analysed in parallel,
// one detector a goroutine, where there are cores to spare.
func singleThreaded() { oneThread.Do(func() { C.vision_cv_threads(1) }) }
