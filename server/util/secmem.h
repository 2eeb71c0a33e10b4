/*
 * Secure memory: plaintext secret values and key material live in
 * OpenSSL's secure heap (locked, never swapped, wiped on free). Buffers are
 * never realloc'ed. secmem_init() must run once before any other use.
 */
#ifndef COFFER_UTIL_SECMEM_H
#define COFFER_UTIL_SECMEM_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Set up the secure heap (size in bytes, a power of two). 0 or CF_ENOMEM.
 * Idempotent. Main thread, before other threads start. */
int secmem_init(size_t size);

/* Zeroed secure allocation; NULL on failure. Free with secmem_free. */
void *secmem_alloc(size_t n);
/* Wipe and free a secmem_alloc'ed (or ordinary malloc'ed, see below) block. NULL ok. */
void secmem_free(void *p);

/* A secret byte string in the secure heap. */
struct secbuf {
	uint8_t *data;
	size_t len;
};
/* Allocate len bytes (plus one zero byte so it can hold a C string). */
int secbuf_alloc(struct secbuf *b, size_t len);
/* Copy n bytes into a fresh secure buffer. */
int secbuf_dup(struct secbuf *b, const void *src, size_t n);
/* Wipe and free; b is left empty. */
void secbuf_free(struct secbuf *b);

/* A protobuf-c allocator on the secure heap: messages that may hold secret
 * values are unpacked with it so their strings are wiped when freed. */
extern ProtobufCAllocator secmem_pb_allocator;

/* Pack a message into a secure buffer (for responses that carry values). */
int secmem_pb_pack(const ProtobufCMessage *m, struct secbuf *out);

#endif
