package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/gatescan/gatescan/agent/assess"
	"github.com/gatescan/gatescan/drivers/declaration"
	"github.com/gatescan/gatescan/drivers/scanin"
	"github.com/gatescan/gatescan/vision"
)

func cmdInspect(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	declPath := fs.String("declaration", "", "declaration JSON (an object, or an array for two containers)")
	gross := fs.String("gross-kg", "", "stable weighbridge gross of the truck, kg")
	cfgPath := fs.String("config", "", "config file (default: built-in defaults)")
	annotate := fs.String("annotate", "", "write the annotated image of the first container here (JPEG)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInput("inspect: give exactly one SIDECAR.json")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	t0 := time.Now()
	lim := scanin.Limits{MaxWidth: cfg.Scanner.MaxWidth, MaxHeight: cfg.Scanner.MaxHeight, MaxFileBytes: cfg.Scanner.MaxFileMB << 20}
	scan, err := scanin.Load(pos[0], lim)
	if err != nil {
		return badInput("%s: %v", pos[0], err)
	}
	defer scan.Close()
	decodeMS := float64(time.Since(t0).Microseconds()) / 1000
	sc := scan.Sidecar
	c := assess.Case{TimingsMS: map[string]float64{"decode": decodeMS}}
	if l := cfg.Lane(sc.Lane); l != nil {
		c.LaneTareKg = l.VehicleTareKg
	} else if len(cfg.Lanes) > 0 {
		c.LaneTareKg = cfg.Lanes[0].VehicleTareKg
	}
	if *gross != "" {
		g, err := strconv.ParseFloat(*gross, 64)
		if err != nil || g <= 0 || g > 200000 {
			return badInput("--gross-kg %q is not a weight in kg", *gross)
		}
		c.GrossKg, c.Weighbridge = &g, true
	}
	if *declPath != "" {
		ds, err := readDeclarations(*declPath)
		if err != nil {
			return badInput("%s: %v", *declPath, err)
		}
		c.Declarations = matchDeclarations(sc.ContainerIDs, ds)
	} else {
		c.Declarations = make([]*declaration.Declaration, len(sc.ContainerIDs))
	}
	det := vision.New(cfg.Detector, cfg.Containers)
	defer det.Close()
	results := assess.Inspect(cfg, det, scan, &c)
	if *annotate != "" && c.Analysis != nil && len(c.Analysis.Containers) > 0 {
		jpg, err := det.Annotate(c.Analysis, 0, assess.Caption(&results[0]), cfg.Detector.AnnotateMaxWidth, 0)
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
	if len(ids) == 0 {
		return ds
	}
	out := make([]*declaration.Declaration, len(ids))
	for i, id := range ids {
		for _, d := range ds {
			if d.ContainerID == declaration.Normalize(id) {
				out[i] = d
			}
		}
	}
	return out
}
