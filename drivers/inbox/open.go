package inbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// ErrNotRegular marks a path that is not a regular file (a FIFO, a device,
// a socket, a directory or a symbolic link): an inbox takes none of them.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens a file of an inbox for reading, only if it is a regular
// file: O_NOFOLLOW refuses a symbolic link, O_NONBLOCK keeps a FIFO with no
// writer (or a device) from blocking the open for ever, and the descriptor's
// own fstat decides, so that what is read is what was checked. The caller
// closes the file.
func OpenRegular(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, nil, fmt.Errorf("%s is a symbolic link: %w; put the file itself in the inbox", filepath.Base(path), ErrNotRegular)
	}
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is a %s: %w", filepath.Base(path), kind(fi.Mode()), ErrNotRegular)
	}
	return f, fi, nil
}

// ReadRegular reads a regular file of an inbox (see OpenRegular) of at most
// max bytes.
func ReadRegular(path string, max int64) ([]byte, error) {
	f, _, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", filepath.Base(path), max, ErrTooLarge)
	}
	return b, nil
}

// ErrTooLarge marks a file over the size its reader accepts.
var ErrTooLarge = errors.New("file too large")

func kind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "directory"
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file (" + m.Type().String() + ")"
}
