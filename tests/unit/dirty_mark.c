/* SPDX-License-Identifier: MIT */
/*
 * dirty_mark: the page layer's adaptive return policy (page_alloc.c).
 *   - refill: a program that frees and at once reallocates more than the
 *     high mark raises the mark (a second release at the mark within
 *     KDIRTY_REPEAT_NS, with the released memory allocated again in
 *     between), after which its rounds release nothing; the mark stays
 *     below KDIRTY_MARK_FACTOR times dirty_high or the recent peak of pages
 *     in use, whichever is more;
 *   - backed memory first: with a clean block of the order asked for and a
 *     dirty one of a larger order free, the dirty one is split;
 *   - the footprint bound: with the mark raised, dirty free pages of an
 *     order too small for what the program allocates next go back as it
 *     faults in fresh pages, so pages in use and dirty pages kept together
 *     stay near the peak instead of growing by both;
 *   - a program freeing all it holds does not raise the mark: the dirty
 *     free pages end at the mark or below;
 *   - decay: a raised mark that sees no release for KDECAY_NS is halved,
 *     and dirty pages left unused for a whole period go back (down to
 *     dirty_high / 8), on frees alone, without a thread;
 *   - KALLOC_DIRTY_MAX stays the base: the mark never drops below it.
 * Runs with a small dirty_high (4 MiB) set on the zone directly, before
 * anything else allocates; about 5 s (four decay periods).
 */
#include "buddy_check.h"

#include <time.h>

#define BASE_PAGES 1024UL   /* dirty_high: 4 MiB */
#define ORDER 2
#define NBLK 512            /* 2048 pages: twice the base */

static struct page *blk[4 * NBLK];

static struct kzone *normal(void)
{
	return &knodes[0].zones[KZONE_NORMAL];
}

static void round_trip(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		blk[i] = kpage_alloc(GFP_KERNEL, ORDER);
		CHECK(blk[i] != NULL);
		if (blk[i])
			memset(kpage_address(blk[i]), 0x5a, PAGE_SIZE << ORDER);
	}
	for (unsigned i = 0; i < n; i++)
		if (blk[i])
			kpage_free(blk[i]);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static size_t released(void)
{
	return normal()->nr_released_total;
}

int main(void)
{
	kalloc_ensure_init();
	struct kzone *z = normal();
	klock(&z->lock);
	z->dirty_high = z->dirty_mark = BASE_PAGES;
	kunlock(&z->lock);
	kalloc_trim();   /* start with nothing dirty */

	/* refill: rounds of 2048 pages allocated, written and freed */
	round_trip(NBLK);
	size_t r1 = released();
	for (int i = 0; i < 5; i++)
		round_trip(NBLK);
	size_t mark = z->dirty_mark;
	CHECKF(mark > BASE_PAGES, "refill rounds did not raise the mark (%zu pages)", mark);
	size_t peak = KMAX(z->peak_used, z->peak_used_prev);
	CHECKF(mark <= KMAX(KDIRTY_MARK_FACTOR * BASE_PAGES, peak),
	       "mark %zu pages above %d times the base and the recent peak in use (%zu pages)", mark,
	       KDIRTY_MARK_FACTOR, peak);
	size_t r2 = released();
	for (int i = 0; i < 10; i++)
		round_trip(NBLK);
	CHECKF(released() == r2, "with the mark raised, 10 refill rounds released %zu pages (the first: %zu)",
	       released() - r2, r1);

	/* Backed memory first: every free block clean, then one order-0 block
	 * freed where its buddy stays allocated (clean again after a release),
	 * and an order-4 block written and freed (dirty).  An order-0
	 * allocation takes a piece of the dirty block. */
	{
		kalloc_trim();
		struct page *a = kpage_alloc(GFP_KERNEL, 0), *b = kpage_alloc(GFP_KERNEL, 0);
		struct page *big = kpage_alloc(GFP_KERNEL, 4);
		CHECK(a && b && big);
		if (a && b && big) {
			kpage_free(a);
			kalloc_trim();   /* the freed order-0 block, clean */
			memset(kpage_address(big), 0x77, PAGE_SIZE << 4);
			kpage_free(big);
			CHECKF(z->free_area[0].head && !z->free_area[0].head->dirty_est,
			       "no clean order-0 block at the head of its list");
			struct page *p = kpage_alloc(GFP_KERNEL, 0);
			CHECK(p != NULL);
			if (p) {
				CHECKF(!(p->flags & KPF_ZEROED),
				       "an order-0 allocation took a clean block while a dirty order-4 one was free");
				kpage_free(p);
			}
		}
		if (b)
			kpage_free(b);
	}

	/* The footprint bound.  Raise the mark by refill rounds, then write
	 * 4096 order-0 pages and free every other one: 2048 dirty holes,
	 * kept (the room below the peak covers them).  Then allocate order-4
	 * blocks, which the holes cannot serve, for as many pages: the holes
	 * go back as fresh pages are faulted in. */
	{
		static struct page *small[4096], *big[128];
		kalloc_trim();   /* (the mark starts over) */
		sleep_ms(300);
		for (int i = 0; i < 4; i++)
			round_trip(NBLK);
		CHECKF(z->dirty_mark > BASE_PAGES, "refill rounds did not raise the mark before the footprint check");
		unsigned n = 0;
		for (; n < 4096; n++) {
			small[n] = kpage_alloc(GFP_KERNEL, 0);
			if (!small[n])
				break;
			memset(kpage_address(small[n]), 0x33, PAGE_SIZE);
		}
		CHECK(n == 4096);
		for (unsigned i = 0; i < n; i += 2)
			kpage_free(small[i]);
		size_t holes = z->nr_dirty_pages;
		CHECKF(holes >= n / 2 - 64, "the room below the peak kept %zu of %u dirty holes", holes, n / 2);
		unsigned m = 0;
		for (; m < 128; m++) {
			big[m] = kpage_alloc(GFP_KERNEL, 4);
			if (!big[m])
				break;
			memset(kpage_address(big[m]), 0x44, PAGE_SIZE << 4);
		}
		CHECK(m == 128);
		size_t used = z->nr_present_pages - z->nr_free_pages;
		size_t top = KMAX(z->peak_used, z->peak_used_prev);
		test_msg("dirty_mark: footprint: %zu dirty holes, then %zu dirty after 2048 fresh pages (in use %zu, peak %zu)",
		         holes, z->nr_dirty_pages, used, top);
		CHECKF(z->nr_dirty_pages <= BASE_PAGES + (BASE_PAGES >> 3),
		       "%zu dirty pages kept while the program faulted in 2048 fresh ones (base %lu)",
		       z->nr_dirty_pages, BASE_PAGES);
		for (unsigned i = 0; i < m; i++)
			kpage_free(big[i]);
		for (unsigned i = 1; i < n; i += 2)
			kpage_free(small[i]);
	}

	/* Mass free: no raise.  Wait out the repeat window first. */
	klock(&z->lock);
	z->dirty_mark = BASE_PAGES;
	kunlock(&z->lock);
	kalloc_trim();
	sleep_ms(300);
	round_trip(4 * NBLK);   /* 8192 pages, all freed at once */
	CHECKF(z->dirty_mark == BASE_PAGES, "freeing everything raised the mark to %zu pages", z->dirty_mark);
	CHECKF(z->nr_dirty_pages <= BASE_PAGES, "after freeing everything: %zu dirty free pages, mark %lu",
	       z->nr_dirty_pages, BASE_PAGES);

	/* Decay: raise the mark by refill rounds, leave the dirty pages of the
	 * last round unused, and keep freeing small blocks for two periods. */
	for (int i = 0; i < 4; i++)
		round_trip(NBLK);
	CHECKF(z->dirty_mark > BASE_PAGES, "refill rounds did not raise the mark again");
	size_t dirty0 = z->nr_dirty_pages;
	CHECKF(dirty0 > BASE_PAGES, "refill rounds left %zu dirty pages", dirty0);
	for (int period = 0; period < 2; period++) {
		sleep_ms(KDECAY_NS / 1000000 + 100);
		for (unsigned i = 0; i < 2 * KDECAY_TICK; i++)
			kpage_free(kpage_alloc(GFP_KERNEL, 0));
	}
	CHECKF(z->dirty_mark < 2 * BASE_PAGES || z->dirty_mark * 2 <= mark,
	       "the mark stayed at %zu pages after two quiet periods", z->dirty_mark);
	CHECKF(z->nr_dirty_pages <= BASE_PAGES / 8 + 16,
	       "after two periods unused: %zu dirty free pages (were %zu; floor %lu)", z->nr_dirty_pages, dirty0,
	       BASE_PAGES / 8);
	CHECK(z->dirty_mark >= z->dirty_high);

	/* Idle dirty pages below the mark: 800 pages freed, then left unused
	 * while single pages come and go for two periods. */
	kalloc_trim();
	round_trip(200);
	size_t idle0 = z->nr_dirty_pages;
	CHECKF(idle0 >= 600 && idle0 <= BASE_PAGES, "a round of 800 pages left %zu dirty", idle0);
	for (int period = 0; period < 2; period++) {
		sleep_ms(KDECAY_NS / 1000000 + 100);
		for (unsigned i = 0; i < 2 * KDECAY_TICK; i++)
			kpage_free(kpage_alloc(GFP_KERNEL, 0));
	}
	CHECKF(z->nr_dirty_pages <= BASE_PAGES / 8 + 16,
	       "%zu dirty free pages (were %zu) after two periods unused, below the mark; floor %lu",
	       z->nr_dirty_pages, idle0, BASE_PAGES / 8);
	test_msg("dirty_mark: raised to %zu pages (base %lu); refill rounds then released nothing", mark, BASE_PAGES);
	return check_done();
}
