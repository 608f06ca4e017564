/* SPDX-License-Identifier: MIT */
/*
 * calloc:
 *  - returns zeroed memory, also when the memory was just used, dirtied and
 *    freed (sizes small, page-sized, 1 MiB, 8 MiB, 64 MiB), and after
 *    malloc_trim gave memory back;
 *  - n * size overflowing size_t gives NULL with errno ENOMEM;
 *  - calloc(0, n) and calloc(n, 0) return unique non-NULL pointers;
 *  - blocks are 16-byte aligned and have usable size >= n * size.
 */
#include "ktest.h"

#include <errno.h>
#include <malloc.h>

/* Allocate `count` blocks of n bytes, dirty all of their usable bytes, free
 * them, then calloc `count` blocks of the same size (which reuse the same
 * memory in any allocator that reuses at all) and require zeroes. */
static void dirty_then_calloc(size_t n, int count, int rounds)
{
	enum { MAXC = 256 };
	void *p[MAXC];
	for (int round = 0; round < rounds; round++) {
		unsigned char dirt = (unsigned char)(0xa5 + round * 0x11);
		for (int i = 0; i < count; i++) {
			p[i] = malloc(opaque_size(n));
			CHECK(p[i] != NULL);
			if (p[i]) {
				memset(p[i], dirt, malloc_usable_size(p[i]));
				escape(p[i]);
			}
		}
		for (int i = 0; i < count; i++)
			free(p[i]);
		int nonzero = 0;
		for (int i = 0; i < count; i++) {
			p[i] = calloc(1, opaque_size(n));
			CHECKF(p[i] != NULL, "calloc(1, %zu) failed", n);
			if (!p[i])
				continue;
			CHECK(((uintptr_t)p[i] & 15) == 0);
			CHECK(malloc_usable_size(p[i]) >= n);
			size_t at = first_nonzero(p[i], n);
			if (at != n && nonzero++ == 0)
				fprintf(stderr, "calloc(1, %zu) = %p: byte %zu is 0x%02x\n", n, p[i], at,
				        ((unsigned char *)p[i])[at]);
			/* Dirty again so the next round reuses dirty memory. */
			memset(p[i], dirt, n);
			escape(p[i]);
		}
		CHECKF(nonzero == 0, "calloc(1, %zu): %d of %d blocks not zeroed (round %d)", n, nonzero,
		       count, round);
		for (int i = 0; i < count; i++)
			free(p[i]);
	}
}

/* calloc(n, size) with the count and the size split differently. */
static void test_split_forms(void)
{
	struct {
		size_t n, size;
	} forms[] = { { 1000, 1 }, { 1, 1000 }, { 10, 100 }, { 3, 4096 }, { 4096, 3 }, { 256, 4096 },
		      { 1 << 20, 8 } };
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		size_t total = forms[i].n * forms[i].size;
		char *d = malloc(opaque_size(total));
		CHECK(d != NULL);
		if (d) {
			memset(d, 0xff, total);
			escape(d);
		}
		free(d);
		char *p = calloc(opaque_size(forms[i].n), opaque_size(forms[i].size));
		CHECK(p != NULL);
		if (!p)
			continue;
		CHECK(malloc_usable_size(p) >= total);
		CHECKF(first_nonzero(p, total) == total, "calloc(%zu, %zu) not zeroed", forms[i].n,
		       forms[i].size);
		free(p);
	}
}

static void test_overflow(void)
{
	const size_t half = SIZE_MAX / 2 + 1;
	struct {
		size_t n, size;
	} bad[] = {
		{ half, 2 },
		{ 2, half },
		{ (size_t)1 << 32, (size_t)1 << 32 },
		{ SIZE_MAX, SIZE_MAX },
		{ SIZE_MAX, 2 },
		{ 3, SIZE_MAX / 3 + 1 },
		{ 65537, SIZE_MAX / 65536 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		void *p = calloc(opaque_size(bad[i].n), opaque_size(bad[i].size));
		CHECKF(p == NULL, "calloc(%zu, %zu) overflows but returned %p", bad[i].n, bad[i].size, p);
		CHECKF(errno == ENOMEM, "calloc(%zu, %zu): errno %d, want ENOMEM", bad[i].n, bad[i].size,
		       errno);
		free(p);
	}
	/* Still works afterwards. */
	char *p = calloc(opaque_size(10), opaque_size(10));
	CHECK(p != NULL);
	if (p)
		CHECK(first_nonzero(p, 100) == 100);
	free(p);
}

static void test_zero_sizes(void)
{
	void *a = calloc(opaque_size(0), opaque_size(5));
	void *b = calloc(opaque_size(5), opaque_size(0));
	void *c = calloc(opaque_size(0), opaque_size(0));
	void *d = calloc(opaque_size(0), opaque_size(SIZE_MAX));
	CHECK(a != NULL);
	CHECK(b != NULL);
	CHECK(c != NULL);
	CHECK(d != NULL);
	CHECK(a != b && a != c && b != c && a != d && b != d && c != d);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* Memory given back to the system by malloc_trim must still read as zero
 * through calloc (an allocator that remembers released pages as zero must
 * be right about it). */
static void test_after_trim(void)
{
	enum { N = 200, SZ = 65536 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = malloc(opaque_size(SZ));
		CHECK(p[i] != NULL);
		if (p[i]) {
			memset(p[i], 0x3c, SZ);
			escape(p[i]);
		}
	}
	for (int i = 0; i < N; i += 2)
		free(p[i]);
	malloc_trim(0);
	for (int i = 1; i < N; i += 2)
		free(p[i]);
	int nonzero = 0;
	for (int i = 0; i < N; i++) {
		p[i] = calloc(opaque_size(SZ), 1);
		CHECK(p[i] != NULL);
		if (p[i] && first_nonzero(p[i], SZ) != SZ)
			nonzero++;
	}
	CHECKF(nonzero == 0, "%d of %d calloc'd blocks after trim not zeroed", nonzero, N);
	for (int i = 0; i < N; i++)
		free(p[i]);
}

int main(void)
{
	check_allocator();
	size_t small[] = { 1, 8, 16, 24, 32, 48, 64, 100, 128, 200, 500, 1000, 2048, 3000 };
	for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
		dirty_then_calloc(small[i], 200, 3);
	size_t page[] = { 4000, 4096, 8192, 12288, 20000, 32768, 40000, 65536, 200000 };
	for (size_t i = 0; i < sizeof page / sizeof page[0]; i++)
		dirty_then_calloc(page[i], 16, 3);
	dirty_then_calloc(1 << 20, 4, 3);
	dirty_then_calloc((4 << 20) - 4096, 2, 3);
	dirty_then_calloc(4 << 20, 2, 3);
	dirty_then_calloc(8 << 20, 2, 3);
	dirty_then_calloc(64 << 20, 1, 3);
	test_split_forms();
	test_overflow();
	test_zero_sizes();
	test_after_trim();
	return check_done();
}
