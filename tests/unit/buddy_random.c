/* SPDX-License-Identifier: MIT */
/*
 * buddy_random: seeded random sequences of kpage_alloc / kpage_alloc_exact /
 * kpage_shrink / kpage_free against the buddy invariant checker
 * (buddy_check.h), with every block's pages tagged and verified before it is
 * freed.  Also:
 *   - blocks are aligned (2^order pages; exact blocks to 2^align_order);
 *   - a block handed out with KPF_ZEROED reads as zero;
 *   - the zone never keeps more dirty free pages than its high mark
 *     (the adaptive mark, or 1/KDIRTY_USED_FRACTION of the pages in use);
 *   - GFP_NOWAIT takes free blocks but never maps a chunk;
 *   - orders above MAX_ORDER and impossible exact sizes fail;
 *   - after freeing everything each chunk is 16 max-order free blocks (but
 *     chunks holding blocks the test did not allocate), and malloc_trim(0)
 *     unmaps the free chunks and leaves nothing dirty.
 * Nothing else allocates while it runs: no stdio until the end.
 */
#include "buddy_check.h"

#include <malloc.h>

#define NR_OPS      24000
#define MAX_TRACKED 6000
#define LIVE_LIMIT  (48UL * 1024)  /* pages held at most: 192 MiB */
#define CHECK_EVERY 16

static struct bc_block blocks[MAX_TRACKED];
static size_t nblocks;
static size_t live_pages;
static uint64_t next_id = 1;
static uint64_t rng = 0x6b616c6c6f630001ull;

static inline uint64_t tag_of(uint64_t id, size_t page)
{
	return (id << 20 | page) ^ 0xa5a5000000000000ull;
}

/* Tags three words of each page with the block id and page index. */
static void tag_pages(const struct bc_block *b, size_t from)
{
	for (size_t i = from; i < b->npages; i++) {
		uint64_t *w = (uint64_t *)(b->addr + (i << PAGE_SHIFT));
		w[0] = w[256] = w[511] = tag_of(b->id, i);
	}
}

static void verify_pages(const struct bc_block *b)
{
	for (size_t i = 0; i < b->npages; i++) {
		const uint64_t *w = (const uint64_t *)(b->addr + (i << PAGE_SHIFT));
		uint64_t want = tag_of(b->id, i);
		if (w[0] != want || w[256] != want || w[511] != want) {
			CHECKF(0, "block %#lx (id %lu) page %zu overwritten: %#lx, want %#lx", (unsigned long)b->addr,
			       (unsigned long)b->id, i, (unsigned long)w[0], (unsigned long)want);
			return;
		}
	}
}

static unsigned random_order(void)
{
	uint64_t r = rng_range(&rng, 0, 99);
	if (r < 55)
		return (unsigned)rng_range(&rng, 0, 2);
	if (r < 88)
		return (unsigned)rng_range(&rng, 3, 6);
	return (unsigned)rng_range(&rng, 7, MAX_ORDER);
}

static struct kzone *normal(void)
{
	return &knodes[0].zones[KZONE_NORMAL];
}

/* The high mark: the adaptive mark (never below dirty_high), or a fraction
 * of the pages in use when that is more (page_alloc.c: high_mark). */
static void check_dirty_mark(void)
{
	struct kzone *z = normal();
	size_t used = z->nr_present_pages - z->nr_free_pages;
	size_t mark = KMAX(z->dirty_mark, z->dirty_high);
	size_t high = KMAX(mark, used / KDIRTY_USED_FRACTION);
	CHECKF(z->nr_dirty_pages <= high, "%zu dirty free pages above the high mark %zu", z->nr_dirty_pages, high);
}

/* Records a block just allocated: alignment, zero claim, tags. */
static void track(struct page *pg, size_t npages, size_t align_pages)
{
	uintptr_t addr = (uintptr_t)kpage_address(pg);
	CHECKF(kpage_kind(pg) == KPG_LARGE && pg->npages == npages && pg->head == pg,
	       "new block %#lx: kind %u npages %u, want LARGE with %zu", (unsigned long)addr, kpage_kind(pg),
	       pg->npages, npages);
	CHECKF((addr & ((align_pages << PAGE_SHIFT) - 1)) == 0, "block %#lx of %zu pages not aligned to %zu pages",
	       (unsigned long)addr, npages, align_pages);
	CHECKF(kchunk_of((void *)addr) && kchunk_of((void *)addr)->zone == KZONE_NORMAL,
	       "block %#lx is not in a ZONE_NORMAL chunk", (unsigned long)addr);
	if (pg->flags & KPF_ZEROED) {
		size_t nz = first_nonzero((void *)addr, npages << PAGE_SHIFT);
		CHECKF(nz == npages << PAGE_SHIFT, "block %#lx (%zu pages) marked KPF_ZEROED has byte %zu = %#x",
		       (unsigned long)addr, npages, nz, ((uint8_t *)addr)[nz]);
	}
	struct bc_block *b = &blocks[nblocks++];
	b->addr = addr;
	b->npages = npages;
	b->id = next_id++;
	tag_pages(b, 0);
	live_pages += npages;
}

static struct page *page_of(const struct bc_block *b)
{
	return kchunk_page(kchunk_of((void *)b->addr), (void *)b->addr);
}

static void free_index(size_t i)
{
	struct bc_block *b = &blocks[i];
	verify_pages(b);
	kpage_free(page_of(b));
	live_pages -= b->npages;
	blocks[i] = blocks[--nblocks];
	check_dirty_mark();
}

static void shrink_index(size_t i)
{
	struct bc_block *b = &blocks[i];
	if (b->npages < 2)
		return;
	size_t n = (size_t)rng_range(&rng, 1, b->npages - 1);
	verify_pages(b);
	kpage_shrink(page_of(b), n);
	live_pages -= b->npages - n;
	b->npages = n;
	struct page *pg = page_of(b);
	CHECKF(pg->npages == n, "shrunk block %#lx: npages %u, want %zu", (unsigned long)b->addr, pg->npages, n);
	verify_pages(b);
	check_dirty_mark();
}

static void full_check(const char *when)
{
	struct bc_result res[KNR_ZONES];
	if (bc_check_all(blocks, nblocks, res))
		test_msg("buddy_random: invariant check failed %s", when);
}

static void random_phase(void)
{
	for (unsigned op = 1; op <= NR_OPS; op++) {
		uint64_t r = rng_range(&rng, 0, 99);
		bool must_free = live_pages > LIVE_LIMIT || nblocks >= MAX_TRACKED - 1;
		if (!must_free && r < 40) {
			unsigned order = random_order();
			struct page *pg = kpage_alloc(GFP_KERNEL, order);
			CHECKF(pg != NULL, "kpage_alloc(order %u) failed", order);
			if (pg)
				track(pg, 1UL << order, 1UL << order);
		} else if (!must_free && r < 62) {
			unsigned order = random_order();
			size_t npages = (size_t)rng_range(&rng, 1, 1UL << order);
			unsigned align_order = rng_range(&rng, 0, 3) == 0 ? (unsigned)rng_range(&rng, 0, MAX_ORDER) : 0;
			struct page *pg = kpage_alloc_exact(GFP_KERNEL, npages, align_order);
			CHECKF(pg != NULL, "kpage_alloc_exact(%zu pages, align order %u) failed", npages, align_order);
			if (pg)
				track(pg, npages, 1UL << align_order);
		} else if (nblocks && r < 67) {
			shrink_index((size_t)rng_range(&rng, 0, nblocks - 1));
		} else if (nblocks) {
			free_index((size_t)rng_range(&rng, 0, nblocks - 1));
		}
		if (op % CHECK_EVERY == 0)
			full_check("during the random phase");
	}
	full_check("after the random phase");
}

/* GFP_NOWAIT never maps a chunk: with no max-order block left it fails,
 * where GFP_KERNEL maps a new chunk. */
static void nowait_phase(void)
{
	struct kzone *z = normal();
	while (z->free_area[MAX_ORDER].nr_free && nblocks < MAX_TRACKED - 1) {
		struct page *pg = kpage_alloc(GFP_KERNEL, MAX_ORDER);
		CHECK(pg != NULL);
		if (!pg)
			return;
		track(pg, 1UL << MAX_ORDER, 1UL << MAX_ORDER);
	}
	unsigned chunks = z->nr_chunks;
	CHECK(kpage_alloc(GFP_NOWAIT, MAX_ORDER) == NULL);
	CHECK(kpage_alloc(GFP_NOWAIT | __GFP_NOWARN, MAX_ORDER) == NULL);
	CHECKF(z->nr_chunks == chunks, "GFP_NOWAIT mapped a chunk (%u -> %u)", chunks, z->nr_chunks);
	/* Smaller free blocks are still served without a syscall. */
	for (unsigned o = 0; o < MAX_ORDER; o++) {
		bool avail = false;
		for (unsigned k = o; k <= MAX_ORDER; k++)
			avail |= z->free_area[k].nr_free != 0;
		if (!avail)
			continue;
		struct page *pg = kpage_alloc(GFP_NOWAIT, o);
		CHECKF(pg != NULL, "GFP_NOWAIT order %u failed with free blocks available", o);
		if (pg)
			track(pg, 1UL << o, 1UL << o);
	}
	struct page *pg = kpage_alloc(GFP_KERNEL, MAX_ORDER);
	CHECK(pg != NULL);
	if (pg)
		track(pg, 1UL << MAX_ORDER, 1UL << MAX_ORDER);
	CHECKF(z->nr_chunks == chunks + 1, "GFP_KERNEL: %u chunks, want %u", z->nr_chunks, chunks + 1);
	full_check("after the GFP_NOWAIT phase");
}

static void bad_requests(void)
{
	CHECK(kpage_alloc(GFP_KERNEL, MAX_ORDER + 1) == NULL);
	CHECK(kpage_alloc(GFP_KERNEL, 63) == NULL);
	CHECK(kpage_alloc_exact(GFP_KERNEL, 0, 0) == NULL);
	CHECK(kpage_alloc_exact(GFP_KERNEL, (1UL << MAX_ORDER) + 1, 0) == NULL);
	CHECK(kpage_alloc_exact(GFP_KERNEL, 1, MAX_ORDER + 1) == NULL);
}

/* The checker itself must fire: corrupt a counter, a tracked length and
 * the tracking (a block recorded twice), one at a time, and expect
 * failures; then restore.  Tracking is corrupted in a copy (the checker
 * sorts what it is given). */
static struct bc_block scratch[MAX_TRACKED];

static void checker_self_test(void)
{
	struct bc_result res[KNR_ZONES];
	struct kzone *z = normal();
	int saved = check_failures;
	check_quiet = 1;

	unsigned o = 0;
	while (o < MAX_ORDER && !z->free_area[o].nr_free)
		o++;
	z->free_area[o].nr_free++;
	int f1 = bc_check_all(blocks, nblocks, res);
	z->free_area[o].nr_free--;

	z->nr_dirty_pages++;
	int f2 = bc_check_all(blocks, nblocks, res);
	z->nr_dirty_pages--;

	int f3 = 0, f4 = 0;
	if (nblocks >= 2) {
		memcpy(scratch, blocks, nblocks * sizeof blocks[0]);
		scratch[0].npages++;
		f3 = bc_check_all(scratch, nblocks, res);
		memcpy(scratch, blocks, nblocks * sizeof blocks[0]);
		scratch[1].addr = scratch[0].addr;
		scratch[1].npages = scratch[0].npages;
		f4 = bc_check_all(scratch, nblocks, res);
	}
	check_quiet = 0;
	check_failures = saved;
	CHECKF(f1 > 0, "checker missed a wrong nr_free");
	CHECKF(f2 > 0, "checker missed a wrong nr_dirty_pages");
	CHECKF(f3 > 0, "checker missed a wrong block length");
	CHECKF(f4 > 0, "checker missed a block tracked twice");
	CHECKF(bc_check_all(blocks, nblocks, res) == 0, "state not restored after the self-test");
}

int main(void)
{
	kalloc_ensure_init();
	struct bc_result start[KNR_ZONES];
	bc_check_all(blocks, 0, start);

	bad_requests();
	random_phase();
	checker_self_test();
	nowait_phase();

	while (nblocks)
		free_index(nblocks - 1);
	struct bc_result res[KNR_ZONES];
	bc_check_all(blocks, 0, res);
	struct bc_result *r = &res[KZONE_NORMAL];
	CHECKF(r->foreign_blocks == start[KZONE_NORMAL].foreign_blocks,
	       "foreign blocks appeared while the test ran (%zu -> %zu)", start[KZONE_NORMAL].foreign_blocks,
	       r->foreign_blocks);
	test_msg("buddy_random: %zu chunks in ZONE_NORMAL after freeing everything", r->chunks);
	CHECKF(r->chunks >= 2, "the test should have needed several chunks, zone has %zu", r->chunks);
	CHECKF(r->clean_chunks + r->foreign_chunks == r->chunks,
	       "after freeing everything: %zu chunks, %zu made of max-order blocks, %zu hold foreign blocks",
	       r->chunks, r->clean_chunks, r->foreign_chunks);
	CHECKF(r->free_blocks[MAX_ORDER] >= r->clean_chunks * (KCHUNK_PAGES >> MAX_ORDER),
	       "%zu max-order blocks for %zu clean chunks", r->free_blocks[MAX_ORDER], r->clean_chunks);

	/* malloc_trim: free chunks go back to the OS, nothing stays dirty. */
	kalloc_trim();   /* malloc_trim's work */
	bc_check_all(blocks, 0, res);
	CHECKF(res[KZONE_NORMAL].chunks == res[KZONE_NORMAL].foreign_chunks,
	       "after malloc_trim: %zu chunks left, %zu hold foreign blocks", res[KZONE_NORMAL].chunks,
	       res[KZONE_NORMAL].foreign_chunks);
	CHECKF(normal()->nr_dirty_pages == 0, "after malloc_trim: %zu dirty free pages", normal()->nr_dirty_pages);

	/* Blocks from released memory read as zero and say so. */
	for (unsigned i = 0; i < 64; i++) {
		struct page *pg = kpage_alloc(GFP_KERNEL, i % 5);
		CHECK(pg != NULL);
		if (!pg)
			break;
		CHECKF(pg->flags & KPF_ZEROED, "block of order %u after malloc_trim not marked zeroed", i % 5);
		track(pg, 1UL << (i % 5), 1UL << (i % 5));
	}
	while (nblocks)
		free_index(nblocks - 1);
	bc_check_all(blocks, 0, res);
	test_msg("buddy_random: %zu chunks, %zu foreign blocks at the end", res[KZONE_NORMAL].chunks,
	         res[KZONE_NORMAL].foreign_blocks);
	return check_done();
}
