/* SPDX-License-Identifier: MIT */
/*
 * page_alloc.c - the buddy page allocator.
 *
 * Memory comes from the OS in chunks of 64 MiB (KCHUNK_SIZE), each aligned to
 * its size and described by a struct kchunk holding its mem_map: one 64-byte
 * struct page per 4 KiB page.  The kchunk lives in a separate mapping aligned
 * to 2 MiB, so a descriptor finds its chunk by masking (kpage_chunk) and an
 * address finds its descriptor by arithmetic:
 *
 *     chunk = kchunk_registry[addr >> 26];     (NULL: not ours)
 *     page  = &chunk->pages[(addr - chunk->base) >> 12];
 *
 * The registry is a flat table of 2^21 pointers covering the 47-bit address
 * space, in bss (only the touched pages cost memory), written under the
 * zone lock with release stores and read without a lock.  A chunk whose
 * pages are all free is unmapped by reclaim (kpage_reclaim_chunks: after a
 * failed mapping, and by malloc_trim); its registry entry is cleared first
 * and its mem_map stays mapped, released to zeros, for the next chunk, so a
 * lookup racing with the unmap reads a zero kind and reports an invalid
 * pointer, which it is.
 *
 * Buddy free lists: per zone, one doubly linked list per order 0..MAX_ORDER
 * (4 KiB .. 4 MiB).  A free block's head page has kind KPG_FREE_HEAD and its
 * order; the other pages of a free block carry stale state that is never
 * trusted.  Allocation takes the smallest block that fits and splits it,
 * putting the upper halves back; freeing merges with the buddy
 * (pfn ^ (1 << order)) while the buddy is a free head of the same order.
 * Blocks never cross a chunk, since chunks hold whole max-order blocks.
 *
 * Exact allocations (the kernel's alloc_pages_exact) take a power-of-two
 * block and give back the tail pages they do not need, so a 36 KiB request
 * costs 9 pages, not 16.  Freeing an exact block returns it as the largest
 * aligned power-of-two pieces, which merge as usual.
 *
 * Returning memory: every free block head records in `dirty` how many of its
 * pages may still be backed by RAM (an upper bound; exact for blocks that were
 * never split from a partially released block).  The zone keeps the sum.
 * When it exceeds the high mark (high_mark), the largest dirty blocks are
 * taken off the free lists, the lock is dropped, they are released with
 * MADV_DONTNEED (adjacent ones with one call), until an eighth below the
 * mark, and they come back as clean (dirty == 0) blocks, or as dirty ones
 * where the OS refused (mlocked memory), which are then retried by the
 * decay only.  Allocation takes backed memory first: a dirty block of a
 * larger order is split before a clean one of the order asked for is
 * faulted in (dirty blocks are at the heads of their lists).
 *
 * The high mark adapts to demand, as the kernel's watermarks do to a zone's
 * size and jemalloc's decay to time: it starts at dirty_high
 * (KALLOC_DIRTY_MAX); a second release at the mark within KDIRTY_REPEAT_NS
 * of the first, with clean pages amounting to half of what the first
 * released allocated in between, means the program wants back what was
 * just given back (a working set of free-and-refill that is larger than
 * the mark; not a program freeing all it had), so the mark rises to the
 * recent peak of pages in use (at least KDIRTY_MARK_FACTOR times
 * dirty_high).  What a raised mark keeps is bounded by the footprint: the
 * pages in use and the dirty free pages together stay within the most
 * pages in use in this decay period or the one before (a floor of
 * KDIRTY_MARK_FACTOR times dirty_high or a quarter of the pages in use
 * applies on frees), so keeping memory for a refill does not raise the
 * footprint above what the program already reached.  An allocation that
 * must fault pages in while more dirty pages than that bound are free (of
 * orders too small for it, since dirty blocks are taken first) releases
 * them at once.  Memory the program stopped using goes back by the decay:
 * at most once per KDECAY_NS, a free releases the dirty pages that stayed
 * unused for the whole period (the least nr_dirty_pages seen since the
 * last decay, above dirty_high / 8), halves a raised mark that saw no
 * release, and starts a new period for the peak.
 *
 * A block allocated with dirty == 0 reads as zero: calloc and __GFP_ZERO
 * skip their memset.
 *
 * Zones and nodes, as the kernel has them: each node (struct knode, the
 * kernel's pg_data_t; knodes[0 .. knr_nodes)) has ZONE_DMA, ZONE_DMA32 and
 * ZONE_NORMAL, each with its own lock, free lists and chunks.  The zone of
 * an allocation comes from the GFP zone modifiers (kgfp_zone: the strictest
 * wins), its node from the CPU it runs on (knode_local: the node map read
 * from /sys/devices/system/node at init; one node, and no getcpu, where it
 * shows one or none).
 *   ZONE_NORMAL  chunks anywhere.
 *   ZONE_DMA32   chunks mapped at hints below 4 GiB and checked: memory at
 *                or above the limit is never used (mandatory, as __GFP_DMA32
 *                is in the kernel), the allocation fails instead.
 *   ZONE_DMA     below 16 MiB, where no 64 MiB chunk fits: node 0 has one
 *                chunk at address 0 (registry index 0) whose max-order
 *                blocks below the limit are mapped one at a time, each with
 *                MAP_FIXED_NOREPLACE, so nothing the process mapped there is
 *                touched; block 0 starts at mmap_min_addr (page 0 is never
 *                mapped).  Pages not mapped keep a zero info word: never on
 *                a free list, never a buddy.  The chunk is never unmapped
 *                (its free blocks are released like any others).
 * When its zone cannot grow (the OS refuses, or, for GFP_ATOMIC, may not be
 * asked), an allocation falls back along the kernel's zonelist
 * (alloc_fallback): the lower zones of its node, then the other nodes' zone
 * and lower zones, free lists only, leaving a low zone the reserve that
 * keeps higher zones from exhausting it (kpage_lowmem_reserve).
 *
 * Locking: one mutex per zone protects its free lists, counters, chunk list
 * and the descriptors of its free blocks; it is the innermost lock but for
 * the leaves (base.h).  No syscall is made with it held.  GFP flags without
 * __GFP_DIRECT_RECLAIM only trylock and never map chunks.
 */
#include "page_alloc.h"

#include <errno.h>
#include <string.h>

struct knode knodes[KMAX_NUMNODES];
unsigned knr_nodes = 1;
unsigned kpage_grow_refused;
struct kchunk *_Atomic kchunk_registry[KREGISTRY_LEN];
_Atomic uintptr_t kinfo_map[KREGISTRY_LEN];

static const char *const zone_names[KNR_ZONES] = { "DMA", "DMA32", "Normal" };

uint8_t kcpu_node[KNODE_MAP_CPUS];
/* Where ZONE_DMA's block 0 starts: mmap_min_addr, read when the zone first
 * grows (0: not yet; every reader finds the same value). */
static _Atomic uintptr_t dma_first_addr;

/* Releases z->lock, publishing first what the zone holds against the limit:
 * its pages allocated or free but possibly backed (blocks out for a release
 * are on their way back to the OS and not counted). */
static void zone_unlock(struct kzone *z)
{
	size_t held = z->nr_present_pages - z->nr_free_pages - z->nr_reserved_pages + z->nr_dirty_pages;
	atomic_store_explicit(&z->charged, held, memory_order_release);
	kunlock(&z->lock);
}

/* ------------------------------------------------------------------ */
/* the memory limit                                                    */
/* ------------------------------------------------------------------ */

_Atomic size_t kmem_limit_pages;
static _Atomic size_t kmem_pending;    /* reserved by allocations in flight */
static _Atomic size_t kmem_vm_pages;   /* huge areas, in use and cached */
static size_t (*pressure_hook)(gfp_t gfp, size_t pages, bool light);
__thread bool kmem_in_reclaim;

void kmem_set_limit(size_t bytes)
{
	size_t pages = bytes ? KMAX(bytes >> PAGE_SHIFT, (size_t)1) : 0;
	atomic_store_explicit(&kmem_limit_pages, pages, memory_order_relaxed);
}

void kmem_set_pressure(size_t (*fn)(gfp_t gfp, size_t pages, bool light))
{
	pressure_hook = fn;
}

/* The zones' share of the charge: what each zone published when its lock
 * was last released (zone_unlock), so a reader never sees a critical
 * section half done (a chunk counted present before its blocks are free).
 * An allocation that raises it holds a reservation (kmem_pending) until
 * after its zone has published, so a reader that no longer sees the
 * reservation sees the pages. */
static size_t zones_charged(void)
{
	size_t pages = 0;
	for (unsigned n = 0; n < knr_nodes; n++)
		for (unsigned zi = 0; zi < KNR_ZONES; zi++)
			pages += atomic_load_explicit(&knodes[n].zones[zi].charged, memory_order_acquire);
	return pages;
}

size_t kmem_charged(void)
{
	return atomic_load_explicit(&kmem_vm_pages, memory_order_acquire) + zones_charged();
}

bool kmem_reserve(size_t pages, gfp_t gfp)
{
	size_t limit = atomic_load_explicit(&kmem_limit_pages, memory_order_relaxed);
	/* The last 64th of the limit (1 MiB at most) is a reserve, as the
	 * zones' min watermark: for __GFP_HIGH, __GFP_NOFAIL and reclaim (a
	 * shrinker that allocates). */
	if (limit && !(gfp & (__GFP_HIGH | __GFP_NOFAIL)) && !kmem_in_reclaim)
		limit -= kmem_limit_reserve(limit);
	size_t pending = atomic_load_explicit(&kmem_pending, memory_order_acquire);
	for (;;) {
		size_t used = pending + atomic_load_explicit(&kmem_vm_pages, memory_order_acquire) + zones_charged();
		if (limit && (used > limit || pages > limit - used))
			return false;
		if (atomic_compare_exchange_weak_explicit(&kmem_pending, &pending, pending + pages,
		                                          memory_order_acq_rel, memory_order_acquire))
			return true;
	}
}

void kmem_unreserve(size_t pages)
{
	atomic_fetch_sub_explicit(&kmem_pending, pages, memory_order_release);
}

void kmem_vm_charge(long delta)
{
	atomic_fetch_add_explicit(&kmem_vm_pages, (size_t)delta, memory_order_release);
}

bool kmem_retry(gfp_t gfp, size_t pages, unsigned *tries)
{
	if (!(gfp & __GFP_DIRECT_RECLAIM) || kmem_in_reclaim || !pressure_hook)
		return false;
	/* *tries: passes run (low 16 bits) and consecutive passes that freed
	 * nothing (high 16 bits). */
	unsigned passes = *tries & 0xffff, stalls = *tries >> 16;
	bool light = (gfp & __GFP_NORETRY) && !(gfp & __GFP_NOFAIL);
	unsigned max = light                        ? 1
	               : (gfp & __GFP_NOFAIL)       ? 0xffff
	               : (gfp & __GFP_RETRY_MAYFAIL) ? KRECLAIM_TRIES_MAYFAIL
	                                            : KRECLAIM_TRIES;
	if (passes >= max || stalls >= KRECLAIM_STALLS)
		return false;
	if (stalls)
		kos_yield();   /* what another thread holds may be freed meanwhile */
	kmem_in_reclaim = true;
	size_t got = pressure_hook(gfp, pages, light);
	kmem_in_reclaim = false;
	if (passes < 0xfffe)
		passes++;
	stalls = got ? 0 : stalls + 1;
	*tries = passes | stalls << 16;
	/* A light pass is the one try __GFP_NORETRY has, whatever it freed. */
	return light ? got > 0 : stalls < KRECLAIM_STALLS;
}

/* Whether z may hand out 2^order pages: the reserve (min watermark) is left
 * to __GFP_HIGH, __GFP_NOFAIL and reclaim.  Under z->lock. */
static bool watermark_ok(const struct kzone *z, unsigned order, gfp_t gfp)
{
	size_t min = 0;
	if (!(gfp & (__GFP_HIGH | __GFP_NOFAIL)) && !kmem_in_reclaim)
		min = KMIN((size_t)KZONE_MIN_PAGES, z->nr_present_pages / 16);
	return z->nr_free_pages >= (1UL << order) + min;
}

/* ------------------------------------------------------------------ */
/* free lists                                                          */
/* ------------------------------------------------------------------ */

/* Adds a free block: dirty blocks at the head, where allocation looks
 * first, clean (released) ones at the tail, so memory still backed is
 * reused before released memory is faulted in again. */
static void add_free(struct kzone *z, struct page *pg, unsigned order)
{
	struct kfree_area *a = &z->free_area[order];
	kpage_set_info(pg, KPG_FREE_HEAD);
	pg->order = (uint8_t)order;
	if (pg->dirty || !a->head) {
		pg->prev = NULL;
		pg->next = a->head;
		if (a->head)
			a->head->prev = pg;
		else
			a->tail = pg;
		a->head = pg;
	} else {
		pg->next = NULL;
		pg->prev = a->tail;
		a->tail->next = pg;
		a->tail = pg;
	}
	a->nr_free++;
	z->nr_free_pages += 1UL << order;
	z->nr_dirty_pages += pg->dirty_est;
}

static void del_free(struct kzone *z, struct page *pg, unsigned order)
{
	struct kfree_area *a = &z->free_area[order];
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		a->head = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	else
		a->tail = pg->prev;
	pg->next = pg->prev = NULL;
	kpage_set_info(pg, KPG_NONE);
	a->nr_free--;
	z->nr_free_pages -= 1UL << order;
	z->nr_dirty_pages -= pg->dirty_est;
}

/* Frees the block at pg of `order` with `dirty` possibly-backed pages (an
 * upper bound), `est` of them estimated backed, merging with free buddies. */
static void free_block(struct kzone *z, struct page *pg, unsigned order, size_t dirty, size_t est)
{
	struct kchunk *c = kpage_chunk(pg);
	size_t pfn = (size_t)(pg - c->pages);
	/* The block's head stops being an allocated block at once, whether or
	 * not it stays a head: a second free of it is then reported instead
	 * of freeing the pages twice. */
	kpage_set_info(pg, KPG_NONE);
	while (order < MAX_ORDER) {
		size_t bpfn = pfn ^ (1UL << order);
		struct page *b = &c->pages[bpfn];
		if (kpage_kind(b) != KPG_FREE_HEAD || b->order != order)
			break;
		del_free(z, b, order);
		dirty += b->dirty;
		est += b->dirty_est;
		pfn &= ~(1UL << order);
		order++;
	}
	pg = &c->pages[pfn];
	pg->dirty = (uint32_t)KMIN(dirty, 1UL << order);
	pg->dirty_est = (uint32_t)KMIN(est, (size_t)pg->dirty);
	add_free(z, pg, order);
}

/* Frees pages [pfn, pfn + n) of chunk c as aligned power-of-two blocks, each
 * with at most `dirty` dirty pages, `est` estimated backed pages shared out
 * in proportion to their sizes. */
static void free_range(struct kzone *z, struct kchunk *c, size_t pfn, size_t n, size_t dirty, size_t est)
{
	size_t total = n, left = est;
	while (n) {
		unsigned order = pfn ? (unsigned)__builtin_ctzl(pfn) : MAX_ORDER;
		if (order > MAX_ORDER)
			order = MAX_ORDER;
		while ((1UL << order) > n)
			order--;
		size_t len = 1UL << order;
		size_t e = len == n ? left : KMIN(left, (est * len + total - 1) / total);
		left -= e;
		free_block(z, &c->pages[pfn], order, KMIN(dirty, len), e);
		pfn += len;
		n -= len;
	}
}

/*
 * A new chunk's max-order blocks go on the free lists one at a time, as
 * they are needed (kchunk.fresh): putting all sixteen there at once wrote
 * a descriptor and an info word 64 KiB and 4 KiB apart for each, 32 pages
 * (128 KiB) of every process's memory for a program that uses one block.
 * Lists the lowest fresh block of the zone's chunks and returns it.
 */
static struct page *list_fresh(struct kzone *z)
{
	for (struct kchunk *c = z->chunks; c; c = c->next) {
		if (c->fresh >= KCHUNK_BLOCKS)
			continue;
		struct page *pg = &c->pages[(size_t)c->fresh++ << MAX_ORDER];
		z->nr_fresh--;
		z->free_area[MAX_ORDER].nr_free--;
		z->nr_free_pages -= 1UL << MAX_ORDER;
		pg->dirty = 0;
		pg->dirty_est = 0;
		add_free(z, pg, MAX_ORDER);
		return pg;
	}
	return NULL;
}

/* Takes a block of `order` off the free lists, splitting a larger one.
 * Returns the head with `dirty` and `dirty_est` set, or NULL.  Splitting
 * keeps `dirty` an upper bound on both halves (where the dirty pages lie is
 * unknown, each half may hold all of them) and shares the estimate out
 * evenly, so repeated splits and merges do not inflate it. */
static struct page *rmqueue(struct kzone *z, unsigned order)
{
	/* Backed memory first: a dirty block of a larger order is split
	 * before a clean block of the order asked for is faulted in (dirty
	 * blocks are at the heads of their lists). */
	unsigned first = order;
	for (unsigned o = order; o <= MAX_ORDER; o++) {
		const struct page *h = z->free_area[o].head;
		if (h && h->dirty_est) {
			first = o;
			break;
		}
	}
	for (unsigned o = first; o <= MAX_ORDER; o++) {
		struct page *pg = z->free_area[o].head;
		if (!pg && o == MAX_ORDER && z->nr_fresh)
			pg = list_fresh(z);
		if (!pg)
			continue;
		del_free(z, pg, o);
		size_t dirty = pg->dirty, est = pg->dirty_est;
		while (o > order) {
			o--;
			struct page *buddy = pg + (1UL << o);
			size_t half = 1UL << o;
			buddy->dirty = (uint32_t)KMIN(dirty, half);
			buddy->dirty_est = (uint32_t)KMIN(est / 2, (size_t)buddy->dirty);
			est -= buddy->dirty_est;
			add_free(z, buddy, o);
			dirty = KMIN(dirty, half);
			est = KMIN(est, dirty);
		}
		pg->dirty = (uint32_t)dirty;
		pg->dirty_est = (uint32_t)est;
		pg->order = (uint8_t)order;
		return pg;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* chunks                                                              */
/* ------------------------------------------------------------------ */

/* Publishes chunk c in the registry and the info map.  Under z->lock. */
static void publish_chunk(struct kchunk *c)
{
	atomic_store_explicit(&kinfo_map[c->base >> KCHUNK_SHIFT],
	                      (uintptr_t)c->info - ((c->base >> PAGE_SHIFT) * sizeof(uint32_t)),
	                      memory_order_release);
	atomic_store_explicit(&kchunk_registry[c->base >> KCHUNK_SHIFT], c, memory_order_release);
}

/* ZONE_DMA's growth (no lock held): sets up its chunk at address 0 the
 * first time, then maps one max-order block below the zone's limit that
 * nothing else holds, highest first (block 0 from dma_first_addr), and adds
 * its pages.  False when every such block is taken. */
static bool dma_grow(struct kzone *z)
{
	klock(&z->lock);
	struct kchunk *c = z->chunks;
	kunlock(&z->lock);
	if (!c) {
		struct kchunk *n = kos_map_guarded(sizeof(struct kchunk), KMETA_ALIGN, true);
		if (!n)
			return false;
		n->base = 0;
		n->zone = KZONE_DMA;
		n->node = z->node;
		n->mapped = 0;
		n->first_pfn = 0;
		n->fresh = KCHUNK_BLOCKS;   /* blocks are added as they are mapped */
		n->next = NULL;
		klock(&z->lock);
		if (!z->chunks) {
			publish_chunk(n);
			z->chunks = n;
			z->nr_chunks = 1;
			n = NULL;
		}
		c = z->chunks;
		kunlock(&z->lock);
		if (n)   /* another thread set it up first */
			kos_unmap(n, sizeof *n);
	}
	for (unsigned b = (unsigned)(z->limit / KMAX_ORDER_SIZE); b-- > 0;) {
		uint16_t bit = (uint16_t)(1u << b);
		if (__atomic_load_n(&c->mapped, __ATOMIC_ACQUIRE) & bit)
			continue;
		uintptr_t start = (uintptr_t)b * KMAX_ORDER_SIZE, end = start + KMAX_ORDER_SIZE;
		if (b == 0) {
			start = atomic_load_explicit(&dma_first_addr, memory_order_relaxed);
			if (!start) {
				start = kos_map_min();
				atomic_store_explicit(&dma_first_addr, start, memory_order_relaxed);
			}
		}
		if (start >= end)
			continue;
		/* MAP_FIXED_NOREPLACE: of two threads growing the zone, one
		 * gets the block; the other tries the next. */
		if (!kos_map_at((void *)start, end - start))
			continue;
		size_t pfn = start >> PAGE_SHIFT, n = (end - start) >> PAGE_SHIFT;
		klock(&z->lock);
		if (b == 0)
			c->first_pfn = (uint32_t)pfn;   /* before the bit: kchunk_pfn_mapped reads it after */
		__atomic_store_n(&c->mapped, (uint16_t)(c->mapped | bit), __ATOMIC_RELEASE);
		z->nr_present_pages += n;
		free_range(z, c, pfn, n, 0, 0);
		zone_unlock(z);
		return true;
	}
	return false;
}

/* Maps a new chunk for zone z (no lock held) and adds its blocks.  Returns
 * false when the OS has no memory for it. */
static bool zone_grow(struct kzone *z, unsigned zi)
{
	void *mem = NULL;
	if (kpage_grow_refused & (1u << zi))
		return false;
	if (zi == KZONE_DMA)
		return dma_grow(z);
	if (z->limit == 0) {
		mem = kos_map(KCHUNK_SIZE, KCHUNK_SIZE, true, 0);
	} else {
		/* A low zone: try hints below the limit, keep what fits. */
		for (uintptr_t hint = KALIGN_DOWN(z->limit / 2, KCHUNK_SIZE); hint >= KCHUNK_SIZE;
		     hint -= KCHUNK_SIZE) {
			void *p = kos_map(KCHUNK_SIZE, KCHUNK_SIZE, true, hint);
			if (!p)
				break;
			if ((uintptr_t)p + KCHUNK_SIZE <= z->limit) {
				mem = p;
				break;
			}
			kos_unmap(p, KCHUNK_SIZE);
		}
	}
	if (!mem)
		return false;
	if (((uintptr_t)mem + KCHUNK_SIZE - 1) >> KADDR_BITS) {
		/* Beyond the registry (a 5-level address, which kalloc never
		 * asks for): unusable here. */
		kos_unmap(mem, KCHUNK_SIZE);
		return false;
	}
	klock(&z->lock);
	struct kchunk *c = z->spare;
	if (c)
		z->spare = c->next;
	zone_unlock(z);
	if (!c)
		c = kos_map_guarded(sizeof(struct kchunk), KMETA_ALIGN, true);
	if (!c) {
		kos_unmap(mem, KCHUNK_SIZE);
		return false;
	}
	c->base = (uintptr_t)mem;
	c->zone = (uint8_t)zi;
	c->node = z->node;
	c->mapped = KCHUNK_ALL_MAPPED;
	c->first_pfn = 0;
	c->fresh = 0;

	klock(&z->lock);
	publish_chunk(c);
	c->next = z->chunks;
	z->chunks = c;
	z->nr_chunks++;
	z->nr_present_pages += KCHUNK_PAGES;
	/* every block free, none listed yet (list_fresh) */
	z->nr_fresh += KCHUNK_BLOCKS;
	z->free_area[MAX_ORDER].nr_free += KCHUNK_BLOCKS;
	z->nr_free_pages += KCHUNK_PAGES;
	zone_unlock(z);
	return true;
}

/* Unmaps the chunks of z that are entirely free.  The mem_map stays mapped
 * (released, so it reads as zero and costs nothing) and is kept for the next
 * chunk: a racing lookup through a stale registry entry reads harmless zeros
 * and reports an invalid pointer, which it is.  A chunk mapped in part
 * (ZONE_DMA's) stays: its blocks are not a 64 MiB mapping to unmap, and
 * its free blocks go back to the OS by release like any others. */
static size_t reclaim_zone_chunks(struct kzone *z)
{
	struct kchunk *dead = NULL;
	size_t bytes = 0;
	klock(&z->lock);
	struct kchunk **pp = &z->chunks;
	while (*pp) {
		struct kchunk *c = *pp;
		bool all_free = c->mapped == KCHUNK_ALL_MAPPED;
		size_t listed = KMIN((size_t)c->fresh, (size_t)KCHUNK_BLOCKS) << MAX_ORDER;
		for (size_t pfn = 0; pfn < listed && all_free; pfn += 1UL << MAX_ORDER)
			all_free = kpage_kind(&c->pages[pfn]) == KPG_FREE_HEAD && c->pages[pfn].order == MAX_ORDER;
		if (!all_free) {
			pp = &c->next;
			continue;
		}
		for (size_t pfn = 0; pfn < listed; pfn += 1UL << MAX_ORDER)
			del_free(z, &c->pages[pfn], MAX_ORDER);
		size_t fresh = KCHUNK_BLOCKS - (listed >> MAX_ORDER);
		z->nr_fresh -= fresh;
		z->free_area[MAX_ORDER].nr_free -= fresh;
		z->nr_free_pages -= fresh << MAX_ORDER;
		*pp = c->next;
		z->nr_chunks--;
		z->nr_present_pages -= KCHUNK_PAGES;
		atomic_store_explicit(&kchunk_registry[c->base >> KCHUNK_SHIFT], NULL, memory_order_release);
		atomic_store_explicit(&kinfo_map[c->base >> KCHUNK_SHIFT], 0, memory_order_release);
		c->next = dead;
		dead = c;
	}
	zone_unlock(z);
	while (dead) {
		struct kchunk *c = dead;
		dead = c->next;
		kos_unmap((void *)c->base, KCHUNK_SIZE);
		kos_release(c, sizeof *c);
		bytes += KCHUNK_SIZE;
		klock(&z->lock);
		c->next = z->spare;
		z->spare = c;
		zone_unlock(z);
	}
	return bytes;
}

size_t kpage_reclaim_chunks(void)
{
	size_t bytes = 0;
	for (unsigned nid = 0; nid < knr_nodes; nid++)
		for (unsigned zi = 0; zi < KNR_ZONES; zi++)
			bytes += reclaim_zone_chunks(&knodes[nid].zones[zi]);
	return bytes;
}

/* ------------------------------------------------------------------ */
/* returning memory to the OS                                          */
/* ------------------------------------------------------------------ */

/* Sorts isolated blocks by address (insertion sort: a batch is small and
 * often nearly sorted; no allocation). */
static void sort_by_address(struct page **v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct page *x = v[i];
		size_t j = i;
		while (j && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* Called with z->lock held; drops it.  Releases dirty free blocks of order
 * >= min_order, largest first, until at most `target` dirty pages remain
 * (one batch at most).  The blocks are taken off the free lists (marked
 * reserved, so no buddy merges with them), the lock is dropped, adjacent
 * blocks are released with one madvise, and they come back as clean
 * blocks.  Returns the pages released. */
static size_t release_unlock(struct kzone *z, size_t target, unsigned min_order)
{
	struct page *v[KRELEASE_BATCH];
	size_t n = 0, total = 0, est = 0;
	/* target 0: every block that may be backed; else blocks estimated
	 * backed, until the estimate is down to the target */
	bool all = target == 0;
	size_t out = 0;   /* pages taken: others may need them meanwhile */
	for (int o = MAX_ORDER; o >= (int)min_order && (all || z->nr_dirty_pages > target) && n < KRELEASE_BATCH &&
	                        out < KRELEASE_PASS_PAGES;
	     o--) {
		struct page *pg = z->free_area[o].head;
		while (pg && (all || z->nr_dirty_pages > target) && n < KRELEASE_BATCH && out < KRELEASE_PASS_PAGES) {
			struct page *next = pg->next;
			if (all ? pg->dirty != 0 : pg->dirty_est != 0) {
				est += pg->dirty_est;
				z->nr_reserved_pages += 1UL << o;
				out += 1UL << o;
				del_free(z, pg, (unsigned)o);
				kpage_set_info(pg, KPG_RESERVED);
				pg->order = (uint8_t)o;
				v[n++] = pg;
			}
			pg = next;
		}
	}
	z->last_release_est = est;
	zone_unlock(z);
	if (!n)
		return 0;
	sort_by_address(v, n);
	bool failed = false;
	for (size_t i = 0; i < n;) {
		char *start = kpage_address(v[i]);
		size_t len = PAGE_SIZE << v[i]->order;
		size_t j = i + 1;
		while (j < n && (char *)kpage_address(v[j]) == start + len) {
			len += PAGE_SIZE << v[j]->order;
			j++;
		}
		/* A release the OS refuses (mlocked memory: EINVAL) leaves the
		 * pages as they were: the blocks come back dirty, or calloc
		 * would trust them to read as zero. */
		bool ok = kos_release(start, len) == 0;
		for (size_t k = i; k < j; k++)
			v[k]->dirty = v[k]->dirty_est = ok ? 0 : 1U << v[k]->order;
		if (ok)
			total += len >> PAGE_SHIFT;
		failed |= !ok;
		i = j;
	}
	klock(&z->lock);
	for (size_t i = 0; i < n; i++) {
		z->nr_reserved_pages -= 1UL << v[i]->order;
		free_block(z, v[i], v[i]->order, v[i]->dirty, v[i]->dirty_est);
	}
	z->dirty_min = KMIN(z->dirty_min, z->nr_dirty_pages);
	z->nr_released_total += total;
	z->release_failing = failed;
	zone_unlock(z);
	return total;
}

size_t kpage_release_all(void)
{
	size_t pages = 0;
	for (unsigned i = 0; i < knr_nodes * KNR_ZONES; i++) {
		struct kzone *z = &knodes[i / KNR_ZONES].zones[i % KNR_ZONES];
		size_t got;
		klock(&z->lock);
		/* The program asked for its memory back: the mark starts over. */
		z->dirty_mark = z->dirty_high;
		z->clean_taken = 0;
		z->last_high_ns = 0;
		zone_unlock(z);
		do {
			klock(&z->lock);
			got = release_unlock(z, 0, 0);
			pages += got;
		} while (got);
	}
	return pages << PAGE_SHIFT;
}

/* ------------------------------------------------------------------ */
/* allocation and freeing                                              */
/* ------------------------------------------------------------------ */

static bool zone_lock(struct kzone *z, gfp_t gfp)
{
	if (gfp & __GFP_DIRECT_RECLAIM) {
		klock(&z->lock);
		return true;
	}
	return ktrylock(&z->lock);
}

/* The node an allocation for zone zi takes: the CPU's (ZONE_DMA is node
 * 0's alone: there is one low 16 MiB). */
static struct knode *knode_local(unsigned zi)
{
	if (knr_nodes == 1 || zi == KZONE_DMA)
		return &knodes[0];
	unsigned cpu = (unsigned)kos_getcpu();
	return &knodes[cpu < KNODE_MAP_CPUS ? kcpu_node[cpu] : 0];
}

/* Pages of z in use: in its chunks and in no free block. */
static inline size_t zone_used(const struct kzone *z)
{
	return z->nr_present_pages - z->nr_free_pages;
}

/* The pressure mark.  KALLOC_DIRTY_MAX, or, when more, the adaptive mark or
 * an eighth of the pages in use (so a large heap that frees and refills in
 * waves is not charged a page fault per page per wave), up to a bound: the
 * room below the recent peak (free pages kept backed and pages in use
 * together stay within the most pages in use in this decay period or the
 * one before), and, for a free (`floor`), at least KDIRTY_MARK_FACTOR times
 * KALLOC_DIRTY_MAX or the pages in use over KDIRTY_MARK_USED_DIV.  An
 * allocation that must fault pages in has no floor: dirty pages it cannot
 * use then go back rather than the footprint grow by both.  Under
 * z->lock. */
static size_t high_mark(const struct kzone *z, bool floor)
{
	size_t used = zone_used(z);
	size_t peak = KMAX(z->peak_used, z->peak_used_prev);
	size_t bound = peak > used ? peak - used : 0;
	if (floor)
		bound = KMAX(bound, KMAX(KDIRTY_MARK_FACTOR * z->dirty_high, used / KDIRTY_MARK_USED_DIV));
	return KMAX(z->dirty_high, KMIN(KMAX(z->dirty_mark, used / KDIRTY_USED_FRACTION), bound));
}

/* Takes a block of 2^order pages off z's free lists and gives back the
 * pages after the first `keep` (an exact allocation).  Under z->lock. */
static struct page *take_block(struct kzone *z, unsigned order, size_t keep)
{
	struct page *pg = rmqueue(z, order);
	if (pg) {
		size_t size = 1UL << order, est = pg->dirty_est;
		size_t kept = est * keep / size;   /* the estimate for the pages kept */
		if (keep < size) {
			struct kchunk *c = kpage_chunk(pg);
			free_range(z, c, (size_t)(pg - c->pages) + keep, size - keep, pg->dirty, est - kept);
		}
		z->clean_taken += keep - kept;
		z->peak_used = KMAX(z->peak_used, zone_used(z));
	}
	return pg;
}

size_t kpage_lowmem_reserve(const struct kzone *z)
{
	return KMIN((size_t)KLOWMEM_RESERVE_PAGES, z->nr_present_pages / 4);
}

/* The rest of the kernel's zonelist, for an allocation that its own zone
 * (home) could not serve: the lower zones of home's node, strictest last,
 * then the same zone and the lower ones of the other nodes.  Free lists
 * only (no zone grows for another's allocation), and a lower zone keeps
 * its reserve.  GFP flags without __GFP_DIRECT_RECLAIM only trylock. */
static struct page *alloc_fallback(gfp_t gfp, unsigned order, size_t keep, const struct kzone *home)
{
	for (unsigned k = 0; k < knr_nodes; k++) {
		struct knode *nd = &knodes[(home->node + k) % knr_nodes];
		for (unsigned zi = home->idx + (k ? 1u : 0u); zi-- > 0;) {
			struct kzone *z = &nd->zones[zi];
			if (!zone_lock(z, gfp))
				continue;
			struct page *pg = NULL;
			size_t reserve = zi < home->idx ? kpage_lowmem_reserve(z) : 0;
			if (watermark_ok(z, order, gfp) && z->nr_free_pages >= reserve + (1UL << order))
				pg = take_block(z, order, keep);
			zone_unlock(z);
			if (pg)
				return pg;
		}
	}
	return NULL;
}

/* Takes a block of 2^order pages and, in the same critical section, gives
 * back the pages after the first `keep` (an exact allocation). */
static struct page *alloc_block(gfp_t gfp, unsigned order, size_t keep)
{
	unsigned zi = kgfp_zone(gfp);
	struct kzone *z = &knode_local(zi)->zones[zi];
	unsigned reclaims = 0;
	for (unsigned tries = 0;; tries++) {
		/* Under a limit the pages are reserved first: at most `keep`
		 * more pages are charged once the block is taken, from this
		 * zone or a fallback. */
		bool limited = atomic_load_explicit(&kmem_limit_pages, memory_order_relaxed) != 0;
		if (limited && !kmem_reserve(keep, gfp)) {
			if (kmem_retry(gfp, keep, &reclaims))
				continue;
			return NULL;
		}
		struct page *pg = NULL;
		bool wait = false, grown = false;
		if (zone_lock(z, gfp)) {
			pg = watermark_ok(z, order, gfp) ? take_block(z, order, keep) : NULL;
			z->dirty_min = KMIN(z->dirty_min, z->nr_dirty_pages);
			/* Blocks out for a release come back in a moment:
			 * waiting for them beats mapping a chunk. */
			wait = !pg && z->nr_reserved_pages >= (1UL << order) && tries < KRELEASE_WAIT_TRIES;
			/* A block that must be faulted in while dirty pages
			 * beyond the mark stay free (all of orders too small
			 * for it: rmqueue takes dirty blocks first): those go
			 * back now, or the footprint grows by both. */
			size_t high;
			if (pg && (gfp & __GFP_DIRECT_RECLAIM) && pg->dirty_est < (1U << order) / 2 &&
			    !z->release_failing && z->nr_dirty_pages > (high = high_mark(z, false)))
				release_unlock(z, high - high / 8, 0);
			else
				zone_unlock(z);
		}
		bool reclaim = gfp & __GFP_DIRECT_RECLAIM;
		if (!pg && reclaim && !wait)
			grown = zone_grow(z, zi);
		/* Without reclaim, or when the OS refused a chunk (kos_map has
		 * run its own reclaim): the rest of the zonelist. */
		if (!pg && !wait && !grown)
			pg = alloc_fallback(gfp, order, keep, z);
		if (limited)
			kmem_unreserve(keep);
		if (pg || !reclaim)
			return pg;
		if (wait) {
			kos_yield();
			continue;
		}
		if (!grown && !kmem_retry(gfp, keep, &reclaims))
			return NULL;
	}
}

void kpage_set_tails(struct page *head, size_t npages, uint32_t info)
{
	/* Only slab pages need their head (slab_of); a tail of a page block
	 * only has to say what it is, for reports. */
	bool slab = kinfo_kind(info) == KPG_SLAB || kinfo_kind(info) == KPG_KSLAB;
	struct kchunk *c = kpage_chunk(head);
	uint32_t *w = &c->info[head - c->pages];
	for (size_t i = 1; i < npages; i++) {
		__atomic_store_n(&w[i], info, __ATOMIC_RELEASE);
		if (slab)
			head[i].head = head;
	}
}

struct page *kpage_alloc(gfp_t gfp, unsigned order)
{
	if (order > MAX_ORDER)
		return NULL;
	struct page *pg = alloc_block(gfp, order, 1UL << order);
	if (!pg)
		return NULL;
	pg->flags = pg->dirty ? 0 : KPF_ZEROED;
	pg->npages = 1U << order;
	kpage_set_info(pg, KPG_LARGE);
	pg->head = pg;
	return pg;
}

static unsigned order_for(size_t npages)
{
	return npages <= 1 ? 0 : 64 - (unsigned)__builtin_clzl(npages - 1);
}

struct page *kpage_alloc_exact(gfp_t gfp, size_t npages, unsigned align_order)
{
	unsigned order = KMAX(order_for(npages), align_order);
	if (npages == 0 || order > MAX_ORDER)
		return NULL;
	/* Above KEXACT_WHOLE_MIN pages the tail stays with the block: given
	 * back, it would be taken by smaller blocks, and the block's pages
	 * could not merge again when it is freed (fragmentation that costs
	 * page faults); kept, it costs address space, not memory. */
	bool whole = npages > KEXACT_WHOLE_MIN;
	struct page *pg = alloc_block(gfp, order, whole ? 1UL << order : npages);
	if (!pg)
		return NULL;
	pg->flags = (pg->dirty ? 0 : KPF_ZEROED) | (whole ? KPF_WHOLE : 0);
	pg->order = (uint8_t)order;
	pg->npages = (uint32_t)npages;
	if (whole && npages < (1UL << order)) {
		/* the pages past npages: tails, for reports */
		struct kchunk *c = kpage_chunk(pg);
		uint32_t *w = &c->info[pg - c->pages];
		for (size_t i = npages; i < (1UL << order); i++)
			__atomic_store_n(&w[i], KPG_TAIL, __ATOMIC_RELEASE);
	}
	kpage_set_info(pg, KPG_LARGE);
	pg->head = pg;
	return pg;
}

/* Decay: at most once per KDECAY_NS, a free finding more than dirty_high / 8
 * dirty pages releases the excess, so memory a program stopped using goes
 * back to the OS within about a second of its next free, without a thread.
 * Above dirty_high, the excess goes at once. */

static void maybe_release(struct kzone *z)
{
	/* called with z->lock held; drops it */
	/* While the OS refuses releases, only the decay below retries them
	 * (once per KDECAY_NS), not every free. */
	if (z->nr_dirty_pages > high_mark(z, true) && !z->release_failing) {
		uint64_t now = kos_now_ns();
		if (now - z->last_high_ns < KDIRTY_REPEAT_NS && z->clean_taken >= z->last_release_est / 2) {
			z->dirty_mark = KMAX(KDIRTY_MARK_FACTOR * z->dirty_high, KMAX(z->peak_used, z->peak_used_prev));
			z->clean_taken = 0;
		}
		z->last_high_ns = now;
		size_t high = high_mark(z, true);
		if (z->nr_dirty_pages > high) {
			z->clean_taken = 0;
			release_unlock(z, high - high / 8, 0);
			klock(&z->lock);
		}
		zone_unlock(z);
		return;
	}
	size_t low = z->dirty_high / 8;
	/* The clock is read on one free in KDECAY_TICK only. */
	if (z->nr_dirty_pages > low && (++z->decay_tick % KDECAY_TICK) == 0) {
		uint64_t now = kos_now_ns();
		if (now - z->last_decay_ns >= KDECAY_NS) {
			z->last_decay_ns = now;
			if (z->dirty_mark > z->dirty_high && now - z->last_high_ns >= KDECAY_NS)
				z->dirty_mark = KMAX(z->dirty_mark / 2, z->dirty_high);
			/* what stayed unused since the last decay goes back */
			size_t idle = z->dirty_min > low ? z->dirty_min - low : 0;
			size_t target = z->nr_dirty_pages - KMIN(idle, z->nr_dirty_pages);
			if (idle && !z->release_failing) {
				release_unlock(z, KMAX(target, low), 0);
				klock(&z->lock);
			}
			z->dirty_min = z->nr_dirty_pages;
			z->peak_used_prev = z->peak_used;
			z->peak_used = zone_used(z);
		}
	}
	zone_unlock(z);
}

void kpage_free(struct page *head)
{
	struct kchunk *c = kpage_chunk(head);
	struct kzone *z = kchunk_zone(c);
	size_t n = head->npages;
	bool whole = head->flags & KPF_WHOLE;
	head->flags = 0;
	klock(&z->lock);
	if (whole)   /* all of it may have been written (before a shrink); n estimated */
		free_block(z, head, head->order, 1UL << head->order, n);
	else
		free_range(z, c, (size_t)(head - c->pages), n, n, n);
	maybe_release(z);
}

void kpage_shrink(struct page *head, size_t npages)
{
	struct kchunk *c = kpage_chunk(head);
	struct kzone *z = kchunk_zone(c);
	size_t old = head->npages;
	if (npages >= old || npages == 0)
		return;
	head->npages = (uint32_t)npages;
	size_t from = old, dirty = old - npages;
	if (head->flags & KPF_WHOLE) {
		if (npages > KEXACT_WHOLE_MIN)
			return;   /* still large: the block keeps its tail */
		/* an exact block now: the rest of the power-of-two block goes
		 * back (any of it may have been written) */
		head->flags &= (uint8_t)~KPF_WHOLE;
		from = 1UL << head->order;
		dirty = from - npages;
	}
	klock(&z->lock);
	free_range(z, c, (size_t)(head - c->pages) + npages, from - npages, dirty, old - npages);
	maybe_release(z);
}

/* ------------------------------------------------------------------ */
/* init, fork, introspection                                           */
/* ------------------------------------------------------------------ */

/* The node map: the online nodes from /sys/devices/system/node/online
 * (one read on a machine of one node), then node N's CPUs from
 * nodeN/cpulist (node ids may have holes; nodes past KMAX_NUMNODES count as
 * node 0).  Returns the number of nodes, 1 without /sys. */
static unsigned read_node_map(void)
{
	char buf[1024];
	if (!kos_read_small("/sys/devices/system/node/online", buf, sizeof buf))
		return 1;
	unsigned nodes = KMIN(kos_parse_cpu_list(buf), (unsigned)KMAX_NUMNODES);
	if (nodes <= 1)
		return 1;
	for (unsigned nid = 1; nid < nodes; nid++) {
		char path[64];
		kformat(path, sizeof path, "/sys/devices/system/node/node%u/cpulist", nid);
		if (kos_read_small(path, buf, sizeof buf))
			kos_mark_cpu_list(buf, kcpu_node, KNODE_MAP_CPUS, (uint8_t)nid);
	}
	return nodes;
}

void kpage_init(void)
{
	size_t high = ktune.dirty_max;
	static const uintptr_t limits[KNR_ZONES] = { 16UL << 20, 4UL << 30, 0 };
	knr_nodes = read_node_map();
	/* Every node's zones are set up: a node beyond knr_nodes is an empty
	 * one (unit tests use them as a second node). */
	for (unsigned nid = 0; nid < KMAX_NUMNODES; nid++) {
		knodes[nid].id = nid;
		for (unsigned zi = 0; zi < KNR_ZONES; zi++) {
			struct kzone *z = &knodes[nid].zones[zi];
			klock_reinit(&z->lock);
			z->name = zone_names[zi];
			z->idx = (uint8_t)zi;
			z->node = (uint8_t)nid;
			z->limit = limits[zi];
			z->dirty_high = z->dirty_mark = high >> PAGE_SHIFT;
		}
	}
}

void kpage_fork_prepare(void)
{
	for (unsigned i = 0; i < knr_nodes * KNR_ZONES; i++)
		klock(&knodes[i / KNR_ZONES].zones[i % KNR_ZONES].lock);
}

void kpage_fork_parent(void)
{
	for (unsigned i = knr_nodes * KNR_ZONES; i-- > 0;)
		kunlock(&knodes[i / KNR_ZONES].zones[i % KNR_ZONES].lock);
}

void kpage_fork_child(void)
{
	for (unsigned i = 0; i < knr_nodes * KNR_ZONES; i++)
		klock_reinit(&knodes[i / KNR_ZONES].zones[i % KNR_ZONES].lock);
}

void kpage_zone_stats(unsigned nid, unsigned zi, struct kzone_stats *st)
{
	struct kzone *z = &knodes[nid].zones[zi];
	st->name = z->name;
	klock(&z->lock);
	for (unsigned o = 0; o <= MAX_ORDER; o++)
		st->nr_free[o] = z->free_area[o].nr_free;
	st->present = z->nr_present_pages;
	st->free = z->nr_free_pages;
	st->dirty = z->nr_dirty_pages;
	st->released = z->nr_released_total;
	st->chunks = z->nr_chunks;
	zone_unlock(z);
}

unsigned kpage_zone_ranges(unsigned nid, unsigned zi, uintptr_t *out, unsigned max)
{
	struct kzone *z = &knodes[nid].zones[zi];
	unsigned n = 0;
	klock(&z->lock);
	for (struct kchunk *c = z->chunks; c && n < max; c = c->next) {
		/* ZONE_DMA's chunk maps some of its blocks: one range per block */
		for (unsigned b = 0; b < KCHUNK_PAGES >> MAX_ORDER && n < max; b++) {
			if (!((c->mapped >> b) & 1))
				continue;
			size_t first = b ? 0 : c->first_pfn;
			out[2 * n] = c->base + (((size_t)b << MAX_ORDER) + first) * PAGE_SIZE;
			out[2 * n + 1] = (((size_t)1 << MAX_ORDER) - first) * PAGE_SIZE;
			n++;
		}
	}
	zone_unlock(z);
	return n;
}

/* ------------------------------------------------------------------ */
/* the page API's work (exported by kapi.c)                            */
/* ------------------------------------------------------------------ */

struct page *kpage_api_alloc(gfp_t gfp, unsigned order)
{
	if (order > MAX_ORDER) {
		if (gfp & __GFP_NOFAIL)
			kpanic("alloc_pages: __GFP_NOFAIL with order %u above MAX_ORDER (%u)", order, (unsigned)MAX_ORDER);
		if (!(gfp & __GFP_NOWARN))
			kreport("alloc_pages: order %u is above MAX_ORDER (%u)", order, (unsigned)MAX_ORDER);
		errno = ENOMEM;
		return NULL;
	}
	struct page *pg = kpage_alloc(gfp, order);
	if (!pg) {
		kalloc_fail(PAGE_SIZE << order, gfp, "alloc_pages");
		return NULL;
	}
	kpage_set_tails(pg, 1UL << order, KPG_TAIL);
	if ((gfp & __GFP_ZERO) && !(pg->flags & KPF_ZEROED))
		memset(kpage_address(pg), 0, PAGE_SIZE << order);
	return pg;
}

void kpage_api_free(const void *addr, size_t npages, const char *op)
{
	struct kchunk *c = kchunk_of(addr);
	struct page *pg = c ? kchunk_page(c, addr) : NULL;
	if (!pg || ((uintptr_t)addr & (PAGE_SIZE - 1)) || kpage_kind(pg) != KPG_LARGE)
		kpanic("%s: invalid pointer %p (not a block from the page allocator)", op, addr);
	if (pg->npages != npages)
		kpanic("%s: %p is a block of %u pages, freed as %lu pages", op, addr, pg->npages,
		       (unsigned long)npages);
	kpage_free(pg);
}

void *kpage_api_alloc_exact(size_t size, gfp_t gfp)
{
	size_t n = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	if (size == 0 || size > KMAX_ORDER_SIZE) {
		if (gfp & __GFP_NOFAIL)
			kpanic("alloc_pages_exact: __GFP_NOFAIL with size %lu (0, or above the largest block, %lu)",
			       (unsigned long)size, (unsigned long)KMAX_ORDER_SIZE);
		if (!(gfp & __GFP_NOWARN))
			kreport("alloc_pages_exact: size %lu is %s", (unsigned long)size,
			        size ? "above the largest block (4 MiB)" : "zero");
		errno = size ? ENOMEM : EINVAL;
		return NULL;
	}
	struct page *pg = kpage_alloc_exact(gfp, n, 0);
	if (!pg) {
		kalloc_fail(size, gfp, "alloc_pages_exact");
		return NULL;
	}
	kpage_set_tails(pg, n, KPG_TAIL);
	if ((gfp & __GFP_ZERO) && !(pg->flags & KPF_ZEROED))
		memset(kpage_address(pg), 0, n << PAGE_SHIFT);
	return kpage_address(pg);
}
