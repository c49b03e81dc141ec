package scanin

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

const goodSidecar = `{"scan_id":"S1","lane":"L1","scanned_at":"2026-04-01T10:00:00Z","container_ids":["CSQU3054383"],
"images":{"high":"S1.png","low":"S1.low.png"},"pixel_mm":{"x":5,"y":5},"air":60000,"dark":800,
"energy_mev":{"high":6,"low":4},"mu_cm2_g":0.04,"vehicle":{"plate":"LU-1","tare_kg":14000},"vendor_extra":{"a":1}}`

func TestParseSidecar(t *testing.T) {
	s, err := ParseSidecar([]byte(goodSidecar))
	if err != nil {
		t.Fatal(err)
	}
	if s.ScanID != "S1" || s.Images.Low != "S1.low.png" || s.PixelMM.X != 5 || s.Vehicle.TareKg != 14000 || s.Dark != 800 {
		t.Fatalf("parsed wrong: %+v", s)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"missing scan_id", `"scan_id":"S1",`, ``, `no "scan_id"`},
		{"absolute image", `"high":"S1.png"`, `"high":"/etc/passwd.png"`, "absolute"},
		{"climbing image", `"high":"S1.png"`, `"high":"../S1.png"`, "not a plain file name"},
		{"wrong ext", `"high":"S1.png"`, `"high":"S1.jpg"`, ".png, .tif"},
		{"zero pixel", `"x":5`, `"x":0`, "pixel_mm.x"},
		{"dark above air", `"dark":800`, `"dark":70000`, "dark = 70000"},
		{"three containers", `["CSQU3054383"]`, `["A","B","C"]`, "at most 2"},
		{"bad time", `"2026-04-01T10:00:00Z"`, `"yesterday"`, "wrong type"},
		{"not json", `{"scan_id"`, `{scan_id`, "not a JSON object"},
		{"wrong type air", `"air":60000`, `"air":"bright"`, "wrong type"},
		{"lane wildcard", `"lane":"L1"`, `"lane":"L#"`, "lane"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSidecar([]byte(strings.Replace(goodSidecar, tc.from, tc.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func tiff(w, h, bits, spp uint16) []byte {
	var b bytes.Buffer
	b.WriteString("II")
	binary.Write(&b, binary.LittleEndian, uint16(42))
	binary.Write(&b, binary.LittleEndian, uint32(8))
	binary.Write(&b, binary.LittleEndian, uint16(4))
	for _, e := range [][2]uint16{{256, w}, {257, h}, {258, bits}, {277, spp}} {
		binary.Write(&b, binary.LittleEndian, e[0])
		binary.Write(&b, binary.LittleEndian, uint16(3))
		binary.Write(&b, binary.LittleEndian, uint32(1))
		binary.Write(&b, binary.LittleEndian, uint32(e[1]))
	}
	return b.Bytes()
}

func TestTIFFHeader(t *testing.T) {
	h, err := readTIFFHeader(bytes.NewReader(tiff(3500, 900, 16, 1)), "x.tif")
	if err != nil || h.Width != 3500 || h.Height != 900 || h.BitDepth != 16 || h.Channels != 1 {
		t.Fatalf("got %+v, %v", h, err)
	}
	lim := Limits{MaxWidth: 20000, MaxHeight: 4096}
	if err := lim.Check("x.tif", h, 1000); err != nil {
		t.Fatal(err)
	}
	h8, _ := readTIFFHeader(bytes.NewReader(tiff(3500, 900, 8, 1)), "x.tif")
	if err := lim.Check("x.tif", h8, 1000); err == nil || !strings.Contains(err.Error(), "8 bit") {
		t.Fatalf("8-bit accepted: %v", err)
	}
	huge, _ := readTIFFHeader(bytes.NewReader(tiff(60000, 60000, 16, 1)), "x.tif")
	if err := lim.Check("x.tif", huge, 1000); err == nil || !strings.Contains(err.Error(), "60000x60000") {
		t.Fatalf("huge accepted: %v", err)
	}
	if _, err := readTIFFHeader(bytes.NewReader([]byte("GIF89a..")), "x.tif"); err == nil {
		t.Fatal("GIF accepted as TIFF")
	}
}

func FuzzParseSidecar(f *testing.F) {
	f.Add([]byte(goodSidecar))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSidecar(b)
		if err == nil && (s.ScanID == "" || s.PixelMM.X <= 0 || s.Air <= s.Dark || strings.Contains(s.Images.High, "/")) {
			t.Fatalf("accepted an invalid sidecar: %+v", s)
		}
	})
}

func FuzzTIFFHeader(f *testing.F) {
	f.Add(tiff(100, 100, 16, 1))
	f.Add([]byte("MM\x00\x2a\x00\x00\x00\x08"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := readTIFFHeader(bytes.NewReader(b), "f.tif")
		if err == nil && (h.Width <= 0 || h.Height <= 0) {
			t.Fatalf("accepted a header without dimensions: %+v", h)
		}
	})
}
