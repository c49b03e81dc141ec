package vision

import (
	"fmt"
	"image"
	"image/color"
	"strings"

	"gocv.io/x/gocv"

	"github.com/gatescan/gatescan/agent/inspection"
)

var (
	colBox     = color.RGBA{255, 255, 255, 0}
	colRegion  = color.RGBA{0, 255, 255, 0}
	colFinding = color.RGBA{0, 0, 255, 0} // BGR: red
	colText    = color.RGBA{255, 255, 255, 0}
)

// Annotate renders container idx of the last analysed scan as a JPEG: the
// attenuation in false colour, the container and cargo regions boxed and
// labelled, the findings' regions in red, a legend and the verdict. It must
// be called before the detector analyses another scan. The image is
// downscaled until it fits maxBytes.
func (d *Detector) Annotate(a *Analysis, idx int, r *inspection.Result, maxWidth, maxBytes int) ([]byte, error) {
	if idx >= len(a.Containers) || d.m.Empty() {
		return nil, fmt.Errorf("no container %d in the last analysis", idx)
	}
	c := a.Containers[idx]
	// Crop around the container with a margin, so the picture is about it.
	margin := c.OuterPx.Dy() / 4
	crop := c.OuterPx.Inset(-margin).Intersect(image.Rect(0, 0, d.m.Cols(), d.m.Rows()))
	roi := d.m.Region(crop)
	defer roi.Close()
	g8 := gocv.NewMat()
	defer g8.Close()
	// Mass thickness 0..150 g/cm² onto 0..255; denser is brighter.
	roi.ConvertToWithParams(&g8, gocv.MatTypeCV8U, 255.0/150, 0)
	img := gocv.NewMat()
	defer img.Close()
	gocv.ApplyColorMap(g8, &img, gocv.ColormapJet)

	scale := 1.0
	if maxWidth > 0 && img.Cols() > maxWidth {
		scale = float64(maxWidth) / float64(img.Cols())
	}
	if scale != 1 {
		gocv.Resize(img, &img, image.Pt(int(float64(img.Cols())*scale), int(float64(img.Rows())*scale)), 0, 0, gocv.InterpolationArea)
	}
	tr := func(rc image.Rectangle) image.Rectangle {
		rc = rc.Sub(crop.Min)
		return image.Rect(int(float64(rc.Min.X)*scale), int(float64(rc.Min.Y)*scale), int(float64(rc.Max.X)*scale), int(float64(rc.Max.Y)*scale))
	}
	gocv.Rectangle(&img, tr(c.OuterPx), colBox, 2)
	for i, g := range c.Regions {
		b := tr(g.Px)
		gocv.Rectangle(&img, b, colRegion, 1)
		gocv.PutText(&img, fmt.Sprintf("R%d %.0f kg/m3", i+1, g.DensityKgM3), b.Min.Add(image.Pt(3, 14)), gocv.FontHersheySimplex, 0.45, colRegion, 1)
	}
	px, py := a.PixelM[0], a.PixelM[1]
	for _, f := range r.Findings {
		if f.Region == nil || px == 0 {
			continue
		}
		rr := image.Rect(c.OuterPx.Min.X+int(f.Region.XM/px), c.OuterPx.Min.Y+int(f.Region.YM/py),
			c.OuterPx.Min.X+int((f.Region.XM+f.Region.WM)/px), c.OuterPx.Min.Y+int((f.Region.YM+f.Region.HM)/py))
		b := tr(rr)
		gocv.Rectangle(&img, b, colFinding, 3)
		gocv.PutText(&img, f.Code, image.Pt(b.Min.X+3, b.Max.Y-6), gocv.FontHersheySimplex, 0.5, colFinding, 2)
	}
	// Legend band with the verdict.
	lines := []string{fmt.Sprintf("%s  risk %.2f  %s  X-ray %.0f kg", strings.ToUpper(r.Verdict), r.Risk, strings.Join(r.ContainerIDs, " "), c.CargoKg),
		"colour: mass thickness 0 (blue) .. 150 g/cm2 (red); white box: container; cyan: cargo regions; red: findings"}
	band := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(32, 32, 32, 0), 22*len(lines)+8, img.Cols(), img.Type())
	defer band.Close()
	for i, l := range lines {
		gocv.PutText(&band, l, image.Pt(6, 20+22*i), gocv.FontHersheySimplex, 0.5, colText, 1)
	}
	out := gocv.NewMat()
	defer out.Close()
	gocv.Vconcat(band, img, &out)
	for q := 85; ; q -= 10 {
		buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, out, []int{gocv.IMWriteJpegQuality, q})
		if err != nil {
			return nil, fmt.Errorf("encode annotated image: %w", err)
		}
		b := append([]byte(nil), buf.GetBytes()...)
		buf.Close()
		if maxBytes <= 0 || len(b) <= maxBytes || out.Cols() < 200 {
			return b, nil
		}
		if q <= 55 {
			gocv.Resize(out, &out, image.Pt(out.Cols()*3/4, out.Rows()*3/4), 0, 0, gocv.InterpolationArea)
			q = 85
		}
	}
}
