package vision

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"strings"

	"gocv.io/x/gocv"
)

// Colours (gocv turns them into OpenCV's BGR order).
var (
	colBox     = color.RGBA{255, 255, 255, 0}
	colRegion  = color.RGBA{0, 200, 255, 0} // cyan
	colLayer   = color.RGBA{255, 0, 255, 0} // magenta
	colFinding = color.RGBA{255, 0, 0, 0}   // red
	colCodes   = color.RGBA{255, 90, 90, 0}
	colText    = color.RGBA{255, 255, 255, 0}
	colBand    = color.RGBA{40, 40, 40, 0}
)

// verdictColour is the banner colour of a verdict.
func verdictColour(v string) color.RGBA {
	switch v {
	case "alert":
		return color.RGBA{200, 0, 0, 0}
	case "review":
		return color.RGBA{230, 150, 0, 0}
	}
	return color.RGBA{0, 150, 0, 0}
}

// Attenuation shown in the false colour, 0 (air, white) to this (black).
const annotateMaxA = 7.0

// palette is the false-colour ramp of attenuation, as cargo scanners show
// it: white air, yellow and orange light goods, red and violet dense ones,
// dark blue where the beam barely got through.
func palette() gocv.Mat {
	lut := gocv.NewMatWithSize(1, 256, gocv.MatTypeCV8UC3)
	stops := []struct {
		at      float64
		b, g, r float64
	}{{0, 255, 255, 255}, {0.12, 120, 235, 255}, {0.3, 20, 150, 255}, {0.5, 30, 40, 220}, {0.7, 120, 20, 120}, {0.85, 110, 20, 30}, {1, 10, 0, 0}}
	for i := range 256 {
		x := float64(i) / 255
		k := 1
		for k < len(stops)-1 && stops[k].at < x {
			k++
		}
		a, b := stops[k-1], stops[k]
		t := (x - a.at) / (b.at - a.at)
		lut.SetUCharAt(0, 3*i, uint8(a.b+t*(b.b-a.b)))
		lut.SetUCharAt(0, 3*i+1, uint8(a.g+t*(b.g-a.g)))
		lut.SetUCharAt(0, 3*i+2, uint8(a.r+t*(b.r-a.r)))
	}
	return lut
}

// Caption is what an annotated image says beyond the scan: the verdict
// and risk in its banner, the container numbers and weights, and the
// findings to box, each with its code. A nil Caption annotates the
// analysis alone.
type Caption struct {
	Verdict    string // clear, review or alert
	Risk       float64
	IDs        string // the container number(s) shown
	DeclaredKg *float64
	NetKg      *float64
	// Codes are the codes of the findings that weigh (not info), in order.
	Codes []string
	Marks []Mark
}

// Mark is a finding drawn on the image: its code boxed at its region.
type Mark struct {
	Code   string
	Region Box
}

// Annotate renders container idx of the last analysed scan as a JPEG: the
// attenuation in false colour, the container, its regions, light layers and
// the findings' regions boxed and labelled, a colour bar, and a banner with
// the verdict and the masses. It must be called before the detector
// analyses another scan. The image is downscaled to maxWidth and until it
// fits maxBytes (0: no limit).
func (d *Detector) Annotate(a *Analysis, idx int, r *Caption, maxWidth, maxBytes int) ([]byte, error) {
	if a == nil || idx < 0 || idx >= len(a.Containers) || d.a.Empty() || d.a.Cols() != a.Width || d.a.Rows() != a.Height {
		return nil, fmt.Errorf("no container %d in the detector's last analysis: annotate right after Analyze", idx)
	}
	c := &a.Containers[idx]
	// Crop around the container with a margin, so the picture is about it.
	margin := c.OuterPx.Dy() / 5
	crop := c.OuterPx.Inset(-margin).Intersect(image.Rect(0, 0, d.a.Cols(), d.a.Rows()))
	if crop.Empty() {
		return nil, fmt.Errorf("container %d lies outside the image", idx)
	}
	d.attNeed(crop)
	roi := d.a.Region(crop)
	defer roi.Close()
	// Downscale the one-byte grey picture before colouring it: the colour
	// planes are then only as large as the JPEG.
	g8 := gocv.NewMat()
	defer g8.Close()
	roi.ConvertToWithParams(&g8, gocv.MatTypeCV8U, float32(255/annotateMaxA/attScale), float32(-255*attZero/annotateMaxA/attScale))
	scale := 1.0
	if maxWidth > 0 && g8.Cols() > maxWidth {
		scale = float64(maxWidth) / float64(g8.Cols())
		gocv.Resize(g8, &g8, image.Pt(max(1, int(float64(g8.Cols())*scale)), max(1, int(float64(g8.Rows())*scale))), 0, 0, gocv.InterpolationArea)
	}
	// One canvas, drawn in place: the banner above the picture, the
	// legend below it.
	const bannerH, legendH = 56, 30
	w, h := g8.Cols(), g8.Rows()
	out := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), bannerH+h+legendH, w, gocv.MatTypeCV8UC3)
	defer out.Close()
	img := out.Region(image.Rect(0, bannerH, w, bannerH+h))
	defer img.Close()
	lut := palette()
	defer lut.Close()
	column := lut.Reshape(3, 256) // applyColorMap wants the table as a column
	gocv.ApplyCustomColorMap(g8, &img, column)
	column.Close()

	v := view{crop: crop.Min, scale: scale, corner: c.OuterPx.Min, px: a.PixelM[0], py: a.PixelM[1]}
	drawOverlay(&img, c, v, r)
	banner := out.Region(image.Rect(0, 0, w, bannerH))
	defer banner.Close()
	drawBanner(&banner, w, c, r)
	legend := out.Region(image.Rect(0, bannerH+h, w, bannerH+h+legendH))
	defer legend.Close()
	drawLegend(&legend, w, lut)

	// The views into the canvas go before it may be resized below.
	img.Close()
	banner.Close()
	legend.Close()
	return encodeJPEG(&out, maxBytes)
}

// encodeJPEG encodes the canvas, at lower quality and then smaller until
// it fits maxBytes (0: no limit).
func encodeJPEG(out *gocv.Mat, maxBytes int) ([]byte, error) {
	// Encoded by Go's image/jpeg, not OpenCV's imgcodecs: the daemon then
	// never initialises imgcodecs, which on Debian registers every GDAL
	// driver and keeps ~10 MB resident for nothing.
	var buf bytes.Buffer
	var rgba *image.RGBA
	for q := 85; ; q -= 10 {
		if rgba == nil || rgba.Rect.Dx() != out.Cols() || rgba.Rect.Dy() != out.Rows() {
			var err error
			if rgba, err = toRGBA(*out); err != nil {
				return nil, fmt.Errorf("annotated image: %w", err)
			}
		}
		buf.Reset()
		if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: q}); err != nil {
			return nil, fmt.Errorf("encode annotated image: %w", err)
		}
		if maxBytes <= 0 || buf.Len() <= maxBytes || out.Cols() < 200 {
			return bytes.Clone(buf.Bytes()), nil
		}
		if q <= 55 {
			gocv.Resize(*out, out, image.Pt(out.Cols()*3/4, out.Rows()*3/4), 0, 0, gocv.InterpolationArea)
			q = 95
		}
	}
}

// view maps the scan's pixels and a container's metres to the picture's
// pixels: cropped at crop, scaled by scale.
type view struct {
	crop   image.Point
	scale  float64
	corner image.Point // the container's outer top-left corner in the scan
	px, py float64     // pixel size in metres
}

func (v view) tr(rc image.Rectangle) image.Rectangle {
	rc = rc.Sub(v.crop)
	return image.Rect(int(float64(rc.Min.X)*v.scale), int(float64(rc.Min.Y)*v.scale), int(float64(rc.Max.X)*v.scale), int(float64(rc.Max.Y)*v.scale))
}

func (v view) toPx(m Box) image.Rectangle {
	return image.Rect(v.corner.X+int(m.XM/v.px), v.corner.Y+int(m.YM/v.py),
		v.corner.X+int((m.XM+m.WM)/v.px), v.corner.Y+int((m.YM+m.HM)/v.py))
}

// drawOverlay boxes the container, its regions and light layers, and the
// findings with their codes.
func drawOverlay(img *gocv.Mat, c *Container, v view, r *Caption) {
	font := 0.45
	gocv.Rectangle(img, v.tr(c.OuterPx), colBox, 2)
	for _, g := range c.Regions {
		if g.Packaging {
			continue
		}
		b := v.tr(g.Px)
		gocv.Rectangle(img, b, colRegion, 1)
		label := fmt.Sprintf("R%d %.0f kg/m3", g.Label, g.P50)
		if g.LowerBound {
			label = fmt.Sprintf("R%d >%.0f kg/m3", g.Label, g.P50)
		}
		if g.Material != "" {
			label += " " + g.Material
		}
		if g.Shape.Class == ShapeCoils {
			label += " coils"
		}
		gocv.PutText(img, label, b.Min.Add(image.Pt(3, 14)), gocv.FontHersheySimplex, font, colRegion, 1)
	}
	for _, l := range c.Layers {
		b := v.tr(v.toPx(l.M))
		gocv.Rectangle(img, b, colLayer, 2)
	}
	if r != nil {
		// Several findings about one region share its box: their codes
		// stack up from its bottom edge.
		var drawn []image.Rectangle
		for _, f := range r.Marks {
			if v.px == 0 {
				continue
			}
			b := v.tr(v.toPx(f.Region))
			n := 0
			for _, o := range drawn {
				if o == b {
					n++
				}
			}
			drawn = append(drawn, b)
			if n == 0 {
				gocv.Rectangle(img, b.Inset(-3), colFinding, 2)
			}
			gocv.PutText(img, f.Code, image.Pt(b.Min.X+3, b.Max.Y-6-16*n), gocv.FontHersheySimplex, font+0.05, colFinding, 2)
		}
	}
}

// drawBanner writes the verdict, risk, numbers and the findings' codes.
func drawBanner(banner *gocv.Mat, w int, c *Container, r *Caption) {
	// Banner: verdict, risk, numbers, the findings' codes; then a legend.
	verdict, risk, ids, codes := "ANALYSIS", 0.0, "", ""
	var weights string
	if r != nil {
		verdict, risk, ids = strings.ToUpper(r.Verdict), r.Risk, r.IDs
		codes = strings.Join(r.Codes, ", ")
		if r.DeclaredKg != nil {
			weights += fmt.Sprintf("  declared %.0f kg", *r.DeclaredKg)
		}
		if r.NetKg != nil {
			weights += fmt.Sprintf("  weighbridge net %.0f kg", *r.NetKg)
		}
	}
	xray := fmt.Sprintf("X-ray %.0f kg", c.CargoKg)
	if c.LowerBound {
		xray = fmt.Sprintf("X-ray > %.0f kg", c.CargoKg)
	}
	vc := verdictColour(strings.ToLower(verdict))
	gocv.Rectangle(banner, image.Rect(0, 0, min(w, 190), 56), vc, -1)
	gocv.PutText(banner, verdict, image.Pt(8, 26), gocv.FontHersheySimplex, 0.8, colText, 2)
	gocv.PutText(banner, fmt.Sprintf("risk %.2f", risk), image.Pt(8, 48), gocv.FontHersheySimplex, 0.5, colText, 1)
	gocv.PutText(banner, fmt.Sprintf("%s  %s ft  %s%s", ids, sizeName(c), xray, weights), image.Pt(200, 22), gocv.FontHersheySimplex, 0.5, colText, 1)
	gocv.PutText(banner, codes, image.Pt(200, 46), gocv.FontHersheySimplex, 0.5, colCodes, 1)
}

// drawLegend draws the palette as it is drawn in the image, and what the
// colours of the boxes mean.
func drawLegend(legend *gocv.Mat, w int, lut gocv.Mat) {
	legend.SetTo(gocv.NewScalar(float64(colBand.B), float64(colBand.G), float64(colBand.R), 0))
	// The bar shows the palette as it is drawn in the image.
	barW := min(256, w/3)
	for i := range barW {
		v := uint8(255 * i / max(1, barW-1))
		col := color.RGBA{lut.GetUCharAt(0, 3*int(v)+2), lut.GetUCharAt(0, 3*int(v)+1), lut.GetUCharAt(0, 3*int(v)), 0}
		gocv.Line(legend, image.Pt(8+i, 6), image.Pt(8+i, 24), col, 1)
	}
	gocv.PutText(legend, fmt.Sprintf("attenuation 0..%.0f (-ln T)", annotateMaxA), image.Pt(16+barW, 20), gocv.FontHersheySimplex, 0.45, colText, 1)
	gocv.PutText(legend, "cyan: regions  magenta: light layer  red: findings", image.Pt(min(w-10, 230+barW), 20), gocv.FontHersheySimplex, 0.45, colText, 1)
}

// toRGBA converts a BGR Mat into a Go RGBA image, converting straight into
// the image's pixels (no second copy in C memory).
func toRGBA(bgr gocv.Mat) (*image.RGBA, error) {
	rgba := image.NewRGBA(image.Rect(0, 0, bgr.Cols(), bgr.Rows()))
	dst, err := gocv.NewMatFromBytes(bgr.Rows(), bgr.Cols(), gocv.MatTypeCV8UC4, rgba.Pix)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	gocv.CvtColor(bgr, &dst, gocv.ColorBGRToRGBA)
	if p, err := dst.DataPtrUint8(); err != nil || len(p) == 0 || &p[0] != &rgba.Pix[0] {
		return nil, fmt.Errorf("RGBA conversion did not write into the image")
	}
	return rgba, nil
}

// sizeName is "20", "40" or "45" from the container's length.
func sizeName(c *Container) string {
	return fmt.Sprintf("%.0f", math.Round(c.LengthM/0.3048/5)*5)
}
