package publish

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	for _, window := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		window *= time.Millisecond
		if window > time.Second {
			window = time.Second
		}
		d := b.next()
		if d < window/2 || d > window {
			t.Errorf("delay %v outside the upper half of the %v window", d, window)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %v, want at most the minimum", d)
	}
	// Jitter: gates cut off together do not retry together.
	seen := map[time.Duration]bool{}
	for range 20 {
		c := backoff{min: time.Second, max: time.Minute}
		seen[c.next()] = true
	}
	if len(seen) < 10 {
		t.Errorf("%d distinct first delays in 20 draws: no jitter", len(seen))
	}
}
