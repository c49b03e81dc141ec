package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatescan/gatescan/agent"
	"github.com/gatescan/gatescan/agent/assess"
	"github.com/gatescan/gatescan/agent/inspection"
	"github.com/gatescan/gatescan/buffer"
	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

// pathList is a flag that may be given more than once.
type pathList []string

func (p *pathList) String() string     { return strings.Join(*p, ",") }
func (p *pathList) Set(v string) error { *p = append(*p, v); return nil }

// Files a batch inspect reads beside each sidecar (interfaces.md §5).
var besideDeclarations = []string{"declaration.json", "declaration_2.json"}

const besideWeighbridge = "weighbridge.json"

func cmdInspect(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var declPaths pathList
	fs.Var(&declPaths, "declaration", "declaration JSON (an object, or an array for two containers); repeat for more files")
	gross := fs.String("gross-kg", "", "stable weighbridge gross of the truck, kg (of the first scan only in a batch)")
	cfgPath := fs.String("config", "", "config file (default: built-in defaults)")
	annotate := fs.String("annotate", "", "write the annotated image of the first container here (JPEG)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return badInput("inspect: give a SIDECAR.json, several, or a directory of scans")
	}
	batch := len(pos) > 1
	for _, p := range pos {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			batch = true
		}
	}
	if batch && *annotate != "" {
		return badInput("inspect: --annotate takes one sidecar, not a batch")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ins := newInspector(cfg)
	defer ins.det.Close()
	if batch {
		return ins.batch(pos, declPaths, *gross, stdout)
	}

	results, c, err := ins.run(pos[0], func(sc *scanin.Sidecar) (*float64, []*declaration.Declaration, error) {
		g, err := parseGross(*gross)
		if err != nil {
			return nil, nil, err
		}
		if len(declPaths) == 0 {
			return g, make([]*declaration.Declaration, len(sc.ContainerIDs)), nil
		}
		pool, err := readDeclarationFiles(declPaths)
		if err != nil {
			return nil, nil, err
		}
		ds := matchDeclarations(sc.ContainerIDs, pool)
		if slices.Contains(ds, nil) {
			// A container the --declaration files do not cover (the rear
			// box of two) takes its declaration from beside the sidecar,
			// as in a batch.
			beside, err := readBesideDeclarations(filepath.Dir(pos[0]))
			if err != nil {
				return nil, nil, err
			}
			ds = batchDeclarations(sc.ContainerIDs, pool, beside)
		}
		return g, ds, nil
	})
	if err != nil {
		return err
	}
	if *annotate != "" && c.Analysis != nil && len(c.Analysis.Containers) > 0 {
		jpg, err := ins.det.Annotate(c.Analysis, 0, assess.Caption(&results[0]), cfg.Detector.AnnotateMaxWidth, 0)
		if err != nil {
			return fmt.Errorf("annotate: %w", err)
		}
		if err := os.WriteFile(*annotate, jpg, 0o644); err != nil {
			return fmt.Errorf("annotate: %w", err)
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if len(results) == 1 {
		return enc.Encode(results[0])
	}
	return enc.Encode(results)
}

// inspector inspects scans offline, one after another, with one detector
// whose buffers are reused from scan to scan.
type inspector struct {
	cfg *config.Config
	det *vision.Detector
	lim scanin.Limits
}

func newInspector(cfg *config.Config) *inspector {
	return &inspector{cfg: cfg, det: vision.New(cfg.Detector, cfg.Containers),
		lim: scanin.Limits{MaxWidth: cfg.Scanner.MaxWidth, MaxHeight: cfg.Scanner.MaxHeight, MaxFileBytes: cfg.Scanner.MaxFileMB << 20}}
}

// joinFunc gives a scan's weighbridge gross (nil: none) and declarations
// (in the order of its container numbers) once its sidecar is read.
type joinFunc func(*scanin.Sidecar) (*float64, []*declaration.Declaration, error)

// run inspects the scan of the sidecar at path. Every result carries
// timings_ms.total: the wall time from reading the sidecar to the result.
// Errors are bad input (exit 2).
func (ins *inspector) run(path string, join joinFunc) ([]inspection.Result, *assess.Case, error) {
	t0 := time.Now()
	scan, err := scanin.Load(path, ins.lim)
	if err != nil {
		return nil, nil, badInput("%s: %v", path, err)
	}
	defer scan.Close()
	sc := scan.Sidecar
	decodeMS := ms(time.Since(t0))
	g, decls, err := join(sc)
	if err != nil {
		return nil, nil, badInput("%s: %v", path, err)
	}
	j := agent.Joined{Declarations: decls, Weighbridge: g != nil}
	if g != nil {
		j.Weight = &buffer.Weight{Lane: sc.Lane, GrossKg: *g}
	}
	if l := ins.cfg.Lane(sc.Lane); l != nil {
		j.LaneTareKg = l.VehicleTareKg
	} else if len(ins.cfg.Lanes) > 0 {
		j.LaneTareKg = ins.cfg.Lanes[0].VehicleTareKg
	}
	results, c := agent.Inspect(ins.cfg, ins.det, scan, j, map[string]float64{"decode": decodeMS})
	total := ms(time.Since(t0))
	for i := range results {
		results[i].TimingsMS["total"] = total
	}
	return results, c, nil
}

// batch inspects every scan of paths (sidecars, or directories searched
// for them) in order and prints each result as one JSON line. A scan that
// cannot be inspected prints {"sidecar", "error"} in its place and the
// others go on; the batch then ends as bad input.
func (ins *inspector) batch(paths []string, declPaths []string, gross string, stdout io.Writer) error {
	first, err := parseGross(gross)
	if err != nil {
		return err
	}
	pool, err := readDeclarationFiles(declPaths)
	if err != nil {
		return err
	}
	sidecars, err := findSidecars(paths)
	if err != nil {
		return err
	}
	out := json.NewEncoder(stdout)
	failed := 0
	for i, p := range sidecars {
		g := first
		if i > 0 {
			g = nil
		}
		results, _, err := ins.run(p, besideJoin(filepath.Dir(p), g, pool))
		// The attenuation plane is the scan's own image: let it go with
		// the scan rather than hold it through the next one's decode.
		ins.det.Free()
		if err != nil {
			failed++
			var ee *exitError
			if errors.As(err, &ee) {
				err = ee.err
			}
			if err := out.Encode(struct {
				Sidecar string `json:"sidecar"`
				Error   string `json:"error"`
			}{p, err.Error()}); err != nil {
				return err
			}
			continue
		}
		for i := range results {
			if err := out.Encode(&results[i]); err != nil {
				return err
			}
		}
	}
	if failed > 0 {
		return badInput("inspect: %d of %d scans could not be inspected (their lines say why)", failed, len(sidecars))
	}
	return nil
}

// besideJoin joins a batch scan whose sidecar lies in dir: gross, or else
// the weighbridge.json there; declarations as batchDeclarations picks them
// from pool and the files there.
func besideJoin(dir string, gross *float64, pool []*declaration.Declaration) joinFunc {
	return func(sc *scanin.Sidecar) (*float64, []*declaration.Declaration, error) {
		g, err := gross, error(nil)
		if g == nil {
			if g, err = readWeighbridge(dir); err != nil {
				return nil, nil, err
			}
		}
		beside, err := readBesideDeclarations(dir)
		if err != nil {
			return nil, nil, err
		}
		return g, batchDeclarations(sc.ContainerIDs, pool, beside), nil
	}
}

// findSidecars expands paths into sidecars in the order given: a file is
// taken as it is; a directory gives, in lexical order and through its
// subdirectories, the JSON files that are objects with an "images" field
// (declarations, weighbridge files and the like are not sidecars).
func findSidecars(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, badInput("inspect: %v", err)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		n := len(out)
		err = filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(path), ".json") && isSidecar(path) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, badInput("inspect: %v", err)
		}
		if len(out) == n {
			return nil, badInput("inspect: no sidecar (a JSON object with \"images\") in directory %s", p)
		}
	}
	return out, nil
}

// isSidecar tells a scan's sidecar from the other JSON files of a scan
// directory by its "images" field; it judges nothing else, so that a
// broken sidecar is reported by the inspection, not skipped.
func isSidecar(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > scanin.MaxSidecarBytes {
		return false
	}
	var probe struct {
		Images json.RawMessage `json:"images"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.Images != nil
}

func parseGross(s string) (*float64, error) {
	if s == "" {
		return nil, nil
	}
	g, err := strconv.ParseFloat(s, 64)
	if err != nil || !truckGross(g) {
		return nil, badInput("--gross-kg %q is not a weight in kg", s)
	}
	return &g, nil
}

// truckGross tells a weighbridge gross a truck can have, in kg.
func truckGross(kg float64) bool { return kg > 0 && kg <= 200000 }

// readWeighbridge reads gross_kg from the weighbridge.json in dir, if
// there is one.
func readWeighbridge(dir string) (*float64, error) {
	p := filepath.Join(dir, besideWeighbridge)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var w struct {
		GrossKg *float64 `json:"gross_kg"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object with gross_kg: %w", p, err)
	}
	if w.GrossKg == nil || !truckGross(*w.GrossKg) {
		return nil, fmt.Errorf("%s: gross_kg must be a weight in kg above 0 and at most 200000", p)
	}
	return w.GrossKg, nil
}

// readBesideDeclarations reads declaration.json and declaration_2.json in
// dir, those that exist, in that order.
func readBesideDeclarations(dir string) ([]*declaration.Declaration, error) {
	var out []*declaration.Declaration
	for _, name := range besideDeclarations {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		ds, err := readDeclarations(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, ds...)
	}
	return out, nil
}

// readDeclarationFiles reads every --declaration file into one pool.
func readDeclarationFiles(paths []string) ([]*declaration.Declaration, error) {
	var pool []*declaration.Declaration
	for _, p := range paths {
		ds, err := readDeclarations(p)
		if err != nil {
			return nil, badInput("%s: %v", p, err)
		}
		pool = append(pool, ds...)
	}
	return pool, nil
}

func readDeclarations(path string) ([]*declaration.Declaration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	var raws []json.RawMessage
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, fmt.Errorf("not a JSON array of declarations: %w", err)
		}
	} else {
		raws = []json.RawMessage{b}
	}
	var out []*declaration.Declaration
	for i, r := range raws {
		d, err := declaration.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("declaration %d: %w", i, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// matchDeclarations orders declarations as the sidecar's container numbers;
// a scan without numbers takes the declarations in file order.
func matchDeclarations(ids []string, ds []*declaration.Declaration) []*declaration.Declaration {
	return declaration.Order(ids, ds)
}

// batchDeclarations picks a batch scan's declarations: by container
// number from the --declaration files (pool) first, then from the files
// beside its sidecar; a scan without container numbers takes those beside
// it in file order (the pool cannot say which of its declarations are the
// scan's).
func batchDeclarations(ids []string, pool, beside []*declaration.Declaration) []*declaration.Declaration {
	if len(ids) == 0 {
		return beside
	}
	out := matchDeclarations(ids, pool)
	for i, d := range matchDeclarations(ids, beside) {
		if out[i] == nil {
			out[i] = d
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
