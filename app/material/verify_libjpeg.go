//go:build cgo && linux

package material

// On Linux, progressive files (which checkEntropy does not read) are
// checked through libjpeg-turbo: it decodes every entropy-coded block, which
// is what catches a truncated or corrupt file, but at 1/8 scale, so no
// inverse DCT or colour conversion is done — about 6× faster than
// image/jpeg's full decode. libjpegVerify is also the reference that
// checkEntropy is tested against.
//
// Two decoders never agree exactly on damaged data, and the one promise
// that matters is that the server never refuses a file the client passed;
// so a file libjpeg refuses is decoded again with image/jpeg and passes if
// that reads it.

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

struct cd_err {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	int warned;
	char msg[JMSG_LENGTH_MAX];
};

static void cd_error_exit(j_common_ptr c) {
	struct cd_err *e = (struct cd_err *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jump, 1);
}

// Warnings are corrupt data that libjpeg papers over; image/jpeg refuses the
// same files, so they are errors here. Extraneous bytes between segments
// are the exception: image/jpeg skips them too.
static void cd_emit_message(j_common_ptr c, int level) {
	struct cd_err *e = (struct cd_err *)c->err;
	if (level >= 0 || e->warned || c->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
	e->warned = 1;
	(*c->err->format_message)(c, e->msg);
}

// libjpeg-turbo's fast Huffman path turns a bad code into a silent zero;
// its careful path warns. The careful path runs whenever fewer than 512
// bytes per block of an MCU are buffered, so the source hands libjpeg the
// file 256 bytes at a time.
#define CD_CHUNK 256
struct cd_src {
	struct jpeg_source_mgr pub;
	const unsigned char *buf, *end;
};
static const JOCTET cd_eoi[2] = {0xFF, JPEG_EOI};
static void cd_init_source(j_decompress_ptr c) {}
static void cd_term_source(j_decompress_ptr c) {}
static boolean cd_fill(j_decompress_ptr c) {
	struct cd_src *s = (struct cd_src *)c->src;
	size_t n = s->end - s->buf;
	if (n == 0) {
		WARNMS(c, JWRN_JPEG_EOF);
		s->pub.next_input_byte = cd_eoi;
		s->pub.bytes_in_buffer = 2;
		return TRUE;
	}
	if (n > CD_CHUNK) n = CD_CHUNK;
	s->pub.next_input_byte = s->buf;
	s->pub.bytes_in_buffer = n;
	s->buf += n;
	return TRUE;
}
static void cd_skip(j_decompress_ptr c, long n) {
	struct cd_src *s = (struct cd_src *)c->src;
	while (n > (long)s->pub.bytes_in_buffer) {
		n -= (long)s->pub.bytes_in_buffer;
		cd_fill(c);
	}
	s->pub.next_input_byte += n;
	s->pub.bytes_in_buffer -= n;
}

// cd_verify returns 0 when every scan of the file decodes cleanly, else 1
// with the reason in msg.
static int cd_verify(const unsigned char *buf, unsigned long len, char *msg) {
	struct jpeg_decompress_struct c;
	struct cd_err e;
	JSAMPARRAY row;
	memset(&e, 0, sizeof e);
	c.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = cd_error_exit;
	e.pub.emit_message = cd_emit_message;
	if (setjmp(e.jump)) {
		jpeg_destroy_decompress(&c);
		strncpy(msg, e.msg, JMSG_LENGTH_MAX);
		return 1;
	}
	jpeg_create_decompress(&c);
	struct cd_src src;
	src.pub.init_source = cd_init_source;
	src.pub.fill_input_buffer = cd_fill;
	src.pub.skip_input_data = cd_skip;
	src.pub.resync_to_restart = jpeg_resync_to_restart;
	src.pub.term_source = cd_term_source;
	src.pub.bytes_in_buffer = 0;
	src.pub.next_input_byte = NULL;
	src.buf = buf;
	src.end = buf + len;
	c.src = &src.pub;
	jpeg_read_header(&c, TRUE);
	c.scale_num = 1;
	c.scale_denom = 8;
	c.dct_method = JDCT_IFAST;
	c.do_fancy_upsampling = FALSE;
	jpeg_start_decompress(&c);
	row = (*c.mem->alloc_sarray)((j_common_ptr)&c, JPOOL_IMAGE, c.output_width * c.output_components, 1);
	while (c.output_scanline < c.output_height && !e.warned) jpeg_read_scanlines(&c, row, 1);
	if (!e.warned) jpeg_finish_decompress(&c);
	jpeg_destroy_decompress(&c);
	if (e.warned) {
		strncpy(msg, e.msg, JMSG_LENGTH_MAX);
		return 1;
	}
	return 0;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// verifyOther checks what checkEntropy does not read (progressive files):
// libjpeg decodes them at 1/8 scale, and a file it refuses is decoded
// again with image/jpeg and passes if that reads it.
func verifyOther(b []byte) error {
	err := libjpegVerify(b)
	if err == nil {
		return nil
	}
	if _, derr := decodeJPEG(b); derr == nil {
		return nil
	}
	return err
}

// libjpegVerify is libjpeg-turbo's verdict alone.
func libjpegVerify(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty")
	}
	var msg [C.JMSG_LENGTH_MAX]C.char
	// b holds no Go pointers and the longjmp never leaves cd_verify, so
	// libjpeg may read the Go memory directly for the length of the call.
	if C.cd_verify((*C.uchar)(unsafe.Pointer(&b[0])), C.ulong(len(b)), &msg[0]) == 0 {
		return nil
	}
	return errors.New(C.GoString(&msg[0]))
}

// otherVerifier names the decoder behind verifyOther.
const otherVerifier = "libjpeg-turbo (1/8 scale)"
