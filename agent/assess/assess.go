package assess

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

// Case is everything known about one scan.
type Case struct {
	Sidecar  *scanin.Sidecar
	Analysis *vision.Analysis // nil when the image could not be analysed
	// AnalysisErr says why the image gave no containers, if it did not.
	AnalysisErr error
	// Declarations holds one entry per container number of the sidecar, in
	// order; nil where none was found.
	Declarations []*declaration.Declaration
	// Corrected holds, per container number, the number a misread one was
	// corrected to when joining its declaration ("" where not corrected).
	Corrected []string
	// PlateTareKg is the vehicle's tare learned from earlier weighings (0:
	// unknown); the sidecar's vehicle.tare_kg comes first, the lane's
	// default last.
	PlateTareKg float64
	// GrossKg is the lane's stable truck weight, nil when none was joined.
	GrossKg *float64
	// Weighbridge tells whether the lane has an indicator at all.
	Weighbridge bool
	// LaneTareKg is the lane's default vehicle tare.
	LaneTareKg float64
	// TimingsMS are timings of stages before assessment (decode, join).
	TimingsMS map[string]float64
}

// Assess produces one result per container of the scan.
func Assess(cfg *config.Config, c Case) []inspection.Result {
	sc := c.Sidecar
	n := max(1, len(sc.ContainerIDs))
	var boxes []vision.Container
	swapped := false
	if c.Analysis != nil {
		swapped = orderBoxes(c.Analysis.Containers, c.Declarations)
		boxes = c.Analysis.Containers
		n = max(n, len(boxes))
	}
	n = min(n, 2)
	tare := sc.Vehicle.TareKg
	if tare == 0 {
		tare = c.PlateTareKg
	}
	if tare == 0 {
		tare = c.LaneTareKg
	}
	shares := grossShares(c, cfg.Rules, boxes, n, tare)
	out := make([]inspection.Result, 0, n)
	for i := 0; i < n; i++ {
		r := inspection.Result{
			InspectionID: inspection.ID(cfg.Site, cfg.Gate, sc.ScanID, i),
			ScanID:       sc.ScanID, Lane: sc.Lane, Site: cfg.Site, Gate: cfg.Gate,
			ScannedAt: sc.ScannedAt, ContainerIDs: append([]string{}, sc.ContainerIDs...),
			TimingsMS: map[string]float64{}, InspectedAt: time.Now().UTC(),
			Findings: []inspection.Finding{},
		}
		if r.ContainerIDs == nil {
			r.ContainerIDs = []string{}
		}
		for k, v := range c.TimingsMS {
			r.TimingsMS[k] = v
		}
		if c.Analysis != nil {
			for k, v := range c.Analysis.TimingsMS {
				r.TimingsMS[k] = v
			}
			r.Findings = append(r.Findings, notes(c.Analysis.Quality)...)
		}
		var id string
		if i < len(sc.ContainerIDs) {
			id = sc.ContainerIDs[i]
			if n > 1 {
				r.Container = id
			}
		}
		var decl *declaration.Declaration
		if i < len(c.Declarations) {
			decl = c.Declarations[i]
		}
		var box *vision.Container
		if i < len(boxes) {
			box = &boxes[i]
		}
		a := assessor{cfg: cfg, r: &r}
		corrected := ""
		if i < len(c.Corrected) {
			corrected = c.Corrected[i]
		}
		a.container(id, corrected)
		if swapped {
			a.add(inspection.ImageQuality, inspection.Info,
				"the two boxes' X-ray masses fit their declarations only with the container numbers in the other order: %s taken as the box %s in the image",
				id, []string{"on the right", "on the left"}[i])
		}
		a.declared(decl, id)
		a.image(c, box, decl)
		a.weights(c, decl, box, shares[i], n)
		if box != nil && decl != nil {
			// The image against the declared goods' profiles.
			profileFindings(cfg, &r, box, decl, densityScale(cfg, box, r.Weights.NetKg, n))
		}
		a.verdict()
		out = append(out, r)
	}
	return out
}

type assessor struct {
	cfg *config.Config
	r   *inspection.Result
}

func (a *assessor) add(code string, sev inspection.Severity, format string, args ...any) *inspection.Finding {
	a.r.Findings = append(a.r.Findings, inspection.Finding{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...)})
	return &a.r.Findings[len(a.r.Findings)-1]
}

func (a *assessor) container(id, corrected string) {
	if id == "" {
		return
	}
	err := declaration.ValidContainerID(id)
	switch {
	case err == nil:
	case corrected != "":
		a.add(inspection.InvalidContainerID, inspection.Warning,
			"%v; joined to the declaration of %s, the only declared container one character away: check the number on the box", err, corrected)
	default:
		a.add(inspection.InvalidContainerID, inspection.Warning, "%v; no declared container is one character away: check the OCR read-out", err)
	}
}

func (a *assessor) declared(d *declaration.Declaration, id string) {
	if d == nil {
		what := "container " + id
		if id == "" {
			what = "this scan (no container number was read)"
		}
		a.add(inspection.NoDeclaration, inspection.Warning, "no customs declaration found for %s", what)
		return
	}
	a.r.DeclarationID = d.DeclarationID
	a.r.Weights.DeclaredKg = inspection.Ptr(d.ItemsKg())
	a.controlled(d)
}

// controlled applies the export rules for controlled goods: a required
// document missing is critical; a compliance report whose issuer is not
// on the accredited list is a warning naming issuer and report, for
// review (the list may be incomplete).
func (a *assessor) controlled(d *declaration.Declaration) {
	for _, it := range d.Items {
		g, ok := matchControlled(a.cfg.Controlled, it.HSCode)
		if !ok {
			continue
		}
		var missing, unlisted []string
		for _, need := range g.Documents {
			docs := documents(d.Documents, need)
			switch {
			case len(docs) == 0:
				missing = append(missing, need)
			case need == "compliance_report":
				if !slices.ContainsFunc(docs, func(doc declaration.Document) bool {
					_, ok := accreditedIssuer(doc.Issuer, a.cfg.Accredited)
					return ok
				}) {
					for _, doc := range docs {
						unlisted = append(unlisted, fmt.Sprintf("%s issued by %q", doc.Number, doc.Issuer))
					}
				}
			}
		}
		if len(missing) > 0 {
			a.add(inspection.ControlledUndocumented, inspection.Critical,
				"%s (HS %s, %s) is export-controlled and lacks %s", it.Description, it.HSCode, g.Name, strings.Join(missing, " and "))
		}
		if len(unlisted) > 0 {
			a.add(inspection.ControlledUndocumented, inspection.Warning,
				"%s (HS %s, %s) is export-controlled; its compliance report %s is from an issuer not on the accredited list: check the issuer (accredited_issuers may be incomplete)",
				it.Description, it.HSCode, g.Name, strings.Join(unlisted, ", "))
		}
		for _, x := range a.cfg.Watchlist {
			if x != "" && strings.EqualFold(strings.TrimSpace(d.Exporter), strings.TrimSpace(x)) {
				a.add(inspection.ControlledUndocumented, inspection.Critical,
					"exporter %q is on the watch list and may not export %s", d.Exporter, g.Name)
			}
		}
	}
}

func matchControlled(list []config.Controlled, hs string) (config.Controlled, bool) {
	best, bestLen := config.Controlled{}, 0
	for _, g := range list {
		p := strings.ReplaceAll(g.HSPrefix, ".", "")
		if strings.HasPrefix(hs, p) && len(p) > bestLen {
			best, bestLen = g, len(p)
		}
	}
	return best, bestLen > 0
}

// documents are the declared documents of a type that carry a number.
func documents(docs []declaration.Document, typ string) []declaration.Document {
	var out []declaration.Document
	for _, d := range docs {
		if d.Type == typ && strings.TrimSpace(d.Number) != "" {
			out = append(out, d)
		}
	}
	return out
}

// image raises the findings that come from the X-ray alone or from the
// X-ray against the declaration.
func (a *assessor) image(c Case, box *vision.Container, d *declaration.Declaration) {
	if box == nil {
		msg := "no container found in the image"
		if c.AnalysisErr != nil {
			msg = c.AnalysisErr.Error()
		}
		a.add(inspection.ImageQuality, inspection.Warning, "%s; X-ray checks skipped", msg)
		return
	}
	a.r.Weights.XrayKg = inspection.Ptr(math.Round(box.CargoKg))
	a.r.Findings = append(a.r.Findings, notes(box.Findings)...)
	if d == nil {
		return
	}
	declaredEmpty := len(d.Items) == 0
	switch {
	case declaredEmpty && !box.Empty:
		f := a.add(inspection.UndeclaredCargo, inspection.Critical,
			"declared empty, but the X-ray shows about %.0f kg of cargo over %.1f m²", box.CargoKg, box.CargoAreaM2)
		f.Measured, f.Expected = inspection.Ptr(math.Round(box.CargoKg)), &[2]float64{0, a.cfg.Detector.EmptyMaxKg}
		if reg := largest(box.Regions); reg != nil {
			f.Region = region(reg.M)
		}
	case !declaredEmpty && box.Empty:
		f := a.add(inspection.EmptyDeclaredLoaded, inspection.Critical,
			"declared %.0f kg of goods, but the container looks empty in the X-ray (%.0f kg)", d.ItemsKg(), box.CargoKg)
		f.Measured = inspection.Ptr(math.Round(box.CargoKg))
	}
}

// orderBoxes puts the two boxes of a chassis in the order of the
// declarations (the sidecar's container numbers) when their X-ray masses
// fit the declared masses clearly better that way round: a scanner may
// list the numbers front to rear or in image order, and the cab may lead
// or trail. Only boxes the beam crossed are weighed so, and only a
// clear fit (half the log error or less) reorders them. It reports
// whether it swapped them (in place).
func orderBoxes(boxes []vision.Container, ds []*declaration.Declaration) bool {
	if len(boxes) != 2 || len(ds) != 2 || ds[0] == nil || ds[1] == nil || boxes[0].LowerBound || boxes[1].LowerBound {
		return false
	}
	const slack = 200 // kg: light and empty boxes weigh a little either way
	miss := func(x, d float64) float64 { return math.Abs(math.Log((x + slack) / (d + slack))) }
	asIs := miss(boxes[0].CargoKg, ds[0].ItemsKg()) + miss(boxes[1].CargoKg, ds[1].ItemsKg())
	other := miss(boxes[1].CargoKg, ds[0].ItemsKg()) + miss(boxes[0].CargoKg, ds[1].ItemsKg())
	if other >= asIs-math.Ln2 {
		return false
	}
	boxes[0], boxes[1] = boxes[1], boxes[0]
	boxes[0].Index, boxes[1].Index = 0, 1
	return true
}

func largest(rs []vision.Region) *vision.Region {
	var best *vision.Region
	for i := range rs {
		if best == nil || rs[i].AreaM2 > best.AreaM2 {
			best = &rs[i]
		}
	}
	return best
}

// grossShares splits the payload weighed (gross minus vehicle tare) among
// two containers on one chassis. Each is first given its container tare
// and its declared goods; the difference between the pair's weight and
// the pair's declaration goes to the box whose X-ray mass departs from its
// declaration the same way, so that an honest box is not blamed for its
// neighbour. When the X-ray cannot tell (a load too dense to weigh by
// X-ray, or no departure), the difference is shared in proportion to the
// declared goods.
func grossShares(c Case, rules config.Rules, boxes []vision.Container, n int, vehicleTare float64) []float64 {
	s := make([]float64, n)
	if c.GrossKg == nil {
		return s
	}
	payload := *c.GrossKg - vehicleTare
	if n == 1 {
		s[0] = payload
		return s
	}
	tare, expect, xray := make([]float64, n), make([]float64, n), make([]float64, n)
	lowerBound := false
	var sum float64
	for i := range s {
		tare[i] = 2200
		if i < len(boxes) {
			xray[i] = boxes[i].CargoKg
			lowerBound = lowerBound || boxes[i].LowerBound
		}
		expect[i] = xray[i]
		if i < len(c.Declarations) && c.Declarations[i] != nil {
			tare[i] = c.Declarations[i].ContainerTareKg
			expect[i] = c.Declarations[i].ItemsKg()
		}
		sum += tare[i] + expect[i]
	}
	diff := payload - sum
	e := make([]float64, n)
	var esum float64
	for i := range e {
		if !lowerBound && i < len(boxes) {
			e[i] = math.Max(0, math.Copysign(1, diff)*(xray[i]-expect[i]))
		}
		esum += e[i]
	}
	if lowerBound && diff > 0 {
		// A box the beam did not get through cannot be weighed by X-ray:
		// an excess goes to a box the X-ray weighs only when that box
		// departs from its declaration by more than the weight tolerance,
		// else to the boxes the X-ray cannot weigh, so that a box whose
		// X-ray mass agrees with its declaration is not blamed for its
		// neighbour.
		for i := range e {
			if i < len(boxes) && !boxes[i].LowerBound {
				tol := math.Max(expect[i]*rules.WeightTolerancePct/100, rules.WeightToleranceKg)
				if dep := xray[i] - expect[i]; dep > tol {
					e[i] = dep
					esum += dep
				}
			}
		}
		if esum == 0 {
			for i := range e {
				if i < len(boxes) && boxes[i].LowerBound {
					e[i] = expect[i] + tare[i]
					esum += e[i]
				}
			}
		}
	}
	if esum == 0 {
		for i := range e {
			e[i] = expect[i] + tare[i]
			esum += e[i]
		}
	}
	for i := range s {
		s[i] = tare[i] + expect[i] + diff*e[i]/math.Max(esum, 1)
	}
	return s
}

// weights compares weighbridge, declaration and X-ray.
func (a *assessor) weights(c Case, d *declaration.Declaration, box *vision.Container, share float64, n int) {
	rules := a.cfg.Rules
	if c.GrossKg == nil {
		if c.Weighbridge {
			a.add(inspection.NoWeight, inspection.Warning, "no stable weighbridge weight on lane %s within %v of the scan", c.Sidecar.Lane, rules.JoinWindow)
		} else {
			a.add(inspection.NoWeight, inspection.Info, "lane %s has no weighbridge; weight checks skipped", c.Sidecar.Lane)
		}
		return
	}
	a.r.Weights.GrossKg = inspection.Ptr(*c.GrossKg)
	if d == nil {
		return
	}
	net := share - d.ContainerTareKg
	a.r.Weights.NetKg = inspection.Ptr(math.Round(net))
	split := ""
	if n > 1 {
		split = " (this container's share of the two-box gross: the pair's difference from its declarations goes to the box whose X-ray departs from its declaration)"
	}
	declared := d.ItemsKg()
	tol := math.Max(declared*rules.WeightTolerancePct/100, rules.WeightToleranceKg)
	if diff := net - declared; math.Abs(diff) > tol {
		sev := inspection.Warning
		// Far beyond the tolerance, or (a box weighed alone) off by a
		// good part of the declaration itself: no weighing or packing
		// variance explains that.
		if math.Abs(diff) > 3*tol || n == 1 && rules.WeightCriticalPct > 0 && math.Abs(diff) > declared*rules.WeightCriticalPct/100 {
			sev = inspection.Critical
		}
		f := a.add(inspection.WeightMismatch, sev, "weighbridge net %.0f kg%s differs from the declared %.0f kg by %+.0f kg (tolerance ±%.0f kg)",
			net, split, declared, diff, tol)
		f.Measured, f.Expected = inspection.Ptr(math.Round(net)), &[2]float64{math.Round(declared - tol), math.Round(declared + tol)}
	}
	if box != nil {
		xt := math.Max(math.Abs(net)*rules.XrayTolerancePct/100, rules.XrayToleranceKg)
		diff := box.CargoKg - net
		switch {
		case math.Abs(diff) <= xt:
		case diff < 0 && box.LowerBound:
			// The beam did not get through part of the cargo: the estimate
			// is a lower bound and cannot contradict a heavier weighing.
			a.add(inspection.ImageQuality, inspection.Info, "cargo too dense to penetrate over %.0f %% of its area: the X-ray mass (%.0f kg) is a lower bound, not compared with the weighbridge net (%.0f kg)",
				100*box.NoPenetration, box.CargoKg, net)
		default:
			sev := inspection.Warning
			if math.Abs(diff) > 3*xt {
				sev = inspection.Critical
			}
			f := a.add(inspection.XrayMassMismatch, sev, "X-ray estimates %.0f kg of cargo, the weighbridge net is %.0f kg (%+.0f kg, tolerance ±%.0f kg)",
				box.CargoKg, net, diff, xt)
			f.Measured, f.Expected = inspection.Ptr(math.Round(box.CargoKg)), &[2]float64{math.Round(net - xt), math.Round(net + xt)}
		}
	}
}

// verdict combines the findings' risks: 1 − Π(1 − r).
func (a *assessor) verdict() {
	sr := a.cfg.Rules.SeverityRisk
	risk := map[inspection.Severity]float64{inspection.Info: sr.Info, inspection.Warning: sr.Warning, inspection.Critical: sr.Critical}
	p := 1.0
	for i, f := range a.r.Findings {
		if sameEvidence(a.r.Findings[:i], f) {
			continue
		}
		p *= 1 - risk[f.Severity]
	}
	a.r.Risk = math.Round((1-p)*1000) / 1000
	switch {
	case a.r.Risk >= a.cfg.Rules.AlertRisk:
		a.r.Verdict = inspection.Alert
	case a.r.Risk >= a.cfg.Rules.ReviewRisk:
		a.r.Verdict = inspection.Review
	default:
		a.r.Verdict = inspection.Clear
	}
}

// sameEvidence reports whether finding f is about the same place in the
// image as an earlier finding at least as severe: the density, layer and
// controlled-goods findings on one region are one piece of evidence read
// three ways, and count once towards the risk.
func sameEvidence(earlier []inspection.Finding, f inspection.Finding) bool {
	if f.Region == nil {
		return false
	}
	for _, e := range earlier {
		if e.Region != nil && rank(e.Severity) >= rank(f.Severity) && overlapping(*e.Region, *f.Region) {
			return true
		}
	}
	return false
}

// overlapping reports whether two boxes share at least half of the
// smaller one.
func overlapping(a, b inspection.Region) bool {
	w := math.Min(a.XM+a.WM, b.XM+b.WM) - math.Max(a.XM, b.XM)
	h := math.Min(a.YM+a.HM, b.YM+b.HM) - math.Max(a.YM, b.YM)
	return w > 0 && h > 0 && w*h >= 0.5*math.Min(a.WM*a.HM, b.WM*b.HM)
}

// region is a detector's box as a finding's region.
func region(b vision.Box) *inspection.Region {
	r := inspection.Region(b)
	return &r
}

// notes are the detector's image-quality notes as IMAGE_QUALITY findings.
func notes(ns []vision.Note) []inspection.Finding {
	fs := make([]inspection.Finding, len(ns))
	for i, n := range ns {
		fs[i] = inspection.Finding{Code: inspection.ImageQuality, Severity: inspection.Severity(n.Severity),
			Message: n.Message, Measured: n.Measured, Expected: n.Expected}
	}
	return fs
}

// Caption is what the annotated image of r says: its verdict, numbers
// and the findings that have a region.
func Caption(r *inspection.Result) *vision.Caption {
	c := &vision.Caption{Verdict: r.Verdict, Risk: r.Risk, IDs: strings.Join(r.ContainerIDs, " "),
		DeclaredKg: r.Weights.DeclaredKg, NetKg: r.Weights.NetKg}
	if r.Container != "" {
		c.IDs = r.Container
	}
	for _, f := range r.Findings {
		if f.Severity != inspection.Info {
			c.Codes = append(c.Codes, f.Code)
		}
		if f.Region != nil {
			c.Marks = append(c.Marks, vision.Mark{Code: f.Code, Region: vision.Box(*f.Region)})
		}
	}
	return c
}
