/* Frame decoder: byte-by-byte feeding, several frames per buffer, the cap,
 * zero length, callback stop, header encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/frame.h"
#include "util/errors.h"
#include "util/secmem.h"

#define MAXF 16

struct sink {
	int n;
	size_t len[MAXF];
	uint8_t body[MAXF][300];
	int stop_at; /* return 7 on this frame number (1-based), 0 = never */
};

static int collect(void *data, const uint8_t *body, size_t len)
{
	struct sink *s = data;

	assert_true(len > 0);
	assert_true(s->n < MAXF);
	assert_true(len <= sizeof(s->body[0]));
	s->len[s->n] = len;
	memcpy(s->body[s->n], body, len);
	s->n++;
	return s->n == s->stop_at ? 7 : 0;
}

/* Three frames of lengths 1, 5, 260 with known content. */
static size_t build(uint8_t *out)
{
	static const size_t lens[3] = {1, 5, 260};
	size_t off = 0, i, j;

	for (i = 0; i < 3; i++) {
		frame_put_header(out + off, (uint32_t)lens[i]);
		off += 4;
		for (j = 0; j < lens[i]; j++)
			out[off++] = (uint8_t)(i * 50 + j);
	}
	return off;
}

static void check_three(const struct sink *s)
{
	static const size_t lens[3] = {1, 5, 260};
	size_t i, j;

	assert_int_equal(s->n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(s->len[i], lens[i]);
		for (j = 0; j < lens[i]; j++)
			assert_int_equal(s->body[i][j], (uint8_t)(i * 50 + j));
	}
}

static void test_put_header(void **state)
{
	uint8_t h[4];

	(void)state;
	frame_put_header(h, 0x01020304u);
	assert_int_equal(h[0], 1);
	assert_int_equal(h[1], 2);
	assert_int_equal(h[2], 3);
	assert_int_equal(h[3], 4);
}

static void test_byte_by_byte(void **state)
{
	uint8_t buf[400];
	size_t n = build(buf), i;
	struct frame_decoder d;
	struct sink s = {0};

	(void)state;
	frame_decoder_init(&d, 1024);
	for (i = 0; i < n; i++)
		assert_int_equal(frame_decoder_feed(&d, buf + i, 1, collect, &s), 0);
	check_three(&s);
	assert_null(d.body);
	assert_int_equal(d.hdr_have, 0);
	frame_decoder_release(&d);
}

static void test_one_buffer(void **state)
{
	uint8_t buf[400];
	size_t n = build(buf);
	struct frame_decoder d;
	struct sink s = {0};

	(void)state;
	frame_decoder_init(&d, 1024);
	assert_int_equal(frame_decoder_feed(&d, buf, n, collect, &s), 0);
	check_three(&s);
	frame_decoder_release(&d);
}

static void test_odd_splits(void **state)
{
	uint8_t buf[400];
	size_t n = build(buf), split, k;
	struct frame_decoder d;

	(void)state;
	for (split = 1; split < 12; split++) {
		struct sink s = {0};
		frame_decoder_init(&d, 1024);
		for (k = 0; k < n; k += split)
			assert_int_equal(frame_decoder_feed(&d, buf + k, n - k < split ? n - k : split,
							    collect, &s),
					 0);
		check_three(&s);
		frame_decoder_release(&d);
	}
}

static void test_cap(void **state)
{
	uint8_t buf[4 + 300];
	struct frame_decoder d;
	struct sink s = {0};

	(void)state;
	/* exactly the cap is accepted */
	frame_put_header(buf, 300);
	memset(buf + 4, 0xab, 300);
	frame_decoder_init(&d, 300);
	assert_int_equal(frame_decoder_feed(&d, buf, sizeof(buf), collect, &s), 0);
	assert_int_equal(s.n, 1);
	frame_decoder_release(&d);

	/* one more is refused on the header, before any allocation */
	frame_put_header(buf, 301);
	frame_decoder_init(&d, 300);
	assert_int_equal(frame_decoder_feed(&d, buf, 4, collect, &s), CF_ETOOBIG);
	assert_null(d.body);
	assert_int_equal(s.n, 1);
	frame_decoder_release(&d);

	/* a huge length (would overflow naive arithmetic) */
	frame_put_header(buf, 0xffffffffu);
	frame_decoder_init(&d, FRAME_DEFAULT_CAP);
	assert_int_equal(frame_decoder_feed(&d, buf, 4, collect, &s), CF_ETOOBIG);
	assert_null(d.body);
	frame_decoder_release(&d);
}

static void test_zero_length(void **state)
{
	uint8_t buf[8];
	struct frame_decoder d;
	struct sink s = {0};

	(void)state;
	frame_put_header(buf, 0);
	frame_put_header(buf + 4, 0);
	frame_decoder_init(&d, 1024);
	assert_int_equal(frame_decoder_feed(&d, buf, 2, collect, &s), 0); /* partial header */
	assert_int_equal(frame_decoder_feed(&d, buf + 2, 6, collect, &s), CF_ETOOBIG);
	assert_int_equal(s.n, 0);
	frame_decoder_release(&d);
}

static void test_callback_stops(void **state)
{
	uint8_t buf[400];
	size_t n = build(buf);
	struct frame_decoder d;
	struct sink s = {0};

	(void)state;
	s.stop_at = 2;
	frame_decoder_init(&d, 1024);
	assert_int_equal(frame_decoder_feed(&d, buf, n, collect, &s), 7);
	assert_int_equal(s.n, 2); /* the third frame was not delivered */
	frame_decoder_release(&d);
}

static void test_release_mid_body(void **state)
{
	uint8_t buf[400];
	size_t n = build(buf);
	struct frame_decoder d;
	struct sink s = {0};

	(void)state;
	frame_decoder_init(&d, 1024);
	/* stop in the middle of the 260-byte body: release must free it */
	assert_int_equal(frame_decoder_feed(&d, buf, n - 100, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_non_null(d.body);
	frame_decoder_release(&d);
	assert_null(d.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_header),   cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_one_buffer),   cmocka_unit_test(test_odd_splits),
		cmocka_unit_test(test_cap),          cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_callback_stops), cmocka_unit_test(test_release_mid_body),
	};

	secmem_init(1u << 20);
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
