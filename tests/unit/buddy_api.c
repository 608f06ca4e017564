/* SPDX-License-Identifier: MIT */
/*
 * buddy_api: the public page allocator API.
 *   - alloc_pages(order 0..MAX_ORDER): 2^order pages aligned to their size;
 *     page_address(virt_to_page(p)) == p, and virt_to_page of any byte of
 *     page k gives page k's descriptor; __free_pages takes them back;
 *   - __get_free_pages / free_pages, get_zeroed_page, alloc_pages_exact /
 *     free_pages_exact (exactly round_up(size, PAGE_SIZE) bytes: the rest of
 *     the power-of-two block goes back to the buddy allocator);
 *   - blocks never overlap: each is filled with its own pattern, the ranges
 *     are sorted and compared, and every pattern is verified before freeing;
 *   - virt_to_page of memory kalloc does not manage is NULL;
 *   - __GFP_DMA32 blocks end at or below 4 GiB, __GFP_DMA ones below 16 MiB;
 *   - a new chunk's max-order blocks go on the free lists as they are
 *     needed: after initialisation most of the first chunk's blocks are
 *     fresh, and the pages of their descriptors and info words were never
 *     touched (mincore);
 *   - the buddy invariants (buddy_check.h) hold before and after.
 */
#include "buddy_check.h"

#define MAX_BLOCKS 2048

enum { VIA_PAGES, VIA_GFP, VIA_EXACT, VIA_ZEROED };

struct blk {
	char *p;
	size_t bytes;     /* usable: 2^order pages, or the exact size rounded */
	size_t asked;     /* exact: the size asked for */
	unsigned order;
	int via;
	uint64_t id;
	struct page *pg;  /* VIA_PAGES */
};

static struct blk blks[MAX_BLOCKS];
static size_t nblk;
static uint64_t next_id = 1;
static uint64_t rng = 0x6275646479617069ull;

static int cmp_blk(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;
	return x->p < y->p ? -1 : x->p > y->p;
}

static void check_descriptors(const struct blk *b)
{
	struct page *head = virt_to_page(b->p);
	CHECKF(head != NULL, "virt_to_page(%p) is NULL", (void *)b->p);
	CHECKF(page_address(head) == b->p, "page_address(virt_to_page(%p)) = %p", (void *)b->p,
	       page_address(head));
	if (b->via == VIA_PAGES)
		CHECKF(head == b->pg, "virt_to_page(page_address(pg)) != pg for %p", (void *)b->p);
	size_t npages = b->bytes >> PAGE_SHIFT;
	/* a few interior pages, at odd offsets */
	size_t probes[4] = { 0, npages / 3, npages / 2, npages - 1 };
	for (int i = 0; i < 4; i++) {
		char *q = b->p + (probes[i] << PAGE_SHIFT) + 123 + (size_t)i * 1000;
		struct page *pg = virt_to_page(q);
		CHECKF(pg != NULL && page_address(pg) == b->p + (probes[i] << PAGE_SHIFT),
		       "virt_to_page(%p) does not give the page at %p", (void *)q,
		       (void *)(b->p + (probes[i] << PAGE_SHIFT)));
	}
}

static void add(char *p, size_t bytes, size_t asked, unsigned order, int via, struct page *pg)
{
	struct blk *b = &blks[nblk++];
	b->p = p;
	b->bytes = bytes;
	b->asked = asked;
	b->order = order;
	b->via = via;
	b->pg = pg;
	b->id = next_id++;
	if (via != VIA_EXACT)
		CHECKF(((uintptr_t)p & ((PAGE_SIZE << order) - 1)) == 0, "%p (order %u) not aligned to its size",
		       (void *)p, order);
	else
		CHECKF(((uintptr_t)p & (PAGE_SIZE - 1)) == 0, "exact block %p not page aligned", (void *)p);
	if (via == VIA_ZEROED)
		CHECKF(first_nonzero(p, PAGE_SIZE) == PAGE_SIZE, "get_zeroed_page %p not zero", (void *)p);
	check_descriptors(b);
	pattern_fill(p, bytes, b->id);
}

static void release(struct blk *b)
{
	size_t bad = pattern_check(b->p, b->bytes, b->id);
	CHECKF(bad == b->bytes, "block %p (%zu bytes, via %d) overwritten at byte %zu", (void *)b->p, b->bytes,
	       b->via, bad);
	switch (b->via) {
	case VIA_PAGES:
		__free_pages(b->pg, b->order);
		break;
	case VIA_GFP:
	case VIA_ZEROED:
		free_pages((unsigned long)b->p, b->order);
		break;
	case VIA_EXACT:
		free_pages_exact(b->p, b->asked);
		break;
	}
}

static void allocate_mix(void)
{
	static const size_t exact_sizes[] = { 1, 100, 4095, 4096, 4097, 3 * 4096, 9 * 4096 - 1, 100000,
	                                      513 * 4096, 1000 * 4096 + 5, KMAX_ORDER_SIZE };
	/* every order, several times */
	for (unsigned o = 0; o <= MAX_ORDER; o++)
		for (int k = 0; k < 3; k++) {
			struct page *pg = alloc_pages(GFP_KERNEL, o);
			CHECKF(pg != NULL, "alloc_pages(order %u) failed", o);
			if (pg)
				add(page_address(pg), PAGE_SIZE << o, 0, o, VIA_PAGES, pg);
			unsigned long a = __get_free_pages(GFP_KERNEL, o);
			CHECKF(a != 0, "__get_free_pages(order %u) failed", o);
			if (a)
				add((char *)a, PAGE_SIZE << o, 0, o, VIA_GFP, NULL);
		}
	for (size_t i = 0; i < sizeof exact_sizes / sizeof exact_sizes[0]; i++) {
		size_t sz = exact_sizes[i];
		char *p = alloc_pages_exact(sz, GFP_KERNEL);
		CHECKF(p != NULL, "alloc_pages_exact(%zu) failed", sz);
		if (!p)
			continue;
		size_t rounded = KALIGN_UP(sz, PAGE_SIZE);
		/* exactly the pages asked for, no more */
		struct page *pg = virt_to_page(p);
		CHECKF(pg && pg->npages == rounded >> PAGE_SHIFT, "alloc_pages_exact(%zu) holds %u pages, want %zu",
		       sz, pg ? pg->npages : 0, rounded >> PAGE_SHIFT);
		add(p, rounded, sz, 0, VIA_EXACT, NULL);
	}
	/* small blocks in random order of kind */
	for (int i = 0; i < 600; i++) {
		unsigned o = (unsigned)rng_range(&rng, 0, 3);
		switch (rng_range(&rng, 0, 3)) {
		case 0: {
			struct page *pg = alloc_pages(GFP_KERNEL, o);
			CHECK(pg != NULL);
			if (pg)
				add(page_address(pg), PAGE_SIZE << o, 0, o, VIA_PAGES, pg);
			break;
		}
		case 1: {
			unsigned long a = __get_free_pages(GFP_KERNEL, o);
			CHECK(a != 0);
			if (a)
				add((char *)a, PAGE_SIZE << o, 0, o, VIA_GFP, NULL);
			break;
		}
		case 2: {
			size_t sz = (size_t)rng_range(&rng, 1, 20 * PAGE_SIZE);
			char *p = alloc_pages_exact(sz, GFP_KERNEL);
			CHECK(p != NULL);
			if (p)
				add(p, KALIGN_UP(sz, PAGE_SIZE), sz, 0, VIA_EXACT, NULL);
			break;
		}
		default: {
			unsigned long a = get_zeroed_page(GFP_KERNEL);
			CHECK(a != 0);
			if (a)
				add((char *)a, PAGE_SIZE, 0, 0, VIA_ZEROED, NULL);
			break;
		}
		}
		/* free some as we go, so that blocks are reused */
		if (nblk > 100 && rng_range(&rng, 0, 2) == 0) {
			size_t j = (size_t)rng_range(&rng, 0, nblk - 1);
			release(&blks[j]);
			blks[j] = blks[--nblk];
		}
	}
}

static void check_no_overlap(void)
{
	qsort(blks, nblk, sizeof blks[0], cmp_blk);
	for (size_t i = 1; i < nblk; i++)
		CHECKF(blks[i - 1].p + blks[i - 1].bytes <= blks[i].p, "blocks %p (+%zu) and %p overlap",
		       (void *)blks[i - 1].p, blks[i - 1].bytes, (void *)blks[i].p);
}

static void zone_modifiers(void)
{
	/* DMA32: below 4 GiB, for every order. */
	for (unsigned o = 0; o <= MAX_ORDER; o += 2) {
		struct page *pg = alloc_pages(GFP_KERNEL | GFP_DMA32, o);
		CHECKF(pg != NULL, "alloc_pages(GFP_DMA32, order %u) failed", o);
		if (!pg)
			continue;
		uintptr_t a = (uintptr_t)page_address(pg);
		CHECKF(a + (PAGE_SIZE << o) <= (4UL << 30), "GFP_DMA32 block %#lx (order %u) ends above 4 GiB",
		       (unsigned long)a, o);
		CHECKF(kchunk_of((void *)a) && kchunk_of((void *)a)->zone == KZONE_DMA32,
		       "GFP_DMA32 block %#lx is not in a ZONE_DMA32 chunk", (unsigned long)a);
		memset((void *)a, 0x5c, PAGE_SIZE << o);
		__free_pages(pg, o);
	}
	/* DMA: below 16 MiB if at all (64 MiB chunks do not fit there). */
	struct page *pg = alloc_pages(GFP_KERNEL | GFP_DMA | __GFP_NOWARN, 0);
	if (pg) {
		CHECKF((uintptr_t)page_address(pg) + PAGE_SIZE <= (16UL << 20), "GFP_DMA page %p above 16 MiB",
		       page_address(pg));
		__free_pages(pg, 0);
	}
}

#include <sys/mman.h>

static bool resident(const void *p)
{
	unsigned char v = 0;
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(PAGE_SIZE - 1);
	CHECK(mincore((void *)a, PAGE_SIZE, &v) == 0);
	return v & 1;
}

/* Before anything reads the info words of the whole chunk (the checker
 * does). */
static void fresh_chunk(void)
{
	void *p = kmalloc(1, GFP_KERNEL);   /* initialises */
	CHECK(p != NULL);
	struct kchunk *c = kchunk_of(p);
	CHECK(c != NULL);
	if (!c)
		return;
	struct kzone *z = &knodes[c->node].zones[c->zone];
	CHECKF(c->fresh <= 2, "the first chunk has %u blocks listed after initialisation", c->fresh);
	CHECKF(z->nr_fresh >= KCHUNK_BLOCKS - c->fresh, "zone %s: nr_fresh %zu, the chunk's fresh index %u", z->name,
	       z->nr_fresh, c->fresh);
	size_t last = (size_t)(KCHUNK_BLOCKS - 1) << MAX_ORDER;
	CHECKF(!resident(&c->info[last + 100]), "the info words of a fresh block are resident");
	CHECKF(!resident(&c->pages[last]), "the descriptor of a fresh block is resident");
	kfree(p);
}

int main(void)
{
	int on_stack = 0;
	fresh_chunk();
	CHECK(virt_to_page(&on_stack) == NULL);
	CHECK(virt_to_page(NULL) == NULL);
	CHECK(virt_to_page((void *)main) == NULL);
	CHECK(virt_to_page((void *)0xdead000000000000ull) == NULL);
	CHECK(page_address(NULL) == NULL);
	__free_pages(NULL, 0);
	free_pages(0, 3);
	free_pages_exact(NULL, 100);

	allocate_mix();
	check_no_overlap();
	struct bc_block none[1];
	struct bc_result res[KNR_ZONES];
	(void)none;
	/* Blocks from the public API are foreign to the checker; it still
	 * checks free lists, counters and coverage. */
	bc_check_all(none, 0, res);
	CHECKF(res[KZONE_NORMAL].foreign_pages > 0, "the blocks just allocated are not in ZONE_NORMAL");
	for (size_t i = 0; i < nblk; i++)
		release(&blks[i]);
	nblk = 0;
	zone_modifiers();
	bc_check_all(none, 0, res);
	return check_done();
}
