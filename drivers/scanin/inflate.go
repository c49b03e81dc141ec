package scanin

/*
#cgo LDFLAGS: -ldeflate
#include <stdlib.h>
#include <libdeflate.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// inflate decompresses the zlib stream in into out with libdeflate, the
// fastest inflater Debian packages (two to three times zlib's speed on
// scanner images, which are noisy and compress little): it needs the whole
// stream and the whole output at once, which a PNG's IDAT data and the
// detector's image are. It returns the bytes written; data after the end
// of the zlib stream is ignored, as zlib does. errShortOutput means the
// stream holds more than len(out) bytes.
func inflate(in, out []byte) (int, error) {
	if len(in) == 0 {
		return 0, errors.New("no zlib data")
	}
	d := C.libdeflate_alloc_decompressor()
	if d == nil {
		return 0, errors.New("libdeflate: out of memory")
	}
	defer C.libdeflate_free_decompressor(d)
	var inUsed, outN C.size_t
	var outp unsafe.Pointer
	if len(out) > 0 {
		outp = unsafe.Pointer(&out[0])
	}
	switch r := C.libdeflate_zlib_decompress_ex(d, unsafe.Pointer(&in[0]), C.size_t(len(in)),
		outp, C.size_t(len(out)), &inUsed, &outN); r {
	case C.LIBDEFLATE_SUCCESS:
		return int(outN), nil
	case C.LIBDEFLATE_INSUFFICIENT_SPACE:
		return len(out), errShortOutput
	case C.LIBDEFLATE_BAD_DATA:
		return 0, errors.New("zlib data corrupt (bad deflate data, header or Adler-32 checksum)")
	default:
		return 0, fmt.Errorf("libdeflate: result %d", int(r))
	}
}

var errShortOutput = errors.New("zlib stream holds more data than the image")
