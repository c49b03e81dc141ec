package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// moveScan moves a scan's files (sidecar last) into dir, or, when one of
// their names is taken there (a scan id used again), into a new
// subdirectory of dir of its own: a kept scan is never overwritten, and its
// sidecar still names its images. It returns the directory used. dir may
// be on another file system: the files are then copied, synced and
// removed.
func moveScan(files []string, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	dst := dir
	if taken(dir, files) {
		stem := strings.TrimSuffix(filepath.Base(files[len(files)-1]), ".json")
		for n := 2; ; n++ {
			dst = filepath.Join(dir, fmt.Sprintf("%s.%d", stem, n))
			err := os.Mkdir(dst, 0o750)
			if err == nil {
				break
			}
			if !errors.Is(err, os.ErrExist) {
				return "", err
			}
		}
	}
	for _, f := range files {
		if err := moveFile(f, filepath.Join(dst, filepath.Base(f))); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func taken(dir string, files []string) bool {
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, filepath.Base(f))); err == nil {
			return true
		}
	}
	return false
}

// moveFile renames src to dst, which must not exist; across file systems
// it copies (dst created exclusively), syncs the copy and its directory,
// then removes src. A file already gone is no error.
func moveFile(src, dst string) error {
	if _, err := os.Lstat(src); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s exists; not overwritten", dst)
	}
	err := os.Rename(src, dst)
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	if err := copyFile(src, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("copy %s to %s (another file system): %w", src, dst, err)
	}
	return os.Remove(src)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// The scanner's write time, which retention prunes by.
	if err := os.Chtimes(dst, fi.ModTime(), fi.ModTime()); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
