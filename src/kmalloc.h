/* SPDX-License-Identifier: MIT */
/*
 * kmalloc.h - the kmalloc size classes and the routing of every block by size
 * and by pointer (kmalloc.c).
 */
#ifndef KALLOC_KMALLOC_H
#define KALLOC_KMALLOC_H

#include "front.h"
#include "vmalloc.h"

#pragma GCC visibility push(hidden)

/* Slab classes up to KMALLOC_MAX_CACHE_SIZE, then page classes (page
 * caches, slab.c) up to KMALLOC_PAGE_CLASS_MAX: one numbering (kmalloc.c:
 * four classes per power of two above 128 bytes, and one more at 9/8 of
 * each power of two from 256 to 4096 bytes). */
#define KMALLOC_NR_CLASSES 46
#define KMALLOC_NR_PAGE_CLASSES 12
#define KMALLOC_NR_ALL (KMALLOC_NR_CLASSES + KMALLOC_NR_PAGE_CLASSES)
#define KMALLOC_PAGE_CLASS_MAX (256UL << 10)
#define KMALLOC_SMALL_MAX 1024   /* kmalloc_index's table lookup up to here */
/* The class malloc's table gives size 0: a front index nobody registers,
 * so its stack is always empty and malloc(0) misses into its slow path,
 * which hands out a slot of the zero-size region (kzero_alloc).  No cache,
 * no slab: never an index of kmalloc_caches or kmalloc_class_size. */
#define KMALLOC_ZERO_CLASS KMALLOC_NR_ALL
_Static_assert(KMALLOC_ZERO_CLASS < KFRONT_CLASSES, "every class, and the zero-size class, has a front index");

extern struct kmem_cache kmalloc_caches[KMALLOC_NR_ALL];
extern const uint32_t kmalloc_class_size[KMALLOC_NR_ALL];
/* class of size (8-byte granularity) for sizes <= KMALLOC_SMALL_MAX */
extern const uint8_t kmalloc_small_index[KMALLOC_SMALL_MAX / 8 + 1];
#define KMALLOC_TABLE_MAX 8192  /* malloc's table lookup up to here */
/* (Written once, by kmalloc_init: entry 0 is KMALLOC_ZERO_CLASS, or the
 * 16-byte class with KALLOC_HARDEN=0.) */
extern uint8_t kmalloc_index16[KMALLOC_TABLE_MAX / 16 + 1];

/*
 * free()'s test of a pointer, for the kmalloc classes: kslab_obj_valid's
 * object-boundary test in 32-bit arithmetic, from an entry per value of the
 * low byte of the page's info word (page_alloc.h), so that one test of the
 * entry answers both "a front-cached kmalloc slab page?" and "an object's
 * start?": byte KINFO_KSLAB_BASE + cls has class cls's entry, every other
 * byte an entry with no objects, which no pointer passes.  Exact because a
 * kmalloc slab is at most 64 KiB with at most 256 objects (kmalloc classes
 * whose slabs are larger mark their pages KPG_SLAB, and free sends them to
 * kfree_any): the offset fits 16 bits, and for any offset that is not an
 * object boundary the rotated product exceeds 2^32 / 32 KiB.
 */
#define KMALLOC_INFO_BYTES 256
struct kfree_check {
	uint32_t mul;      /* inverse of the odd part of the size, mod 2^32 */
	uint16_t mask;     /* slab size - 1 */
	uint8_t shift;     /* log2 of the size's power-of-two part */
	uint8_t unused;
};
/*
 * What free and C++'s sized delete read, in one object so that one base
 * register addresses all of it: check[] and objects[] by info byte (free
 * scales one index by 8 and 4), the size bounds by class.  Sized delete's
 * size test: a block of class cls was asked for with n bytes, malloc's
 * way, exactly when size_lo[cls] <= n <= size_hi[cls] (the sizes after the
 * next smaller class's, up to the class's own; 0 to 16 for the 16-byte
 * class).
 */
struct kmalloc_free_data {
	struct kfree_check check[KMALLOC_INFO_BYTES];
	uint32_t objects[KMALLOC_INFO_BYTES];   /* per slab; 0: not a class's page */
	uint64_t size_lo[KMALLOC_NR_CLASSES];
	uint64_t size_hi[KMALLOC_NR_CLASSES];
};
extern struct kmalloc_free_data kmalloc_free;
_Static_assert(KINFO_KSLAB_BASE + KMALLOC_NR_CLASSES <= KMALLOC_INFO_BYTES, "a class's info byte");
_Static_assert(KPCPU_FRESH_BIAS == KINFO_KSLAB_BASE, "free pushes on stack info - KINFO_KSLAB_BASE (rseq.h)");
/* The low byte of the info word of p's page, or KPG_NONE (0) when p is in
 * no chunk: free's lookup. */
KINLINE size_t kmalloc_info_byte(const void *p)
{
	uintptr_t a = (uintptr_t)p, ci = a >> KCHUNK_SHIFT;
	if (likely(ci < KREGISTRY_LEN)) {
		uintptr_t map = atomic_load_explicit(&kinfo_map[ci], memory_order_acquire);
		if (likely(map != 0))
			return __atomic_load_n((const uint8_t *)(map + (a >> PAGE_SHIFT) * sizeof(uint32_t)),
			                       __ATOMIC_ACQUIRE);
	}
	return KPG_NONE;
}
/* True when p is an object of a front-cached kmalloc slab whose page has
 * info byte `info`: the class is then info - KINFO_KSLAB_BASE. */
KINLINE bool kmalloc_obj_valid(size_t info, const void *p)
{
	const struct kfree_check *k = &kmalloc_free.check[info];
	uint32_t x = ((uint32_t)(uintptr_t)p & k->mask) * k->mul;
	unsigned sh = k->shift;
	x = (x >> sh) | (x << ((32 - sh) & 31));
	return x < kmalloc_free.objects[info];
}
/* True when malloc gives an object of class cls for n bytes. */
KINLINE bool kmalloc_size_fits(size_t cls, size_t n)
{
	return n <= kmalloc_free.size_hi[cls] && n >= kmalloc_free.size_lo[cls];
}

/*
 * The zero-size region: malloc(0) and its kin return a unique pointer into
 * a reserved range with no access, so any read or write through it faults
 * (kmalloc.c, "the zero-size region").
 */
#define KZERO_REGION (16UL << 20)               /* reserved address space */
#define KZERO_SLOTS (KZERO_REGION / 16)        /* 16-byte slots */
/* A slot aligned to align (0 or a power of two up to PAGE_SIZE), or NULL:
 * hardening off, the region exhausted or refused by the OS, or no reclaim
 * allowed by gfp before the region is reserved (a mapping is a syscall).
 * The caller falls back to a 16-byte block. */
void *kzero_alloc(size_t align, gfp_t gfp);
/* True when p lies in the zero-size region. */
bool kzero_owns(const void *p);

/*
 * Default hardening: the free tag of the kmalloc classes (slab.h).  Free
 * compares the object's tag word with its tag, and on a match asks
 * kmalloc_tag_hit whether the object is free already (a double free,
 * reported: it aborts) or the program's data happened to equal the tag
 * (it returns); then stores the tag.  Allocation clears the word
 * (kmalloc_tag_clear), so an allocated object never holds its tag unless
 * the program put it there.  These are for classes 1 .. KMALLOC_NR_CLASSES - 1
 * of the normal zone's caches, not debug ones (free's fast path sees no
 * other: kmalloc_init), whose tag word is the second.
 */
void kmalloc_tag_hit(struct kmem_cache *c, void *p);
/* The rest of kmalloc_free_tagged on a match: kmalloc_tag_hit, then the tag
 * and the push (a tail call with p alone, so that the fast path keeps
 * nothing across a call and moves no register for it). */
void kmalloc_free_tag_hit(void *p);
/* The miss of kmalloc_free_info's push: kfront_free_slow (arguments in
 * the order the fast path holds them, so that the tail call moves one). */
void kmalloc_free_spill(void *p, size_t info);
/* Free's test and store of the tag: false when it matched, and p went to
 * kmalloc_free_tag_hit (which pushes it). */
KINLINE bool kmalloc_tag_store(void *p)
{
	uint64_t *w = (uint64_t *)p + 1;
	uint64_t t = kslab_tag(p);
	if (unlikely(*w == t)) {
		kmalloc_free_tag_hit(p);
		return false;
	}
	*w = t;
	return true;
}
KINLINE void kmalloc_free_tagged(size_t cls, void *p)
{
	if (kmalloc_tag_store(p))
		kfront_push(cls, p);
}
/* kmalloc_free_tagged for an object that passed kmalloc_obj_valid(info,
 * p), by its info byte: free's fast path.  A tag that did not match says
 * the object is not free, so the push leaves out kpcpu_push's test of the
 * top object (a double free right after the first matches the tag, and
 * kmalloc_free_tag_hit pushes with that test, which stands in for the
 * search under KALLOC_HARDEN=0). */
KINLINE void kmalloc_free_info(size_t info, void *p)
{
	if (kmalloc_tag_store(p) && unlikely(!kpcpu_push_fresh(&kpcpu, info, p)))
		kmalloc_free_spill(p, info);
}
KINLINE void kmalloc_tag_clear(void *p)
{
	((uint64_t *)p)[1] = 0;
}

/* Checks the canary of every page block that has one (kalloc_validate);
 * reports and aborts on damage.  A block allocated or freed meanwhile may
 * be missed. */
void kmalloc_validate(void);

/* Sets up the class caches (before kfront_init registers them). */
void kmalloc_init(void);
/* Class index for a size <= KMALLOC_PAGE_CLASS_MAX. */
/* The first class above the tables, 10 KiB: the last eight slab classes
 * are four per power of two from there to 32 KiB. */
#define KMALLOC_CLASS_10K (KMALLOC_NR_CLASSES - 8)
KINLINE unsigned kmalloc_index(size_t size)
{
	if (likely(size <= KMALLOC_SMALL_MAX))
		return kmalloc_small_index[(size + 7) >> 3];
	if (likely(size <= KMALLOC_TABLE_MAX))
		return kmalloc_index16[(size + 15) >> 4];
	/* four classes per power of two above 8 KiB */
	unsigned lg = 63 - (unsigned)__builtin_clzl(size - 1);   /* 2^lg < size <= 2^(lg+1) */
	unsigned quarter = (unsigned)((size - 1) >> (lg - 2)) & 3; /* which quarter of (2^lg, 2^(lg+1)] */
	return KMALLOC_CLASS_10K + (lg - 13) * 4 + quarter;
}
/* The smallest class >= size whose objects are multiples of align
 * (16 < align <= PAGE_SIZE, a power of two: power-of-two classes always
 * qualify); KMALLOC_NR_CLASSES when the size needs a page block. */
KINLINE unsigned kmalloc_aligned_class(size_t size, size_t align)
{
	size_t s = KALIGN_UP(KMAX(size, align), align);
	if (s > KMALLOC_MAX_CACHE_SIZE)
		return KMALLOC_NR_CLASSES;
	unsigned cls = kmalloc_index(s);
	while (cls < KMALLOC_NR_CLASSES && kmalloc_class_size[cls] % align)
		cls++;
	return cls;
}
/* Any size, any alignment (a power of two; <= 16 means none): slab, page
 * block or huge area.  *zeroed (may be NULL) tells whether the memory is known
 * to read as zero.  NULL with errno = ENOMEM on failure (reported unless
 * __GFP_NOWARN).  kalloc must be initialised. */
void *kalloc_any(size_t size, size_t align, gfp_t gfp, bool *zeroed);
/* Frees any block; reports and aborts for pointers kalloc never returned.
 * `op` names the caller in reports ("free", "kfree", ...). */
void kfree_any(const void *p, const char *op);
/* Frees p, a block asked for with `size` bytes aligned to `align` (a power
 * of two, or 0 for malloc's alignment; any other value checks the size
 * only): C++'s sized delete.  A size that cannot be the block's (larger than
 * its usable size, or of another class than the block's: kalloc_any would
 * not have given this block for it) is reported, naming the block, and
 * aborts, as an invalid pointer does.  NULL does nothing. */
void kfree_sized(const void *p, size_t size, size_t align, const char *op);
/* Gives back the page blocks and huge areas waiting in the block
 * quarantine (block debugging: KALLOC_HARDEN=full, KALLOC_DEBUG); returns
 * their bytes.  For reclaim and malloc_trim. */
size_t kmalloc_flush_blocks(void);
/* Usable size of any block; reports invalid pointers. */
size_t kusable_any(const void *p, const char *op);
/* The start of the allocated block (slab object, page block or huge area)
 * whose bytes hold p, and its cache (NULL for a page block or a huge area);
 * NULL when p is in none.  For kfree_rcu's deferred call, which has only
 * the address of the rcu_head inside the object.  A page block's tail is
 * walked back to its head: at most 1023 info words. */
void *kblock_start(const void *p, struct kmem_cache **cache);
/* realloc for any block: NULL on failure with p intact. */
void *krealloc_any(void *p, size_t size, gfp_t gfp, const char *op);

#pragma GCC visibility pop

#endif /* KALLOC_KMALLOC_H */
