/* SPDX-License-Identifier: MIT */
/*
 * slab.h - the slab layer (slab.c): struct kmem_cache and its slabs.
 */
#ifndef KALLOC_SLAB_H
#define KALLOC_SLAB_H

#include "page_alloc.h"

#pragma GCC visibility push(hidden)

#define KCACHE_NAME_LEN 32

/*
 * struct kmem_cache.  Immutable after creation except the fields under
 * `lock` and the counters.  Objects are `size` bytes apart; the free pointer
 * of a free object sits at `fp_offset` (0, or past the object when a
 * constructor or RCU must keep the object's contents).
 */
struct kmem_cache {
	/* read by the free and allocation paths */
	uint32_t size;             /* stride between objects */
	uint32_t object_size;      /* size asked for */
	uint32_t fp_offset;
	bool tagged;               /* free objects carry the free tag (kmalloc
	                              and zone classes, KALLOC_HARDEN >= 1):
	                              see kslab_tag_word */
	uint8_t pad[3];
	uint64_t secret;           /* free pointer hardening */
	uint64_t div_mul;          /* exact-division check: see kslab_obj_valid */
	uint32_t div_shift;
	uint32_t page_info;        /* info word of its slabs' pages: KPG_SLAB, or
	                              KINFO_KSLAB_BASE + class (see kmalloc_init) */
	uint64_t div_limit;
	uintptr_t slab_mask;       /* slabs are aligned to their size: offset = p & mask */
	uint8_t order;             /* slab order */
	uint16_t objects;          /* objects per slab */
	int16_t front_idx;         /* front cache index, -1 for none (set by the
	                              layers above: kmalloc_init, kapi.c) */
	slab_flags_t flags;
	gfp_t allocflags;          /* zone modifier its slabs are allocated with
	                              (SLAB_CACHE_DMA, SLAB_CACHE_DMA32; the
	                              kernel's s->allocflags): the zone bits a
	                              caller passes are replaced by these */
	bool pages;                /* a page cache: each object is an exact page
	                              block (kcache_init_pages); `relist` then
	                              holds blocks put back for the next shrink */
	void (*ctor)(void *);
	struct kmem_cache *next;   /* list of all caches (kcache_list_lock) */
	struct kmem_cache *prev;
	char name[KCACHE_NAME_LEN];

	/* node state */
	klock_t lock;
	struct page *partial;      /* slabs with free objects (circular list) */
	struct page *_Atomic relist;   /* slabs taken off "full" by frees (lock-free stack) */
	size_t nr_partial;
	size_t nr_slabs;
	bool dead;                 /* destroyed (static caches never are) */
	/* Deferred work of this cache waiting for an RCU grace period: its
	 * empty slabs (SLAB_TYPESAFE_BY_RCU) and its objects freed with
	 * kfree_rcu or kmem_cache_free_rcu.  Each deferred call touches the
	 * cache last when it decrements this, so the cache may go once it is
	 * 0 (kslab_destroy, kmem_cache_destroy wait for that). */
	_Atomic size_t rcu_pending;
	_Atomic size_t nr_alloc_total, nr_free_total;

	/* Debugging (flags & KSLAB_DEBUG_FLAGS; see "debugging" in slab.c):
	 * the object is followed by a red zone up to dbg_meta - 8 (the free
	 * pointer, fp_offset, is the 8 bytes before dbg_meta), the struct
	 * kdbg_meta at dbg_meta, and a red zone from dbg_tail to `size`
	 * (before the next object).  dbg: the quarantine, or NULL. */
	uint32_t dbg_meta;
	uint32_t dbg_tail;
	struct kdbg_quarantine *dbg;
} __attribute__((aligned(256)));

/* The flags that make a debug cache: its objects bypass the front caches
 * and go through the checks of the slab layer. */
#define KSLAB_DEBUG_FLAGS \
	(SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER | SLAB_TRACE | SLAB_HARDEN)
KINLINE bool kslab_debug(const struct kmem_cache *c)
{
	return unlikely(c->flags & KSLAB_DEBUG_FLAGS);
}
/* Some cache has debugging on (the upper layers then note their callers
 * in kslab_caller). */
extern bool kslab_debug_any;
/* The caller of the operation under way, for SLAB_STORE_USER: set by the
 * entry points (malloc.c, kapi.c, front.c's slow paths) when
 * kslab_debug_any, taken and cleared by the slab layer's debug hooks. */
extern __thread const void *kslab_caller;
/* At an exported entry point: the caller of this operation. */
KINLINE void kslab_set_caller(const void *ret)
{
	if (unlikely(kslab_debug_any))
		kslab_caller = ret;
}
/* At the end of an entry point: a caller no debug cache took is not left
 * for the next operation. */
KINLINE void kslab_clear_caller(void)
{
	if (unlikely(kslab_debug_any))
		kslab_caller = NULL;
}
/* Inside: the caller, unless an entry point named it. */
KINLINE void kslab_note_caller(const void *ret)
{
	if (unlikely(kslab_debug_any) && !kslab_caller)
		kslab_caller = ret;
}
/* A kmalloc object of debug cache c was asked for with n bytes: its red
 * zone starts at n (as the kernel's kmalloc red zone, orig_size). */
void kslab_debug_set_size(struct kmem_cache *c, void *obj, size_t n);
/* The bytes asked for of a debug cache's object (its usable size). */
size_t kslab_debug_size(const struct kmem_cache *c, const void *obj);
/* Reports (naming op) and aborts unless obj, an object of debug cache c,
 * is allocated: malloc_usable_size or realloc of a freed object. */
void kslab_debug_check_live(const struct kmem_cache *c, const void *obj, const char *op);
/* Checks the red zones and poison of every object of every debug cache;
 * reports and aborts on damage, else returns 0. */
int kslab_validate(void);

/*
 * Debugging of blocks that are no slab's objects: kmalloc's page blocks
 * and huge areas (kmalloc.c), under KALLOC_HARDEN=full and under
 * KALLOC_DEBUG when it names no cache.  kslab_block_flags: their debug
 * flags (set once by kslab_init; 0: off).  A block of `extent` bytes asked
 * for with n bytes is laid out as
 *   [n bytes | red zone | struct kdbg_meta]  (the last KDBG_BLOCK_EXTRA bytes)
 * with the same checks, poison, reports and call sites as a debug cache's
 * objects.  Reports name it a page block (extent up to KMAX_ORDER_SIZE) or
 * a huge area.
 */
extern slab_flags_t kslab_block_flags;
#define KDBG_BLOCK_EXTRA 80u   /* red zone (>= 16 bytes) and kdbg_meta */
/* A block just allocated: red zone from n, state allocated. */
void kdbg_block_alloc(void *p, size_t n, size_t extent);
/* 1: allocated, 0: freed, -1: no debug block (its state word holds
 * neither: a vmalloc'd area freed with kvfree). */
int kdbg_block_state(const void *p, size_t extent);
/* The bytes asked for; reports (naming op) and aborts if p was freed. */
size_t kdbg_block_size(const void *p, size_t extent, const char *op);
/* The free of an allocated block: state (a double free is reported),
 * red zone, then poison and the free's call site. */
void kdbg_block_free(void *p, size_t extent);
/* kdbg_block_free's checks, for a block resized in place (realloc), which
 * then gets kdbg_block_alloc at its new size. */
void kdbg_block_check(void *p, size_t extent);
/* Puts the freed block p in the block quarantine; returns the block that
 * leaves it (its poison checked) with *out_extent, or NULL. */
void *kdbg_block_quarantine(void *p, size_t extent, size_t *out_extent);
/* Takes the oldest block out of the block quarantine (its poison checked),
 * or NULL when it is empty. */
void *kdbg_block_quarantine_pop(size_t *out_extent);

/* Sets up the cache of struct kmem_cache (kmem_cache_boot). */
void kslab_init(void);
/* Initialises a cache in place (the static caches: kmalloc classes,
 * vmalloc's areas) and lists it.  0 or -EINVAL. */
int kcache_init(struct kmem_cache *c, const char *name, size_t size, size_t align,
                slab_flags_t flags, void (*ctor)(void *));
/* kcache_init of a static cache made on first use: once *ready is set
 * (release), c is set up and listed; of several threads calling it at once,
 * one initialises c (under kcache_list_lock, no system call held across
 * it) and all return when it is ready.  0 or -EINVAL. */
int kcache_init_once(struct kmem_cache *c, _Atomic bool *ready, const char *name, size_t size, size_t align,
                     slab_flags_t flags);
/* A page cache: objects of `size` bytes (a page multiple), each an exact
 * page block of the page layer (KPG_LARGE while the program holds it,
 * KPG_CACHED while a front cache does).  For the kmalloc sizes above the
 * slab classes: the front caches keep such blocks per CPU, as the kernel's
 * per-CPU page lists do. */
void kcache_init_pages(struct kmem_cache *c, const char *name, size_t size);
/* A cache for kmem_cache_create, its struct from the kmem_cache cache.
 * NULL with *why set (and *err: EINVAL or ENOMEM) on failure; reports
 * nothing. */
struct kmem_cache *kslab_create(const char *name, size_t size, size_t align, slab_flags_t flags,
                                void (*ctor)(void *), const char **why, int *err);
/* True for the caches kalloc set up itself, which are never destroyed. */
bool kslab_is_builtin(const struct kmem_cache *c);
/* Objects handed out and not freed (front-cached objects count as handed
 * out: drain them first). */
size_t kslab_live(const struct kmem_cache *c);
/* Unlists c, returns its slabs to the page layer and frees its struct.  The
 * caller has made sure no object is live and no front cache holds any.
 * The slabs of a SLAB_TYPESAFE_BY_RCU cache go after a grace period, which
 * this waits for (krcu_barrier), so the caller must not be inside an RCU
 * read-side critical section nor in a deferred call. */
void kslab_destroy(struct kmem_cache *c);

/* Fills out[] with up to n objects (at least 1 unless out of memory).
 * Returns the count. */
unsigned kslab_alloc_bulk(struct kmem_cache *c, gfp_t gfp, unsigned n, void **out);
/* Frees n objects of cache c (each validated: slab of c, object boundary);
 * a slab found empty may go back to the page layer. */
void kslab_free_bulk(struct kmem_cache *c, unsigned n, void *const *objs);
/* kslab_free_bulk that leaves empty slabs listed (no page-layer call, so no
 * system call: for a caller holding drain_lock); a shrink returns them. */
void kslab_put_bulk(struct kmem_cache *c, unsigned n, void *const *objs);
/* Frees one object whose slab head is known. */
void kslab_free_one(struct kmem_cache *c, struct page *slab, void *obj);
/* Releases the empty slabs of a cache; returns the number of slabs freed. */
size_t kslab_shrink(struct kmem_cache *c);
/* kslab_shrink of every cache; returns the number of slabs freed. */
size_t kslab_shrink_all(void);
/* Validates that p is an object boundary inside slab `s` of cache c; reports
 * and aborts otherwise (the caller names the operation). */
void kslab_check_object(struct kmem_cache *c, struct page *s, const void *p, const char *op);
/* Calls fn(c, arg) for every cache, with kcache_list_lock held: fn takes no
 * lock above the cache locks and makes no system call. */
void kslab_foreach(void (*fn)(struct kmem_cache *c, void *arg), void *arg);
/* Fork handlers. */
void kslab_fork_prepare(void);
void kslab_fork_parent(void);
void kslab_fork_child(void);

/*
 * Default hardening (KALLOC_HARDEN >= 1; docs/design.md, "Hardening").
 *
 * Free tag: a free object of a tagged cache (kmalloc's classes, on which
 * malloc and kmalloc sit) holds its address + KSLAB_TAG_BIAS in one word
 * (kslab_tag_word: the second, or the first of an 8-byte object, whose
 * second word is not its own).  Free compares that word with the tag
 * before storing it: equal means the object may be free already, and the
 * layer above asks, exactly, whether it is (kslab_free_where here, and the
 * front caches' stacks); the allocation paths clear the word on the way
 * out.  The slab layer never writes the second word of a free object (its
 * free pointer is the first), so the tag stays while the object moves
 * between front caches and slabs.
 */
/*
 * The tag is the object's address plus an odd constant: one lea on the
 * fast path, no load.  It needs no secret: a program that knows it can
 * only make its own frees take the exact check (which finds nothing), and
 * hiding a double free takes a write after free whatever the tag is.  The
 * constant keeps program data from matching by accident (an object
 * holding a pointer to itself, an empty list head, does not).
 */
#define KSLAB_TAG_BIAS 0x6b5f2d3bu
/* A random key, for the canaries (kmalloc.c). */
extern uint64_t kslab_canary_key;
/* KALLOC_HARDEN >= 1, read once by kslab_init. */
extern bool kslab_harden;
/* kcache_init's flag for a cache whose free objects carry the tag (the
 * kmalloc classes); kept out of c->flags. */
#define KSLAB_FREE_TAG 0x80000000u
KINLINE uint64_t kslab_tag(const void *obj)
{
	return (uintptr_t)obj + KSLAB_TAG_BIAS;
}
KINLINE uint64_t *kslab_tag_word(const struct kmem_cache *c, void *obj)
{
	return (uint64_t *)obj + (c->object_size >= 16);
}
/* Where free object obj of cache c is (its slab's free list, its remote
 * frees, or never handed out yet), or NULL when it is not free: exact, under
 * c->lock.  Objects held by front caches are the caller's to look for. */
const char *kslab_free_where(struct kmem_cache *c, const void *obj);
/* An 8-byte object's first word, the only one to hold its tag, is the free
 * pointer while the object is on a slab list: true when that word decodes
 * to a pointer a free list could hold (NULL, or an object of obj's slab),
 * so that kslab_free_where must decide. */
bool kslab_fp_plausible(const struct kmem_cache *c, const void *obj);

/* The slab head of a slab object's address, or NULL. */
KINLINE struct page *kslab_of(const void *p)
{
	struct kchunk *ch = kchunk_of(p);
	if (!ch)
		return NULL;
	struct page *pg = kchunk_page(ch, p);
	return kpage_is_slab(pg) ? pg->head : NULL;
}

/* Cheap object-boundary test: (p - slab base) is a multiple of size and the
 * object is inside the slab.  Odd part by multiplicative inverse, even part by
 * rotation: off * inv rotated right by shift <= limit iff size | off. */
KINLINE bool kslab_obj_valid(const struct kmem_cache *c, const void *p)
{
	uintptr_t off = (uintptr_t)p & c->slab_mask;
	uint64_t x = (uint64_t)off * c->div_mul;
	x = (x >> c->div_shift) | (x << ((64 - c->div_shift) & 63));
	return x <= c->div_limit;
}

#pragma GCC visibility pop

#endif /* KALLOC_SLAB_H */
