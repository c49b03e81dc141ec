package agent

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatescan/gatescan/agent/inspection"
)

// pngHeader is the start of a PNG whose IHDR claims w×h at depth bits:
// enough for the header check, nothing to decode.
func pngHeader(w, h uint32, depth byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, 0
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func sidecarJSON(id, high string) string {
	return fmt.Sprintf(`{"scan_id":%q,"lane":"L1","scanned_at":%q,"images":{"high":%q},"pixel_mm":{"x":5,"y":5},"air":60000,"dark":500}`,
		id, time.Now().UTC().Format(time.RFC3339), high)
}

// TestBadScansRejectedOthersServed drops every kind of broken scan into the
// inbox next to a good one: each broken one goes to rejected/ with its
// .error, is counted, and the good one is still inspected.
func TestBadScansRejectedOthersServed(t *testing.T) {
	cfg := joinConfig(t, time.Second)
	cfg.Scanner.MaxWidth, cfg.Scanner.MaxHeight = 8000, 2000
	in := cfg.Scanner.Inbox
	os.MkdirAll(in, 0o750)
	outside := t.TempDir()
	var gray8 bytes.Buffer
	png.Encode(&gray8, image.NewGray(image.Rect(0, 0, 64, 64)))
	var gray16 bytes.Buffer
	png.Encode(&gray16, image.NewGray16(image.Rect(0, 0, 64, 64)))
	os.WriteFile(filepath.Join(outside, "secret.png"), gray16.Bytes(), 0o644)

	cases := []struct {
		name, sidecar string
		files         map[string][]byte
		want          string // in the .error text
	}{
		{"badjson", `{"scan_id": "badjson", `, nil, "not a JSON object"},
		{"noimage", sidecarJSON("noimage", "noimage.png"), nil, "noimage.png"},
		{"climb", sidecarJSON("climb", "../climb.png"), nil, "not a plain file name"},
		{"eightbit", sidecarJSON("eightbit", "eightbit.png"), map[string][]byte{"eightbit.png": gray8.Bytes()}, "8 bit"},
		{"huge", sidecarJSON("huge", "huge.png"), map[string][]byte{"huge.png": pngHeader(100000, 100000, 16)}, "100000x100000"},
		{"truncated", sidecarJSON("truncated", "truncated.png"), map[string][]byte{"truncated.png": gray16.Bytes()[:60]}, "truncated"},
		{"nolane", strings.Replace(sidecarJSON("nolane", "x.png"), `"lane":"L1",`, "", 1), nil, `no "lane"`},
	}
	for _, c := range cases {
		for n, b := range c.files {
			os.WriteFile(filepath.Join(in, n), b, 0o644)
		}
		os.WriteFile(filepath.Join(in, c.name+".json"), []byte(c.sidecar), 0o644)
	}
	// A symlink leading out of the inbox.
	os.Symlink(filepath.Join(outside, "secret.png"), filepath.Join(in, "link.png"))
	os.WriteFile(filepath.Join(in, "link.json"), []byte(sidecarJSON("link", "link.png")), 0o644)
	cases = append(cases, struct {
		name, sidecar string
		files         map[string][]byte
		want          string
	}{"link", "", nil, "leads out of the inbox"})

	a := runAgent(t, cfg)
	writeScan(t, cfg, "good")
	r := waitResult(t, a, "good", 60*time.Second)
	if r.Verdict == "" || r.ScanID != "good" {
		t.Fatalf("good scan not inspected: %+v", r)
	}
	for _, c := range cases {
		errFile := filepath.Join(in, "rejected", c.name+".error")
		var b []byte
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if b, _ = os.ReadFile(errFile); len(b) > 0 {
				break
			}
		}
		if !strings.Contains(string(b), c.want) {
			t.Errorf("%s: .error %q, want it to say %q", c.name, b, c.want)
		}
		if _, err := os.Stat(filepath.Join(in, c.name+".json")); !os.IsNotExist(err) {
			t.Errorf("%s: sidecar left in the inbox", c.name)
		}
		if _, err := a.store.Result(inspection.ID(cfg.Site, cfg.Gate, c.name, 0)); err == nil {
			t.Errorf("%s: a broken scan produced an inspection", c.name)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "secret.png")); err != nil {
		t.Errorf("the file a symlink pointed at was touched: %v", err)
	}
	if n := counterValue(t, a, "gatescan_scans_rejected_total"); n != float64(len(cases)) {
		t.Errorf("rejected counter %v, want %d", n, len(cases))
	}
}

// counterValue sums a counter's series, those whose label has value when
// a label is given as (name, value).
func counterValue(t *testing.T, a *Agent, name string, label ...string) float64 {
	mf, err := a.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, f := range mf {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := len(label) < 2
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == label[0] && l.GetValue() == label[1]
			}
			if match {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}
