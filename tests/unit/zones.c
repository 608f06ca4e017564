/* SPDX-License-Identifier: MIT */
/*
 * zones: ZONE_DMA, ZONE_DMA32 and ZONE_NORMAL, one mode per run
 * (unit-zones-<mode>):
 *   bounds    alloc_pages of every order, kmalloc of small and large sizes,
 *             objects of SLAB_CACHE_DMA / SLAB_CACHE_DMA32 caches lie below
 *             16 MiB / 4 GiB, in the right zone (page_zonenum, also for
 *             normal memory); kmalloc(GFP_DMA32) of small sizes packs many
 *             objects in a page, from dma32-kmalloc-N (and GFP_DMA from
 *             dma-kmalloc-N); kfree, ksize and krealloc work on them and
 *             krealloc keeps the zone; buddyinfo shows a zone only once it
 *             has memory, in /proc/buddyinfo's layout; the buddy invariants
 *             hold in every zone, ZONE_DMA's partial chunk included;
 *   load      four threads, each thousands of allocations of every kind in
 *             both low zones with frees interleaved (seeded), every block
 *             checked against its bound and its fill pattern;
 *   taken     with the low 16 MiB mapped by the program first
 *             (MAP_FIXED_NOREPLACE), GFP_DMA allocations (kmalloc,
 *             alloc_pages, a SLAB_CACHE_DMA cache) return NULL with a
 *             one-line report naming ZONE_DMA, none with __GFP_NOWARN;
 *             ZONE_DMA32 still works;
 *   fallback  with ZONE_NORMAL refused any growth (the kpage_grow_refused
 *             hook), normal allocations take ZONE_DMA32's then ZONE_DMA's
 *             free blocks, and stop at their reserve (lowmem_reserve);
 *             with ZONE_DMA32 refused too, DMA32 allocations fall back to
 *             ZONE_DMA and never to ZONE_NORMAL;
 *   nodes     with a second node made up (knr_nodes = 2, every CPU on node
 *             1 in the CPU -> node map), allocations come from node 1's
 *             zones (ZONE_DMA's from node 0, which alone has one), frees go
 *             back to the node of the chunk, buddyinfo prints "Node 1", and
 *             once the CPUs are node 0's again and its ZONE_NORMAL cannot
 *             grow, node 1's free blocks serve it (the zonelist's other
 *             nodes).
 */
#include "buddy_check.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define DMA_LIMIT   (16UL << 20)
#define DMA32_LIMIT (4UL << 30)

static uintptr_t limit_of(gfp_t gfp)
{
	return (gfp & __GFP_DMA) ? DMA_LIMIT : DMA32_LIMIT;
}

static enum zone_type zone_of(gfp_t gfp)
{
	return (gfp & __GFP_DMA) ? ZONE_DMA : ZONE_DMA32;
}

static const char *zname(gfp_t gfp)
{
	return (gfp & __GFP_DMA) ? "GFP_DMA" : "GFP_DMA32";
}

/* The block [p, p + n) lies below the zone's limit and in its zone. */
static void check_block(const void *p, size_t n, gfp_t gfp, const char *what)
{
	uintptr_t a = (uintptr_t)p;
	CHECKF(p != NULL, "%s (%s, %zu bytes) failed", what, zname(gfp), n);
	if (!p)
		return;
	CHECKF(a + n <= limit_of(gfp), "%s (%s): %#lx + %zu ends above %#lx", what, zname(gfp), (unsigned long)a, n,
	       (unsigned long)limit_of(gfp));
	CHECKF(page_zonenum(virt_to_page(p)) == zone_of(gfp), "%s (%s): %#lx in zone %d, want %d", what, zname(gfp),
	       (unsigned long)a, (int)page_zonenum(virt_to_page(p)), (int)zone_of(gfp));
}

/* ------------------------------------------------------------------ */
/* bounds                                                              */
/* ------------------------------------------------------------------ */

/* The buddyinfo line of a zone in the report, or NULL. */
static const char *buddy_line(const char *text, const char *zone, char *line, size_t len)
{
	char want[64];
	snprintf(want, sizeof want, "buddyinfo: Node 0, zone %8s ", zone);
	const char *l = strstr(text, want);
	if (!l)
		return NULL;
	size_t n = strcspn(l, "\n");
	n = n < len - 1 ? n : len - 1;
	memcpy(line, l, n);
	line[n] = '\0';
	return line;
}

/* Checks the line: eleven counts, each right-aligned in six columns. */
static void check_buddy_line(const char *line, const char *zone)
{
	char want[64];
	snprintf(want, sizeof want, "buddyinfo: Node 0, zone %8s", zone);
	const char *s = line + strlen(want);
	for (int o = 0; o <= MAX_ORDER; o++) {
		CHECKF(s[0] == ' ', "buddyinfo %s: order %d not after a space: %s", zone, o, line);
		int digits = 0, spaces = 0;
		s++;
		while (*s == ' ') {
			s++;
			spaces++;
		}
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
		CHECKF(digits > 0 && (digits + spaces == 6 || digits > 6), "buddyinfo %s: order %d is not a %%6lu field: %s",
		       zone, o, line);
	}
}

static void stats_zones(char *text, size_t len)
{
	stats_text(kalloc_stats_print, text, len);
}

static void packing(gfp_t gfp, const char *cache)
{
	enum { N = 256 };
	static void *v[N];
	size_t pages = 0;
	for (int i = 0; i < N; i++) {
		v[i] = kmalloc(48, GFP_KERNEL | gfp);
		check_block(v[i], 48, gfp, "kmalloc(48)");
		if (!v[i])
			return;
		memset(v[i], i, 48);
		CHECKF(ksize(v[i]) == 48, "ksize of a %s kmalloc(48): %zu", zname(gfp), ksize(v[i]));
		struct page *s = kslab_of(v[i]);
		CHECKF(s && strcmp(s->slab_cache->name, cache) == 0, "%s kmalloc(48) from cache %s, want %s", zname(gfp),
		       s ? s->slab_cache->name : "(no slab)", cache);
	}
	/* distinct pages: a whole page per object would give N */
	for (int i = 0; i < N; i++) {
		int seen = 0;
		for (int j = 0; j < i && !seen; j++)
			seen = ((uintptr_t)v[j] >> PAGE_SHIFT) == ((uintptr_t)v[i] >> PAGE_SHIFT);
		pages += !seen;
	}
	CHECKF(pages <= N * 48 / PAGE_SIZE + 8, "%d %s kmalloc(48) objects on %zu pages: not packed", N, zname(gfp),
	       pages);
	for (int i = 0; i < N; i++) {
		unsigned char *p = v[i];
		CHECKF(p[0] == (unsigned char)i && p[47] == (unsigned char)i, "%s object %d overwritten", zname(gfp), i);
		kfree(v[i]);
	}
}

static void krealloc_zone(gfp_t gfp)
{
	/* small -> large -> small, the later calls without a zone: the
	 * block keeps the zone it was asked for */
	char *p = kmalloc(100, GFP_KERNEL | gfp);
	check_block(p, 100, gfp, "kmalloc(100)");
	if (!p)
		return;
	memset(p, 0x3c, 100);
	char *q = krealloc(p, 100000, GFP_KERNEL);
	check_block(q, 100000, gfp, "krealloc(100 -> 100000)");
	if (!q)
		return;
	CHECK(q[0] == 0x3c && q[99] == 0x3c);
	memset(q, 0x4d, 100000);
	char *r = krealloc(q, 200, GFP_KERNEL);
	check_block(r, 200, gfp, "krealloc(100000 -> 200)");
	if (!r)
		return;
	CHECK(r[0] == 0x4d && r[199] == 0x4d);
	char *t = krealloc(r, 5000, GFP_KERNEL);
	check_block(t, 5000, gfp, "krealloc(200 -> 5000)");
	kfree(t);

	/* a normal block krealloc'ed with a zone modifier moves into it */
	char *n = kmalloc(64, GFP_KERNEL);
	CHECK(n != NULL);
	if (!n)
		return;
	memset(n, 0x11, 64);
	char *m = krealloc(n, 64, GFP_KERNEL | gfp);
	check_block(m, 64, gfp, "krealloc(normal 64 -> 64 in the zone)");
	CHECK(m && m[0] == 0x11 && m[63] == 0x11);
	kfree(m);
}

static void cache_objects(slab_flags_t flag, gfp_t gfp)
{
	struct kmem_cache *c = kmem_cache_create(flag == SLAB_CACHE_DMA ? "zones-dma" : "zones-dma32", 200, 0, flag, NULL);
	CHECK(c != NULL);
	if (!c)
		return;
	enum { N = 500 };
	static void *v[N];
	for (int i = 0; i < N; i++) {
		/* a zone the caller passes is the cache's, not its own */
		v[i] = kmem_cache_alloc(c, i % 3 ? GFP_KERNEL : GFP_KERNEL | __GFP_DMA32);
		check_block(v[i], 200, gfp, "kmem_cache_alloc");
		if (v[i])
			memset(v[i], 0x77, 200);
	}
	for (int i = 0; i < N; i++)
		kmem_cache_free(c, v[i]);
	CHECK(kmem_cache_destroy(c) == 0);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
	return x < y ? -1 : x > y;
}

static int mode_bounds(void)
{
	static char text[1 << 16];
	char line[256];
	/* Nothing asked for the low zones yet: their lines are absent. */
	stats_zones(text, sizeof text);
	CHECKF(!buddy_line(text, "DMA32", line, sizeof line), "a DMA32 line before any DMA32 memory: %s", line);
	CHECKF(!buddy_line(text, "DMA", line, sizeof line), "a DMA line before any DMA memory: %s", line);

	/* normal memory is ZONE_NORMAL */
	struct page *pg = alloc_pages(GFP_KERNEL, 0);
	CHECK(pg && page_zonenum(pg) == ZONE_NORMAL);
	if (pg)
		__free_pages(pg, 0);
	void *k = kmalloc(64, GFP_HIGHUSER);
	CHECK(k && page_zonenum(virt_to_page(k)) == ZONE_NORMAL);
	kfree(k);
	CHECK(page_zonenum(NULL) == __MAX_NR_ZONES);
	CHECK(virt_to_page(NULL) == NULL);
	CHECK(virt_to_page((void *)4096) == NULL);

	static const gfp_t zones[] = { GFP_DMA32, GFP_DMA, GFP_DMA | GFP_DMA32 };
	for (unsigned zi = 0; zi < 3; zi++) {
		gfp_t g = zones[zi];
		for (unsigned o = 0; o <= MAX_ORDER; o++) {
			struct page *b = alloc_pages(GFP_KERNEL | g, o);
			check_block(b ? page_address(b) : NULL, PAGE_SIZE << o, g, "alloc_pages");
			if (!b)
				continue;
			CHECK(page_zonenum(b) == zone_of(g));
			memset(page_address(b), 0x5a, PAGE_SIZE << o);
			__free_pages(b, o);
		}
		void *e = alloc_pages_exact(36 << 10, GFP_KERNEL | g);
		check_block(e, 36 << 10, g, "alloc_pages_exact");
		free_pages_exact(e, 36 << 10);
		static const size_t sizes[] = { 1, 8, 24, 100, 500, 1024, 3000, 8192, 32768, 40000, 200000, 1 << 20,
		                                4 << 20 };
		for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			void *p = kmalloc(sizes[i], GFP_KERNEL | g);
			check_block(p, sizes[i], g, "kmalloc");
			if (!p)
				continue;
			CHECKF(ksize(p) >= sizes[i], "ksize %zu < %zu", ksize(p), sizes[i]);
			memset(p, 0x6b, sizes[i]);
			kfree(p);
		}
		void *zp = kzalloc(3000, GFP_KERNEL | g);
		check_block(zp, 3000, g, "kzalloc");
		CHECK(zp && first_nonzero(zp, 3000) == 3000);
		kfree(zp);
		/* a zone allocation above the largest block cannot be had */
		CHECK(kmalloc(8 << 20, GFP_KERNEL | g | __GFP_NOWARN) == NULL);
		krealloc_zone(g);
	}
	packing(GFP_DMA32, "dma32-kmalloc-48");
	packing(GFP_DMA, "dma-kmalloc-48");
	cache_objects(SLAB_CACHE_DMA32, GFP_DMA32);
	cache_objects(SLAB_CACHE_DMA, GFP_DMA);

	/* every zone now has memory: its line, in /proc/buddyinfo's layout */
	stats_zones(text, sizeof text);
	static const char *const names[] = { "DMA", "DMA32", "Normal" };
	for (int i = 0; i < 3; i++) {
		CHECKF(buddy_line(text, names[i], line, sizeof line) != NULL, "no %s line in:\n%s", names[i], text);
		if (buddy_line(text, names[i], line, sizeof line))
			check_buddy_line(line, names[i]);
	}
	CHECKF(contains(text, "slabinfo: dma32-kmalloc-48 "), "no dma32-kmalloc-48 in slabinfo");

	/* the free lists and ZONE_DMA's partial chunk are consistent */
	struct bc_block none[1];
	struct bc_result res[KNR_ZONES];
	bc_check_all(none, 0, res);
	struct kchunk *dc = knodes[0].zones[KZONE_DMA].chunks;
	CHECK(dc && dc->base == 0 && dc->mapped != 0 && dc->next == NULL);
	CHECK(res[KZONE_DMA].free_pages > 0);

	/* All of ZONE_DMA, one page at a time: every block below 16 MiB that
	 * the address space leaves (block 0 from mmap_min_addr, never page
	 * 0), no page twice. */
	enum { MAXP = 4096 };
	static struct page *pv[MAXP];
	size_t np = 0;
	kslab_shrink_all();   /* the dma-kmalloc caches' empty slabs */
	/* __GFP_HIGH: the zone's min-watermark reserve too */
	while (np < MAXP && (pv[np] = alloc_pages(GFP_KERNEL | GFP_DMA | __GFP_HIGH | __GFP_NOWARN, 0)) != NULL)
		np++;
	CHECKF(np < MAXP, "more than %d pages in ZONE_DMA", MAXP);
	uintptr_t min = kos_map_min();
	for (size_t i = 0; i < np; i++) {
		uintptr_t a = (uintptr_t)page_address(pv[i]);
		CHECKF(a >= min && a + PAGE_SIZE <= DMA_LIMIT, "ZONE_DMA page %#lx outside [%#lx, 16 MiB)",
		       (unsigned long)a, (unsigned long)min);
		*(volatile char *)a = 1;
	}
	qsort(pv, np, sizeof pv[0], cmp_ptr);
	for (size_t i = 1; i < np; i++)
		CHECKF(pv[i] != pv[i - 1], "ZONE_DMA page %p handed out twice", page_address(pv[i]));
	dc = knodes[0].zones[KZONE_DMA].chunks;
	size_t present = knodes[0].zones[KZONE_DMA].nr_present_pages;
	CHECKF(np == present, "%zu pages from ZONE_DMA, which has %zu", np, present);
	CHECKF(knodes[0].zones[KZONE_DMA].nr_present_pages == DMA_LIMIT / PAGE_SIZE - (min >> PAGE_SHIFT) ||
	       !(dc->mapped & 1) || dc->mapped != 0xf,
	       "ZONE_DMA's four blocks mapped, %zu pages present", knodes[0].zones[KZONE_DMA].nr_present_pages);
	if (dc->mapped & 1)
		CHECKF(dc->first_pfn == min >> PAGE_SHIFT, "block 0 from page %u, mmap_min_addr %#lx", dc->first_pfn,
		       (unsigned long)min);
	test_msg("zones-bounds: ZONE_DMA has %zu pages (blocks %#x mapped, block 0 from page %u)", np, dc->mapped,
	         dc->first_pfn);
	bc_check_all(none, 0, res);
	for (size_t i = 0; i < np; i++)
		__free_pages(pv[i], 0);
	bc_check_all(none, 0, res);
	CHECK(knodes[0].zones[KZONE_DMA].nr_free_pages == present);
	return check_done();
}

/* ------------------------------------------------------------------ */
/* load                                                                */
/* ------------------------------------------------------------------ */

#define LOAD_THREADS 4
#define LOAD_OPS 6000
#define LOAD_LIVE 64

struct held {
	void *p;
	size_t n;
	int kind;   /* 0 pages, 1 kmalloc, 2 cache */
	unsigned order;
	gfp_t gfp;
	uint64_t tag;
};

static struct kmem_cache *load_cache[2];
static _Atomic int load_failures;

static void load_release(struct held *h)
{
	if (!h->p)
		return;
	if (pattern_check(h->p, h->n < 256 ? h->n : 256, h->tag) != (h->n < 256 ? h->n : 256))
		atomic_fetch_add(&load_failures, 1);
	if (h->kind == 0)
		free_pages((unsigned long)h->p, h->order);
	else if (h->kind == 1)
		kfree(h->p);
	else
		kmem_cache_free(load_cache[(h->gfp & __GFP_DMA) ? 0 : 1], h->p);
	h->p = NULL;
}

static void *load_thread(void *arg)
{
	uint64_t rng = 0x7a6f6e6573ull + (uintptr_t)arg * 7919;
	struct held live[LOAD_LIVE];
	memset(live, 0, sizeof live);
	for (int op = 0; op < LOAD_OPS; op++) {
		struct held *h = &live[rng_range(&rng, 0, LOAD_LIVE - 1)];
		load_release(h);
		h->gfp = GFP_KERNEL | (rng_range(&rng, 0, 3) ? __GFP_DMA32 : __GFP_DMA);
		h->kind = (int)rng_range(&rng, 0, 2);
		h->tag = rng_next(&rng);
		if (h->kind == 0) {
			h->order = (unsigned)rng_range(&rng, 0, 4);
			h->n = PAGE_SIZE << h->order;
			h->p = (void *)__get_free_pages(h->gfp, h->order);
		} else if (h->kind == 1) {
			h->n = rng_range(&rng, 0, 7) ? rng_range(&rng, 1, 2048) : rng_range(&rng, 4096, 300000);
			h->p = kmalloc(h->n, h->gfp);
		} else {
			h->n = 200;
			h->p = kmem_cache_alloc(load_cache[(h->gfp & __GFP_DMA) ? 0 : 1], GFP_KERNEL);
		}
		uintptr_t a = (uintptr_t)h->p;
		if (!h->p || a + h->n > limit_of(h->gfp) || page_zonenum(virt_to_page(h->p)) != zone_of(h->gfp)) {
			atomic_fetch_add(&load_failures, 1);
			if (atomic_load(&load_failures) < 10)
				test_msg("zones-load: %s %s of %zu bytes at %p", zname(h->gfp),
				         h->kind == 0 ? "pages" : h->kind == 1 ? "kmalloc" : "cache object", h->n, h->p);
			h->p = NULL;
			continue;
		}
		pattern_fill(h->p, h->n < 256 ? h->n : 256, h->tag);
	}
	for (int i = 0; i < LOAD_LIVE; i++)
		load_release(&live[i]);
	return NULL;
}

static int mode_load(void)
{
	load_cache[0] = kmem_cache_create("load-dma", 200, 0, SLAB_CACHE_DMA, NULL);
	load_cache[1] = kmem_cache_create("load-dma32", 200, 0, SLAB_CACHE_DMA32, NULL);
	CHECK(load_cache[0] && load_cache[1]);
	if (!load_cache[0] || !load_cache[1])
		return check_done();
	pthread_t t[LOAD_THREADS];
	for (uintptr_t i = 0; i < LOAD_THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, load_thread, (void *)i) == 0);
	for (int i = 0; i < LOAD_THREADS; i++)
		pthread_join(t[i], NULL);
	CHECKF(atomic_load(&load_failures) == 0, "%d blocks out of their zone, failed or overwritten",
	       atomic_load(&load_failures));
	CHECK(kmem_cache_destroy(load_cache[0]) == 0);
	CHECK(kmem_cache_destroy(load_cache[1]) == 0);
	struct bc_block none[1];
	struct bc_result res[KNR_ZONES];
	bc_check_all(none, 0, res);
	return check_done();
}

/* ------------------------------------------------------------------ */
/* taken                                                               */
/* ------------------------------------------------------------------ */

static int mode_taken(void)
{
	/* The program takes every max-order block below 16 MiB first (where
	 * something is mapped already, the block is taken anyway). */
	uintptr_t min = kos_map_min();
	for (uintptr_t b = 0; b < DMA_LIMIT; b += KMAX_ORDER_SIZE) {
		uintptr_t start = b ? b : min;
		if (start < b + KMAX_ORDER_SIZE)
			mmap((void *)start, b + KMAX_ORDER_SIZE - start, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	}
	struct capture cap;
	char err[4096];

	capture_begin(&cap);
	errno = 0;
	void *p = kmalloc(64, GFP_KERNEL | GFP_DMA);
	int e = errno;
	capture_end(&cap, err, sizeof err);
	CHECKF(p == NULL, "kmalloc(64, GFP_DMA) with the low 16 MiB taken: %p", p);
	CHECK(e == ENOMEM);
	CHECKF(contains(err, "kalloc") && contains(err, "ZONE_DMA") && count_lines(err) == 1,
	       "kmalloc's report does not name ZONE_DMA in one line: %s", err);

	capture_begin(&cap);
	struct page *pg = alloc_pages(GFP_KERNEL | GFP_DMA, 0);
	capture_end(&cap, err, sizeof err);
	CHECK(pg == NULL);
	CHECKF(contains(err, "alloc_pages") && contains(err, "ZONE_DMA") && count_lines(err) == 1,
	       "alloc_pages's report: %s", err);

	capture_begin(&cap);
	p = kmalloc(100000, GFP_KERNEL | GFP_DMA | GFP_DMA32);
	capture_end(&cap, err, sizeof err);
	CHECK(p == NULL);
	CHECKF(contains(err, "ZONE_DMA ") && count_lines(err) == 1, "GFP_DMA | GFP_DMA32: %s", err);

	struct kmem_cache *c = kmem_cache_create("taken-dma", 64, 0, SLAB_CACHE_DMA, NULL);
	CHECK(c != NULL);
	if (c) {
		capture_begin(&cap);
		p = kmem_cache_alloc(c, GFP_KERNEL);
		capture_end(&cap, err, sizeof err);
		CHECK(p == NULL);
		CHECKF(contains(err, "taken-dma") && contains(err, "ZONE_DMA") && count_lines(err) == 1,
		       "kmem_cache_alloc's report: %s", err);
		CHECK(kmem_cache_destroy(c) == 0);
	}

	capture_begin(&cap);
	p = kmalloc(64, GFP_KERNEL | GFP_DMA | __GFP_NOWARN);
	pg = alloc_pages(GFP_KERNEL | GFP_DMA | __GFP_NOWARN, 3);
	capture_end(&cap, err, sizeof err);
	CHECK(p == NULL && pg == NULL);
	CHECKF(err[0] == '\0', "a report despite __GFP_NOWARN: %s", err);

	/* nothing of kalloc's is below 16 MiB; ZONE_DMA32 still works */
	CHECK(knodes[0].zones[KZONE_DMA].nr_present_pages == 0);
	p = kmalloc(64, GFP_KERNEL | GFP_DMA32);
	check_block(p, 64, GFP_DMA32, "kmalloc(64, GFP_DMA32) with the low 16 MiB taken");
	kfree(p);
	return check_done();
}

/* ------------------------------------------------------------------ */
/* fallback                                                            */
/* ------------------------------------------------------------------ */

#define FB_MAX 4096
static struct page *fb[FB_MAX];
static size_t nfb;

/* Allocates order-10 blocks with gfp until none comes; counts them by
 * zone. */
static void exhaust(gfp_t gfp, size_t by_zone[KNR_ZONES])
{
	memset(by_zone, 0, sizeof(size_t) * KNR_ZONES);
	while (nfb < FB_MAX) {
		struct page *pg = alloc_pages(gfp | __GFP_NOWARN, MAX_ORDER);
		if (!pg)
			break;
		fb[nfb++] = pg;
		by_zone[page_zonenum(pg)]++;
	}
	CHECKF(nfb < FB_MAX, "more than %d blocks: the zone grew", FB_MAX);
}

static int mode_fallback(void)
{
	/* Both low zones get memory (ZONE_DMA its three whole blocks, where
	 * the address space has them), then ZONE_NORMAL stops growing. */
	struct page *d32 = alloc_pages(GFP_KERNEL | GFP_DMA32, MAX_ORDER);
	struct page *d[3];
	for (int i = 0; i < 3; i++)
		d[i] = alloc_pages(GFP_KERNEL | GFP_DMA | __GFP_NOWARN, MAX_ORDER);
	CHECK(d32 != NULL && d[0] != NULL);
	if (!d32 || !d[0])
		return check_done();
	__free_pages(d32, MAX_ORDER);
	for (int i = 0; i < 3; i++)
		if (d[i])
			__free_pages(d[i], MAX_ORDER);
	struct kzone *zd32 = &knodes[0].zones[KZONE_DMA32], *zd = &knodes[0].zones[KZONE_DMA];
	size_t d32_free = zd32->nr_free_pages, d_free = zd->nr_free_pages;
	size_t d32_res = kpage_lowmem_reserve(zd32), d_res = kpage_lowmem_reserve(zd);
	CHECK(d32_res > 0 && d_res > 0);

	kpage_grow_refused = 1u << KZONE_NORMAL;
	size_t got[KNR_ZONES];
	exhaust(GFP_KERNEL, got);
	CHECKF(got[ZONE_DMA32] > 0, "no ZONE_NORMAL allocation fell back to ZONE_DMA32 (%zu free pages there)",
	       d32_free);
	CHECKF(d_free < d_res + (1UL << MAX_ORDER) || got[ZONE_DMA] > 0,
	       "no ZONE_NORMAL allocation fell back to ZONE_DMA (%zu free pages, reserve %zu)", d_free, d_res);
	CHECKF(zd32->nr_free_pages >= d32_res, "ZONE_DMA32 left %zu free pages, below its reserve %zu",
	       zd32->nr_free_pages, d32_res);
	CHECKF(zd->nr_free_pages >= d_res, "ZONE_DMA left %zu free pages, below its reserve %zu", zd->nr_free_pages,
	       d_res);
	/* the reserve serves the zone's own allocations */
	struct page *own = alloc_pages(GFP_KERNEL | GFP_DMA32, 0);
	CHECK(own && page_zonenum(own) == ZONE_DMA32);
	if (own)
		__free_pages(own, 0);

	/* ZONE_DMA32 refused too: its allocations fall back to ZONE_DMA,
	 * never to ZONE_NORMAL. */
	size_t before = nfb;
	for (size_t i = 0; i < nfb; i++)
		if (page_zonenum(fb[i]) != ZONE_DMA32) {
			__free_pages(fb[i], MAX_ORDER);
			fb[i] = fb[--nfb];
			i--;
		}
	CHECK(nfb < before);
	kpage_grow_refused |= 1u << KZONE_DMA32;
	/* __GFP_HIGH: past the zone's min watermark, down to its lowmem
	 * reserve, which serves the zone's own allocations */
	exhaust(GFP_KERNEL | GFP_DMA32 | __GFP_HIGH, got);
	CHECKF(got[ZONE_NORMAL] == 0, "%zu GFP_DMA32 blocks from ZONE_NORMAL", got[ZONE_NORMAL]);
	CHECKF(got[ZONE_DMA32] > 0, "the DMA32 reserve did not serve GFP_DMA32");
	CHECKF(d_free < d_res + (1UL << MAX_ORDER) || got[ZONE_DMA] > 0,
	       "no ZONE_DMA32 allocation fell back to ZONE_DMA (%zu free pages, reserve %zu)", d_free, d_res);
	for (size_t i = 0; i < nfb; i++) {
		uintptr_t a = (uintptr_t)page_address(fb[i]);
		if (page_zonenum(fb[i]) != ZONE_NORMAL)
			CHECKF(a + KMAX_ORDER_SIZE <= DMA32_LIMIT, "low block %#lx above 4 GiB", (unsigned long)a);
	}

	kpage_grow_refused = 0;
	for (size_t i = 0; i < nfb; i++)
		__free_pages(fb[i], MAX_ORDER);
	nfb = 0;
	struct bc_block none[1];
	struct bc_result res[KNR_ZONES];
	bc_check_all(none, 0, res);
	return check_done();
}

/* ------------------------------------------------------------------ */
/* nodes                                                               */
/* ------------------------------------------------------------------ */

static int mode_nodes(void)
{
	struct page *first = alloc_pages(GFP_KERNEL, 0);   /* initialised */
	CHECK(first != NULL);
	__free_pages(first, 0);
	knr_nodes = 2;
	memset(kcpu_node, 1, sizeof kcpu_node);
	struct kzone *n1 = &knodes[1].zones[KZONE_NORMAL];

	struct page *pg = alloc_pages(GFP_KERNEL, 2);
	CHECK(pg && kpage_chunk(pg)->node == 1 && page_zonenum(pg) == ZONE_NORMAL);
	struct page *lo = alloc_pages(GFP_KERNEL | GFP_DMA32, 0);
	CHECK(lo && kpage_chunk(lo)->node == 1 && page_zonenum(lo) == ZONE_DMA32);
	struct page *dma = alloc_pages(GFP_KERNEL | GFP_DMA, 0);
	CHECK(dma && kpage_chunk(dma)->node == 0 && page_zonenum(dma) == ZONE_DMA);
	size_t free_held = n1->nr_free_pages;
	if (pg)
		__free_pages(pg, 2);
	CHECKF(n1->nr_free_pages == free_held + 4, "node 1's free pages %zu after a free of 4, %zu before",
	       n1->nr_free_pages, free_held);
	if (lo)
		__free_pages(lo, 0);
	if (dma)
		__free_pages(dma, 0);

	static char text[1 << 16];
	stats_text(kalloc_stats_print, text, sizeof text);
	CHECKF(contains(text, "buddyinfo: Node 1, zone   Normal ") && contains(text, "buddyinfo: Node 1, zone    DMA32 ") &&
	       contains(text, "buddyinfo: Node 0, zone      DMA "),
	       "buddyinfo lacks a zone of node 1 or node 0's DMA:\n%s", text);

	/* Node 0 cannot grow: node 1's free blocks serve it. */
	memset(kcpu_node, 0, sizeof kcpu_node);
	kpage_grow_refused = 1u << KZONE_NORMAL;
	size_t by_node[2] = { 0, 0 };
	while (nfb < FB_MAX) {
		struct page *b = alloc_pages(GFP_KERNEL | __GFP_NOWARN, MAX_ORDER);
		if (!b)
			break;
		fb[nfb++] = b;
		by_node[kpage_chunk(b)->node]++;
	}
	CHECKF(by_node[1] > 0, "node 0's allocations took none of node 1's %zu free pages", n1->nr_free_pages);
	/* node 1's DMA32 zone served them too, down to its reserve */
	struct kzone *n1d32 = &knodes[1].zones[KZONE_DMA32];
	CHECKF(n1d32->nr_free_pages >= kpage_lowmem_reserve(n1d32), "node 1's ZONE_DMA32 left %zu pages, reserve %zu",
	       n1d32->nr_free_pages, kpage_lowmem_reserve(n1d32));
	kpage_grow_refused = 0;
	for (size_t i = 0; i < nfb; i++)
		__free_pages(fb[i], MAX_ORDER);
	nfb = 0;
	return check_done();
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "bounds";
	if (strcmp(mode, "bounds") == 0)
		return mode_bounds();
	if (strcmp(mode, "load") == 0)
		return mode_load();
	if (strcmp(mode, "taken") == 0)
		return mode_taken();
	if (strcmp(mode, "fallback") == 0)
		return mode_fallback();
	if (strcmp(mode, "nodes") == 0)
		return mode_nodes();
	test_msg("zones: unknown mode %s", mode);
	return 1;
}
