/* SPDX-License-Identifier: MIT */
/*
 * realloc, glibc rules:
 *  - realloc(NULL, n) is malloc(n) (also for n == 0: a non-NULL block);
 *  - realloc(p, 0) frees p and returns NULL;
 *  - contents are preserved up to min(old, new) growing and shrinking through
 *    every size range: tiny -> small -> page blocks -> huge (> 4 MiB) -> back;
 *  - a failed realloc returns NULL with errno ENOMEM and leaves the old block
 *    intact and usable (small, page and huge blocks);
 *  - the result is 16-byte aligned with usable size >= the new size.
 */
#include "ktest.h"

#include <errno.h>
#include <malloc.h>

/* realloc through a size ladder; after each step the kept prefix must hold
 * the pattern and the new tail is filled with it. */
static void ladder(const size_t *sizes, size_t count, uint64_t tag)
{
	char *p = NULL;
	size_t cur = 0;
	for (size_t i = 0; i < count; i++) {
		size_t n = sizes[i];
		char *q = realloc(p, opaque_size(n));
		CHECKF(q != NULL, "realloc(%zu -> %zu) failed", cur, n);
		if (!q)
			break;
		CHECKF(((uintptr_t)q & 15) == 0, "realloc(%zu -> %zu) = %p misaligned", cur, n, (void *)q);
		CHECKF(malloc_usable_size(q) >= n, "realloc(%zu -> %zu): usable %zu", cur, n,
		       malloc_usable_size(q));
		size_t keep = cur < n ? cur : n;
		size_t at = pattern_check(q, keep, tag);
		CHECKF(at == keep, "realloc(%zu -> %zu) (%p -> %p): byte %zu of %zu lost", cur, n,
		       (void *)p, (void *)q, at, keep);
		/* Extend the pattern over the new size. */
		unsigned char *c = (unsigned char *)q;
		for (size_t j = keep; j < n; j++)
			c[j] = pattern_byte(tag, j);
		p = q;
		cur = n;
	}
	free(p);
}

static void test_ladders(void)
{
	static const size_t up_down[] = {
		1, 2, 7, 8, 15, 16, 17, 24, 32, 40, 48, 64, 80, 96, 100, 112, 128, 160, 200, 256,
		300, 512, 700, 1000, 1024, 2000, 3000, 4000, 4096, 4097, 5000, 8192, 10000, 16384,
		30000, 32768, 32769, 40000, 65536, 100000, 262144, 1 << 20, (1 << 20) + 1, 3 << 20,
		(4 << 20) - 1, 4 << 20, (4 << 20) + 1, 5 << 20, (8 << 20) + 4095, 16 << 20, 40 << 20,
		64 << 20, 40 << 20, 16 << 20, (8 << 20) + 4095, 5 << 20, (4 << 20) + 1, 4 << 20,
		(4 << 20) - 1, 3 << 20, (1 << 20) + 1, 1 << 20, 262144, 100000, 65536, 40000, 32769,
		32768, 30000, 16384, 10000, 8192, 5000, 4097, 4096, 4000, 3000, 2000, 1024, 1000, 700,
		512, 300, 256, 200, 160, 128, 112, 100, 96, 80, 64, 48, 40, 32, 24, 17, 16, 15, 8, 7,
		2, 1,
	};
	ladder(up_down, sizeof up_down / sizeof up_down[0], 1);
	/* Jumps straight between the ranges, both ways. */
	static const size_t jumps[] = { 10, 12u << 20, 20, 100000, 5, 6u << 20, 50000, 3,
		                        64, 9u << 20, 4096, 33, 5u << 20, 4u << 20, 24, 1 };
	ladder(jumps, sizeof jumps / sizeof jumps[0], 2);
	/* A seeded random walk over sizes from 1 byte to 16 MiB. */
	enum { STEPS = 600 };
	static size_t walk[STEPS];
	uint64_t rng = 0xfeedbeef;
	for (int i = 0; i < STEPS; i++) {
		uint64_t r = rng_next(&rng);
		int bits = 1 + (int)(r % 24);
		walk[i] = 1 + (size_t)((r >> 8) & (((uint64_t)1 << bits) - 1));
	}
	ladder(walk, STEPS, 3);
}

static void test_null_and_zero(void)
{
	void *p = realloc(NULL, opaque_size(100));
	CHECK(p != NULL);
	CHECK(((uintptr_t)p & 15) == 0);
	if (p) {
		CHECK(malloc_usable_size(p) >= 100);
		memset(p, 1, 100);
	}
	free(p);

	void *z = realloc(NULL, opaque_size(0));
	CHECKF(z != NULL, "realloc(NULL, 0) must return a block, as malloc(0) does");
	void *z2 = realloc(NULL, opaque_size(0));
	CHECK(z2 != NULL && z2 != z);

	/* realloc(p, 0) frees p and returns NULL, for every block kind. */
	size_t sizes[] = { 0, 1, 100, 5000, 100000, 6u << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		void *q = malloc(opaque_size(sizes[i]));
		CHECK(q != NULL);
		errno = 0;
		void *r = realloc(q, opaque_size(0));
		CHECKF(r == NULL, "realloc(%zu-byte block, 0) returned %p, want NULL (freed)", sizes[i],
		       r);
		free(r);
	}
	void *r = realloc(z, opaque_size(0));
	CHECK(r == NULL);
	free(z2);
}

/* realloc(p, 0) really frees: 3000 rounds of a touched 1 MiB block freed
 * by realloc(p, 0) must not add up to gigabytes of resident memory. */
static void test_realloc_zero_frees(void)
{
	size_t before = rss_bytes();
	for (int i = 0; i < 3000; i++) {
		char *p = malloc(opaque_size(1 << 20));
		if (!p) {
			CHECK(p != NULL);
			break;
		}
		for (size_t off = 0; off < (1 << 20); off += 4096)
			p[off] = (char)i;
		escape(p);
		void *r = realloc(p, opaque_size(0));
		CHECK(r == NULL);
	}
	size_t after = rss_bytes();
	CHECKF(after < before + (256u << 20),
	       "RSS grew from %zu to %zu MiB: realloc(p, 0) did not free", before >> 20, after >> 20);
}

/* A failed realloc leaves the old block as it was. */
static void test_failure_keeps_block(void)
{
	size_t old_sizes[] = { 1, 100, 4000, 20000, 200000, 6u << 20 };
	size_t bad[] = { (size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX,
		         (size_t)1 << 47 };
	for (size_t i = 0; i < sizeof old_sizes / sizeof old_sizes[0]; i++) {
		size_t n = old_sizes[i];
		char *p = malloc(opaque_size(n));
		CHECK(p != NULL);
		if (!p)
			continue;
		pattern_fill(p, n, 100 + i);
		size_t us = malloc_usable_size(p);
		for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
			errno = 0;
			char *q = realloc(p, opaque_size(bad[j]));
			CHECKF(q == NULL, "realloc(%zu-byte block, %zu) returned %p", n, bad[j], (void *)q);
			if (q) {
				p = q;
				continue;
			}
			CHECKF(errno == ENOMEM, "realloc(%zu-byte block, %zu): errno %d, want ENOMEM", n,
			       bad[j], errno);
			CHECKF(pattern_check(p, n, 100 + i) == n,
			       "failed realloc(%zu-byte block, %zu) changed the old block", n, bad[j]);
			CHECK(malloc_usable_size(p) == us);
		}
		/* The old block still works: grow it for real. */
		char *q = realloc(p, opaque_size(n * 2 + 10));
		CHECK(q != NULL);
		if (q) {
			CHECK(pattern_check(q, n, 100 + i) == n);
			p = q;
		}
		free(p);
	}
}

/* Shrinking and growing back in place keeps the data (huge blocks shrink
 * in place on the mremap path). */
static void test_shrink_grow_huge(void)
{
	size_t big = 24u << 20;
	char *p = malloc(opaque_size(big));
	CHECK(p != NULL);
	if (!p)
		return;
	pattern_fill(p, big, 9);
	char *q = realloc(p, opaque_size(6u << 20));
	CHECK(q != NULL);
	if (!q) {
		free(p);
		return;
	}
	CHECK(pattern_check(q, 6u << 20, 9) == (6u << 20));
	char *r = realloc(q, opaque_size(48u << 20));
	CHECK(r != NULL);
	if (!r) {
		free(q);
		return;
	}
	CHECK(pattern_check(r, 6u << 20, 9) == (6u << 20));
	memset(r + (6u << 20), 0x11, (48u << 20) - (6u << 20));
	escape(r);
	free(r);
}

/* Blocks from the aligned allocators can be realloc'd too. */
static void test_realloc_aligned(void)
{
	size_t aligns[] = { 32, 64, 4096, 65536, 2u << 20 };
	for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
		char *p = memalign(aligns[i], opaque_size(3000));
		CHECK(p != NULL);
		if (!p)
			continue;
		pattern_fill(p, 3000, 50 + i);
		char *q = realloc(p, opaque_size(100000));
		CHECK(q != NULL);
		if (!q) {
			free(p);
			continue;
		}
		CHECK(pattern_check(q, 3000, 50 + i) == 3000);
		char *r = realloc(q, opaque_size(10));
		CHECK(r != NULL);
		if (!r) {
			free(q);
			continue;
		}
		CHECK(pattern_check(r, 10, 50 + i) == 10);
		free(r);
	}
}

int main(void)
{
	check_allocator();
	test_null_and_zero();
	test_ladders();
	test_failure_keeps_block();
	test_shrink_grow_huge();
	test_realloc_aligned();
	test_realloc_zero_frees();
	return check_done();
}
