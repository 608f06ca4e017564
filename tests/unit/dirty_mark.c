/* SPDX-License-Identifier: MIT */
/*
 * dirty_mark: the page layer's adaptive return policy (page_alloc.c).
 *   - refill: a program that frees and at once reallocates more than the
 *     high mark raises the mark (a second release at the mark within
 *     KDIRTY_REPEAT_NS, with the released memory allocated again in
 *     between), after which its rounds release nothing; the mark stays
 *     below KDIRTY_MARK_FACTOR times dirty_high or 1/KDIRTY_MARK_USED_DIV of
 *     the pages in use, whichever is more;
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
	size_t used = z->nr_present_pages - z->nr_free_pages;
	CHECKF(mark <= KMAX(KDIRTY_MARK_FACTOR * BASE_PAGES, (used + ((size_t)NBLK << ORDER)) / KDIRTY_MARK_USED_DIV),
	       "mark %zu pages above %d times the base and 1/%d of the pages in use", mark, KDIRTY_MARK_FACTOR,
	       KDIRTY_MARK_USED_DIV);
	size_t r2 = released();
	for (int i = 0; i < 10; i++)
		round_trip(NBLK);
	CHECKF(released() == r2, "with the mark raised, 10 refill rounds released %zu pages (the first: %zu)",
	       released() - r2, r1);

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
