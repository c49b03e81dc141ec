//go:build faulthooks

package agent

import (
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gatescan/gatescan/drivers/scanin"
)

// Built with -tags faulthooks (the fault tests only), the agent makes a
// scan whose id contains $GATESCAN_FAULT_SCAN poisonous as its inspection
// begins, the way $GATESCAN_FAULT says: "kill" (the kernel's OOM killer,
// or a crash inside OpenCV), "hang" (a decoder that never returns),
// "slow" (a large scan: 1.5 s) or "panic"; "kill-committed" kills it
// once the scan's results are committed, before its annotated images.
func init() {
	scan, how := os.Getenv("GATESCAN_FAULT_SCAN"), os.Getenv("GATESCAN_FAULT")
	if scan == "" {
		return
	}
	if how == "kill-committed" {
		committedHook = func(s *scanin.Scan) {
			if strings.Contains(s.Sidecar.ScanID, scan) {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
		return
	}
	inspectHook = func(s *scanin.Scan) {
		if !strings.Contains(s.Sidecar.ScanID, scan) {
			return
		}
		switch how {
		case "kill":
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		case "hang":
			select {}
		case "slow":
			time.Sleep(1500 * time.Millisecond)
		default:
			panic("poisonous scan " + s.Sidecar.ScanID)
		}
	}
}
