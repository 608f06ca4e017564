/* SPDX-License-Identifier: MIT */
/*
 * page_zero: memory that is said to be zero is zero.
 *   - after dirtying and freeing 96 MiB of pages (more than the zone keeps
 *     backed, so some is released and some stays dirty), get_zeroed_page,
 *     alloc_pages(__GFP_ZERO), __get_free_pages(__GFP_ZERO),
 *     alloc_pages_exact(__GFP_ZERO), kzalloc and kcalloc of page-sized
 *     blocks all read as zero; and again after those blocks were themselves
 *     dirtied and freed;
 *   - a block handed out with KPF_ZEROED (the buddy's "this was released,
 *     skip the memset") reads as zero, whatever the route;
 *   - after malloc_trim(0) no free page is dirty, and blocks allocated
 *     without __GFP_ZERO come back clean and marked KPF_ZEROED.
 */
#include "internal.h"
#include "ktest.h"

#include <malloc.h>

#define DIRTY_BYTES (96UL << 20)
#define NPTR 16384

static void *ptrs[NPTR];
static unsigned orders[NPTR];

/* Fills the buddy allocator with dirty free blocks of mixed orders. */
static void dirty_everything(uint64_t *rng)
{
	size_t n = 0, bytes = 0;
	while (bytes < DIRTY_BYTES && n < NPTR) {
		unsigned o = (unsigned)rng_range(rng, 0, 4);
		unsigned long a = __get_free_pages(GFP_KERNEL, o);
		CHECK(a != 0);
		if (!a)
			break;
		memset((void *)a, 0xa5, PAGE_SIZE << o);
		ptrs[n] = (void *)a;
		orders[n++] = o;
		bytes += PAGE_SIZE << o;
	}
	/* free in a scrambled order so that blocks merge in odd ways */
	for (size_t i = 0; i < n; i++) {
		size_t j = i + (size_t)rng_range(rng, 0, n - 1 - i);
		void *tp = ptrs[i];
		unsigned to = orders[i];
		ptrs[i] = ptrs[j];
		orders[i] = orders[j];
		ptrs[j] = tp;
		orders[j] = to;
		free_pages((unsigned long)ptrs[i], orders[i]);
	}
}

static void check_zero(const void *p, size_t n, const char *what)
{
	size_t nz = first_nonzero(p, n);
	CHECKF(nz == n, "%s %p (%zu bytes): byte %zu is %#x", what, p, n, nz, ((const uint8_t *)p)[nz]);
}

/* A block whose head says KPF_ZEROED reads as zero. */
static void check_zeroed_flag(const void *p, size_t n)
{
	struct page *pg = virt_to_page(p);
	if (pg && (pg->flags & KPF_ZEROED))
		check_zero(p, n, "block marked KPF_ZEROED");
}

static void zeroing_round(uint64_t *rng, int round)
{
	size_t n = 0;
	/* get_zeroed_page: keep them all, so every call takes a new page */
	for (int i = 0; i < 3000 && n < NPTR; i++) {
		unsigned long a = get_zeroed_page(GFP_KERNEL);
		CHECK(a != 0);
		if (!a)
			break;
		check_zero((void *)a, PAGE_SIZE, "get_zeroed_page");
		ptrs[n] = (void *)a;
		orders[n++] = 0;
	}
	for (unsigned o = 0; o <= MAX_ORDER; o++)
		for (int k = 0; k < (o < 6 ? 20 : 2) && n < NPTR; k++) {
			unsigned long a;
			if (k % 2) {
				struct page *pg = alloc_pages(GFP_KERNEL | __GFP_ZERO, o);
				a = pg ? (unsigned long)page_address(pg) : 0;
			} else {
				a = __get_free_pages(GFP_KERNEL | __GFP_ZERO, o);
			}
			CHECKF(a != 0, "order %u __GFP_ZERO failed", o);
			if (!a)
				continue;
			check_zero((void *)a, PAGE_SIZE << o, "__GFP_ZERO pages");
			ptrs[n] = (void *)a;
			orders[n++] = o;
		}
	/* Plain allocations: whatever is marked zeroed must be. */
	for (int i = 0; i < 2000 && n < NPTR; i++) {
		unsigned o = (unsigned)rng_range(rng, 0, 5);
		unsigned long a = __get_free_pages(GFP_KERNEL, o);
		CHECK(a != 0);
		if (!a)
			break;
		check_zeroed_flag((void *)a, PAGE_SIZE << o);
		ptrs[n] = (void *)a;
		orders[n++] = o;
	}
	/* Exact blocks, kzalloc and kcalloc of large sizes. */
	void *ex[64], *kz[64], *kc[64];
	size_t exs[64];
	for (int i = 0; i < 64; i++) {
		exs[i] = (size_t)rng_range(rng, 1, 300 * PAGE_SIZE);
		ex[i] = alloc_pages_exact(exs[i], GFP_KERNEL | __GFP_ZERO);
		CHECK(ex[i] != NULL);
		if (ex[i])
			check_zero(ex[i], KALIGN_UP(exs[i], PAGE_SIZE), "alloc_pages_exact(__GFP_ZERO)");
		size_t ks = (size_t)rng_range(rng, 1, 200000);
		kz[i] = kzalloc(ks, GFP_KERNEL);
		CHECK(kz[i] != NULL);
		if (kz[i])
			check_zero(kz[i], ks, "kzalloc");
		kc[i] = kcalloc((size_t)rng_range(rng, 1, 1000), 97, GFP_KERNEL);
		CHECK(kc[i] != NULL);
	}
	/* Dirty all of it and free it: the next round must still get zeros. */
	for (size_t i = 0; i < n; i++) {
		memset(ptrs[i], 0x3c + round, PAGE_SIZE << orders[i]);
		free_pages((unsigned long)ptrs[i], orders[i]);
	}
	for (int i = 0; i < 64; i++) {
		if (ex[i]) {
			memset(ex[i], 0x77, exs[i]);
			free_pages_exact(ex[i], exs[i]);
		}
		if (kz[i]) {
			memset(kz[i], 0x66, ksize(kz[i]));
			kfree(kz[i]);
		}
		if (kc[i]) {
			memset(kc[i], 0x55, ksize(kc[i]));
			kfree(kc[i]);
		}
	}
}

static void after_trim(void)
{
	kalloc_trim();   /* malloc_trim's work */
	for (unsigned zi = 0; zi < KNR_ZONES; zi++)
		CHECKF(knodes[0].zones[zi].nr_dirty_pages == 0, "zone %s: %zu dirty free pages after malloc_trim(0)",
		       knodes[0].zones[zi].name ? knodes[0].zones[zi].name : "?", knodes[0].zones[zi].nr_dirty_pages);
	/* Nothing was freed since: every block comes from released or fresh
	 * memory, is marked so and reads as zero. */
	size_t n = 0;
	for (unsigned i = 0; i < 4000 && n < NPTR; i++) {
		unsigned o = i % 6;
		struct page *pg = alloc_pages(GFP_KERNEL, o);
		CHECK(pg != NULL);
		if (!pg)
			break;
		CHECKF(pg->flags & KPF_ZEROED, "block %u (order %u) after malloc_trim(0) not marked KPF_ZEROED", i, o);
		check_zero(page_address(pg), PAGE_SIZE << o, "block after malloc_trim(0)");
		ptrs[n] = page_address(pg);
		orders[n++] = o;
	}
	for (size_t i = 0; i < n; i++)
		free_pages((unsigned long)ptrs[i], orders[i]);
}

int main(void)
{
	uint64_t rng = 0x7a65726f70616765ull;
	dirty_everything(&rng);
	struct kzone *z = &knodes[0].zones[KZONE_NORMAL];
	CHECKF(z->nr_dirty_pages > 0, "no dirty free pages after dirtying: the test tests nothing");
	CHECKF(z->nr_released_total > 0, "nothing released after freeing %lu MiB", DIRTY_BYTES >> 20);
	for (int round = 0; round < 3; round++)
		zeroing_round(&rng, round);
	after_trim();
	return check_done();
}
