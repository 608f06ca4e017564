/* SPDX-License-Identifier: MIT */
/*
 * buddy_check.h - an invariant checker for the buddy allocator, written
 * against the structures of src/internal.h (knodes[], their zones, their chunk
 * lists, free_area lists and the chunks' pages[]).
 *
 * bc_check_zone() walks every chunk of a zone page by page, block by block
 * (of ZONE_DMA's chunk, mapped in part, only the pages it maps: the others
 * must keep a zero info word).  Each page must belong to exactly one of:
 *   - a free block: a KPG_FREE_HEAD page of order o, aligned to 2^o pages,
 *     inside the chunk, on the free list of order o exactly once;
 *   - a fresh block: a max-order block at or after the chunk's `fresh`
 *     index, on no list, every info word zero (counted free, and in
 *     nr_free of the max order and the zone's nr_fresh);
 *   - a block the test allocated and tracks (KPG_LARGE head, npages as
 *     tracked);
 *   - a block someone else allocated (a slab, or a KPG_LARGE block), counted
 *     as foreign.
 * A page that is none of these, a tracked block that does not start at a
 * block boundary (an overlap), a free head inside another block, two free
 * buddies of the same order (a missed merge), a listed block the walk did not
 * find, and counters that disagree with the lists are failures.
 *
 * Run it single-threaded, with nothing allocating concurrently; it takes no
 * lock (so CHECK may print) and does not allocate.
 */
#ifndef KALLOC_TESTS_BUDDY_CHECK_H
#define KALLOC_TESTS_BUDDY_CHECK_H

#include "internal.h"
#include "ktest.h"

#include <stdlib.h>

#define BC_MAX_CHUNKS 64

/* A block the test holds: its first byte and its length in pages. */
struct bc_block {
	uintptr_t addr;
	size_t npages;
	uint64_t id;
};

struct bc_result {
	size_t chunks;          /* chunks in the zone */
	size_t clean_chunks;    /* made only of max-order free blocks */
	size_t free_pages;
	size_t tracked_pages, tracked_blocks;
	size_t foreign_pages, foreign_blocks;
	size_t foreign_chunks;  /* chunks holding foreign blocks */
	size_t free_blocks[MAX_ORDER + 1];
};

static uint64_t bc_freemap[BC_MAX_CHUNKS][KCHUNK_PAGES / 64];
static struct kchunk *bc_chunk_tab[BC_MAX_CHUNKS];

/* Sorts the tracked blocks by address (the checker needs them sorted).
 * A heapsort: qsort may call malloc, which would change what is checked. */
static void bc_sift(struct bc_block *t, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && t[c + 1].addr > t[c].addr)
			c++;
		if (t[i].addr >= t[c].addr)
			return;
		struct bc_block tmp = t[i];
		t[i] = t[c];
		t[c] = tmp;
		i = c;
	}
}

static __attribute__((unused)) void bc_sort(struct bc_block *t, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		bc_sift(t, i, n);
	for (size_t end = n; end > 1; end--) {
		struct bc_block tmp = t[0];
		t[0] = t[end - 1];
		t[end - 1] = tmp;
		bc_sift(t, 0, end - 1);
	}
}

static size_t bc_lower_bound(const struct bc_block *t, size_t n, uintptr_t addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Pages of a foreign block headed by pg, or 0 if pg heads no block. */
static size_t bc_foreign_len(const struct page *pg)
{
	unsigned kind = kpage_kind(pg);
	if ((kind == KPG_SLAB || kind == KPG_KSLAB) && pg->head == pg) {
		const struct kmem_cache *c =
			kind == KPG_KSLAB ? &kmalloc_caches[kpage_info(pg) - KINFO_KSLAB_BASE] : pg->slab_cache;
		return c ? 1UL << c->order : 0;
	}
	if (kind == KPG_LARGE && pg->head == pg)
		return kpage_extent(pg);
	if (kind == KPG_CACHED)
		return pg->npages;
	return 0;
}

/* Checks zone zi against the tracked blocks t[0..n) (sorted by address;
 * blocks of other zones are ignored).  Fills *res.  Returns the number of
 * failures found. */
static __attribute__((unused)) int bc_check_zone(unsigned zi, const struct bc_block *t, size_t n, struct bc_result *res)
{
	int before = check_failures;
	struct kzone *z = &knodes[0].zones[zi];
	memset(res, 0, sizeof *res);

	/* chunks */
	size_t nc = 0, present = 0;
	for (struct kchunk *c = z->chunks; c; c = c->next) {
		if (nc == BC_MAX_CHUNKS) {
			CHECKF(nc < BC_MAX_CHUNKS, "zone %s: more than %d chunks (or a cycle)", z->name,
			       BC_MAX_CHUNKS);
			return check_failures - before;
		}
		bc_chunk_tab[nc++] = c;
		CHECKF((c->base & (KCHUNK_SIZE - 1)) == 0, "chunk base %#lx not aligned", (unsigned long)c->base);
		CHECKF(c->zone == zi, "chunk %#lx on zone %u's list says zone %u", (unsigned long)c->base, zi,
		       c->zone);
		CHECKF(kchunk_registry[c->base >> KCHUNK_SHIFT] == c, "chunk %#lx not in the registry",
		       (unsigned long)c->base);
		CHECKF(kpage_chunk(&c->pages[KCHUNK_PAGES - 1]) == c, "mem_map of chunk %#lx not aligned",
		       (unsigned long)c->base);
		if (zi == KZONE_DMA) {
			CHECKF(c->base == 0, "ZONE_DMA's chunk at %#lx, not 0", (unsigned long)c->base);
			CHECKF((c->mapped >> (z->limit / KMAX_ORDER_SIZE)) == 0,
			       "ZONE_DMA's chunk maps blocks above the limit: %#x", c->mapped);
		} else {
			CHECKF(c->mapped == KCHUNK_ALL_MAPPED && c->first_pfn == 0, "chunk %#lx of zone %s mapped in part",
			       (unsigned long)c->base, z->name);
			if (z->limit)
				CHECKF(c->base + KCHUNK_SIZE <= z->limit, "chunk %#lx above zone %s's limit",
				       (unsigned long)c->base, z->name);
		}
		present += kchunk_present_pages(c);
	}
	res->chunks = nc;
	CHECKF(nc == z->nr_chunks, "zone %s: %zu chunks on the list, nr_chunks %u", z->name, nc, z->nr_chunks);
	CHECKF(z->nr_present_pages == present, "zone %s: nr_present_pages %zu, its chunks map %zu", z->name,
	       z->nr_present_pages, present);

	/* walk */
	size_t walk_free[MAX_ORDER + 1] = { 0 };
	size_t dirty_sum = 0, fresh = 0;
	for (size_t ci = 0; ci < nc; ci++) {
		struct kchunk *c = bc_chunk_tab[ci];
		memset(bc_freemap[ci], 0, sizeof bc_freemap[ci]);
		size_t ti = bc_lower_bound(t, n, c->base);
		size_t maxfree = 0, other = 0, foreign = 0;
		size_t pfn = 0;
		while (pfn < KCHUNK_PAGES) {
			struct page *pg = &c->pages[pfn];
			uintptr_t addr = c->base + (pfn << PAGE_SHIFT);
			if (!kchunk_pfn_mapped(c, pfn)) {
				CHECKF(c->info[pfn] == 0, "page %#lx not mapped, info %#x", (unsigned long)addr,
				       c->info[pfn]);
				pfn++;
				continue;
			}
			if (pfn >= (size_t)c->fresh << MAX_ORDER) {
				CHECKF(c->mapped == KCHUNK_ALL_MAPPED && (pfn & ((1UL << MAX_ORDER) - 1)) == 0,
				       "chunk %#lx: fresh block at page %zu", (unsigned long)c->base, pfn);
				for (size_t i = 0; i < 1UL << MAX_ORDER; i++)
					if (c->info[pfn + i] != 0) {
						CHECKF(0, "page %#lx of a fresh block has info %#x",
						       (unsigned long)(addr + (i << PAGE_SHIFT)), c->info[pfn + i]);
						break;
					}
				CHECKF(ti >= n || t[ti].addr >= addr + (KMAX_ORDER_SIZE), "tracked block %#lx in a fresh block",
				       (unsigned long)t[ti].addr);
				fresh++;
				walk_free[MAX_ORDER]++;
				res->free_blocks[MAX_ORDER]++;
				res->free_pages += 1UL << MAX_ORDER;
				maxfree++;
				pfn += 1UL << MAX_ORDER;
				continue;
			}
			while (ti < n && t[ti].addr < addr) {
				CHECKF(0, "tracked block %#lx (%zu pages) does not start at a block boundary: overlap",
				       (unsigned long)t[ti].addr, t[ti].npages);
				ti++;
			}
			size_t len;
			if (ti < n && t[ti].addr == addr) {
				len = kpage_extent(pg);
				CHECKF(kpage_kind(pg) == KPG_LARGE, "tracked block %#lx: kind %u, want KPG_LARGE",
				       (unsigned long)addr, kpage_kind(pg));
				CHECKF(pg->head == pg, "tracked block %#lx: head pointer", (unsigned long)addr);
				CHECKF(pg->npages == t[ti].npages, "tracked block %#lx: npages %u, want %zu",
				       (unsigned long)addr, pg->npages, t[ti].npages);
				CHECKF((pg->flags & KPF_WHOLE) ? len == 1UL << pg->order && t[ti].npages > KEXACT_WHOLE_MIN
				                               : len == t[ti].npages,
				       "tracked block %#lx of %zu pages spans %zu", (unsigned long)addr, t[ti].npages, len);
				CHECKF(len >= 1 && pfn + len <= KCHUNK_PAGES, "tracked block %#lx crosses its chunk",
				       (unsigned long)addr);
				res->tracked_pages += len;
				res->tracked_blocks++;
				other++;
				ti++;
			} else if (kpage_kind(pg) == KPG_FREE_HEAD) {
				unsigned o = pg->order;
				CHECKF(o <= MAX_ORDER, "free head %#lx: order %u", (unsigned long)addr, o);
				if (o > MAX_ORDER) {
					pfn++;
					continue;
				}
				len = 1UL << o;
				CHECKF((pfn & (len - 1)) == 0, "free block %#lx of order %u not buddy-aligned",
				       (unsigned long)addr, o);
				CHECKF(pg->dirty <= len && pg->dirty_est <= pg->dirty,
				       "free block %#lx of order %u: dirty %u, estimate %u", (unsigned long)addr, o,
				       pg->dirty, pg->dirty_est);
				if (o < MAX_ORDER) {
					const struct page *b = &c->pages[pfn ^ len];
					CHECKF(!(kpage_kind(b) == KPG_FREE_HEAD && b->order == o),
					       "free block %#lx and its buddy are both free of order %u: not merged",
					       (unsigned long)addr, o);
				}
				bc_freemap[ci][pfn / 64] |= 1ull << (pfn % 64);
				walk_free[o]++;
				res->free_blocks[o]++;
				res->free_pages += len;
				dirty_sum += pg->dirty_est;
				if (o == MAX_ORDER)
					maxfree++;
				else
					other++;
			} else if ((len = bc_foreign_len(pg)) != 0) {
				CHECKF(pfn + len <= KCHUNK_PAGES, "foreign block %#lx crosses its chunk",
				       (unsigned long)addr);
				res->foreign_pages += len;
				res->foreign_blocks++;
				foreign++;
			} else {
				CHECKF(0, "page %#lx (kind %u) is in no block: not accounted for", (unsigned long)addr,
				       kpage_kind(pg));
				pfn++;
				continue;
			}
			/* No free head hides inside a block: merging trusts that. */
			for (size_t i = 1; i < len && pfn + i < KCHUNK_PAGES; i++)
				if (kpage_kind(&pg[i]) == KPG_FREE_HEAD) {
					CHECKF(0, "page %#lx inside the block at %#lx is marked a free head",
					       (unsigned long)(addr + (i << PAGE_SHIFT)), (unsigned long)addr);
					break;
				}
			pfn += len;
		}
		CHECKF(pfn == KCHUNK_PAGES, "blocks run past the end of chunk %#lx", (unsigned long)c->base);
		if (maxfree == KCHUNK_PAGES >> MAX_ORDER && other == 0 && foreign == 0)
			res->clean_chunks++;
		if (foreign)
			res->foreign_chunks++;
	}

	/* free lists */
	size_t list_pages = 0, list_dirty = 0;
	for (unsigned o = 0; o <= MAX_ORDER; o++) {
		struct kfree_area *a = &z->free_area[o];
		size_t count = 0;
		struct page *prev = NULL;
		for (struct page *pg = a->head; pg; prev = pg, pg = pg->next) {
			if (count > a->nr_free + 1) {
				CHECKF(0, "zone %s order %u: list longer than nr_free %zu (a cycle?)", z->name, o,
				       a->nr_free);
				break;
			}
			count++;
			CHECKF(pg->prev == prev, "zone %s order %u: broken prev link", z->name, o);
			CHECKF(kpage_kind(pg) == KPG_FREE_HEAD, "zone %s order %u: listed page has kind %u", z->name,
			       o, kpage_kind(pg));
			CHECKF(pg->order == o, "zone %s: block of order %u on the order %u list", z->name, pg->order,
			       o);
			struct kchunk *c = kpage_chunk(pg);
			size_t ci = 0;
			while (ci < nc && bc_chunk_tab[ci] != c)
				ci++;
			if (ci == nc) {
				CHECKF(0, "zone %s order %u: listed block in no chunk of the zone", z->name, o);
				continue;
			}
			size_t pfn = (size_t)(pg - c->pages);
			uint64_t bit = 1ull << (pfn % 64);
			CHECKF(bc_freemap[ci][pfn / 64] & bit,
			       "zone %s order %u: listed block %#lx not found by the walk, or listed twice", z->name,
			       o, (unsigned long)(c->base + (pfn << PAGE_SHIFT)));
			bc_freemap[ci][pfn / 64] &= ~bit;
			list_pages += 1UL << o;
			list_dirty += pg->dirty_est;
		}
		size_t unlisted = o == MAX_ORDER ? fresh : 0;
		CHECKF(count + unlisted == a->nr_free, "zone %s order %u: %zu blocks listed (and %zu fresh), nr_free %zu",
		       z->name, o, count, unlisted, a->nr_free);
		CHECKF(walk_free[o] == a->nr_free, "zone %s order %u: walk found %zu free blocks, nr_free %zu",
		       z->name, o, walk_free[o], a->nr_free);
	}
	for (size_t ci = 0; ci < nc; ci++)
		for (size_t w = 0; w < KCHUNK_PAGES / 64; w++)
			CHECKF(bc_freemap[ci][w] == 0, "zone %s: free head at %#lx is on no free list", z->name,
			       (unsigned long)(bc_chunk_tab[ci]->base +
			                       (((w * 64) + (size_t)__builtin_ctzll(bc_freemap[ci][w] | (1ull << 63)))
			                        << PAGE_SHIFT)));

	/* counters */
	CHECKF(z->nr_free_pages == res->free_pages, "zone %s: nr_free_pages %zu, free blocks hold %zu", z->name,
	       z->nr_free_pages, res->free_pages);
	CHECKF(list_pages + (fresh << MAX_ORDER) == res->free_pages,
	       "zone %s: lists hold %zu pages, fresh blocks %zu, walk found %zu", z->name, list_pages,
	       fresh << MAX_ORDER, res->free_pages);
	CHECKF(z->nr_fresh == fresh, "zone %s: nr_fresh %zu, walk found %zu fresh blocks", z->name, z->nr_fresh,
	       fresh);
	CHECKF(z->nr_dirty_pages == dirty_sum, "zone %s: nr_dirty_pages %zu, sum of estimates over free blocks %zu", z->name,
	       z->nr_dirty_pages, dirty_sum);
	CHECKF(list_dirty == dirty_sum, "zone %s: dirty on lists %zu, walk %zu", z->name, list_dirty, dirty_sum);
	CHECKF(res->free_pages + res->tracked_pages + res->foreign_pages == z->nr_present_pages,
	       "zone %s: free %zu + tracked %zu + foreign %zu != present %zu", z->name, res->free_pages,
	       res->tracked_pages, res->foreign_pages, z->nr_present_pages);
	return check_failures - before;
}

/* Checks every zone; the tracked blocks must all be found. */
static __attribute__((unused)) int bc_check_all(struct bc_block *t, size_t n, struct bc_result res[KNR_ZONES])
{
	int before = check_failures;
	bc_sort(t, n);
	size_t found = 0;
	for (unsigned zi = 0; zi < KNR_ZONES; zi++) {
		bc_check_zone(zi, t, n, &res[zi]);
		found += res[zi].tracked_blocks;
	}
	CHECKF(found == n, "%zu tracked blocks, %zu found in the zones' chunks", n, found);
	return check_failures - before;
}

#endif /* KALLOC_TESTS_BUDDY_CHECK_H */
