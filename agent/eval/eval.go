package eval

import (
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"math/rand"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/agent/assess"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/drivers/xraysim"
	"github.com/gatescan/gatescan/vision"
)

// Options says how scans are made.
type Options struct {
	// Dir, when set, receives the scan files, which are then loaded back
	// through scanin as the daemon loads them; otherwise the images go to
	// the detector straight from memory (faster, same pixels).
	Dir string
	// MinPixelMM renders no finer than this many millimetres per pixel, to
	// make test scans small; 0 keeps the scenario's own pixel size.
	MinPixelMM float64
	// Scanner names the simulator's scanner model (xraysim.ScannerNames)
	// the scans are made with; "" is the standard one.
	Scanner string
	// Worn renders with a worn portal's artefacts (xraysim.Worn).
	Worn bool
}

// Outcome is one simulated scan inspected.
type Outcome struct {
	Scenario string
	Seed     int64
	// Case names a case read from a directory (RunCase).
	Case     string
	Truth    xraysim.Truth
	Declared []xraysim.Declared
	Results  []inspection.Result
	Analysis *vision.Analysis
	// Target marks, per container, the one the scenario is about: it hides
	// or misdeclares goods, so an alert is the right verdict; the others
	// are honest (or empty) and should not be alerted.
	Target []bool
	// MassErr is the X-ray estimate's relative error per container with
	// cargo the beam got through, (estimate − truth) / truth; AbsErrKg the
	// same in kg. LowerBounds counts containers left out because the
	// estimate is only a lower bound.
	MassErr     []float64
	AbsErrKg    []float64
	LowerBounds int
	Elapsed     time.Duration
}

// Concealment reports whether a scenario hides or misdeclares goods, so
// that an alert is the right verdict.
func Concealment(scenario string) bool {
	return !strings.HasPrefix(scenario, "honest-") && scenario != "empty"
}

// Documents are attached to every simulated declaration: the simulator's
// declarations carry none, and without them every honest load of
// export-controlled goods would be alerted for the missing papers rather
// than for what the X-ray shows.
var Documents = []declaration.Document{
	{Type: "medical_device_registration", Number: "MDR-2020-0417", Issuer: "CCIC"},
	{Type: "compliance_report", Number: "SGS-CR-88121", Issuer: "SGS"},
}

// Run renders one scenario into dir and inspects it with the weighbridge
// gross of the truth (honest weighing).
func Run(cfg *config.Config, det *vision.Detector, scenario string, seed int64, dir string) (*Outcome, error) {
	return RunWith(cfg, det, scenario, seed, Options{Dir: dir})
}

// RunWith renders one scenario and inspects it through the same path as
// the daemon, with the weighbridge gross of the truth.
func RunWith(cfg *config.Config, det *vision.Detector, scenario string, seed int64, o Options) (*Outcome, error) {
	scene, decls, err := xraysim.Scenario(scenario, rand.New(rand.NewSource(seed)))
	if err != nil {
		return nil, err
	}
	scene.Scanner = o.Scanner
	if o.Worn {
		xraysim.Worn(&scene, rand.New(rand.NewSource(seed^0x5eed)))
	}
	scene.PixelMM.X = math.Max(scene.PixelMM.X, o.MinPixelMM)
	scene.PixelMM.Y = math.Max(scene.PixelMM.Y, o.MinPixelMM)
	name := fmt.Sprintf("%s-%d", scenario, seed)
	ds, err := parseDeclared(name, decls)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Scenario: scenario, Seed: seed, Declared: decls}
	var truth xraysim.Truth
	var results []inspection.Result
	c := assess.Case{Weighbridge: true, LaneTareKg: scene.VehicleTareKg}
	if o.Dir != "" {
		truth, results, err = inspectWritten(cfg, det, o.Dir, name, scene, ds, &c, out)
	} else {
		truth, results, err = inspectRendered(cfg, det, name, scene, ds, &c, out)
	}
	if err != nil {
		return nil, err
	}
	out.Truth, out.Results, out.Analysis = truth, results, c.Analysis
	out.score(scenario, decls, truth, c.Analysis)
	return out, nil
}

// parseDeclared turns the simulator's declarations into parsed ones, through
// the JSON the daemon reads, each with the evaluation's documents.
func parseDeclared(name string, decls []xraysim.Declared) ([]*declaration.Declaration, error) {
	var ds []*declaration.Declaration
	for i, d := range decls {
		b, err := d.JSON(fmt.Sprintf("DECL-%s-%d", name, i))
		if err != nil {
			return nil, err
		}
		pd, err := declaration.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("simulated declaration invalid: %w", err)
		}
		pd.Documents = append([]declaration.Document(nil), Documents...)
		ds = append(ds, pd)
	}
	return ds, nil
}

// ordered returns the declarations in t's container order. The scene lists
// containers front to rear; the sidecar, as the scanner sees them, in image
// order: join by container number, as the daemon does.
func ordered(ds []*declaration.Declaration, t xraysim.Truth) []*declaration.Declaration {
	var out []*declaration.Declaration
	for _, ct := range t.Containers {
		for _, d := range ds {
			if d.ContainerID == ct.ID {
				out = append(out, d)
			}
		}
	}
	return out
}

// inspectWritten writes the scene's files into dir and inspects them as
// loaded back from disk, timing the inspection into out.Elapsed.
func inspectWritten(cfg *config.Config, det *vision.Detector, dir, name string, scene xraysim.Scene, ds []*declaration.Declaration, c *assess.Case, out *Outcome) (xraysim.Truth, []inspection.Result, error) {
	truth, err := xraysim.Write(dir, name, scene, xraysim.SidecarMeta{ScanID: name, Lane: "L1", ScannedAt: time.Now()})
	if err != nil {
		return truth, nil, err
	}
	scan, err := scanin.Load(filepath.Join(dir, name+".json"), scanin.Limits{MaxWidth: 20000, MaxHeight: 4096})
	if err != nil {
		return truth, nil, err
	}
	defer scan.Close()
	c.Declarations = ordered(ds, truth)
	gross := truth.GrossKg
	c.GrossKg = &gross
	t0 := time.Now()
	results := assess.Inspect(cfg, det, scan, c)
	out.Elapsed = time.Since(t0)
	return truth, results, nil
}

// inspectRendered renders the scene in memory and inspects its images,
// timing the inspection into out.Elapsed.
func inspectRendered(cfg *config.Config, det *vision.Detector, name string, scene xraysim.Scene, ds []*declaration.Declaration, c *assess.Case, out *Outcome) (xraysim.Truth, []inspection.Result, error) {
	high, low, truth, err := xraysim.Render(scene)
	if err != nil {
		return truth, nil, err
	}
	c.Declarations = ordered(ds, truth)
	sc := sidecar(name, scene, truth, low != nil)
	hm, err := mat16(high)
	if err != nil {
		return truth, nil, err
	}
	defer hm.Close()
	lm := gocv.NewMat()
	if low != nil {
		lm.Close()
		if lm, err = mat16(low); err != nil {
			return truth, nil, err
		}
	}
	defer lm.Close()
	gross := truth.GrossKg
	c.GrossKg = &gross
	t0 := time.Now()
	results := assess.InspectImages(cfg, det, sc, hm, lm, low != nil, c)
	out.Elapsed = time.Since(t0)
	return truth, results, nil
}

// score marks which of truth's containers are targets of a concealment
// scenario (a hidden region or a misdeclared weight) and adds their X-ray
// mass errors.
func (out *Outcome) score(scenario string, decls []xraysim.Declared, truth xraysim.Truth, a *vision.Analysis) {
	for i, ct := range truth.Containers {
		hidden := false
		for _, r := range ct.Regions {
			hidden = hidden || r.Hidden
		}
		declared := 0.0
		for _, d := range decls {
			if d.ContainerID == ct.ID {
				declared = d.ItemsKg()
			}
		}
		misdeclared := math.Abs(declared-ct.CargoKg) > math.Max(0.1*ct.CargoKg, 500)
		out.Target = append(out.Target, Concealment(scenario) && (hidden || misdeclared))
		out.mass(a, i, ct.CargoKg)
	}
}

// mass adds container i's X-ray mass error against the truth's kg: loads
// under 500 kg are left out, and those the beam did not cross counted as
// lower bounds.
func (out *Outcome) mass(a *vision.Analysis, i int, truthKg float64) {
	if a == nil || i >= len(a.Containers) || truthKg < 500 {
		return
	}
	box := a.Containers[i]
	if box.LowerBound {
		out.LowerBounds++
		return
	}
	out.MassErr = append(out.MassErr, (box.CargoKg-truthKg)/truthKg)
	out.AbsErrKg = append(out.AbsErrKg, box.CargoKg-truthKg)
}

// sidecar is what xraysim.Write would put in the scan's sidecar.
func sidecar(name string, s xraysim.Scene, t xraysim.Truth, dual bool) *scanin.Sidecar {
	sc := &scanin.Sidecar{ScanID: name, Lane: "L1", ScannedAt: time.Now().UTC()}
	for _, c := range t.Containers {
		if c.ID != "" {
			sc.ContainerIDs = append(sc.ContainerIDs, c.ID)
		}
	}
	sc.PixelMM.X, sc.PixelMM.Y = s.PixelMM.X, s.PixelMM.Y
	sc.Air, sc.Dark = s.Air, s.Dark
	hi, lo := s.EnergyHighMeV, s.EnergyLowMeV
	if hi == 0 {
		hi = 6
	}
	if lo == 0 {
		lo = 4
	}
	sc.EnergyMeV.High = hi
	if dual {
		sc.EnergyMeV.Low = lo
	}
	model, _ := xraysim.ScannerByName(s.Scanner)
	sc.MuCm2G = math.Round(model.EffectiveMu(hi)*1e5) / 1e5
	return sc
}

// mat16 copies a 16-bit grey image (big-endian samples) into a CV_16UC1
// Mat.
func mat16(img *image.Gray16) (gocv.Mat, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	buf := make([]byte, 2*w*h)
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+2*w]
		for x := 0; x < w; x++ {
			binary.NativeEndian.PutUint16(buf[2*(y*w+x):], binary.BigEndian.Uint16(row[2*x:]))
		}
	}
	return gocv.NewMatFromBytes(h, w, gocv.MatTypeCV16UC1, buf)
}

// Job is one scan of an evaluation.
type Job struct {
	Scenario string
	Seed     int64
}

// Jobs spreads n scans over the scenarios, seeds counting up from seed.
func Jobs(scenarios []string, n int, seed int64) []Job {
	var js []Job
	for i := 0; i < n; i++ {
		js = append(js, Job{scenarios[i%len(scenarios)], seed + int64(i/len(scenarios))})
	}
	return js
}

// Evaluate runs the jobs on workers goroutines (GOMAXPROCS when 0), each
// with its own Detector, and returns the outcomes in job order. progress,
// if not nil, is called after each scan.
func Evaluate(cfg *config.Config, jobs []Job, o Options, workers int, progress func(*Outcome, error)) ([]*Outcome, []error) {
	return evaluate(cfg, len(jobs), workers, progress, func(det *vision.Detector, i int) (*Outcome, error) {
		out, err := RunWith(cfg, det, jobs[i].Scenario, jobs[i].Seed, o)
		if err != nil {
			err = fmt.Errorf("%s seed %d: %w", jobs[i].Scenario, jobs[i].Seed, err)
		}
		return out, err
	})
}

// evaluate runs n scans, run(det, i) making and inspecting scan i, on
// workers goroutines each with its own Detector.
func evaluate(cfg *config.Config, n, workers int, progress func(*Outcome, error), run func(*vision.Detector, int) (*Outcome, error)) ([]*Outcome, []error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	outs := make([]*Outcome, n)
	errs := make([]error, n)
	next := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			det := vision.New(cfg.Detector, cfg.Containers)
			defer det.Close()
			for i := range next {
				o, err := run(det, i)
				outs[i], errs[i] = o, err
				if progress != nil {
					mu.Lock()
					progress(o, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return outs, errs
}

// Alerted reports whether any container of the outcome was alerted.
func (o *Outcome) Alerted() bool {
	for _, r := range o.Results {
		if r.Verdict == inspection.Alert {
			return true
		}
	}
	return false
}

// Summary aggregates outcomes per scenario.
type Summary struct {
	Scenario string
	N        int // scans
	// Targets counts the containers the scenario hides or misdeclares
	// goods in, Detected those of them alerted.
	Targets, Detected int
	// Honest counts the other containers, FalseAlarms those alerted and
	// Reviews those sent to review.
	Honest, FalseAlarms, Reviews int
	MeanAbsErr                   float64 // mean |relative mass error| over penetrated loads
	MaxAbsErr                    float64
	Masses                       int // loads in the mass error
	LowerBounds                  int // loads too dense to weigh by X-ray
	Codes                        map[string]int
	MeanElapsedMS                float64
}

// Summarize groups outcomes by scenario; nil outcomes are skipped.
func Summarize(os []*Outcome) []Summary {
	by := map[string]*Summary{}
	errs := map[string][]float64{}
	for _, o := range os {
		if o == nil {
			continue
		}
		s := by[o.Scenario]
		if s == nil {
			s = &Summary{Scenario: o.Scenario, Codes: map[string]int{}}
			by[o.Scenario] = s
		}
		s.N++
		s.MeanElapsedMS += float64(o.Elapsed.Microseconds()) / 1000
		s.LowerBounds += o.LowerBounds
		for i, r := range o.Results {
			target := i < len(o.Target) && o.Target[i]
			switch {
			case target:
				s.Targets++
				if r.Verdict == inspection.Alert {
					s.Detected++
				}
			default:
				s.Honest++
				switch r.Verdict {
				case inspection.Alert:
					s.FalseAlarms++
				case inspection.Review:
					s.Reviews++
				}
			}
			seen := map[string]bool{}
			for _, f := range r.Findings {
				if !seen[f.Code] {
					s.Codes[f.Code]++
					seen[f.Code] = true
				}
			}
		}
		errs[o.Scenario] = append(errs[o.Scenario], o.MassErr...)
	}
	var out []Summary
	for k, s := range by {
		s.MeanElapsedMS /= float64(s.N)
		for _, e := range errs[k] {
			s.MeanAbsErr += math.Abs(e)
			s.MaxAbsErr = math.Max(s.MaxAbsErr, math.Abs(e))
		}
		s.Masses = len(errs[k])
		if s.Masses > 0 {
			s.MeanAbsErr /= float64(s.Masses)
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out
}

// Format renders summaries as a table for people, with a total line.
func Format(ss []Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %4s %9s %9s %7s %9s %9s %4s %7s  %s\n", "scenario", "scans", "detected", "false-al", "review", "mass|err|", "max|err|", "lb", "ms", "containers with finding")
	var t Summary
	var errSum float64
	for _, s := range ss {
		var codes []string
		for c, n := range s.Codes {
			codes = append(codes, fmt.Sprintf("%s %d", short(c), n))
		}
		sort.Strings(codes)
		fmt.Fprintf(&b, "%-20s %4d %9s %9s %7s %9s %9s %4d %7.0f  %s\n", s.Scenario, s.N,
			frac(s.Detected, s.Targets), frac(s.FalseAlarms, s.Honest), frac(s.Reviews, s.Honest),
			pct(s.MeanAbsErr, s.Masses), pct(s.MaxAbsErr, s.Masses), s.LowerBounds, s.MeanElapsedMS, strings.Join(codes, ", "))
		t.N += s.N
		t.Targets += s.Targets
		t.Detected += s.Detected
		t.Honest += s.Honest
		t.FalseAlarms += s.FalseAlarms
		t.Reviews += s.Reviews
		t.LowerBounds += s.LowerBounds
		t.Masses += s.Masses
		errSum += s.MeanAbsErr * float64(s.Masses)
		t.MaxAbsErr = math.Max(t.MaxAbsErr, s.MaxAbsErr)
		t.MeanElapsedMS += s.MeanElapsedMS * float64(s.N)
	}
	if t.Masses > 0 {
		t.MeanAbsErr = errSum / float64(t.Masses)
	}
	if t.N > 0 {
		t.MeanElapsedMS /= float64(t.N)
	}
	fmt.Fprintf(&b, "%-20s %4d %9s %9s %7s %9s %9s %4d %7.0f\n", "TOTAL", t.N, frac(t.Detected, t.Targets), frac(t.FalseAlarms, t.Honest),
		frac(t.Reviews, t.Honest), pct(t.MeanAbsErr, t.Masses), pct(t.MaxAbsErr, t.Masses), t.LowerBounds, t.MeanElapsedMS)
	b.WriteString("detected: concealment containers alerted / all; false-al: honest or empty containers alerted / all; review: honest sent to review;\n" +
		"mass|err|: X-ray mass vs truth over loads the beam crossed; lb: loads too dense to weigh (lower bound); ms: detector + assessment per scan\n")
	return b.String()
}

func frac(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", a, b)
}

func pct(v float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

// shortCodes abbreviates the finding codes too long for the table.
var shortCodes = map[string]string{
	inspection.ControlledUndocumented: "CONTROLLED",
	inspection.XrayMassMismatch:       "XRAY_MASS",
}

// short abbreviates a finding code for the table.
func short(code string) string {
	if s, ok := shortCodes[code]; ok {
		return s
	}
	return code
}
