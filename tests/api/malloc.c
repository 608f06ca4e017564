/* SPDX-License-Identifier: MIT */
/*
 * malloc and free, glibc rules:
 *  - malloc(0) returns a non-NULL pointer, a different one each time;
 *  - free(NULL) does nothing, malloc_usable_size(NULL) is 0;
 *  - every block is 16-byte aligned, whatever its size;
 *  - blocks alive at the same time do not overlap;
 *  - a request the system cannot satisfy returns NULL with errno ENOMEM
 *    (sizes above PTRDIFF_MAX are in too_large.c) and malloc keeps working.
 */
#include "ktest.h"

#include <stdlib.h>
#include <errno.h>
#include <malloc.h>

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
	return x < y ? -1 : x > y;
}

static void test_malloc_zero(void)
{
	enum { N = 1000 };
	static void *p[N];
	int nulls = 0;
	for (int i = 0; i < N; i++) {
		p[i] = malloc(opaque_size(0));
		nulls += p[i] == NULL;
	}
	CHECKF(nulls == 0, "%d of %d malloc(0) returned NULL", nulls, N);
	qsort(p, N, sizeof p[0], cmp_ptr);
	int dups = 0;
	for (int i = 1; i < N; i++)
		dups += p[i] != NULL && p[i] == p[i - 1];
	CHECKF(dups == 0, "%d duplicate pointers among %d live malloc(0) blocks", dups, N);
	int misaligned = 0;
	for (int i = 0; i < N; i++)
		misaligned += ((uintptr_t)p[i] & 15) != 0;
	CHECK(misaligned == 0);
	for (int i = 0; i < N; i++)
		free(p[i]);
}

static void test_null(void)
{
	free(NULL);
	free(opaque_ptr(NULL));
	CHECK(malloc_usable_size(NULL) == 0);
	CHECK(malloc_usable_size(opaque_ptr(NULL)) == 0);
	void *p = malloc(opaque_size(40));
	CHECK(p != NULL);
	free(p);
}

static void test_alignment(void)
{
	size_t bad = 0, nulls = 0;
	/* Every size up to 5000, keeping each block alive a while so that
	 * consecutive slots of each class are looked at. */
	enum { KEEP = 64 };
	void *keep[KEEP] = { 0 };
	for (size_t n = 0; n <= 5000; n++) {
		void *p = malloc(opaque_size(n));
		if (!p) {
			nulls++;
			continue;
		}
		if ((uintptr_t)p & 15) {
			if (bad++ < 5)
				fprintf(stderr, "malloc(%zu) = %p is not 16-byte aligned\n", n, p);
		}
		free(keep[n % KEEP]);
		keep[n % KEEP] = p;
	}
	for (int i = 0; i < KEEP; i++)
		free(keep[i]);
	/* Larger sizes, around every boundary a size class could have. */
	for (size_t shift = 12; shift <= 26; shift++) {
		for (long d = -17; d <= 17; d += 17) {
			size_t n = ((size_t)1 << shift) + (size_t)d;
			void *p = malloc(opaque_size(n));
			if (!p) {
				nulls++;
				continue;
			}
			if ((uintptr_t)p & 15) {
				if (bad++ < 5)
					fprintf(stderr, "malloc(%zu) = %p is not 16-byte aligned\n", n, p);
			}
			free(p);
		}
	}
	CHECKF(nulls == 0, "%zu allocations failed", nulls);
	CHECKF(bad == 0, "%zu blocks not 16-byte aligned", bad);
}

/* Many live blocks of mixed sizes, each filled with its own pattern: any
 * overlap between two blocks shows up as a pattern mismatch. */
static void test_no_overlap(void)
{
	enum { N = 3000 };
	static void *p[N];
	static size_t sz[N];
	uint64_t rng = 0x1234567;
	size_t nulls = 0, corrupt = 0;
	for (int i = 0; i < N; i++) {
		uint64_t r = rng_next(&rng);
		switch (r % 8) {
		case 0: sz[i] = r % 17; break;
		case 1:
		case 2:
		case 3: sz[i] = 1 + (r >> 8) % 512; break;
		case 4:
		case 5: sz[i] = 1 + (r >> 8) % 8192; break;
		case 6: sz[i] = 1 + (r >> 8) % 70000; break;
		default: sz[i] = (i % 50 == 0) ? 4194304 + (r >> 8) % 2000000 : 1 + (r >> 8) % 300000; break;
		}
		p[i] = malloc(sz[i]);
		if (!p[i]) {
			nulls++;
			continue;
		}
		pattern_fill(p[i], sz[i], (uint64_t)i);
		/* Free a third of them at random to mix reuse in. */
		if (r % 3 == 0 && i > 0) {
			int j = (int)((r >> 20) % (uint64_t)i);
			if (p[j] && pattern_check(p[j], sz[j], (uint64_t)j) != sz[j])
				corrupt++;
			free(p[j]);
			p[j] = NULL;
		}
	}
	for (int i = 0; i < N; i++) {
		if (!p[i])
			continue;
		size_t at = pattern_check(p[i], sz[i], (uint64_t)i);
		if (at != sz[i]) {
			if (corrupt++ < 5)
				fprintf(stderr, "block %d (%p, %zu bytes) corrupt at offset %zu\n", i, p[i],
				        sz[i], at);
		}
		free(p[i]);
	}
	CHECKF(nulls == 0, "%zu allocations failed", nulls);
	CHECKF(corrupt == 0, "%zu live blocks were overwritten by other blocks", corrupt);
}

/* 128 TiB cannot be mapped in a 47-bit user address space: malloc must
 * fail cleanly with ENOMEM and keep working afterwards. */
static void test_unmappable(void)
{
	size_t n = (size_t)1 << 47;
	errno = 0;
	void *p = malloc(opaque_size(n));
	CHECK(p == NULL);
	CHECK(errno == ENOMEM);
	free(p);
	errno = 0;
	p = malloc(opaque_size(n + 12345));
	CHECK(p == NULL);
	CHECK(errno == ENOMEM);
	p = malloc(opaque_size(100));
	CHECK(p != NULL);
	if (p) {
		memset(p, 0x5a, 100);
		escape(p);
	}
	free(p);
}

/* free() must not clobber errno for the caller (POSIX.1-2024; glibc
 * preserves errno in free since 2.33). */
static void test_free_keeps_errno(void)
{
	size_t sizes[] = { 16, 4096, 100000, 8u << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		void *p = malloc(opaque_size(sizes[i]));
		CHECK(p != NULL);
		if (p)
			memset(p, 1, sizes[i]);
		escape(p);
		errno = EILSEQ;
		free(p);
		CHECKF(errno == EILSEQ, "free of a %zu-byte block changed errno to %d", sizes[i], errno);
	}
}

int main(void)
{
	check_allocator();
	test_malloc_zero();
	test_null();
	test_alignment();
	test_no_overlap();
	test_unmappable();
	test_free_keeps_errno();
	return check_done();
}
