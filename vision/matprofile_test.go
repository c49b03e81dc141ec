//go:build matprofile

package vision_test

import (
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/vision"
)

// TestMatProfile proves that the detector closes every Mat it makes:
// analyses of single- and dual-energy scans, two containers, an empty one,
// a refused input, and the annotated images leave gocv's profile where it
// was. Run with -tags matprofile.
func TestMatProfile(t *testing.T) {
	before := gocv.MatProfile.Count()
	func() {
		det := defaultDetector()
		defer det.Close()
		for _, sc := range []struct {
			name string
			seed int64
		}{{"masks-under-wire", 2}, {"honest-test-kits", 1}, {"dense-in-light", 5}, {"empty", 3}} {
			in, _ := render(t, sc.name, sc.seed, 7)
			a, err := det.Analyze(in)
			if err != nil {
				t.Fatalf("%s: %v", sc.name, err)
			}
			for i := range a.Containers {
				r := &vision.Caption{Verdict: "review", IDs: "MSKU1234565"}
				if _, err := det.Annotate(a, i, r, 800, 50000); err != nil {
					t.Fatalf("%s: annotate: %v", sc.name, err)
				}
			}
			in.High.Close()
			in.Low.Close()
		}
		bad := gocv.NewMat()
		defer bad.Close()
		if _, err := det.Analyze(vision.Input{High: bad}); err == nil {
			t.Fatal("an empty image was analysed")
		}
	}()
	if after := gocv.MatProfile.Count(); after != before {
		var b strings.Builder
		gocv.MatProfile.WriteTo(&b, 1)
		t.Errorf("%d Mats before, %d after; where the others were made:\n%s", before, after, b.String())
	}
}
