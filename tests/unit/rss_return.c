/* SPDX-License-Identifier: MIT */
/*
 * rss_return: memory goes back to the OS.  RSS is the second field of
 * /proc/self/statm times the page size.  A 256 MiB working set is
 * allocated, touched and freed:
 *   rss_return large   64 KiB blocks (kmalloc page blocks, then
 *                      alloc_pages of order 4): RSS falls by most of the
 *                      working set right after the frees, without
 *                      malloc_trim (the buddy allocator keeps at most
 *                      its high mark of dirty free pages: KDIRTY_HIGH_DEFAULT
 *                      here, where nothing was freed and refilled before,
 *                      and after a malloc_trim), and by
 *                      nearly all of it after malloc_trim(0);
 *   rss_return slab    256-byte kmalloc objects (a million of them): RSS
 *                      falls by nearly all of it after malloc_trim(0);
 *   rss_return slab-notrim  the same without malloc_trim: empty slabs go
 *                      back to the buddy allocator (all but a few per
 *                      cache), which releases what is above its high
 *                      mark; after the frees, one more allocation and, a
 *                      second later, one more free (decay), RSS has fallen
 *                      by most of the working set.
 * The pointer arrays live in a mapping of their own, touched before the
 * baseline is taken.
 */
#include "internal.h"
#include "ktest.h"

#include <malloc.h>
#include <sys/mman.h>

#define WORKING_SET (256UL << 20)
#define MiB(x) ((x) >> 20)

static void **map_array(size_t n)
{
	void **a = mmap(NULL, n * sizeof *a, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
	                -1, 0);
	if (a == MAP_FAILED) {
		CHECK(!"mmap failed");
		return NULL;
	}
	memset(a, 0, n * sizeof *a);
	return a;
}

/* Checks that RSS grew by about the working set (or the test measures
 * nothing). */
static void check_grew(size_t base, size_t peak, const char *what)
{
	test_msg("rss_return %s: baseline %zu MiB, with the working set %zu MiB", what, MiB(base), MiB(peak));
	CHECKF(peak >= base + WORKING_SET * 9 / 10, "%s: RSS grew by only %zu MiB for a %lu MiB working set", what,
	       MiB(peak - base), MiB(WORKING_SET));
}

static void check_fell(size_t peak, size_t now, size_t fraction_pct, const char *what)
{
	size_t drop = peak > now ? peak - now : 0;
	test_msg("rss_return %s: RSS %zu MiB (fell by %zu MiB)", what, MiB(now), MiB(drop));
	CHECKF(drop >= WORKING_SET / 100 * fraction_pct, "%s: RSS fell by %zu MiB, want at least %zu%% of %lu MiB",
	       what, MiB(drop), fraction_pct, MiB(WORKING_SET));
}

static void large_kmalloc(void)
{
	size_t n = WORKING_SET / (64UL << 10);
	void **p = map_array(n);
	if (!p)
		return;
	size_t base = rss_bytes();
	for (size_t i = 0; i < n; i++) {
		p[i] = kmalloc(64UL << 10, GFP_KERNEL);
		CHECK(p[i] != NULL);
		if (p[i])
			memset(p[i], (int)(i | 1), 64UL << 10);
	}
	size_t peak = rss_bytes();
	check_grew(base, peak, "kmalloc 64 KiB");
	for (size_t i = 0; i < n; i++)
		kfree(p[i]);
	/* No malloc_trim: the buddy allocator releases above its high mark. */
	size_t freed = rss_bytes();
	check_fell(peak, freed, 75, "kmalloc 64 KiB, freed, no malloc_trim");
	CHECKF(freed <= base + KDIRTY_HIGH_DEFAULT + (8UL << 20),
	       "after the frees RSS is %zu MiB above the baseline; the zone keeps at most %lu MiB dirty",
	       MiB(freed - base), MiB(KDIRTY_HIGH_DEFAULT));
	malloc_trim(0);
	check_fell(peak, rss_bytes(), 90, "kmalloc 64 KiB, after malloc_trim(0)");
	munmap(p, n * sizeof *p);
}

static void large_pages(void)
{
	size_t n = WORKING_SET / (PAGE_SIZE << 4);
	void **p = map_array(n);
	if (!p)
		return;
	size_t base = rss_bytes();
	for (size_t i = 0; i < n; i++) {
		p[i] = (void *)__get_free_pages(GFP_KERNEL, 4);
		CHECK(p[i] != NULL);
		if (p[i])
			memset(p[i], (int)(i | 1), PAGE_SIZE << 4);
	}
	size_t peak = rss_bytes();
	check_grew(base, peak, "order-4 pages");
	for (size_t i = 0; i < n; i++)
		free_pages((unsigned long)p[i], 4);
	check_fell(peak, rss_bytes(), 75, "order-4 pages, freed, no malloc_trim");
	malloc_trim(0);
	check_fell(peak, rss_bytes(), 90, "order-4 pages, after malloc_trim(0)");
	munmap(p, n * sizeof *p);
}

static void slab(void)
{
	size_t n = WORKING_SET / 256;
	void **p = map_array(n);
	if (!p)
		return;
	size_t base = rss_bytes();
	for (size_t i = 0; i < n; i++) {
		p[i] = kmalloc(256, GFP_KERNEL);
		CHECK(p[i] != NULL);
		if (p[i])
			memset(p[i], (int)(i | 1), 256);
	}
	size_t peak = rss_bytes();
	check_grew(base, peak, "kmalloc 256 B");
	/* free in an order unlike the allocation order */
	for (size_t stride = 0; stride < 7; stride++)
		for (size_t i = stride; i < n; i += 7)
			kfree(p[i]);
	test_msg("rss_return kmalloc 256 B: %zu MiB after the frees, before malloc_trim", MiB(rss_bytes()));
	malloc_trim(0);
	check_fell(peak, rss_bytes(), 90, "kmalloc 256 B, after malloc_trim(0)");
	munmap(p, n * sizeof *p);
}

static void slab_notrim(void)
{
	size_t n = WORKING_SET / 256;
	void **p = map_array(n);
	if (!p)
		return;
	size_t base = rss_bytes();
	for (size_t i = 0; i < n; i++) {
		p[i] = kmalloc(256, GFP_KERNEL);
		CHECK(p[i] != NULL);
		if (p[i])
			memset(p[i], (int)(i | 1), 256);
	}
	size_t peak = rss_bytes();
	check_grew(base, peak, "kmalloc 256 B");
	for (size_t stride = 0; stride < 7; stride++)
		for (size_t i = stride; i < n; i += 7)
			kfree(p[i]);
	/* Give the allocator its chances: an allocation of the class, and a
	 * page free after the decay interval. */
	kfree(kmalloc(256, GFP_KERNEL));
	struct timespec ts = { 1, 100000000 };
	nanosleep(&ts, NULL);
	kfree(kmalloc(64UL << 10, GFP_KERNEL));
	const struct kmem_cache *c = &kmalloc_caches[kmalloc_index(256)];
	test_msg("rss_return %s: %zu slabs (%zu partial) left, %zu dirty free pages in the buddy allocator", c->name,
	         c->nr_slabs, c->nr_partial, knodes[0].zones[KZONE_NORMAL].nr_dirty_pages);
	check_fell(peak, rss_bytes(), 75, "kmalloc 256 B, freed, no malloc_trim");
	munmap(p, n * sizeof *p);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "large";
	kfree(kmalloc(1, GFP_KERNEL));   /* initialise first: not part of the measure */
	if (strcmp(mode, "large") == 0) {
		large_kmalloc();
		large_pages();
	} else if (strcmp(mode, "slab") == 0) {
		slab();
	} else if (strcmp(mode, "slab-notrim") == 0) {
		slab_notrim();
	} else {
		test_msg("usage: rss_return large|slab|slab-notrim");
		return 2;
	}
	return check_done();
}
