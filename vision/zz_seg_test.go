package vision

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gatescan/gatescan/config"
	"github.com/gatescan/gatescan/vision/xraysim"
	"gocv.io/x/gocv"
)

func TestZZSeg(t *testing.T) {
	spec := os.Getenv("ZZS")
	if spec == "" {
		t.Skip()
	}
	p := strings.Split(spec, ":")
	seed, _ := strconv.ParseInt(p[1], 10, 64)
	ci, _ := strconv.Atoi(p[2])
	sc, decl, _ := xraysim.Scenario(p[0], rand.New(rand.NewSource(seed)))
	hi, _, _, _ := xraysim.Render(sc)
	w, h := hi.Rect.Dx(), hi.Rect.Dy()
	buf := make([]byte, 2*w*h)
	for i := 0; i < w*h; i++ {
		binary.NativeEndian.PutUint16(buf[2*i:], binary.BigEndian.Uint16(hi.Pix[2*i:]))
	}
	m, _ := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV16UC1, buf)
	defer m.Close()
	d := New(config.Default())
	defer d.Close()
	var types []string
	for _, x := range decl {
		types = append(types, x.Type)
	}
	in := Input{High: m, PixelXMM: sc.PixelMM.X, PixelYMM: sc.PixelMM.Y, Air: sc.Air, Dark: sc.Dark, MuCm2G: xraysim.EffectiveMu(6), EnergyHighMeV: 6, Containers: len(decl), Types: types}
	d.flatField(&in)
	d.massThickness(d.p.MuCm2G, 6)
	boxes := d.findContainers(&in)
	b := boxes[ci]
	if os.Getenv("ZZFLOOR") != "" {
		aa, _ := d.a.DataPtrFloat32()
		sp := span{b.outer.Min.X, b.outer.Max.X}
		for r := b.outer.Min.Y + int(2.0/(sc.PixelMM.Y/1000)); r < min(h, b.outer.Min.Y+int(3.4/(sc.PixelMM.Y/1000))); r += 3 {
			fmt.Printf("row %d (%.2f m) q10 %.2f q50 %.2f q90 %.2f\n", r, float64(r-b.outer.Min.Y)*sc.PixelMM.Y/1000, d.rowStat(aa, w, r, sp, 0.1), d.rowStat(aa, w, r, sp, 0.5), d.rowStat(aa, w, r, sp, 0.9))
		}
		fmt.Println("inner", b.inner, "outer", b.outer)
		return
	}
	c, _ := d.cargo(ci, b, sc.PixelMM.X/1000, sc.PixelMM.Y/1000)
	s := &d.seg
	g := &s.g
	ds, _ := d.gS.DataPtrFloat32()
	// dump grid: . empty, o opaque, digits density/100
	nr := d.segment()
	c.Regions = nil
	d.measureRegions(&c, b, nr, sc.PixelMM.X/1000, sc.PixelMM.Y/1000)
	d.shapes(&c)
	fmt.Println("cargo", c.CargoKg, "regions", nr, "grid", g.w, g.h, "comps", len(s.comps))
	for y := 0; y < g.h; y++ {
		line := []byte{}
		for x := 0; x < g.w; x++ {
			i := y*g.w + x
			ch := byte('.')
			if s.cargo[i] {
				ch = byte('0' + min(9, int(ds[i]/100)))
			}
			if s.opaque[i] {
				ch = 'o'
			}
			if s.comp[i] != 0 && !s.opaque[i] && os.Getenv("ZZL") != "" {
				ch = byte('a' + int(s.comp[i])%26)
			}
			if s.lab[i] != 0 && os.Getenv("ZZR") != "" {
				ch = byte('A' + int(s.lab[i])%26)
			}
			line = append(line, ch)
		}
		fmt.Println(string(line))
	}
	gm, _ := d.gM.DataPtrFloat32()
	cellKg := g.cx * g.cy * 1e4 / 1000
	var tot, non float64
	for y := 0; y < g.h; y++ {
		var rs, rn float64
		for x := 0; x < g.w; x++ {
			v := float64(gm[y*g.w+x]) * cellKg
			rs += v
			if !s.cargo[y*g.w+x] {
				rn += v
			}
		}
		tot += rs
		non += rn
		if os.Getenv("ZZROWS") != "" {
			fmt.Printf("row %2d kg %7.1f noncargo %7.1f base %.2f\n", y, rs, rn, d.baseline[int(float64(y)*g.sy)])
		}
	}
	fmt.Println("total", tot, "noncargo", non)
	if os.Getenv("ZZEMPTY") != "" {
		fmt.Println("empty cols", len(d.colsBuf), d.colsBuf[:min(40, len(d.colsBuf))])
		mm, _ := d.a.DataPtrFloat32()
		y := b.inner.Min.Y + 5
		for x := b.inner.Min.X; x < b.inner.Max.X; x += 20 {
			fmt.Printf("%d:%.0f ", x, mm[y*w+x])
		}
		fmt.Println()
	}
	for l := 1; l < len(s.comps); l++ {
		cp := s.comps[l]
		if cp.n > 5 {
			fmt.Printf("comp %d n %d box %d,%d-%d,%d logmed %.2f opaque %v root %d\n", l, cp.n, cp.x0, cp.y0, cp.x1, cp.y1, cp.logMed, cp.opaque, s.find(int32(l)))
		}
	}
}
