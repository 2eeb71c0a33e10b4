/*
 * Fuzz the frame decoder. Input layout: byte 0 picks the cap (1..64),
 * byte 1 seeds the split points and which frame's callback asks to stop;
 * the rest is the byte stream, fed in pseudo-random pieces. Checks: every
 * delivered body is 1..cap bytes, after an error nothing more is fed, and
 * release leaves nothing behind (ASan/LSan catch leaks and overreads).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "net/frame.h"
#include "util/errors.h"
#include "util/secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	size_t cap;
	unsigned frames;
	unsigned stop_at;
	unsigned sum;
};

static int on_frame(void *p, const uint8_t *body, size_t len)
{
	struct fz *z = p;
	size_t i;

	if (len == 0 || len > z->cap)
		abort();
	for (i = 0; i < len; i++) /* touch every byte */
		z->sum += body[i];
	z->frames++;
	return z->frames == z->stop_at ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_decoder d;
	struct fz z = {0};
	uint32_t rng;
	size_t off = 2, k;
	int rv = 0;

	if (size < 2)
		return 0;
	secmem_init(1u << 16);
	z.cap = (size_t)(data[0] % 64) + 1;
	rng = data[1] * 2654435761u + 1;
	z.stop_at = (data[1] & 0x0f) == 0 ? (data[1] >> 4) + 1 : 0;
	frame_decoder_init(&d, z.cap);
	while (off < size && rv == 0) {
		rng = rng * 1103515245u + 12345u;
		k = ((rng >> 16) % 9); /* 0..8 bytes per feed, 0 included */
		if (k > size - off)
			k = size - off;
		rv = frame_decoder_feed(&d, data + off, k, on_frame, &z);
		off += k;
	}
	if (rv != 0 && rv != 1 && rv != CF_ETOOBIG && rv != CF_ENOMEM)
		abort();
	if (d.body != NULL && d.body_have >= d.body_len)
		abort();
	frame_decoder_release(&d);
	if (d.body != NULL)
		abort();
	return 0;
}
