/* SPDX-License-Identifier: MIT */
/*
 * Aligned allocation with every power-of-two alignment, from 1 (8 for
 * posix_memalign, whose alignment must be a multiple of sizeof(void *)) up to
 * 1 GiB, through one of memalign, posix_memalign or aligned_alloc (chosen at
 * build time with -DALIGN_FN=1, 2 or 3).  For each alignment the sizes 0, 1,
 * 100, align - 1, align, 3 * align and 5 MiB + 3 are allocated (kept alive
 * together up to 16 MiB alignments; one at a time above, to bound the
 * memory an allocator that fills new blocks, as glibc does under
 * MALLOC_PERTURB_, may touch); each block must
 *  - be non-NULL, aligned to max(align, 16) (malloc's own alignment),
 *  - have usable size >= the size asked for,
 *  - be writable over that size without touching the others (each block is
 *    filled with its own pattern, all are verified before they are freed;
 *    blocks above 64 MiB are written at their ends and once every 64 KiB),
 *  - be freeable with free().
 */
#include "ktest.h"

#include <stdlib.h>
#include <errno.h>
#include <malloc.h>

#ifndef ALIGN_FN
#define ALIGN_FN 1
#endif

#if ALIGN_FN == 1
#define FN_NAME "memalign"
#define MIN_ALIGN 1
#elif ALIGN_FN == 2
#define FN_NAME "posix_memalign"
#define MIN_ALIGN sizeof(void *)
#else
#define FN_NAME "aligned_alloc"
#define MIN_ALIGN 1
#endif

static void *alloc_aligned(size_t align, size_t size)
{
#if ALIGN_FN == 1
	return memalign(opaque_size(align), opaque_size(size));
#elif ALIGN_FN == 2
	void *p = (void *)0x1;
	int rc = posix_memalign(&p, opaque_size(align), opaque_size(size));
	CHECKF(rc == 0 || p == (void *)0x1, "posix_memalign failed (%d) but changed *memptr", rc);
	return rc == 0 ? p : NULL;
#else
	return aligned_alloc(opaque_size(align), opaque_size(size));
#endif
}

#define FULL_LIMIT ((size_t)64 << 20)
#define STRIDE ((size_t)64 << 10)
#define ENDS ((size_t)64 << 10)

/* Write the block (fully when small, sparsely when huge). */
static void fill(unsigned char *p, size_t n, uint64_t tag)
{
	if (n <= FULL_LIMIT) {
		pattern_fill(p, n, tag);
		return;
	}
	pattern_fill(p, ENDS, tag);
	for (size_t i = ENDS; i < n - ENDS; i += STRIDE)
		p[i] = pattern_byte(tag, i);
	pattern_fill(p + n - ENDS, ENDS, tag ^ 0xe4d);
}

static int verify(const unsigned char *p, size_t n, uint64_t tag)
{
	if (n <= FULL_LIMIT)
		return pattern_check(p, n, tag) == n;
	if (pattern_check(p, ENDS, tag) != ENDS)
		return 0;
	for (size_t i = ENDS; i < n - ENDS; i += STRIDE)
		if (p[i] != pattern_byte(tag, i))
			return 0;
	return pattern_check(p + n - ENDS, ENDS, tag ^ 0xe4d) == ENDS;
}

int main(void)
{
	check_allocator();
	enum { NS = 7 };
	for (size_t align = MIN_ALIGN; align <= ((size_t)1 << 30); align <<= 1) {
		size_t sizes[NS] = { 0, 1, 100, align - 1, align, 3 * align, (5u << 20) + 3 };
		unsigned char *p[NS];
		size_t want = align < 16 ? 16 : align;
		int together = align <= ((size_t)16 << 20);
		for (int i = 0; i < NS; i++) {
			errno = 0;
			p[i] = alloc_aligned(align, sizes[i]);
			CHECKF(p[i] != NULL, FN_NAME "(%#zx, %#zx) failed, errno %d", align, sizes[i],
			       errno);
			if (!p[i])
				continue;
			CHECKF(((uintptr_t)p[i] & (want - 1)) == 0, FN_NAME "(%#zx, %#zx) = %p misaligned",
			       align, sizes[i], (void *)p[i]);
			CHECKF(malloc_usable_size(p[i]) >= sizes[i],
			       FN_NAME "(%#zx, %#zx): usable size %zu", align, sizes[i],
			       malloc_usable_size(p[i]));
			fill(p[i], sizes[i], align * 8 + (size_t)i);
			if (!together) {
				CHECKF(verify(p[i], sizes[i], align * 8 + (size_t)i),
				       FN_NAME "(%#zx, %#zx) = %p: contents lost", align, sizes[i],
				       (void *)p[i]);
				free(p[i]);
				p[i] = NULL;
			}
		}
		for (int i = 0; i < NS; i++) {
			if (!p[i])
				continue;
			CHECKF(verify(p[i], sizes[i], align * 8 + (size_t)i),
			       FN_NAME "(%#zx, %#zx) = %p: contents overwritten", align, sizes[i],
			       (void *)p[i]);
			free(p[i]);
		}
	}
	return check_done();
}
