package buffer

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrDiskFull is what a write refused for lack of disk space wraps.
var ErrDiskFull = errors.New("disk full")

// FreeBytes is the space an unprivileged writer may still use on the file
// system holding dir.
func FreeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// FreeBytes is the space left on the store's file system.
func (s *Store) FreeBytes() (int64, error) { return FreeBytes(s.dir) }

// SetReserve makes the store refuse commits and queued messages while
// its file system has less than n bytes free, and every other write (an
// acknowledgement, an attempt, a declaration, a weight: small ones) under
// a quarter of n; 0 turns the checks off. Badger writes its logs and
// tables through memory maps: a page it touches that the file system
// cannot back kills the process with SIGBUS, so the store stops writing
// while a margin is left, and keeps serving reads.
func (s *Store) SetReserve(n int64) { s.reserve.Store(n) }

// room fails with ErrDiskFull when a write must not go ahead: bulk is a
// commit or a queued message, held to the whole reserve.
func (s *Store) room(bulk bool) error {
	r := s.reserve.Load()
	if r <= 0 {
		return nil
	}
	if !bulk {
		r /= 4
	}
	free, err := s.FreeBytes()
	if err != nil {
		return err
	}
	if free < r {
		return fmt.Errorf("%w: %d MB free on the buffer's disk (%s), under the %d MB kept in reserve so that Badger never runs out of space mid-write",
			ErrDiskFull, free>>20, s.dir, r>>20)
	}
	return nil
}
