/*
 * Frame decoder: 4-byte big-endian length, then the body. Bytes arrive in
 * arbitrary pieces; the header is collected into hdr[], then the body into
 * a secure-heap buffer sized exactly to the announced length. The length is
 * checked against the cap (and against zero) before anything is allocated,
 * so a peer can make us hold at most cap bytes per connection. Every body
 * is wiped and freed right after its callback returns.
 */
#include "net/frame.h"

#include <string.h>

#include "util/errors.h"
#include "util/secmem.h"

void frame_decoder_init(struct frame_decoder *d, size_t cap)
{
	memset(d, 0, sizeof(*d));
	d->cap = cap;
}

void frame_decoder_release(struct frame_decoder *d)
{
	secmem_free(d->body); /* wipes */
	d->body = NULL;
	d->body_len = 0;
	d->body_have = 0;
	d->hdr_have = 0;
	memset(d->hdr, 0, sizeof(d->hdr));
}

void frame_put_header(uint8_t out[4], uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
}

/* The header is complete: validate the length and allocate the body. */
static int start_body(struct frame_decoder *d)
{
	uint32_t len = ((uint32_t)d->hdr[0] << 24) | ((uint32_t)d->hdr[1] << 16) |
		       ((uint32_t)d->hdr[2] << 8) | (uint32_t)d->hdr[3];

	if (len == 0 || (size_t)len > d->cap)
		return CF_ETOOBIG;
	d->body = secmem_alloc(len);
	if (d->body == NULL)
		return CF_ENOMEM;
	d->body_len = len;
	d->body_have = 0;
	return 0;
}

/* The body is complete: hand it out, then wipe and free it. */
static int deliver(struct frame_decoder *d, frame_cb cb, void *data)
{
	int rv = cb(data, d->body, d->body_len);

	secmem_free(d->body);
	d->body = NULL;
	d->body_len = 0;
	d->body_have = 0;
	d->hdr_have = 0;
	return rv;
}

int frame_decoder_feed(struct frame_decoder *d, const uint8_t *buf, size_t n, frame_cb cb,
		       void *data)
{
	size_t k;
	int rv;

	while (n > 0) {
		if (d->body == NULL) {
			k = FRAME_HEADER_LEN - d->hdr_have;
			if (k > n)
				k = n;
			memcpy(d->hdr + d->hdr_have, buf, k);
			d->hdr_have += k;
			buf += k;
			n -= k;
			if (d->hdr_have < FRAME_HEADER_LEN)
				break;
			rv = start_body(d);
			if (rv != 0)
				return rv;
			continue;
		}
		/* body_have < body_len always holds here */
		k = d->body_len - d->body_have;
		if (k > n)
			k = n;
		memcpy(d->body + d->body_have, buf, k);
		d->body_have += k;
		buf += k;
		n -= k;
		if (d->body_have == d->body_len) {
			rv = deliver(d, cb, data);
			if (rv != 0)
				return rv;
		}
	}
	return 0;
}
