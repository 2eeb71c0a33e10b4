/*
 * Secure heap wrappers. Blocks come from OPENSSL_secure_malloc when the
 * secure heap has room, otherwise from malloc; either way secmem_free wipes
 * the whole block (OPENSSL_secure_actual_size or malloc_usable_size) before
 * freeing it.
 */
#include "util/secmem.h"

#include <malloc.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/errors.h"

int secmem_init(size_t size)
{
	if (CRYPTO_secure_malloc_initialized())
		return 0;
	/* 1 = heap not available (e.g. mlock limit): fall back to wiped malloc */
	(void)CRYPTO_secure_malloc_init(size, 32);
	return 0;
}

void *secmem_alloc(size_t n)
{
	void *p = NULL;

	if (n == 0)
		n = 1;
	if (CRYPTO_secure_malloc_initialized())
		p = OPENSSL_secure_zalloc(n);
	if (p == NULL) {
		p = calloc(1, n);
	}
	return p;
}

void secmem_free(void *p)
{
	if (p == NULL)
		return;
	if (CRYPTO_secure_allocated(p)) {
		OPENSSL_secure_clear_free(p, OPENSSL_secure_actual_size(p));
		return;
	}
	OPENSSL_cleanse(p, malloc_usable_size(p));
	free(p);
}

int secbuf_alloc(struct secbuf *b, size_t len)
{
	b->data = secmem_alloc(len + 1);
	b->len = b->data ? len : 0;
	return b->data ? 0 : CF_ENOMEM;
}

int secbuf_dup(struct secbuf *b, const void *src, size_t n)
{
	int rv = secbuf_alloc(b, n);

	if (rv == 0 && n > 0)
		memcpy(b->data, src, n);
	return rv;
}

void secbuf_free(struct secbuf *b)
{
	secmem_free(b->data);
	b->data = NULL;
	b->len = 0;
}

static void *pb_alloc(void *data, size_t size)
{
	(void)data;
	return secmem_alloc(size);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	secmem_free(p);
}

ProtobufCAllocator secmem_pb_allocator = {pb_alloc, pb_free, NULL};

int secmem_pb_pack(const ProtobufCMessage *m, struct secbuf *out)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	int rv = secbuf_alloc(out, n);

	if (rv != 0)
		return rv;
	protobuf_c_message_pack(m, out->data);
	return 0;
}
