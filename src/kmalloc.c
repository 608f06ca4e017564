/* SPDX-License-Identifier: MIT */
/*
 * kmalloc.c - the kmalloc size classes and the routing of every block.
 *
 * Sizes up to KMALLOC_MAX_CACHE_SIZE (32 KiB) come from 46 slab caches:
 * 8, 16, 32, 48, 64, 80, 96, 112, 128 bytes, then four classes per power of
 * two (x1.25, x1.5, x1.75, x2), so internal waste above 128 bytes is at most
 * 20% of the request and 12.5% of the block on average; and from 256 to
 * 4096 bytes one more at 9/8 of each power of two (288, 576, 1152, 2304,
 * 4608): a power of two and a small header (SQLite's 8-byte size prefix on
 * its 4 KiB pages: 4104 bytes) takes a block at most 12.5% larger instead
 * of 25%.  Tables give the class of sizes up to 8 KiB; above, the class
 * follows from the position of the highest bit (kmalloc_index).
 *
 * Above 32 KiB and up to the buddy allocator's largest block (4 MiB) a block
 * is a run of exact pages from the buddy allocator, marked KPG_LARGE in its
 * head descriptor (kpage_alloc_exact: unused tail pages go back to it up to
 * 256 KiB; above, the block keeps its whole power-of-two block).  Up to
 * 256 KiB the sizes come in 12 more classes (40 KiB, 48 KiB, ..., 256 KiB,
 * four per power of two): page caches (slab.c), whose blocks the front
 * caches keep per CPU, as the kernel's per-CPU page lists do, so these sizes
 * do not take the zone lock on every call either.  A freed block of a class
 * size goes to its class's front cache (KPG_CACHED) instead of the buddy
 * allocator.  calloc and __GFP_ZERO take fresh blocks, which may be known
 * to be zero.  Larger page blocks are not cached per CPU: held there they
 * would keep the buddy allocator from merging what is around them, and the
 * larger blocks then come from memory that must be faulted in (measured:
 * docs/performance.md).  Above 4 MiB, the huge path (vmalloc.c).
 *
 * Classifying a pointer: the chunk registry gives the page descriptor; its
 * kind says slab (a kmalloc class, or another cache), large
 * (must be the block's first byte) or anything else (invalid).  A pointer in
 * no chunk is either the start of a huge area or invalid.
 *
 * Small blocks go through the front caches: the classes are front indices
 * 0 .. KMALLOC_NR_ALL - 1 (init.c registers kmalloc_caches with the
 * front layer after kmalloc_init).
 *
 * Hardening (KALLOC_HARDEN >= 1, the default; docs/design.md): the free
 * tag of the classes' objects (kmalloc.h, slab.h; confirmed by
 * kmalloc_tag_hit before a double free is reported) and a canary after the
 * size asked for in every page block (its head descriptor records where).
 *
 * Zones: kmalloc(size, GFP_DMA32) and kmalloc(size, GFP_DMA) up to 32 KiB
 * come from caches of their own, dma32-kmalloc-N and dma-kmalloc-N (the
 * latter are the kernel's KMALLOC_DMA caches; its kmalloc refuses
 * __GFP_DMA32), whose slabs come from their zone (SLAB_CACHE_DMA32,
 * SLAB_CACHE_DMA).  Each is static, set up on its
 * first use (kcache_init_once), and has no front cache: these sizes are
 * rare, and a slab's lock per call is what the kernel pays too.  Larger
 * zone requests are page blocks from the zone, marked KPF_ZONED, so
 * krealloc knows to keep the zone when it moves them.
 */
#include "kmalloc.h"

#include <errno.h>
#include <string.h>

struct kmem_cache kmalloc_caches[KMALLOC_NR_ALL];
struct kmalloc_free_data kmalloc_free __attribute__((aligned(64)));

const uint32_t kmalloc_class_size[KMALLOC_NR_ALL] = {
	8, 16, 32, 48, 64, 80, 96, 112, 128,
	160, 192, 224, 256, 288, 320, 384, 448, 512, 576,
	640, 768, 896, 1024, 1152, 1280, 1536, 1792, 2048,
	2304, 2560, 3072, 3584, 4096, 4608, 5120, 6144, 7168,
	8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
	/* page classes */
	40960, 49152, 57344, 65536, 81920, 98304, 114688, 131072,
	163840, 196608, 229376, 262144,
};

/* kmalloc_small_index[(size + 7) >> 3]: class of size <= 1024. */
const uint8_t kmalloc_small_index[KMALLOC_SMALL_MAX / 8 + 1] = {
	0, 0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8,
	8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11, 12, 12, 12,
	12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15,
	15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17,
	17, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19,
	19, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
	20, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21,
	21, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22,
	22,
};

/* kmalloc_index16[(size + 15) >> 4]: class of size <= KMALLOC_TABLE_MAX for
 * malloc, whose smallest block is 16 bytes (16-byte alignment for every
 * block).  One table up to 8 KiB, so malloc's size test does not split
 * sizes around 1 KiB (a mispredicted branch for programs that mix them).
 * Classes: see kmalloc.h (KMALLOC_NR_CLASSES).
 * Size 0 has a class of its own, KMALLOC_ZERO_CLASS (the zero-size region;
 * kmalloc_init sets the 16-byte class instead when hardening is off). */
uint8_t kmalloc_index16[KMALLOC_TABLE_MAX / 16 + 1] = {
	KMALLOC_ZERO_CLASS, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 10, 11, 11, 12,
	12, 13, 13, 14, 14, 15, 15, 15, 15, 16, 16, 16, 16, 17, 17, 17,
	17, 18, 18, 18, 18, 19, 19, 19, 19, 20, 20, 20, 20, 20, 20, 20,
	20, 21, 21, 21, 21, 21, 21, 21, 21, 22, 22, 22, 22, 22, 22, 22,
	22,
	[65 ... 72] = 23,     /* 1152 */
	[73 ... 80] = 24,     /* 1280 */
	[81 ... 96] = 25,     /* 1536 */
	[97 ... 112] = 26,    /* 1792 */
	[113 ... 128] = 27,   /* 2048 */
	[129 ... 144] = 28,   /* 2304 */
	[145 ... 160] = 29,   /* 2560 */
	[161 ... 192] = 30,   /* 3072 */
	[193 ... 224] = 31,   /* 3584 */
	[225 ... 256] = 32,   /* 4096 */
	[257 ... 288] = 33,   /* 4608 */
	[289 ... 320] = 34,   /* 5120 */
	[321 ... 384] = 35,   /* 6144 */
	[385 ... 448] = 36,   /* 7168 */
	[449 ... 512] = 37,   /* 8192 */
};

/* The caches of the low zones' classes: [0] ZONE_DMA, [1] ZONE_DMA32. */
static struct kmem_cache kmalloc_zone_caches[2][KMALLOC_NR_CLASSES];
static _Atomic bool kmalloc_zone_ready[2][KMALLOC_NR_CLASSES];

/* A class's cache name: kmalloc-96, kmalloc-8k, dma32-kmalloc-96... */
static void class_name(char *name, const char *prefix, unsigned cls)
{
	unsigned sz = kmalloc_class_size[cls];
	if (sz >= 1024 && sz % 1024 == 0)
		kformat(name, KCACHE_NAME_LEN, "%skmalloc-%uk", prefix, sz / 1024);
	else
		kformat(name, KCACHE_NAME_LEN, "%skmalloc-%u", prefix, sz);
}

/* Power-of-two classes are naturally aligned (to a page at most): aligned
 * allocations rely on it. */
static size_t class_align(unsigned cls)
{
	unsigned sz = kmalloc_class_size[cls];
	return KIS_POW2(sz) ? KMIN(sz, PAGE_SIZE) : 0;
}

void kmalloc_init(void)
{
	if (ktune.harden == KHARDEN_OFF)
		kmalloc_index16[0] = 1;   /* malloc(0): a 16-byte block, as before */
	for (unsigned i = 0; i < KMALLOC_NR_ALL; i++) {
		char name[KCACHE_NAME_LEN];
		unsigned sz = kmalloc_class_size[i];
		class_name(name, "", i);
		if (i >= KMALLOC_NR_CLASSES) {
			kcache_init_pages(&kmalloc_caches[i], name, sz);
			continue;
		}
		/* malloc's smallest block is 16 bytes: sizes 0 to 16 */
		kmalloc_free.size_lo[i] = i <= 1 ? 0 : kmalloc_class_size[i - 1] + 1;
		kmalloc_free.size_hi[i] = kmalloc_class_size[i];
		struct kmem_cache *c = &kmalloc_caches[i];
		if (kcache_init(c, name, sz, class_align(i), KSLAB_FREE_TAG, NULL) != 0)
			kpanic("cannot set up cache %s", name);
		/* Slabs free's check can handle are marked as the class's own
		 * (KINFO_KSLAB_BASE + class); the others (kmalloc-8's, with
		 * more than 256 objects, and slabs over 64 KiB) as plain slabs,
		 * which free sends to kfree_any.  So are a debug class's: free's
		 * fast path stores the free tag, which would write into a
		 * kmalloc red zone that starts below 16 bytes. */
		if (c->slab_mask <= 0xffff && c->objects <= 256 && !kslab_debug(c)) {
			c->page_info = KINFO_KSLAB_BASE + i;
			kmalloc_free.check[c->page_info] = (struct kfree_check){
				.mul = (uint32_t)c->div_mul,
				.mask = (uint16_t)c->slab_mask,
				.shift = (uint8_t)c->div_shift,
			};
			kmalloc_free.objects[c->page_info] = c->objects;
		}
	}
}

/* ------------------------------------------------------------------ */
/* the zero-size region                                                */
/* ------------------------------------------------------------------ */

/*
 * malloc(0), new(0), realloc(NULL, 0), memalign(a, 0), aligned_alloc(a, 0)
 * and kmalloc(0) return a slot of this region: KZERO_REGION bytes of
 * address space reserved PROT_NONE (never backed, no commit charge) on the
 * first such call, so a program that never asks for 0 bytes pays nothing,
 * and a tight RLIMIT_AS is touched by 16 MiB only when it does.  Any read
 * or write through such a pointer faults.
 *
 * Slots are 16 bytes (malloc's alignment); a bitmap (128 KiB of bss,
 * touched as slots are used) says which are live, so a pointer is unique
 * among the live ones, free and realloc check it, and a second free of it
 * is reported.  Allocation takes the next clear bit at or after a cursor
 * that only moves forward (wrapping), so a freed slot is handed out again
 * only after the cursor has gone round the other million; the count of
 * live slots says when the region is full, and then malloc(0) falls back
 * to a 16-byte block.  Lock-free: atomic OR and AND on the bitmap words.
 */
static _Atomic uintptr_t zero_base;   /* 0: not reserved yet */
static _Atomic int zero_state;        /* 0 none, 1 being reserved, 2 ready, 3 refused */
static _Atomic uint64_t zero_map[KZERO_SLOTS / 64];
static _Atomic size_t zero_live, zero_next;

bool kzero_owns(const void *p)
{
	uintptr_t b = atomic_load_explicit(&zero_base, memory_order_acquire);
	return b && (uintptr_t)p - b < KZERO_REGION;
}

static uintptr_t zero_region(gfp_t gfp)
{
	uintptr_t b = atomic_load_explicit(&zero_base, memory_order_acquire);
	if (likely(b) || !(gfp & __GFP_DIRECT_RECLAIM))
		return b;
	int expect = 0;
	if (!atomic_compare_exchange_strong(&zero_state, &expect, 1))
		return 0;   /* another thread reserves it (this call falls back), or refused */
	void *r = kos_reserve(KZERO_REGION);
	if (!r) {
		atomic_store(&zero_state, 3);
		return 0;
	}
	if (ktune.debug_flags || ktune.harden == KHARDEN_FULL)
		kreport_fault_zero((uintptr_t)r, KZERO_REGION);
	atomic_store_explicit(&zero_base, (uintptr_t)r, memory_order_release);
	atomic_store(&zero_state, 2);
	return (uintptr_t)r;
}

/* Claims a clear bit at slot i or after it (a multiple of step), within
 * `probes` tries; the slot, or KZERO_SLOTS. */
static size_t zero_claim(size_t i, size_t step, size_t probes)
{
	while (probes--) {
		i &= KZERO_SLOTS - 1;
		_Atomic uint64_t *w = &zero_map[i / 64];
		uint64_t bits = atomic_load_explicit(w, memory_order_relaxed);
		uint64_t mask;
		if (step == 1) {
			uint64_t free = ~bits & (~0ull << (i % 64));
			if (!free) {
				i = (i | 63) + 1;
				continue;
			}
			i = (i & ~(size_t)63) + (size_t)__builtin_ctzll(free);
		}
		mask = 1ull << (i % 64);
		if (!(bits & mask) && !(atomic_fetch_or(w, mask) & mask))
			return i;
		if (step != 1)
			i += step;
	}
	return KZERO_SLOTS;
}

void *kzero_alloc(size_t align, gfp_t gfp)
{
	if (ktune.harden == KHARDEN_OFF || align > PAGE_SIZE)
		return NULL;
	uintptr_t b = zero_region(gfp);
	if (!b)
		return NULL;
	if (atomic_fetch_add(&zero_live, 1) >= KZERO_SLOTS) {
		atomic_fetch_sub(&zero_live, 1);
		return NULL;   /* full: a block of 16 bytes instead */
	}
	size_t step = align > 16 ? align / 16 : 1;
	size_t i = KALIGN_UP(atomic_fetch_add(&zero_next, step), step);
	/* One bit is clear somewhere (the live count); with a step, an
	 * aligned one may not be, after a round. */
	i = zero_claim(i, step, step == 1 ? KZERO_SLOTS / 64 * 2 + 2 : KZERO_SLOTS / step);
	if (i == KZERO_SLOTS) {
		atomic_fetch_sub(&zero_live, 1);
		return NULL;
	}
	if (step == 1)
		atomic_store_explicit(&zero_next, i + 1, memory_order_relaxed);
	return (void *)(b + i * 16);
}

/* Checks that p (in the region) is a live slot; with `release`, frees it.
 * Reports and aborts otherwise. */
static void zero_check(const void *p, const char *op, bool release)
{
	uintptr_t off = (uintptr_t)p - atomic_load(&zero_base);
	if (off % 16)
		kbad_pointer(p, op, "inside the zero-size region, not a block malloc(0) returned");
	size_t i = off / 16;
	uint64_t mask = 1ull << (i % 64);
	uint64_t was = release ? atomic_fetch_and(&zero_map[i / 64], ~mask) : atomic_load(&zero_map[i / 64]);
	if (!(was & mask))
		kbad_pointer(p, op, "a malloc(0) block freed already: double free (or never allocated)");
	if (release)
		atomic_fetch_sub(&zero_live, 1);
}

/* ------------------------------------------------------------------ */
/* canaries of page blocks                                             */
/* ------------------------------------------------------------------ */

/*
 * Default hardening: a page block's slack, from the size asked for to the
 * block's end, starts with a canary of up to 8 bytes (the head descriptor
 * records the slack), checked when the block is freed, reallocated, or
 * asked for its usable size.  malloc_usable_size and ksize give the
 * program the whole block, so they disarm it; realloc in place moves it.
 * Slab objects have none: nothing records their size asked for
 * (docs/design.md, "Hardening").
 */
static inline uint64_t canary_value(const void *p)
{
	return kslab_canary_key ^ 0xc3a5c3a5c3a5c3a5ull ^ ((uintptr_t)p >> PAGE_SHIFT);
}

static void canary_arm(struct page *pg, void *p, size_t size)
{
	size_t usable = (size_t)pg->npages << PAGE_SHIFT;
	pg->canary = 0;
	if (!kslab_harden || kslab_block_flags || size >= usable || usable - size > UINT16_MAX)
		return;
	uint64_t v = canary_value(p);
	memcpy((char *)p + size, &v, KMIN(usable - size, sizeof v));
	pg->canary = (uint16_t)(usable - size);
}

static KNORETURN KNOINLINE void canary_report(const struct page *pg, const void *p, const char *op)
{
	size_t usable = (size_t)pg->npages << PAGE_SHIFT, size = usable - pg->canary;
	uint64_t v = canary_value(p);
	const unsigned char *have = (const unsigned char *)p + size, *want = (const unsigned char *)&v;
	size_t i = 0;
	while (have[i] == want[i])
		i++;
	kpanic("%s(): overflow past the end of block %p (%zu bytes asked for, a page block of %zu): byte %zu "
	       "after its end was written (0x%x, not 0x%x)", op, p, size, usable, i, have[i], want[i]);
}

/* Checks the canary of page block pg (at p), if it has one. */
static void canary_check(const struct page *pg, const void *p, const char *op)
{
	unsigned slack = pg->canary;
	if (likely(!slack))
		return;
	size_t size = ((size_t)pg->npages << PAGE_SHIFT) - slack;
	uint64_t v = canary_value(p);
	if (unlikely(memcmp((const char *)p + size, &v, KMIN((size_t)slack, sizeof v)) != 0))
		canary_report(pg, p, op);
}

void kmalloc_validate(void)
{
	for (unsigned n = 0; n < knr_nodes; n++)
		for (unsigned zi = 0; zi < KNR_ZONES; zi++) {
			struct kzone *z = &knodes[n].zones[zi];
			klock(&z->lock);   /* no block goes back to the zone meanwhile */
			for (struct kchunk *c = z->chunks; c; c = c->next)
				for (size_t pfn = 0; pfn < KCHUNK_PAGES; pfn++)
					if (kinfo_kind(__atomic_load_n(&c->info[pfn], __ATOMIC_ACQUIRE)) == KPG_LARGE &&
					    c->pages[pfn].canary)
						canary_check(&c->pages[pfn], kpage_address(&c->pages[pfn]),
						             "kalloc_validate");
			kunlock(&z->lock);
		}
}

/* ------------------------------------------------------------------ */
/* allocation                                                          */
/* ------------------------------------------------------------------ */

static void *large_alloc(size_t size, size_t align, gfp_t gfp, bool *zeroed)
{
	size_t npages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	unsigned align_order = 0;
	if (align > PAGE_SIZE)
		align_order = (unsigned)__builtin_ctzl(align) - PAGE_SHIFT;
	struct page *pg = kpage_alloc_exact(gfp, npages, align_order);
	if (!pg)
		return NULL;
	kpage_set_tails(pg, npages, KPG_TAIL);
	if (zeroed)
		*zeroed = (pg->flags & KPF_ZEROED) != 0;
	canary_arm(pg, kpage_address(pg), size);
	return kpage_address(pg);
}

/* An object of class cls from the class's cache of zone zi (KZONE_DMA or
 * KZONE_DMA32), made on first use; NULL when out of memory. */
static void *zone_class_alloc(unsigned zi, unsigned cls, gfp_t gfp)
{
	unsigned k = zi == KZONE_DMA ? 0 : 1;
	struct kmem_cache *c = &kmalloc_zone_caches[k][cls];
	if (unlikely(!atomic_load_explicit(&kmalloc_zone_ready[k][cls], memory_order_acquire))) {
		char name[KCACHE_NAME_LEN];
		class_name(name, k == 0 ? "dma-" : "dma32-", cls);
		if (kcache_init_once(c, &kmalloc_zone_ready[k][cls], name, kmalloc_class_size[cls], class_align(cls),
		                     (k == 0 ? SLAB_CACHE_DMA : SLAB_CACHE_DMA32) | KSLAB_FREE_TAG) != 0)
			return NULL;
	}
	void *obj;
	if (kslab_alloc_bulk(c, gfp, 1, &obj) != 1)
		return NULL;
	if (c->tagged)
		*kslab_tag_word(c, obj) = 0;
	return obj;
}

void *kalloc_any(size_t size, size_t align, gfp_t gfp, bool *zeroed)
{
	void *p = NULL;
	bool z = false;
	if (unlikely(size > (size_t)PTRDIFF_MAX || align > ((size_t)PTRDIFF_MAX >> 1) + 1))
		goto fail;
	if (unlikely(size == 0)) {
		/* kmalloc(0), memalign(a, 0): the zero-size region, unless it
		 * is off or full (then a block of the smallest class) */
		p = kzero_alloc(align, gfp);
		if (p) {
			if (zeroed)
				*zeroed = true;   /* nothing to clear */
			return p;
		}
	}
	if (align <= 16)
		align = 0;
	bool low_zone = (gfp & (__GFP_DMA | __GFP_DMA32)) != 0;
	if (align <= PAGE_SIZE) {
		unsigned cls = align ? kmalloc_aligned_class(size, align)
		                     : (size <= KMALLOC_MAX_CACHE_SIZE ? kmalloc_index(size) : KMALLOC_NR_CLASSES);
		if (unlikely(low_zone)) {
			if (cls < KMALLOC_NR_CLASSES) {
				p = zone_class_alloc(kgfp_zone(gfp), cls, gfp);
				goto out;
			}
		} else if (cls < KMALLOC_NR_CLASSES) {
			/* A failure is reported by the front cache's slow path. */
			p = kfront_pop(cls, gfp);
			if (p && kmalloc_caches[cls].tagged)
				*kslab_tag_word(&kmalloc_caches[cls], p) = 0;
			if (p && zeroed)
				*zeroed = false;
			if (p && kslab_debug(&kmalloc_caches[cls]))
				kslab_debug_set_size(&kmalloc_caches[cls], p, size);
			return p;
		}
		/* A page class, unless the caller wants zeroed memory (a fresh
		 * block may be known zero: no memset) or a low zone, or blocks
		 * are debugged (exact blocks: the red zone follows the size
		 * asked for). */
		if (!low_zone && size > KMALLOC_MAX_CACHE_SIZE && size <= KMALLOC_PAGE_CLASS_MAX &&
		    !(gfp & __GFP_ZERO) && likely(!kslab_block_flags)) {
			p = kfront_pop(kmalloc_index(size), gfp);
			if (p) {
				struct kchunk *c = kchunk_of(p);
				kpage_set_info(kchunk_page(c, p), KPG_LARGE);   /* out of the cache */
				canary_arm(kchunk_page(c, p), p, size);
				if (zeroed)
					*zeroed = false;
			}
			return p;
		}
	}
	/* Debugged blocks end with a red zone and their state (slab.h). */
	size_t extra = unlikely(kslab_block_flags) ? KDBG_BLOCK_EXTRA : 0;
	if (size + extra <= KMAX_ORDER_SIZE && align <= KMAX_ORDER_SIZE) {
		p = large_alloc(size + extra ? size + extra : 1, align, gfp, &z);
		if (p && low_zone)   /* krealloc keeps the zone asked for */
			kchunk_page(kchunk_of(p), p)->flags |= KPF_ZONED;
		if (p && extra)
			kdbg_block_alloc(p, size, (size_t)kchunk_page(kchunk_of(p), p)->npages << PAGE_SHIFT);
		goto out;
	}
	if (low_zone)
		goto fail;
	/* (the area's record is a debug cache's object: its allocation takes
	 * the caller noted for the area's state) */
	const void *caller = kslab_caller;
	p = kvm_alloc(size + extra, align, gfp, &z);
	if (p && extra) {
		kslab_caller = caller;
		kdbg_block_alloc(p, size, kvm_usable(p));
	}
out:
	if (likely(p)) {
		if (zeroed)
			*zeroed = z;
		return p;
	}
fail:
	kalloc_fail(size, gfp, "kmalloc");
	return NULL;
}

/* ------------------------------------------------------------------ */
/* freeing and sizes                                                   */
/* ------------------------------------------------------------------ */

/* What a valid pointer is: a slab object, a page block, a huge area or a
 * slot of the zero-size region. */
enum kblock { KB_SLAB, KB_LARGE, KB_HUGE, KB_ZERO };

struct kblock_info {
	enum kblock kind;
	struct page *pg;           /* slab head or page block head */
	struct kmem_cache *cache;  /* KB_SLAB */
	size_t usable;
};

/* Classifies p; reports and aborts for a pointer kalloc never returned
 * (`op` names the caller).  With `huge_size`, the size of a huge area is
 * looked up too (a lock round trip). */
static void classify(const void *p, const char *op, bool huge_size, struct kblock_info *bi)
{
	struct kchunk *c = kchunk_of(p);
	if (c && !kchunk_pfn_mapped(c, ((uintptr_t)p - c->base) >> PAGE_SHIFT))
		c = NULL;   /* in ZONE_DMA's chunk, outside its blocks: not kalloc's page */
	if (c) {
		struct page *pg = kchunk_page(c, p);
		switch (kpage_kind(pg)) {
		case KPG_SLAB:
		case KPG_KSLAB:
			bi->kind = KB_SLAB;
			bi->pg = pg->head;
			bi->cache = kpage_kind(pg) == KPG_KSLAB ? &kmalloc_caches[kpage_info(pg) - KINFO_KSLAB_BASE] : pg->head->slab_cache;
			if (unlikely(!bi->cache))
				kbad_pointer(p, op, "in an empty slab on its way back (or waiting for an RCU grace period): freed already, double free");
			kslab_check_object(bi->cache, bi->pg, p, op);
			bi->usable = kslab_debug(bi->cache) ? kslab_debug_size(bi->cache, p) : bi->cache->object_size;
			return;
		case KPG_LARGE:
			if (kpage_address(pg) != p)
				break;
			bi->kind = KB_LARGE;
			bi->pg = pg;
			bi->usable = (size_t)pg->npages << PAGE_SHIFT;
			if (unlikely(kslab_block_flags) && huge_size)
				bi->usable = kdbg_block_size(p, bi->usable, op);
			return;
		case KPG_TAIL:
			kbad_pointer(p, op, "inside a page block, not at its start");
		case KPG_CACHED:
			if (kslab_block_flags && kpage_address(pg) == p)   /* in the block quarantine */
				kdbg_block_size(p, (size_t)pg->npages << PAGE_SHIFT, op);
			kbad_pointer(p, op, "a page block freed already: double free");
		case KPG_NONE:
		case KPG_FREE_HEAD:
			kbad_pointer(p, op, "in free memory: freed already (double free?) or never allocated");
		default:
			break;
		}
		kbad_pointer(p, op, "not a block allocated by kalloc");
	}
	bi->pg = NULL;
	bi->usable = 0;
	if (unlikely(kzero_owns(p))) {
		zero_check(p, op, false);
		bi->kind = KB_ZERO;
		return;
	}
	bi->kind = KB_HUGE;
	if (huge_size && !(bi->usable = kvm_usable(p)))
		kbad_pointer(p, op, kvm_contains(p) ? "inside a huge block, not at its start" : "not allocated by kalloc");
	if (huge_size && unlikely(kslab_block_flags) && kdbg_block_state(p, bi->usable) >= 0)
		bi->usable = kdbg_block_size(p, bi->usable, op);
}

/* A page block of a page class's size (from the normal zone) goes to its
 * class's front cache; false for any other. */
static bool page_class_free(struct page *pg)
{
	size_t bytes = (size_t)pg->npages << PAGE_SHIFT;
	if (bytes <= KMALLOC_MAX_CACHE_SIZE || bytes > KMALLOC_PAGE_CLASS_MAX ||
	    kpage_chunk(pg)->zone != KZONE_NORMAL)
		return false;
	unsigned cls = kmalloc_index(bytes);
	if (kmalloc_class_size[cls] != bytes || kmalloc_caches[cls].front_idx < 0)
		return false;
	kpage_set_info(pg, KPG_CACHED);
	kfront_push(cls, kpage_address(pg));
	return true;
}

/* ------------------------------------------------------------------ */
/* free tags (kmalloc.h, slab.h)                                       */
/* ------------------------------------------------------------------ */

/* Free object p of tagged cache c held its tag: a double free if p is
 * free, in a front cache or in its slab; otherwise the program's data
 * equalled the tag, and free goes on.  An object between a stack and its
 * slab (another thread's refill or spill under way) is in neither for a
 * moment: looked for twice more. */
/* Where free object p of tagged cache c lies (a front cache, its slab),
 * or NULL when it is not free: its tag word was the program's data. */
static const char *tag_free_where(struct kmem_cache *c, void *p)
{
	for (int round = 0; round < 3; round++) {
		const char *where;
		if (c->front_idx >= 0 && kfront_holds((unsigned)c->front_idx, p))
			where = kfront_mode == KF_THREAD ? "in a thread's front cache" : "in a per-CPU cache";
		else
			where = kslab_free_where(c, p);
		if (where)
			return where;
		if (*kslab_tag_word(c, p) != kslab_tag(p))
			return NULL;
		kcpu_relax();
	}
	return NULL;
}

KNOINLINE void kmalloc_tag_hit(struct kmem_cache *c, void *p)
{
	if (!kslab_harden)
		return;
	const char *where = tag_free_where(c, p);
	if (where)
		kpanic("double free of object %p (cache %s, object size %u): the object is free already, %s",
		       p, c->name, c->object_size, where);
}

KNOINLINE void kmalloc_free_tag_hit(void *p)
{
	struct kmem_cache *c = kslab_of(p)->slab_cache;   /* free's fast path checked p */
	kmalloc_tag_hit(c, p);
	*kslab_tag_word(c, p) = kslab_tag(p);
	kfront_push((unsigned)c->front_idx, p);
}

KNOINLINE void kmalloc_free_spill(void *p, size_t info)
{
	kfront_free_slow((unsigned)(info - KINFO_KSLAB_BASE), p);
}

/* Free's tag check for a slab object taken by kfree_any (an 8-byte
 * object, a zone class, free's fast path handed over), then the tag. */
static void tag_free(struct kmem_cache *c, void *p)
{
	uint64_t *w = kslab_tag_word(c, p);
	if (unlikely(*w == kslab_tag(p)) || (c->object_size < 16 && kslab_fp_plausible(c, p)))
		kmalloc_tag_hit(c, p);
	*w = kslab_tag(p);
}

/*
 * Under block debugging (kslab_block_flags: KALLOC_HARDEN=full, or
 * KALLOC_DEBUG for every cache) a page block or huge area is checked and
 * poisoned when freed (kdbg_block_free), then waits in the block
 * quarantine; the one leaving it (its poison checked: a write after free)
 * goes back to the page layer or to vmalloc.  A page block in the
 * quarantine has the kind KPG_CACHED, so a second free, realloc or
 * malloc_usable_size of it is reported (classify).  A huge area keeps its
 * mapping there, and its state says it is free.  An area made by vmalloc()
 * and freed with kvfree has no state: it is freed as without debugging.
 */
/* A block leaving the block quarantine goes back. */
static void block_release(void *p)
{
	struct kchunk *c = kchunk_of(p);
	if (c) {
		struct page *pg = kchunk_page(c, p);
		kpage_set_info(pg, KPG_LARGE);
		kpage_free(pg);
	} else {
		kvm_free(p);
	}
}

static void debug_block_free(const struct kblock_info *bi, const void *p, const char *op)
{
	size_t extent = bi->kind == KB_LARGE ? (size_t)bi->pg->npages << PAGE_SHIFT : kvm_usable(p);
	if (bi->kind == KB_HUGE && (!extent || kdbg_block_state(p, extent) < 0)) {
		if (!kvm_free(p))
			kbad_pointer(p, op, kvm_contains(p) ? "inside a huge block, not at its start"
			                                   : "not allocated by kalloc");
		return;
	}
	kdbg_block_free((void *)p, extent);
	if (bi->kind == KB_LARGE)
		kpage_set_info(bi->pg, KPG_CACHED);
	size_t out_extent;
	void *out = kdbg_block_quarantine((void *)p, extent, &out_extent);
	if (out)
		block_release(out);
}

size_t kmalloc_flush_blocks(void)
{
	size_t bytes = 0, extent;
	void *out;
	while ((out = kdbg_block_quarantine_pop(&extent)) != NULL) {
		block_release(out);
		bytes += extent;
	}
	return bytes;
}

void kfree_any(const void *p, const char *op)
{
	struct kblock_info bi;
	if (!p)
		return;
	classify(p, op, false, &bi);
	if (unlikely(kslab_block_flags) && (bi.kind == KB_LARGE || bi.kind == KB_HUGE)) {
		debug_block_free(&bi, p, op);
		return;
	}
	switch (bi.kind) {
	case KB_SLAB:
		if (bi.cache->tagged)
			tag_free(bi.cache, (void *)p);
		if (bi.cache->front_idx >= 0)
			kfront_push((unsigned)bi.cache->front_idx, (void *)p);
		else
			kslab_free_one(bi.cache, bi.pg, (void *)p);
		return;
	case KB_LARGE:
		canary_check(bi.pg, p, op);
		bi.pg->canary = 0;
		if (!page_class_free(bi.pg))
			kpage_free(bi.pg);
		return;
	case KB_HUGE:
		if (!kvm_free(p))
			kbad_pointer(p, op, kvm_contains(p) ? "inside a huge block, not at its start"
			                                   : "not allocated by kalloc");
		return;
	case KB_ZERO:
		zero_check(p, op, true);
		return;
	}
}

/* The kmalloc class kalloc_any takes a request of size >= 16 bytes aligned
 * to align (a power of two) from, or KMALLOC_NR_CLASSES when it gives a page
 * block or a huge area. */
static unsigned request_class(size_t size, size_t align)
{
	if (align <= 16)
		return size <= KMALLOC_MAX_CACHE_SIZE ? kmalloc_index(size) : KMALLOC_NR_CLASSES;
	return align <= PAGE_SIZE ? kmalloc_aligned_class(size, align) : KMALLOC_NR_CLASSES;
}

void kfree_sized(const void *p, size_t size, size_t align, const char *op)
{
	struct kblock_info bi;
	if (!p)
		return;
	classify(p, op, true, &bi);
	bool ok = bi.usable >= size;
	if (ok && (align == 0 || KIS_POW2(align))) {
		/* A request of a slab class gets an object of exactly that
		 * class; any other, a page block or a huge area. */
		unsigned want = request_class(KMAX(size, 16), align);
		if (bi.kind == KB_SLAB)
			ok = want < KMALLOC_NR_CLASSES && bi.cache == &kmalloc_caches[want];
		else if (bi.kind == KB_ZERO)
			ok = size == 0;   /* new(0)'s */
		else
			ok = want == KMALLOC_NR_CLASSES;
	}
	if (unlikely(!ok))
		kpanic("%s(): size %zu does not fit block %p (%zu bytes, %s)", op, size, p, bi.usable,
		       bi.kind == KB_SLAB    ? bi.cache->name
		       : bi.kind == KB_LARGE ? "page block"
		       : bi.kind == KB_ZERO  ? "zero-size block"
		                             : "huge area");
	kfree_any(p, op);
}

void *kblock_start(const void *p, struct kmem_cache **cache)
{
	*cache = NULL;
	struct kchunk *ch = kchunk_of(p);
	if (!ch)
		return kvm_start(p);
	struct page *pg = kchunk_page(ch, p);
	switch (kpage_kind(pg)) {
	case KPG_SLAB:
	case KPG_KSLAB: {
		struct page *s = pg->head;
		struct kmem_cache *c = kpage_kind(pg) == KPG_KSLAB ? &kmalloc_caches[kpage_info(pg) - KINFO_KSLAB_BASE]
		                                                   : s->slab_cache;
		if (!c)
			return NULL;
		uintptr_t base = (uintptr_t)kpage_address(s);
		size_t i = ((uintptr_t)p - base) / c->size;
		if (i >= c->objects || (uintptr_t)p - base - i * c->size >= c->object_size)
			return NULL;
		*cache = c;
		return (void *)(base + i * c->size);
	}
	case KPG_TAIL:
		while (pg > ch->pages && kpage_kind(pg) == KPG_TAIL)
			pg--;
		if (kpage_kind(pg) != KPG_LARGE || (uintptr_t)p >= (uintptr_t)kpage_address(pg) + kpage_extent(pg) * PAGE_SIZE)
			return NULL;
		return kpage_address(pg);
	case KPG_LARGE:
		return kpage_address(pg);
	default:
		return NULL;
	}
}

/* The program may use every byte: the canary goes. */
size_t kusable_any(const void *p, const char *op)
{
	struct kblock_info bi;
	classify(p, op, true, &bi);
	if (bi.kind == KB_SLAB && kslab_debug(bi.cache))
		kslab_debug_check_live(bi.cache, p, op);
	/* a freed object holds its free tag: confirmed, it is reported */
	if (bi.kind == KB_SLAB && bi.cache->tagged && kslab_harden &&
	    unlikely(*kslab_tag_word(bi.cache, (void *)p) == kslab_tag(p))) {
		const char *where = tag_free_where(bi.cache, (void *)p);
		if (where)
			kpanic("%s() of a freed object %p (cache %s, object size %u): the object is free already, %s",
			       op, p, bi.cache->name, bi.cache->object_size, where);
	}
	if (bi.kind == KB_LARGE) {
		canary_check(bi.pg, p, op);
		bi.pg->canary = 0;
	}
	return bi.usable;
}

/* The zone modifier a block was asked for with: its cache's (dma-kmalloc-N,
 * SLAB_CACHE_DMA*), or its zone's for a page block allocated with one. */
static gfp_t block_zone_gfp(const struct kblock_info *bi)
{
	switch (bi->kind) {
	case KB_SLAB:
		return bi->cache->allocflags;
	case KB_LARGE:
		return (bi->pg->flags & KPF_ZONED) ? kzone_gfp(kpage_chunk(bi->pg)->zone) : 0;
	default:
		return 0;
	}
}

void *krealloc_any(void *p, size_t size, gfp_t gfp, const char *op)
{
	struct kblock_info bi;
	classify(p, op, true, &bi);
	if (bi.kind == KB_SLAB && kslab_debug(bi.cache))
		kslab_debug_check_live(bi.cache, p, op);
	size_t old = bi.usable;
	if (size > (size_t)PTRDIFF_MAX) {
		kalloc_fail(size, gfp, op);
		return NULL;
	}
	/* A moved block keeps the zone it was asked for, and takes the one
	 * asked for now if that is stricter; it stays where it is only if its
	 * memory lies in that zone. */
	gfp |= block_zone_gfp(&bi);
	bool zone_ok = bi.kind == KB_HUGE || bi.kind == KB_ZERO ? kgfp_zone(gfp) == KZONE_NORMAL
	                                  : kgfp_zone(gfp) >= kpage_chunk(bi.pg)->zone;
	switch (bi.kind) {
	case KB_SLAB:
		/* Keep the block when the size still maps to its class. */
		if (zone_ok && size <= old && (size > old / 2 || size <= 16)) {
			if (kslab_debug(bi.cache))
				kslab_debug_set_size(bi.cache, p, size);   /* the red zone moves */
			return p;
		}
		break;
	case KB_LARGE:
		canary_check(bi.pg, p, op);
		/* (a debugged block moves: its red zone and state are at its end) */
		if (zone_ok && !kslab_block_flags && size > KMALLOC_MAX_CACHE_SIZE && size <= KMAX_ORDER_SIZE &&
		    ((size + PAGE_SIZE - 1) >> PAGE_SHIFT) <= bi.pg->npages) {
			kpage_shrink(bi.pg, (size + PAGE_SIZE - 1) >> PAGE_SHIFT);
			canary_arm(bi.pg, p, size);   /* it moves to the new end */
			return p;
		}
		break;
	case KB_HUGE:
		if (zone_ok && size > KMAX_ORDER_SIZE) {
			/* A debugged area is checked as a free would, and its red
			 * zone and state move to its new end. */
			size_t extra = 0, extent = unlikely(kslab_block_flags) ? kvm_usable(p) : 0;
			if (extent && kdbg_block_state(p, extent) >= 0) {
				kdbg_block_check(p, extent);
				extra = KDBG_BLOCK_EXTRA;
			}
			void *n = kvm_realloc(p, size + extra);
			if (!n)
				kalloc_fail(size, gfp, op);
			else if (extra)
				kdbg_block_alloc(n, size, kvm_usable(n));
			return n;
		}
		break;
	case KB_ZERO:
		break;   /* nothing to copy */
	}
	void *n = kalloc_any(size, 0, gfp, NULL);
	if (!n)
		return NULL;
	memcpy(n, p, KMIN(old, size));
	kfree_any(p, op);
	return n;
}
