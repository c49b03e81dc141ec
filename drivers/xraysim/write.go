package xraysim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatescan/gatescan/drivers/scanin"
)

func errorf(format string, a ...any) error { return fmt.Errorf("xraysim: "+format, a...) }

// SidecarMeta is what the scanner knows about a scan besides the image.
type SidecarMeta struct {
	ScanID, Lane  string
	ScannedAt     time.Time // zero: now
	Plate         string    // optional
	VehicleTareKg float64   // optional (0: omitted)
}

// Write renders the scene and writes it into dir as a complete scan per
// interfaces.md §1: NAME.png (high energy, 16-bit grey), NAME.low.png when
// s.DualEnergy, then the sidecar NAME.json last. Every file is written to a
// temporary name in dir (a dot file ending in .tmp) and renamed into place,
// so a watcher never sees a partial file and the sidecar's appearance means
// the scan is complete. container_ids lists the non-empty container IDs in
// image order. name must be a plain file name.
func Write(dir, name string, s Scene, meta SidecarMeta) (truth Truth, err error) {
	if name == "" || name != filepath.Base(name) || strings.ContainsAny(name, `/\`) || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return truth, errorf("bad scan name %q: want a plain file name", name)
	}
	if meta.ScanID == "" || meta.Lane == "" {
		return truth, errorf("sidecar needs scan_id and lane")
	}
	high, low, truth, err := Render(s)
	if err != nil {
		return truth, err
	}
	sc := newSidecar(meta)
	for _, c := range truth.Containers {
		if c.ID != "" {
			sc.ContainerIDs = append(sc.ContainerIDs, c.ID)
		}
	}
	if err := writeImages(dir, name, &s, high, low, sc); err != nil {
		return truth, err
	}
	if meta.Plate != "" || meta.VehicleTareKg > 0 {
		sc.Vehicle.Plate, sc.Vehicle.TareKg = meta.Plate, meta.VehicleTareKg
	}
	return truth, writeJSON(dir, name+".json", sc)
}

// newSidecar starts a scan's sidecar from what the scanner knows.
func newSidecar(meta SidecarMeta) *scanin.Sidecar {
	sc := &scanin.Sidecar{ScanID: meta.ScanID, Lane: meta.Lane, ScannedAt: meta.ScannedAt}
	if sc.ScannedAt.IsZero() {
		sc.ScannedAt = time.Now()
	}
	return sc
}

// writeImages writes a scan's images as NAME.png (and NAME.low.png) and
// fills in what the sidecar says of them and of the beam.
func writeImages(dir, name string, s *Scene, high, low *image.Gray16, sc *scanin.Sidecar) error {
	sc.Images.High = name + ".png"
	if err := writeAtomic(dir, sc.Images.High, func(f *os.File) error { return encodePNG(f, high) }); err != nil {
		return err
	}
	hiE, loE := s.energies()
	sc.EnergyMeV.High = hiE
	if low != nil {
		sc.Images.Low = name + ".low.png"
		if err := writeAtomic(dir, sc.Images.Low, func(f *os.File) error { return encodePNG(f, low) }); err != nil {
			return err
		}
		sc.EnergyMeV.Low = loE
	}
	sc.PixelMM.X, sc.PixelMM.Y = s.PixelMM.X, s.PixelMM.Y
	sc.Air, sc.Dark = s.Air, s.Dark
	model, _ := ScannerByName(s.Scanner)
	sc.MuCm2G = math.Round(model.EffectiveMu(hiE)*1e5) / 1e5
	return nil
}

// writeJSON writes v as indented JSON through a temporary file.
func writeJSON(dir, name string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("xraysim: %w", err)
	}
	js = append(js, '\n')
	return writeAtomic(dir, name, func(f *os.File) error { _, err := f.Write(js); return err })
}

func encodePNG(f *os.File, img *image.Gray16) error {
	bw := bufio.NewWriterSize(f, 1<<16)
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(bw, img); err != nil {
		return err
	}
	return bw.Flush()
}

// writeAtomic writes a file through a temporary name in the same directory
// and renames it into place.
func writeAtomic(dir, name string, fill func(*os.File) error) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("xraysim: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("xraysim: writing %s: %w", name, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("xraysim: %w", err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("xraysim: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("xraysim: %w", err)
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("xraysim: %w", err)
	}
	return nil
}
