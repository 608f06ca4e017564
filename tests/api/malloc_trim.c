/* SPDX-License-Identifier: MIT */
/*
 * malloc_trim:
 *  - returns 0 or 1, with any pad argument;
 *  - leaves every live block intact (small, page and huge blocks, and blocks
 *    next to the freed ones);
 *  - gives memory back: after 256 MiB of 64 KiB blocks were written and all
 *    but one in sixteen freed, malloc_trim(0) leaves the resident set at
 *    least 128 MiB below its peak;
 *  - allocation works normally afterwards, and reused memory is writable.
 */
#include "ktest.h"

#include <malloc.h>

enum { NBIG = 4096, BIGSZ = 65536, NSMALL = 20000 };

static unsigned char *big[NBIG];
static unsigned char *small[NSMALL];
static size_t small_sz[NSMALL];

static void verify_live(const char *when)
{
	int bad = 0;
	for (int i = 0; i < NBIG; i++)
		if (big[i] && pattern_check(big[i], BIGSZ, (uint64_t)i) != BIGSZ)
			bad++;
	for (int i = 0; i < NSMALL; i++)
		if (small[i] && pattern_check(small[i], small_sz[i], 100000 + (uint64_t)i) != small_sz[i])
			bad++;
	CHECKF(bad == 0, "%s: %d live blocks changed", when, bad);
}

int main(void)
{
	check_allocator();
	uint64_t rng = 4242;
	for (int i = 0; i < NSMALL; i++) {
		small_sz[i] = 1 + (size_t)(rng_next(&rng) % 1500);
		small[i] = malloc(small_sz[i]);
		CHECK(small[i] != NULL);
		if (small[i])
			pattern_fill(small[i], small_sz[i], 100000 + (uint64_t)i);
	}
	unsigned char *huge = malloc(opaque_size(12u << 20));
	CHECK(huge != NULL);
	if (huge)
		pattern_fill(huge, 12u << 20, 31337);
	for (int i = 0; i < NBIG; i++) {
		big[i] = malloc(opaque_size(BIGSZ));
		CHECK(big[i] != NULL);
		if (big[i])
			pattern_fill(big[i], BIGSZ, (uint64_t)i);
	}
	size_t peak = rss_bytes();

	/* Free most of it: 15 of every 16 big blocks, every other small one. */
	for (int i = 0; i < NBIG; i++)
		if (i % 16 != 0) {
			free(big[i]);
			big[i] = NULL;
		}
	for (int i = 0; i < NSMALL; i += 2) {
		free(small[i]);
		small[i] = NULL;
	}
	int rc = malloc_trim(0);
	CHECKF(rc == 0 || rc == 1, "malloc_trim(0) returned %d", rc);
	size_t after = rss_bytes();
	CHECKF(after + (128u << 20) <= peak,
	       "after freeing 240 MiB and malloc_trim(0), RSS is %zu MiB (peak %zu MiB)", after >> 20,
	       peak >> 20);
	verify_live("after malloc_trim(0)");
	if (huge)
		CHECK(pattern_check(huge, 12u << 20, 31337) == (12u << 20));

	rc = malloc_trim(opaque_size(1u << 20));
	CHECKF(rc == 0 || rc == 1, "malloc_trim(1 MiB) returned %d", rc);
	rc = malloc_trim(opaque_size(SIZE_MAX / 2));
	CHECKF(rc == 0 || rc == 1, "malloc_trim(huge pad) returned %d", rc);
	verify_live("after malloc_trim(pad)");

	/* Reuse the trimmed memory. */
	for (int i = 0; i < NBIG; i++)
		if (!big[i]) {
			big[i] = malloc(opaque_size(BIGSZ));
			CHECK(big[i] != NULL);
			if (big[i])
				pattern_fill(big[i], BIGSZ, (uint64_t)i);
		}
	for (int i = 0; i < NSMALL; i += 2) {
		small[i] = malloc(small_sz[i]);
		CHECK(small[i] != NULL);
		if (small[i])
			pattern_fill(small[i], small_sz[i], 100000 + (uint64_t)i);
	}
	verify_live("after reusing trimmed memory");
	rc = malloc_trim(0);
	CHECK(rc == 0 || rc == 1);
	verify_live("after a second malloc_trim(0)");

	for (int i = 0; i < NBIG; i++)
		free(big[i]);
	for (int i = 0; i < NSMALL; i++)
		free(small[i]);
	free(huge);
	rc = malloc_trim(0);
	CHECK(rc == 0 || rc == 1);
	void *p = malloc(opaque_size(100));
	CHECK(p != NULL);
	free(p);
	return check_done();
}
