/* SPDX-License-Identifier: MIT */
/*
 * krealloc: resizing keeps the contents (the first min(old, new) bytes)
 * along a path that crosses every kind of block: slab classes, page blocks
 * (32 KiB .. 4 MiB), huge blocks (grown by mremap) and back down.  At each
 * step ksize >= the new size and the block is of the kind its size calls
 * for.  Also: krealloc(NULL, n) allocates, krealloc(p, 0) frees and returns
 * NULL, a failed krealloc returns NULL with errno ENOMEM and leaves the
 * block intact and usable; a huge block grows by moving its pages
 * (mremap), not by copying them: growing a touched 64 MiB block to 1 GiB
 * must not raise the peak RSS by another 64 MiB, as a copy would.
 */
#include "internal.h"
#include "ktest.h"

#include <errno.h>

enum { SLAB, PAGES, HUGE };

static int kind_of(const void *p)
{
	struct page *pg = virt_to_page(p);
	if (!pg)
		return HUGE;
	return kpage_is_slab(pg) ? SLAB : PAGES;
}

static int kind_for(size_t size)
{
	return size <= KMALLOC_MAX_CACHE_SIZE ? SLAB : size <= KMAX_ORDER_SIZE ? PAGES : HUGE;
}

static void chain(const size_t *steps, size_t nsteps, uint64_t id)
{
	size_t old = steps[0];
	char *p = kmalloc(old, GFP_KERNEL);
	CHECK(p != NULL);
	if (!p)
		return;
	pattern_fill(p, old, id);
	for (size_t i = 1; i < nsteps; i++) {
		size_t sz = steps[i];
		char *q = krealloc(p, sz, GFP_KERNEL);
		CHECKF(q != NULL, "krealloc(%zu -> %zu) failed", old, sz);
		if (!q)
			break;
		size_t keep = old < sz ? old : sz;
		size_t bad = pattern_check(q, keep, id);
		CHECKF(bad == keep, "krealloc(%zu -> %zu): byte %zu of %zu lost", old, sz, bad, keep);
		CHECKF(ksize(q) >= sz, "krealloc(%zu -> %zu): ksize %zu", old, sz, ksize(q));
		CHECKF(kind_of(q) == kind_for(sz), "krealloc(%zu -> %zu): block kind %d, want %d", old, sz, kind_of(q),
		       kind_for(sz));
		pattern_fill(q, sz, id);
		p = q;
		old = sz;
	}
	kfree(p);
}

static void huge_growth_is_not_a_copy(void)
{
	size_t from = 64UL << 20, to = 1UL << 30;
	char *p = kmalloc(from, GFP_KERNEL);
	CHECK(p != NULL);
	if (!p)
		return;
	memset(p, 0x5a, from);
	int can_reset = reset_peak_rss() == 0;
	size_t before = peak_rss_bytes();
	char *q = krealloc(p, to, GFP_KERNEL);
	size_t after = peak_rss_bytes();
	CHECK(q != NULL);
	if (!q) {
		kfree(p);
		return;
	}
	if (can_reset && before)
		CHECKF(after < before + (16UL << 20),
		       "growing a 64 MiB huge block to 1 GiB raised the peak RSS by %zu MiB: copied?",
		       (after - before) >> 20);
	else
		test_msg("krealloc: cannot reset the peak RSS; copy check skipped");
	CHECK(q[0] == 0x5a && q[from - 1] == 0x5a);
	CHECK(q[to - 1] == 0);   /* the new part reads as zero (fresh pages) */
	q[to - 1] = 1;
	kfree(q);
}

int main(void)
{
	static const size_t up_down[] = { 1, 7, 16, 17, 100, 1000, 1024, 1025, 4000, 32768, 32769, 100000,
	                                  1UL << 20, KMAX_ORDER_SIZE, KMAX_ORDER_SIZE + 1, 6UL << 20, 20UL << 20,
	                                  5UL << 20, 3UL << 20, 40000, 5000, 100, 8 };
	chain(up_down, sizeof up_down / sizeof up_down[0], 1);
	/* straight jumps across kinds */
	static const size_t jumps[] = { 24, 10UL << 20, 16, 2UL << 20, 64, 50000, 9UL << 20, 40000 };
	chain(jumps, sizeof jumps / sizeof jumps[0], 2);
	/* many small steps through the slab classes and page blocks */
	size_t steps[400];
	size_t ns = 0;
	for (size_t s = 1; s < 300000 && ns < 400; s = s * 9 / 8 + 1)
		steps[ns++] = s;
	chain(steps, ns, 3);

	/* NULL and zero */
	char *p = krealloc(NULL, 100, GFP_KERNEL);
	CHECK(p != NULL && ksize(p) >= 100);
	p[99] = 1;
	CHECK(krealloc(p, 0, GFP_KERNEL) == NULL);   /* frees p */

	/* failure leaves the block intact */
	p = kmalloc(5000, GFP_KERNEL);
	CHECK(p != NULL);
	if (p) {
		pattern_fill(p, 5000, 9);
		errno = 0;
		char *q = krealloc(p, SIZE_MAX / 2, GFP_KERNEL | __GFP_NOWARN);
		CHECK(q == NULL);
		CHECK(errno == ENOMEM);
		q = krealloc(p, (size_t)PTRDIFF_MAX, GFP_KERNEL | __GFP_NOWARN);
		CHECK(q == NULL);
		CHECK(pattern_check(p, 5000, 9) == 5000);
		q = krealloc(p, 6000, GFP_KERNEL);
		CHECK(q != NULL && pattern_check(q, 5000, 9) == 5000);
		kfree(q ? q : p);
	}
	huge_growth_is_not_a_copy();
	return check_done();
}
