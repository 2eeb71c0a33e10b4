/*
 * Fuzz the AWS endpoint's HTTP request reader (server/aws/http_reader.c)
 * with its real caps. Input layout: byte 0 seeds the split points, byte 1
 * the callback's answers (go, pause, stop) and when a paused reader is
 * resumed; the rest is the byte stream, fed in pseudo-random pieces
 * (0..4096 bytes, small pieces favoured). Checks: every request handed out
 * respects the caps and points inside the reader, an error is one of the
 * documented statuses and ends the input, and release leaves nothing behind
 * (ASan/LSan catch leaks and overreads).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/http_int.h"
#include "util/errors.h"
#include "util/secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	struct http_reader *r;
	uint32_t rng;
	unsigned requests;
	unsigned continues;
	unsigned sum;
};

static uint32_t next(uint32_t *rng)
{
	*rng = *rng * 1103515245u + 12345u;
	return *rng >> 16;
}

static bool inside(const struct http_reader *r, const char *p, size_t n)
{
	return p >= r->head && n <= HTTP_MAX_HEADER_BYTES && p + n <= r->head + r->head_len;
}

static void on_continue(void *data)
{
	struct fz *z = data;

	z->continues++;
}

static int on_request(void *data, const struct http_request *q)
{
	struct fz *z = data;
	size_t i;

	if (q->body_len > HTTP_MAX_BODY_BYTES || q->n_headers > HTTP_MAX_HEADERS)
		abort();
	if (!inside(z->r, q->path, q->path_len) || q->major != 1)
		abort();
	if (q->query_len > 0 && !inside(z->r, q->query, q->query_len))
		abort();
	for (i = 0; i < q->n_headers; i++) {
		if (!inside(z->r, q->headers[i].name, q->headers[i].name_len) ||
		    (q->headers[i].value_len > 0 &&
		     !inside(z->r, q->headers[i].value, q->headers[i].value_len)))
			abort();
		z->sum += (unsigned char)q->headers[i].name[0];
	}
	for (i = 0; i < q->body_len; i++) /* touch every byte */
		z->sum += q->body[i];
	z->requests++;
	switch (next(&z->rng) % 8) {
	case 0:
	case 1: return HTTP_READER_PAUSE;
	case 2: return HTTP_READER_STOP;
	default: return HTTP_READER_GO;
	}
}

static const struct http_reader_cbs cbs = {on_continue, on_request};

static bool allowed(int rv)
{
	return rv == 0 || rv == 400 || rv == 411 || rv == 413 || rv == 417 || rv == 431 ||
	       rv == 503 || rv == 505 || rv == CF_ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_reader *r;
	struct fz z = {0};
	uint32_t split;
	size_t off = 2, k;
	int rv = 0;

	if (size < 2)
		return 0;
	secmem_init(1u << 22);
	if (r == NULL && (r = malloc(sizeof(*r))) == NULL)
		return 0;
	z.r = r;
	split = data[0] * 2654435761u + 1;
	z.rng = data[1] * 40503u + 7;
	http__reader_init(r, &cbs, &z);
	while (off < size && rv == 0) {
		uint32_t x = next(&split);

		k = (x & 3) == 0 ? x % 4097 : x % 17;
		if (k > size - off)
			k = size - off;
		rv = http__reader_feed(r, data + off, k);
		off += k;
		if (rv == 0 && http__reader_paused(r) && next(&z.rng) % 3 == 0)
			rv = http__reader_resume(r);
	}
	/* drain whatever was kept */
	for (int i = 0; rv == 0 && http__reader_paused(r) && i < 100000; i++)
		rv = http__reader_resume(r);
	if (!allowed(rv))
		abort();
	if (rv != 0 && (http__reader_paused(r) || http__reader_feed(r, data, size) != 0))
		abort(); /* an error ends reading */
	if (r->body_have > r->body.len || r->bl_off > r->bl_end || r->bl_end > r->backlog.len)
		abort();
	http__reader_release(r);
	if (r->body.data != NULL || r->backlog.data != NULL)
		abort();
	return 0;
}
