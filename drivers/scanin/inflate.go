package scanin

/*
#cgo LDFLAGS: -lisal
#include <stdlib.h>
#include <isa-l/igzip_lib.h>

static struct inflate_state *zstate_new(void) {
	struct inflate_state *s = malloc(sizeof *s);
	if (s) {
		isal_inflate_init(s);
		s->crc_flag = ISAL_ZLIB;
	}
	return s;
}

// zstep inflates from in into out. The buffers are the caller's for this
// call only: the state keeps no pointer to them afterwards.
static int zstep(struct inflate_state *s, uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_len,
                 uint32_t *in_used, uint32_t *out_used, int *finished) {
	s->next_in = in;
	s->avail_in = in_len;
	s->next_out = out;
	s->avail_out = out_len;
	int r = isal_inflate(s);
	*in_used = in_len - s->avail_in;
	*out_used = out_len - s->avail_out;
	*finished = s->block_state == ISAL_BLOCK_FINISH;
	s->next_in = NULL;
	s->next_out = NULL;
	return r;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// inflater is a zlib stream decompressor of Intel's ISA-L (igzip), the
// fastest inflater Debian packages: on scanner images, which are noisy and
// compress little, about three times Go's and a little faster than
// libdeflate; and it streams, so a PNG's compressed data is fed to it
// chunk by chunk as it is read, never held whole, while its output goes
// straight into the image's memory. The zlib header and Adler-32 checksum
// are checked.
type inflater struct{ s *C.struct_inflate_state }

func newInflater() (*inflater, error) {
	s := C.zstate_new()
	if s == nil {
		return nil, errors.New("inflate: out of memory")
	}
	return &inflater{s}, nil
}

func (z *inflater) close() { C.free(unsafe.Pointer(z.s)) }

// step inflates from in into out and says how much of each it used and
// whether the zlib stream has ended (checksum verified).
func (z *inflater) step(in, out []byte) (inUsed, outUsed int, finished bool, err error) {
	var ip, op *C.uint8_t
	if len(in) > 0 {
		ip = (*C.uint8_t)(unsafe.Pointer(&in[0]))
	}
	if len(out) > 0 {
		op = (*C.uint8_t)(unsafe.Pointer(&out[0]))
	}
	var iu, ou C.uint32_t
	var fin C.int
	if r := C.zstep(z.s, ip, C.uint32_t(len(in)), op, C.uint32_t(len(out)), &iu, &ou, &fin); r != C.ISAL_DECOMP_OK && r != C.ISAL_END_INPUT {
		err = fmt.Errorf("zlib data corrupt (ISA-L inflate result %d)", int(r))
	}
	return int(iu), int(ou), fin != 0, err
}

// inflate decompresses the whole zlib stream in into out and returns the
// bytes written: one plain inflate, the floor a PNG decode is measured
// against (see bench40_test.go). errShortOutput means the stream holds
// more than len(out) bytes.
func inflate(in, out []byte) (int, error) {
	z, err := newInflater()
	if err != nil {
		return 0, err
	}
	defer z.close()
	total := 0
	for {
		iu, ou, fin, err := z.step(in, out[total:])
		in, total = in[iu:], total+ou
		switch {
		case err != nil:
			return total, err
		case fin:
			return total, nil
		case iu == 0 && ou == 0:
			if total == len(out) {
				return total, errShortOutput
			}
			return total, errors.New("zlib stream truncated")
		}
	}
}

var errShortOutput = errors.New("zlib stream holds more data than the image")
