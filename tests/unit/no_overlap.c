/* SPDX-License-Identifier: MIT */
/*
 * no_overlap: thousands of live blocks of mixed sizes, from every path
 * (kmalloc slab classes, page blocks, huge blocks, two caches created here,
 * the page allocator), never overlap.  Each round: allocate, fill every
 * block over its whole usable size with its own pattern, sort the ranges
 * [p, p + usable) and check that each ends before the next begins (so every
 * pointer is distinct too), verify every pattern, then free a random half
 * and go on, so that freed memory is reused by the next round.
 */
#include "internal.h"
#include "ktest.h"

#include <stdlib.h>

#define NBLOCKS 6000
#define ROUNDS 4

enum { K_KMALLOC, K_CACHE_A, K_CACHE_B, K_PAGES };

struct blk {
	char *p;
	size_t size;   /* usable bytes */
	int kind;
	unsigned order;
	uint64_t id;
};

static struct blk blk[NBLOCKS];
static struct blk sorted[NBLOCKS];
static size_t n;
static uint64_t next_id = 1;
static struct kmem_cache *cache_a, *cache_b;
static unsigned nhuge;

static int cmp(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;
	return x->p < y->p ? -1 : x->p > y->p;
}

static void alloc_one(uint64_t *r)
{
	struct blk *b = &blk[n];
	uint64_t x = rng_range(r, 0, 999);
	b->kind = K_KMALLOC;
	if (x < 600) {
		size_t s = (size_t)rng_range(r, 1, 1024);
		b->p = kmalloc(s, GFP_KERNEL);
	} else if (x < 850) {
		size_t s = (size_t)rng_range(r, 1025, KMALLOC_MAX_CACHE_SIZE);
		b->p = kmalloc(s, GFP_KERNEL);
	} else if (x < 880) {
		size_t s = (size_t)rng_range(r, KMALLOC_MAX_CACHE_SIZE + 1, 600000);
		b->p = kmalloc(s, GFP_KERNEL);
	} else if (x < 882 && nhuge < 6) {
		size_t s = (size_t)rng_range(r, KMAX_ORDER_SIZE + 1, 7UL << 20);
		b->p = kmalloc(s, GFP_KERNEL);
		nhuge++;
	} else if (x < 940) {
		b->kind = K_CACHE_A;
		b->p = kmem_cache_alloc(cache_a, GFP_KERNEL);
	} else if (x < 980) {
		b->kind = K_CACHE_B;
		b->p = kmem_cache_alloc(cache_b, GFP_KERNEL);
	} else {
		b->kind = K_PAGES;
		b->order = (unsigned)rng_range(r, 0, 3);
		b->p = (char *)__get_free_pages(GFP_KERNEL, b->order);
	}
	CHECKF(b->p != NULL, "allocation of kind %d failed", b->kind);
	if (!b->p)
		return;
	b->size = b->kind == K_PAGES ? PAGE_SIZE << b->order : ksize(b->p);
	b->id = next_id++;
	pattern_fill(b->p, b->size, b->id);
	n++;
}

static void free_one(size_t i)
{
	struct blk *b = &blk[i];
	size_t bad = pattern_check(b->p, b->size, b->id);
	CHECKF(bad == b->size, "block %p (%zu bytes, kind %d) overwritten at byte %zu", (void *)b->p, b->size,
	       b->kind, bad);
	switch (b->kind) {
	case K_KMALLOC:
		if (b->size > KMAX_ORDER_SIZE)
			nhuge--;
		kfree(b->p);
		break;
	case K_CACHE_A:
		kmem_cache_free(cache_a, b->p);
		break;
	case K_CACHE_B:
		kmem_cache_free(cache_b, b->p);
		break;
	case K_PAGES:
		free_pages((unsigned long)b->p, b->order);
		break;
	}
	blk[i] = blk[--n];
}

static void check_round(int round)
{
	memcpy(sorted, blk, n * sizeof blk[0]);
	qsort(sorted, n, sizeof sorted[0], cmp);
	for (size_t i = 1; i < n; i++)
		CHECKF(sorted[i - 1].p + sorted[i - 1].size <= sorted[i].p,
		       "round %d: %p (+%zu, kind %d) overlaps %p (kind %d)", round, (void *)sorted[i - 1].p,
		       sorted[i - 1].size, sorted[i - 1].kind, (void *)sorted[i].p, sorted[i].kind);
	for (size_t i = 0; i < n; i++) {
		size_t bad = pattern_check(blk[i].p, blk[i].size, blk[i].id);
		CHECKF(bad == blk[i].size, "round %d: block %p (%zu bytes) overwritten at byte %zu", round,
		       (void *)blk[i].p, blk[i].size, bad);
	}
}

int main(void)
{
	uint64_t r = 0x6f7665726c617000ull;
	cache_a = kmem_cache_create("unit_overlap_a", 56, 0, 0, NULL);
	cache_b = kmem_cache_create("unit_overlap_b", 700, 128, SLAB_HWCACHE_ALIGN, NULL);
	CHECK(cache_a && cache_b);
	if (!cache_a || !cache_b)
		return check_done();
	for (int round = 0; round < ROUNDS; round++) {
		while (n < NBLOCKS)
			alloc_one(&r);
		check_round(round);
		for (size_t k = NBLOCKS / 2; k > 0 && n; k--)
			free_one((size_t)rng_range(&r, 0, n - 1));
	}
	while (n)
		free_one(n - 1);
	CHECK(kmem_cache_destroy(cache_a) == 0);
	CHECK(kmem_cache_destroy(cache_b) == 0);
	return check_done();
}
