package xraysim

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"testing"
)

func saveView(t *testing.T, path string, img *image.Gray16, air, dark float64, x0, x1 int, scale int) {
	b := img.Bounds()
	if x1 <= 0 || x1 > b.Dx() {
		x1 = b.Dx()
	}
	w := (x1 - x0) / scale
	h := b.Dy() / scale
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := 0.0
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					v := float64(img.Gray16At(x0+x*scale+dx, y*scale+dy).Y)
					T := (v - dark) / (air - dark)
					if T < 1e-4 {
						T = 1e-4
					}
					s += -math.Log(T)
				}
			}
			a := s / float64(scale*scale)
			g := 255 - a/7*255
			if g < 0 {
				g = 0
			}
			if g > 255 {
				g = 255
			}
			out.SetGray(x, y, color.Gray{uint8(g)})
		}
	}
	f, _ := os.Create(path)
	png.Encode(f, out)
	f.Close()
}
