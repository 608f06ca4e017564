/* SPDX-License-Identifier: MIT */
/*
 * malloc_usable_size:
 *  - is at least the size asked for, for every size range;
 *  - every usable byte may be written: blocks of one size class are kept
 *    alive side by side, each filled over its whole usable size with its own
 *    pattern, and every neighbour must still hold its pattern;
 *  - it does not change while the block lives;
 *  - realloc to a size within the usable size keeps the contents.
 */
#include "ktest.h"

#include <malloc.h>

enum { NEIGHBOURS = 48 };

static void test_size(size_t n, int count)
{
	void *p[NEIGHBOURS];
	size_t us[NEIGHBOURS];
	int nulls = 0, small = 0, corrupt = 0, changed = 0;
	for (int i = 0; i < count; i++) {
		p[i] = malloc(opaque_size(n));
		if (!p[i]) {
			nulls++;
			us[i] = 0;
			continue;
		}
		us[i] = malloc_usable_size(p[i]);
		if (us[i] < n)
			small++;
		pattern_fill(p[i], us[i], n * 1000 + (size_t)i);
	}
	for (int i = 0; i < count; i++) {
		if (!p[i])
			continue;
		size_t at = pattern_check(p[i], us[i], n * 1000 + (size_t)i);
		if (at != us[i] && corrupt++ == 0)
			fprintf(stderr, "malloc(%zu) #%d at %p (usable %zu): byte %zu overwritten\n", n, i,
			        p[i], us[i], at);
		if (malloc_usable_size(p[i]) != us[i])
			changed++;
	}
	for (int i = 0; i < count; i++)
		free(p[i]);
	CHECKF(nulls == 0, "malloc(%zu) failed %d times", n, nulls);
	CHECKF(small == 0, "malloc_usable_size < %zu for %d blocks", n, small);
	CHECKF(corrupt == 0, "size %zu: %d blocks overwritten by a neighbour's usable bytes", n,
	       corrupt);
	CHECKF(changed == 0, "size %zu: usable size changed for %d blocks", n, changed);
}

static void test_realloc_within_usable(void)
{
	size_t sizes[] = { 1, 20, 100, 1000, 5000, 40000, 300000, 5u << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *p = malloc(opaque_size(sizes[i]));
		CHECK(p != NULL);
		if (!p)
			continue;
		size_t us = malloc_usable_size(p);
		pattern_fill(p, us, 77 + i);
		char *q = realloc(p, us);
		CHECK(q != NULL);
		if (!q) {
			free(p);
			continue;
		}
		CHECK(malloc_usable_size(q) >= us);
		CHECKF(pattern_check(q, us, 77 + i) == us, "realloc(%zu-byte block, usable %zu) lost data",
		       sizes[i], us);
		free(q);
	}
}

int main(void)
{
	check_allocator();
	for (size_t n = 1; n <= 1100; n++)
		test_size(n, n <= 256 ? NEIGHBOURS : 12);
	for (size_t n = 1101; n <= 70000; n = n * 9 / 8 + 13)
		test_size(n, 8);
	size_t big[] = { 4095, 4096, 4097, 8191, 8192, 32767, 32768, 32769, 65535, 65536, 65537,
		         131072, 1 << 20, (1 << 20) + 1, (4 << 20) - 1, 4 << 20, (4 << 20) + 1,
		         5 << 20, (16 << 20) + 12345 };
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
		test_size(big[i], 3);
	test_size(0, NEIGHBOURS);
	test_realloc_within_usable();
	return check_done();
}
