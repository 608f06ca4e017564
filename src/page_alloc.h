/* SPDX-License-Identifier: MIT */
/*
 * page_alloc.h - the page layer (page_alloc.c): chunks, struct page, zones
 * and the buddy allocator.
 */
#ifndef KALLOC_PAGE_ALLOC_H
#define KALLOC_PAGE_ALLOC_H

#include "rcu.h"

#pragma GCC visibility push(hidden)

/* A chunk is the unit reserved from the OS: 64 MiB, aligned to its size, so
 * chunk_of(p) = p & ~(KCHUNK_SIZE-1). */
#define KCHUNK_SHIFT   26
#define KCHUNK_SIZE    (1UL << KCHUNK_SHIFT)
#define KCHUNK_PAGES   (KCHUNK_SIZE >> PAGE_SHIFT)
/* User addresses are below 2^47 (x86-64 4-level paging; we never pass a high
 * hint to mmap, so the kernel never hands out 5-level addresses). */
#define KADDR_BITS     47
#define KREGISTRY_LEN  (1UL << (KADDR_BITS - KCHUNK_SHIFT))

#define KMAX_ORDER_SIZE (PAGE_SIZE << MAX_ORDER)   /* 4 MiB */

/*
 * struct page (named struct page in the public header, opaque there): one per
 * 4 KiB page of a chunk, in the chunk's mem_map.
 *
 * The page's info word, which free() reads first, is kept apart from the
 * descriptor, in the chunk's info[] array: 16 pages' words per cache line,
 * written only when a page changes kind, so free's read never shares a line
 * with the slab state other CPUs update (remote, inuse).  Its low byte is the
 * page's kind:
 *   KPG_FREE_HEAD   head of a free buddy block of `order` (on a free list)
 *   KPG_SLAB        page of a slab of a cache created with kmem_cache_create,
 *                   or of a kmalloc class that free's fast check cannot
 *                   handle; `head` -> head page, whose slab_cache names the
 *                   cache
 *   KPG_KSLAB       page of a slab of a kmalloc class: the whole word is
 *                   KINFO_KSLAB_BASE + class, so free's one comparison,
 *                   (info - base) < KMALLOC_NR_CLASSES, tests the kind and
 *                   yields the class
 *   KPG_LARGE       head of a page block from alloc_pages / kmalloc large;
 *                   `npages` pages long
 *   KPG_TAIL        other pages of a KPG_LARGE block (no head pointer: the
 *                   kind alone says a pointer there is not a block's start)
 *   KPG_RESERVED    taken off the free lists while being released
 *   KPG_CACHED      head of a page block of a page cache (slab.c) sitting in
 *                   a front cache or waiting for a shrink: allocated in the
 *                   buddy allocator, free for the program (freeing it again
 *                   is a double free)
 *   0               inside a free block (stale fields, never followed)
 * A page whose kind says nothing reliable (0, or a stale tail) is checked
 * against its head's range before anything is trusted.
 */
enum {
	KPG_NONE = 0,
	KPG_FREE_HEAD = 1,
	KPG_SLAB = 2,
	KPG_LARGE = 3,
	KPG_TAIL = 4,
	KPG_RESERVED = 5,
	KPG_KSLAB = 6,
	KPG_CACHED = 7,
};
#define KINFO_KSLAB_BASE 0x40u   /* info of a kmalloc slab page: base + class */
KINLINE unsigned kinfo_kind(uint32_t info)
{
	unsigned k = info & 0xff;
	return k >= KINFO_KSLAB_BASE ? KPG_KSLAB : k;
}

struct kmem_cache;

struct page {
	uint8_t order;        /* buddy order of the block this page heads */
	uint8_t flags;        /* KPF_* */
	uint16_t canary;      /* LARGE head from kmalloc's routing, held by the
	                         program: the bytes from the size asked for to
	                         the block's end, where a canary lies (kmalloc.c,
	                         KALLOC_HARDEN); 0: none */
	union {
		uint32_t npages;  /* LARGE head: pages in the block (exact size) */
		uint32_t dirty;   /* FREE head: pages of the block that may be backed */
	};
	_Atomic uint32_t inuse;    /* slab: objects not on freelist nor remote-adopted */
	union {
		uint32_t carved;       /* slab: objects handed out from never-used memory */
		uint32_t dirty_est;    /* FREE head: estimate of its backed pages (<= dirty) */
	};
	union {
		struct {
			struct page *next;    /* free list / slab partial list links */
			struct page *prev;
		};
		/* An empty slab of a SLAB_TYPESAFE_BY_RCU cache, waiting for a
		 * grace period before it goes back (slab.c): off every list. */
		struct krcu_head rcu;
	};
	struct page *head;    /* SLAB pages: the head page; LARGE head: itself */
	/* Slab state (head page of a slab; see slab.c). */
	struct kmem_cache *slab_cache;
	union {
		void *freelist;            /* encoded list, protected by the cache lock */
		struct kmem_cache *rcu_cache;  /* waiting for a grace period: its cache
		                                  (slab_cache is NULL meanwhile) */
	};
	_Atomic uint64_t remote;   /* lock-free list of remote frees: ptr | FULL, count << 48 */
};
_Static_assert(sizeof(struct page) == 64, "struct page is one cache line");

/* page flags */
#define KPF_ZEROED   0x01   /* (allocated block) the memory is known to read as zero */
#define KPF_LISTED   0x02   /* (slab) on its cache's partial list; under the cache lock */
#define KPF_WHOLE    0x04   /* (exact block) owns its whole 2^order block: tail not given back */
#define KPF_ZONED    0x08   /* (kmalloc page block) asked for in its zone with a zone modifier */

/* Pages an allocated block occupies: npages, or its whole power-of-two
 * block (KPF_WHOLE). */
KINLINE size_t kpage_extent(const struct page *head)
{
	return (head->flags & KPF_WHOLE) ? 1UL << head->order : head->npages;
}

/* Max-order blocks per chunk: `mapped` has a bit for each. */
#define KCHUNK_BLOCKS  (KCHUNK_PAGES >> MAX_ORDER)
#define KCHUNK_ALL_MAPPED ((uint16_t)((1u << KCHUNK_BLOCKS) - 1))
_Static_assert(KCHUNK_BLOCKS == 16, "a chunk's mapped blocks fit 16 bits");

/*
 * A chunk: 64 MiB of address space, its page info words and its mem_map.
 * A chunk of ZONE_NORMAL or ZONE_DMA32 is mapped whole.  ZONE_DMA's chunk
 * (base 0, registry index 0) is mapped a max-order block at a time, only
 * below the zone's 16 MiB limit and only where nothing else was: `mapped`
 * says which of its blocks are, `first_pfn` where block 0 starts (the pages
 * below mmap_min_addr, and page 0 always, are never mapped).  Pages not
 * mapped keep info word 0 for ever: never a free head, so no buddy merges
 * into them, and never on a free list.
 */
struct kchunk {
	uintptr_t base;            /* start of the 64 MiB range */
	struct kchunk *next;       /* zone's chunk list */
	uint8_t zone;
	uint8_t node;              /* its node (knodes[] index) */
	uint16_t mapped;           /* bit b: pages [b << MAX_ORDER, (b + 1) << MAX_ORDER) mapped
	                              (from first_pfn in block 0) */
	uint8_t fresh;             /* max-order blocks from this one on were never
	                              used: free, counted free, but on no list and
	                              with their descriptors and info words never
	                              written (KCHUNK_BLOCKS: none) */
	uint32_t first_pfn;        /* first mapped page of block 0 (ZONE_DMA's chunk) */
	uint32_t info[KCHUNK_PAGES];   /* kind | data << 8, per page */
	struct page pages[KCHUNK_PAGES];
};

/* Whether page pfn of chunk c is mapped (every page of a whole chunk). */
KINLINE bool kchunk_pfn_mapped(const struct kchunk *c, size_t pfn)
{
	return ((c->mapped >> (pfn >> MAX_ORDER)) & 1) && pfn >= c->first_pfn;
}
/* Pages mapped in chunk c. */
KINLINE size_t kchunk_present_pages(const struct kchunk *c)
{
	size_t n = (size_t)__builtin_popcount(c->mapped) << MAX_ORDER;
	return (c->mapped & 1) ? n - c->first_pfn : n;
}

/* Zones, as in the kernel (the public enum zone_type). */
enum {
	KZONE_DMA = ZONE_DMA,
	KZONE_DMA32 = ZONE_DMA32,
	KZONE_NORMAL = ZONE_NORMAL,
	KNR_ZONES = __MAX_NR_ZONES
};
/* The GFP bits that choose a zone. */
#define KGFP_ZONEMASK (__GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32)
/* The zone GFP flags ask for: the strictest of their modifiers
 * (__GFP_HIGHMEM is a preference for ZONE_NORMAL). */
KINLINE unsigned kgfp_zone(gfp_t gfp)
{
	if (gfp & __GFP_DMA)
		return KZONE_DMA;
	if (gfp & __GFP_DMA32)
		return KZONE_DMA32;
	return KZONE_NORMAL;
}
/* The zone modifier that asks for zone zi. */
KINLINE gfp_t kzone_gfp(unsigned zi)
{
	return zi == KZONE_DMA ? __GFP_DMA : zi == KZONE_DMA32 ? __GFP_DMA32 : 0;
}

struct kfree_area {
	struct page *head;         /* doubly linked list of free block heads: */
	struct page *tail;         /* dirty ones from the head, clean ones at the tail */
	size_t nr_free;
};

struct kzone {
	klock_t lock;
	const char *name;
	uint8_t idx;               /* its zone number (KZONE_*) */
	uint8_t node;              /* its node's id */
	uintptr_t limit;           /* highest address + 1 allowed in the zone (0: none) */
	struct kfree_area free_area[MAX_ORDER + 1];
	size_t nr_free_pages;      /* pages in free blocks, fresh ones included */
	size_t nr_fresh;           /* max-order blocks of its chunks never used
	                              (kchunk.fresh), in free_area[MAX_ORDER].nr_free
	                              but on no list: rmqueue lists one when it
	                              needs it */
	size_t nr_dirty_pages;     /* sum of `dirty_est` over free blocks */
	size_t nr_present_pages;   /* pages in the zone's chunks */
	size_t nr_released_total;  /* pages given back to the OS, ever */
	size_t nr_reserved_pages;  /* taken off the free lists by a release in flight */
	_Atomic size_t charged;    /* pages held against the limit, published by
	                              each critical section as it ends */
	size_t min_pages;          /* the reserve (min watermark): free pages only
	                              __GFP_HIGH, __GFP_NOFAIL and reclaim may take */
	size_t dirty_high;         /* the base of the high mark (KALLOC_DIRTY_MAX) */
	size_t dirty_mark;         /* the high mark now: dirty_high, raised while
	                              released memory is wanted again at once */
	size_t dirty_min;          /* least nr_dirty_pages since the last decay */
	uint64_t last_decay_ns;    /* last decay release (kos_now_ns) */
	uint64_t last_high_ns;     /* last release at the high mark */
	size_t last_release_est;   /* estimated backed pages the last release took */
	size_t clean_taken;        /* clean pages allocated since then */
	bool release_failing;      /* the last release was refused (mlocked memory) */
	unsigned decay_tick;       /* frees since the clock was last read */
	size_t peak_used;          /* most pages in use since the last decay */
	size_t peak_used_prev;     /* most pages in use in the period before */
	struct kchunk *chunks;
	struct kchunk *spare;      /* mem_maps of unmapped chunks, for reuse */
	unsigned nr_chunks;
};

/*
 * A node (the kernel's pg_data_t): the zones of one NUMA node.  Chunks
 * belong to one node's zone (kchunk.node, kchunk.zone); an allocation takes
 * the node of the CPU it runs on (knode_local).  knr_nodes is 1 on a machine
 * whose /sys shows one node, and wherever no node map can be read.
 */
#define KMAX_NUMNODES 8
struct knode {
	unsigned id;
	struct kzone zones[KNR_ZONES];
};

extern struct knode knodes[KMAX_NUMNODES];
extern unsigned knr_nodes;
/* The node of each CPU, read at init (used when knr_nodes > 1); CPUs past
 * the map are node 0's. */
#define KNODE_MAP_CPUS 4096
extern uint8_t kcpu_node[KNODE_MAP_CPUS];

/* The zone a chunk belongs to. */
KINLINE struct kzone *kchunk_zone(const struct kchunk *c)
{
	return &knodes[c->node].zones[c->zone];
}

/* Test hook: zone_grow refuses to map memory for the zones whose bits
 * (1 << zone) are set here, as when the OS refuses (unit tests only). */
extern unsigned kpage_grow_refused;
/* kchunk_registry[addr >> KCHUNK_SHIFT]: the chunk, or NULL.  A static
 * (bss) table: untouched pages cost nothing, and it is valid before any
 * initialisation, so free() needs no "initialised?" test.  Entries are
 * published with release stores under the zone lock.  An entry is cleared
 * when reclaim unmaps a chunk that is entirely free; the chunk's mem_map
 * stays mapped (reading as zeros) and is reused for the next chunk, so a
 * racing lookup through a stale entry reads a harmless zero kind. */
extern struct kchunk *_Atomic kchunk_registry[KREGISTRY_LEN];
/* kinfo_map[addr >> KCHUNK_SHIFT]: the chunk's info array minus
 * (base >> PAGE_SHIFT) words, or 0, so free() finds a page's info word with
 * two dependent loads: kinfo_map[a >> 26] + (a >> 12) * 4.  Published and
 * cleared with kchunk_registry. */
extern _Atomic uintptr_t kinfo_map[KREGISTRY_LEN];

/* Sets up the zones (reads ktune.dirty_max). */
void kpage_init(void);
/* Allocates 2^order pages from the zone the GFP flags select; the head
 * descriptor is returned with info = KPG_LARGE (callers set their own kind)
 * and npages = 2^order.  Without __GFP_DIRECT_RECLAIM: trylock only, no
 * mapping. */
struct page *kpage_alloc(gfp_t gfp, unsigned order);
/* Allocates exactly npages pages (1 .. 2^MAX_ORDER), aligned to 2^align_order
 * pages.  Sets KPF_ZEROED when all of it is known zero. */
struct page *kpage_alloc_exact(gfp_t gfp, size_t npages, unsigned align_order);
/* Frees a block allocated by kpage_alloc / kpage_alloc_exact (npages from the
 * head descriptor). */
void kpage_free(struct page *head);
/* Shrinks an exact block in place to npages (< head->npages). */
void kpage_shrink(struct page *head, size_t npages);
/* Gives all free backed pages back to the OS; returns bytes released. */
size_t kpage_release_all(void);
/* Unmaps every chunk whose pages are all free; returns bytes unmapped. */
size_t kpage_reclaim_chunks(void);
/* Marks the `npages` descriptors after head as tails of head. */
void kpage_set_tails(struct page *head, size_t npages, uint32_t info);
void kpage_fork_prepare(void);
void kpage_fork_parent(void);
void kpage_fork_child(void);

/*
 * The memory limit (KALLOC_LIMIT, kalloc_set_limit) and reclaim.
 *
 * What counts against the limit ("charged"): the pages of every zone that
 * are allocated or free but possibly backed (present - free + dirty
 * estimate), the huge areas in use or cached (vmalloc.c reports them with
 * kmem_vm_charge), and what allocations in flight have reserved.  kalloc's
 * own metadata (mem_maps, front-cache regions, area records) is not
 * charged.  An allocation that would go above the limit fails; with
 * __GFP_DIRECT_RECLAIM its caller asks kmem_retry whether to try again,
 * which runs the pressure hook (reclaim.c: kalloc's caches, free memory,
 * then the shrinkers) as the GFP flags allow.
 */
/* The limit in pages (0: none). */
extern _Atomic size_t kmem_limit_pages;
/* The part of a limit left to __GFP_HIGH, __GFP_NOFAIL and reclaim. */
KINLINE size_t kmem_limit_reserve(size_t limit) { return KMIN(limit / 64, (size_t)KZONE_MIN_PAGES); }
void kmem_set_limit(size_t bytes);
/* Pages charged now (not counting reservations in flight). */
size_t kmem_charged(void);
/* Reserves `pages` against the limit for an allocation about to be made
 * (false: it would go above; the limit's last 64th is left to __GFP_HIGH,
 * __GFP_NOFAIL and reclaim); kmem_unreserve when its pages are counted. */
bool kmem_reserve(size_t pages, gfp_t gfp);
void kmem_unreserve(size_t pages);
/* vmalloc.c: its mapped pages (areas in use and cached) changed by delta. */
void kmem_vm_charge(long delta);
/* Whether an allocation that failed for want of memory (`pages` wanted)
 * should be tried again: runs the pressure hook as the GFP flags allow
 * (none without __GFP_DIRECT_RECLAIM or inside reclaim; one light pass for
 * __GFP_NORETRY; full passes while they free something, a few by default,
 * more for __GFP_RETRY_MAYFAIL, without end for __GFP_NOFAIL).  *tries
 * starts at 0.  No lock of kalloc may be held. */
bool kmem_retry(gfp_t gfp, size_t pages, unsigned *tries);
/* The pressure hook (registered by reclaim.c): frees what it can, only
 * kalloc's own caches and free memory when `light`; returns the pages
 * the charge went down by. */
void kmem_set_pressure(size_t (*fn)(gfp_t gfp, size_t pages, bool light));
/* Set while this thread reclaims (the kernel's PF_MEMALLOC): its
 * allocations do not reclaim again and may use the zones' reserves. */
extern __thread bool kmem_in_reclaim;

/* A zone's counters, read under its lock. */
struct kzone_stats {
	const char *name;
	size_t nr_free[MAX_ORDER + 1];   /* free blocks per order */
	size_t present, free, dirty, released;   /* pages */
	unsigned chunks;
};
void kpage_zone_stats(unsigned nid, unsigned zi, struct kzone_stats *st);
/* The mapped ranges of a zone's chunks, for residency (stats.c): up to max
 * (start, bytes) pairs into out[2 * i], read under the zone's lock; returns
 * how many it wrote.  The caller asks the OS about them after the call
 * (a chunk unmapped in between reads as not resident). */
unsigned kpage_zone_ranges(unsigned nid, unsigned zi, uintptr_t *out, unsigned max);
/* Free pages of low zone z that allocations for a higher zone falling back
 * to it leave to the zone's own (the kernel's lowmem_reserve).  Under
 * z->lock. */
size_t kpage_lowmem_reserve(const struct kzone *z);

/* The page API's work (kapi.c exports it): checks, reports, zeroing. */
struct page *kpage_api_alloc(gfp_t gfp, unsigned order);
/* Frees a page block by address; reports and aborts for an address that is
 * not the start of a page block of npages pages.  `op` names the caller. */
void kpage_api_free(const void *addr, size_t npages, const char *op);
void *kpage_api_alloc_exact(size_t size, gfp_t gfp);

/* The chunk of an address, or NULL when it is not kalloc's. */
KINLINE struct kchunk *kchunk_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (unlikely(a >> KADDR_BITS))
		return NULL;
	return atomic_load_explicit(&kchunk_registry[a >> KCHUNK_SHIFT], memory_order_acquire);
}

/* Page descriptor of an address inside a chunk. */
KINLINE struct page *kchunk_page(struct kchunk *c, const void *p)
{
	return &c->pages[((uintptr_t)p - c->base) >> PAGE_SHIFT];
}

/* The chunk owning a descriptor: mem_maps are mapped aligned to a power of
 * two at least as large as struct kchunk, so this is a mask. */
#define KMETA_ALIGN (1UL << 21)
_Static_assert(sizeof(struct kchunk) <= KMETA_ALIGN, "a mem_map fits its alignment");
KINLINE struct kchunk *kpage_chunk(const struct page *pg)
{
	return (struct kchunk *)((uintptr_t)pg & ~(KMETA_ALIGN - 1));
}
KINLINE void *kpage_address(const struct page *pg)
{
	struct kchunk *c = kpage_chunk(pg);
	return (void *)(c->base + ((uintptr_t)(pg - c->pages) << PAGE_SHIFT));
}
/* Info words are read without a lock (free, the buddy's merge test) while
 * their page changes kind: atomic, acquire and release (plain moves on
 * x86-64), so a reader that sees a slab's kind sees the slab's state that
 * was written before it. */
KINLINE uint32_t kpage_info(const struct page *pg)
{
	struct kchunk *c = kpage_chunk(pg);
	return __atomic_load_n(&c->info[pg - c->pages], __ATOMIC_ACQUIRE);
}
KINLINE void kpage_set_info(struct page *pg, uint32_t info)
{
	struct kchunk *c = kpage_chunk(pg);
	__atomic_store_n(&c->info[pg - c->pages], info, __ATOMIC_RELEASE);
}
KINLINE unsigned kpage_kind(const struct page *pg) { return kinfo_kind(kpage_info(pg)); }
KINLINE bool kpage_is_slab(const struct page *pg)
{
	return kpage_kind(pg) == KPG_SLAB || kpage_kind(pg) == KPG_KSLAB;
}

#pragma GCC visibility pop

#endif /* KALLOC_PAGE_ALLOC_H */
