/*
 * Fuzz the raft peer-handshake parser (node__handshake_parse, the code the
 * transport runs on M1/M2/M3 bytes). Input layout: byte 0 picks the tail
 * (M1: 32 bytes after the address, M2: 64) and byte 1 the read size
 * (1..256 bytes per piece, as libuv might deliver them); the rest is the
 * stream. Checks: a complete message consumed exactly header + address +
 * tail bytes, its id is not 0, its address is 1..NODE_TRANSPORT_MAX_ADDR
 * bytes without NUL and lies inside the input; the same bytes give the
 * same answer in one piece (the parser must not depend on the split).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *addr = NULL, *addr2 = NULL;
	size_t tail, chunk, used = 0, alen = 0, used2 = 0, alen2 = 0;
	uint64_t id = 0, id2 = 0;
	int r, r2;

	if (size < 2)
		return 0;
	tail = (data[0] & 1) ? NODE_TRANSPORT_NONCE_LEN + NODE_TRANSPORT_MAC_LEN
			     : NODE_TRANSPORT_NONCE_LEN;
	chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	r = node__handshake_parse(data, size, tail, chunk, &used, &id, &addr, &alen);
	r2 = node__handshake_parse(data, size, tail, 1u << 20, &used2, &id2, &addr2, &alen2);
	if (r != r2)
		abort();
	if (r == 1) {
		if (id == 0 || id != id2 || alen == 0 || alen > NODE_TRANSPORT_MAX_ADDR ||
		    alen != alen2 || used != 24 + alen + tail || used != used2 || used > size ||
		    addr < data || addr + alen > data + size || memchr(addr, '\0', alen) != NULL)
			abort();
	}
	return 0;
}
