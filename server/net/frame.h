/*
 * frame: the RPC port's framing, 4-byte big-endian length + body. The
 * decoder is a pure incremental parser with a size cap, fuzzed.
 */
#ifndef COFFER_NET_FRAME_H
#define COFFER_NET_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN 4
/* Requests (including AWS-endpoint bodies of up to 1 MiB relayed by a
 * follower) and answers (BatchGetSecretValue: 20 values of 64 KiB) fit. */
#define FRAME_DEFAULT_CAP (2u * 1024u * 1024u)

struct frame_decoder {
	size_t cap;      /* largest body accepted */
	uint8_t hdr[4];
	size_t hdr_have;
	uint8_t *body;   /* secure heap (frames carry secret values) */
	size_t body_len;
	size_t body_have;
};

void frame_decoder_init(struct frame_decoder *d, size_t cap);
void frame_decoder_release(struct frame_decoder *d);

/* Called once per complete frame; body is borrowed for the call only (it is
 * wiped and freed afterwards). Return non-zero to stop decoding. */
typedef int (*frame_cb)(void *data, const uint8_t *body, size_t len);

/* Feed n bytes. Returns 0, CF_ETOOBIG (length over cap, or zero length),
 * CF_ENOMEM, or the callback's non-zero value. After an error the decoder
 * must be released. */
int frame_decoder_feed(struct frame_decoder *d, const uint8_t *buf, size_t n, frame_cb cb,
		       void *data);

/* Write the 4-byte header for a body of len bytes. */
void frame_put_header(uint8_t out[4], uint32_t len);

#endif
