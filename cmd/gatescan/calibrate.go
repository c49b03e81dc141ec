package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
	"github.com/gatescan/gatescan/vision/calib"
	"github.com/gatescan/gatescan/vision/settings"
)

// cmdCalibrate fits the detector's calibration from a step-wedge scan
// (interfaces.md §1a) and prints it as the config takes it, after a table
// of the steps; with --write it puts it into a config file instead,
// keeping that file's comments and other keys.
func cmdCalibrate(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	write := fs.String("write", "", "put the calibration into this config file (comments and other keys kept)")
	cfgPath := fs.String("config", "", "config whose calibration tables the new ones join (default: --write's file, else the built-in defaults)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInput("calibrate: give exactly one SIDECAR.json of a wedge scan")
	}
	base := *cfgPath
	if base == "" {
		base = *write
	}
	cfg, err := loadConfig(base)
	if err != nil {
		return err
	}
	c, sc, err := calibrateScan(cfg, pos[0])
	if err != nil {
		return badInput("calibrate %s: %v", pos[0], err)
	}
	d := mergeCalibration(cfg.Detector, c)
	var out bytes.Buffer
	writeCalibrationTable(&out, c, sc, pos[0])
	if *write == "" {
		y, err := calibrationYAML(d, c.Dual != nil)
		if err != nil {
			return err
		}
		out.Write(y)
		_, err = stdout.Write(out.Bytes())
		return err
	}
	if err := writeCalibration(*write, d, c.Dual != nil); err != nil {
		return err
	}
	fmt.Fprintf(&out, "# written into %s: check it with `gatescan config check %s`, then reload gatescan (systemctl reload gatescan)\n", *write, *write)
	_, err = stdout.Write(out.Bytes())
	return err
}

// calibrateScan loads a wedge scan and its NAME.wedge.json and fits the
// calibration with cfg's detector.
func calibrateScan(cfg *config.Config, sidecar string) (*calib.Calibration, *scanin.Sidecar, error) {
	wedgePath := strings.TrimSuffix(sidecar, ".json") + ".wedge.json"
	st, err := os.Stat(wedgePath)
	if err != nil {
		return nil, nil, fmt.Errorf("the wedge file: %w", err)
	}
	if st.Size() > calib.MaxWedgeBytes {
		return nil, nil, fmt.Errorf("%s is %d bytes, more than the %d a wedge file can be", wedgePath, st.Size(), calib.MaxWedgeBytes)
	}
	data, err := os.ReadFile(wedgePath)
	if err != nil {
		return nil, nil, fmt.Errorf("the wedge file: %w", err)
	}
	wd, err := calib.ParseWedge(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", wedgePath, err)
	}
	lim := scanin.Limits{MaxWidth: cfg.Scanner.MaxWidth, MaxHeight: cfg.Scanner.MaxHeight, MaxFileBytes: cfg.Scanner.MaxFileMB << 20}
	scan, err := scanin.Load(sidecar, lim)
	if err != nil {
		return nil, nil, err
	}
	defer scan.Close()
	sc := scan.Sidecar
	det := vision.New(cfg.Detector, cfg.Containers)
	defer det.Close()
	in := vision.Input{High: scan.High, Low: scan.Low, HasLow: scan.Dual(), PixelXMM: sc.PixelMM.X, PixelYMM: sc.PixelMM.Y,
		Air: sc.Air, Dark: sc.Dark, EnergyHighMeV: sc.EnergyMeV.High, EnergyLowMeV: sc.EnergyMeV.Low}
	from := settings.Calibrated{CalibratedAt: sc.ScannedAt.UTC().Format(time.RFC3339),
		Source: fmt.Sprintf("wedge scan %s (%s)", sc.ScanID, filepath.Base(sidecar))}
	c, err := calib.Run(det, in, wd, from)
	if err != nil {
		return nil, nil, err
	}
	return c, sc, nil
}

// mergeCalibration puts c's tables into d's lists: the entry for the same
// energies is replaced, the others are kept (a list in the config
// replaces the defaults' whole list, so they must be written out too).
func mergeCalibration(d settings.Detector, c *calib.Calibration) settings.Detector {
	var sw []settings.StepWedge
	for _, w := range d.StepWedges {
		if math.Abs(w.EnergyMeV-c.Wedge.EnergyMeV) > 0.5 {
			sw = append(sw, w)
		}
	}
	d.StepWedges = append(sw, c.Wedge)
	sort.SliceStable(d.StepWedges, func(i, j int) bool { return d.StepWedges[i].EnergyMeV < d.StepWedges[j].EnergyMeV })
	if c.Dual != nil {
		var de []settings.DualEnergy
		for _, e := range d.DualEnergy {
			if math.Abs(e.EnergyMeV[0]-c.Dual.EnergyMeV[0]) > 0.5 || math.Abs(e.EnergyMeV[1]-c.Dual.EnergyMeV[1]) > 0.5 {
				de = append(de, e)
			}
		}
		d.DualEnergy = append(de, *c.Dual)
		sort.SliceStable(d.DualEnergy, func(i, j int) bool { return d.DualEnergy[i].EnergyMeV[0] < d.DualEnergy[j].EnergyMeV[0] })
	}
	return d
}

// writeCalibrationTable prints, as YAML comments, what was measured on
// each step, the fitted value and residual, and what was left out.
func writeCalibrationTable(w io.Writer, c *calib.Calibration, sc *scanin.Sidecar, path string) {
	energy := fmt.Sprintf("%g MeV", sc.EnergyMeV.High)
	if sc.EnergyMeV.Low > 0 {
		energy = fmt.Sprintf("%g/%g MeV", sc.EnergyMeV.High, sc.EnergyMeV.Low)
	}
	fmt.Fprintf(w, "# calibration from wedge scan %s (%s), scanned %s, %s; A = -ln T, the median over the step's pixels;\n"+
		"# masses in g/cm² of the reference organic (\"ref\": polypropylene/cellulose, as the defaults)\n",
		sc.ScanID, filepath.Base(path), sc.ScannedAt.UTC().Format(time.RFC3339), energy)
	line := func(format string, a ...any) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf(format, a...), " "))
	}
	line("# %4s  %-9s  %-16s  %7s  %7s  %7s  %8s  %8s  %9s  %7s  %8s  %7s",
		"step", "material", "name", "g/cm²", "as ref", "pixels", "A high", "A low", "fit ref", "resid%", "fit Alow", "resid%")
	for _, m := range c.Steps {
		fitG, resG, fitL, resL := "-", "-", "-", "-"
		if m.FitGCm2 > 0 && m.LeftOut == "" {
			fitG, resG = fmt.Sprintf("%.2f", m.FitGCm2), fmt.Sprintf("%+.2f", m.ResidualPct)
		}
		if m.FitALow > 0 && m.LeftOut == "" && m.LeftOutLow == "" {
			fitL, resL = fmt.Sprintf("%.4f", m.FitALow), fmt.Sprintf("%+.2f", m.ResidualLowPct)
		}
		low := "-"
		if sc.EnergyMeV.Low > 0 && m.Pixels > 0 {
			low = fmt.Sprintf("%.4f", m.ALow)
		}
		note := ""
		switch {
		case m.LeftOut != "":
			note = "left out: " + m.LeftOut
		case m.LeftOutLow != "":
			note = "left out of the material curves: " + m.LeftOutLow
		}
		name := m.Name
		if r := []rune(name); len(r) > 16 {
			name = string(r[:15]) + "…"
		}
		ref := "-"
		if m.RefGCm2 > 0 {
			ref = fmt.Sprintf("%.2f", m.RefGCm2)
		}
		line("# %4d  %-9s  %-16s  %7.2f  %7s  %7d  %8.4f  %8s  %9s  %7s  %8s  %7s  %s",
			m.Index, m.Material, name, m.GCm2, ref, m.Pixels, m.AHigh, low, fitG, resG, fitL, resL, note)
	}
	fmt.Fprintf(w, "# largest residual of a fitted step: %.2f %%\n", c.MaxResidualPct)
	for _, n := range c.Notes {
		fmt.Fprintf(w, "# note: %s\n", n)
	}
}

// calibrationYAML is the detector section's calibration keys as the
// config takes them.
func calibrationYAML(d settings.Detector, dual bool) ([]byte, error) {
	s, err := keyBlock(&yaml.Node{Kind: yaml.ScalarNode, Value: "detector"}, calibrationMapping(d, dual), 0)
	return []byte(s), err
}

// calibrationNodes are the keys a calibration sets, with their values.
func calibrationNodes(d settings.Detector, dual bool) [][2]*yaml.Node {
	out := [][2]*yaml.Node{{{Kind: yaml.ScalarNode, Value: "step_wedges"}, tableNode(d.StepWedges)}}
	if dual {
		out = append(out, [2]*yaml.Node{{Kind: yaml.ScalarNode, Value: "dual_energy"}, tableNode(d.DualEnergy)})
	}
	return out
}

// tableNode encodes a list of calibration tables, each [a, b] pair on one
// line.
func tableNode(v any) *yaml.Node {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		panic(err) // plain structs of numbers and strings always encode
	}
	var flow func(*yaml.Node)
	flow = func(n *yaml.Node) {
		if n.Kind == yaml.SequenceNode && len(n.Content) > 0 && n.Content[0].Kind == yaml.ScalarNode {
			n.Style = yaml.FlowStyle
		}
		for _, c := range n.Content {
			flow(c)
		}
	}
	flow(&n)
	return &n
}

func encodeYAML(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeCalibration sets the calibration keys in the config file at path,
// editing its YAML tree so that its comments, order and other keys stay;
// the result must pass the config check before it replaces the file.
func writeCalibration(path string, d settings.Detector, dual bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	out, err := setCalibration(data, d, dual)
	if err != nil {
		return badInput("calibrate: %s: %v", path, err)
	}
	if _, err := config.Parse(out, path); err != nil {
		return fmt.Errorf("calibrate: the config with the new calibration does not pass the check, %s left as it was: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("calibrate: %w", err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return fmt.Errorf("calibrate: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	return nil
}

// setCalibration returns the config document data with the detector's
// calibration keys set to d's. It finds the keys in the YAML tree and
// replaces only their lines in the text, so that everything else of the
// file, comments, blank lines and alignment included, stays byte for byte.
func setCalibration(data []byte, d settings.Detector, dual bool) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
		lines[n-1] += "\n"
	}
	var root *yaml.Node
	switch {
	case doc.Kind == 0:
	case doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode:
		root = doc.Content[0]
	default:
		return nil, errors.New("not a YAML mapping of config keys")
	}
	var det *yaml.Node
	if root != nil {
		det = lookup(root, "detector")
	}
	if det == nil {
		block, err := keyBlock(&yaml.Node{Kind: yaml.ScalarNode, Value: "detector"}, calibrationMapping(d, dual), 0)
		if err != nil {
			return nil, err
		}
		return []byte(strings.Join(append(lines, block), "")), nil
	}
	if det.Kind != yaml.MappingNode || det.Style&yaml.FlowStyle != 0 {
		return nil, errors.New("detector is not a block mapping: write it as one (a key a line) to have the calibration put in")
	}
	indent := det.Content[0].Column - 1
	// Replace the keys present from the last one up, so that line numbers
	// above stay right; append the absent ones at the end of detector.
	type edit struct {
		from, to int // lines, 0-based, inclusive
		text     string
	}
	var edits []edit
	var add []string
	for _, kv := range calibrationNodes(d, dual) {
		block, err := keyBlock(kv[0], kv[1], indent)
		if err != nil {
			return nil, err
		}
		k, v := lookupKey(det, kv[0].Value)
		if k == nil {
			add = append(add, block)
			continue
		}
		edits = append(edits, edit{k.Line - 1, lastLine(lines, v) - 1, block})
	}
	if len(add) > 0 {
		end := lastLine(lines, det) - 1
		edits = append(edits, edit{end + 1, end, strings.Join(add, "")})
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].from > edits[j].from })
	for _, e := range edits {
		out := append([]string(nil), lines[:e.from]...)
		out = append(out, e.text)
		lines = append(out, lines[e.to+1:]...)
	}
	return []byte(strings.Join(lines, "")), nil
}

// calibrationMapping is a mapping of the calibration keys.
func calibrationMapping(d settings.Detector, dual bool) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, kv := range calibrationNodes(d, dual) {
		m.Content = append(m.Content, kv[0], kv[1])
	}
	return m
}

// keyBlock renders key: value as YAML lines indented by indent spaces.
func keyBlock(key, value *yaml.Node, indent int) (string, error) {
	b, err := encodeYAML(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: key.Value}, value}})
	if err != nil {
		return "", err
	}
	pad := strings.Repeat(" ", indent)
	var out strings.Builder
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			out.WriteString(pad + l)
		}
	}
	return out.String(), nil
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	_, v := lookupKey(m, key)
	return v
}

func lookupKey(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// lastLine is the last line (1-based) of the text of node n: the last
// line any node under it starts on, and the lines after it that only
// close a flow collection.
func lastLine(lines []string, n *yaml.Node) int {
	last := n.Line
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		last = max(last, n.Line)
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	for last < len(lines) && strings.Trim(lines[last], " \t\r\n]}") == "" && strings.ContainsAny(lines[last], "]}") {
		last++
	}
	return last
}
