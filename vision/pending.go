package vision

import "image"

// pendingAtt converts the high-energy plane to attenuation where it is
// read, not all at once. When the detector works in place (the caller
// releases its images), the plane is the raw image's own pixels, and only
// the rows the search for containers reads and the containers themselves
// are ever needed for the verdict: the rest (the cab, the chassis, the
// air around) is converted only if the annotated picture or a calibration
// asks for it. Each pixel is converted once, by the same code as a whole
// plane would be, so the values are the same whatever order they are
// asked for in.
type pendingAtt struct {
	on    bool
	src   raw
	p     *plane
	floor float32
	// done[r] are the columns of row r already converted (a == b: none);
	// a request is widened to one interval a row.
	done []span
}

// start makes the whole plane pending on src and p's flat field.
func (q *pendingAtt) start(src raw, p *plane) {
	q.on, q.src, q.p, q.floor = true, src, p, float32(p.floor)
	if cap(q.done) < src.h {
		q.done = make([]span, src.h)
	}
	q.done = q.done[:src.h]
	clear(q.done)
}

// attNeed converts what is still raw of part r of the plane d.a.
func (d *Detector) attNeed(r image.Rectangle) {
	q := &d.pending
	if !q.on {
		return
	}
	r = r.Intersect(image.Rect(0, 0, q.src.w, q.src.h))
	if r.Empty() {
		return
	}
	out, _ := d.a.DataPtrUint16()
	w := q.src.w
	// Rows in the same state take one call for the run.
	for y := r.Min.Y; y < r.Max.Y; {
		st := q.done[y]
		end := y + 1
		for end < r.Max.Y && q.done[end] == st {
			end++
		}
		for _, part := range missing(st, r.Min.X, r.Max.X) {
			attRows(out, w, image.Point{}, q.src, q.p, part.a, part.b, y, end, q.floor)
		}
		nst := widen(st, r.Min.X, r.Max.X)
		for k := y; k < end; k++ {
			if !q.p.deadRow[k] { // a dead row is done when filled
				q.done[k] = nst
			}
		}
		y = end
	}
	if q.p.dead == 0 {
		return
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		if q.p.deadRow[y] {
			d.fillDead(y, r.Min.X, r.Max.X)
		}
	}
}

// attNeedAll converts the whole plane and ends its pending state.
func (d *Detector) attNeedAll() {
	if d.pending.on {
		d.attNeed(image.Rect(0, 0, d.pending.src.w, d.pending.src.h))
		d.pending.on = false
	}
}

// missing are the parts of [x0, x1) a row converted over st still lacks,
// with what lies between st and [x0, x1) so that the row stays one
// interval.
func missing(st span, x0, x1 int) []span {
	if st.a == st.b {
		return []span{{x0, x1}}
	}
	var out []span
	if x0 < st.a {
		out = append(out, span{x0, st.a})
	}
	if x1 > st.b {
		out = append(out, span{st.b, x1})
	}
	return out
}

func widen(st span, x0, x1 int) span {
	if st.a == st.b {
		return span{x0, x1}
	}
	return span{min(st.a, x0), max(st.b, x1)}
}

// fillDead sets columns [x0, x1) of dead row y (those not yet set) to the
// mean transmission of the nearest good rows above and below it, the
// neighbours converted first.
func (d *Detector) fillDead(y, x0, x1 int) {
	q := &d.pending
	h := q.src.h
	up, dn := goodRows(q.p.deadRow, y, 0, h)
	for _, k := range [2]int{up, dn} {
		if k >= 0 && k < h {
			d.attNeed(image.Rect(x0, k, x1, k+1)) // a good row: no recursion
		}
	}
	pix, _ := d.a.DataPtrUint16()
	for _, part := range missing(q.done[y], x0, x1) {
		fillRow(pix, q.src.w, image.Point{}, y, up, dn, 0, h, part.a, part.b)
	}
	q.done[y] = widen(q.done[y], x0, x1)
}
