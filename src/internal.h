/* SPDX-License-Identifier: MIT */
/*
 * internal.h - types, tuning constants and cross-file functions of kalloc.
 *
 * Layers, each one file, each including only downwards:
 *
 *   malloc.c      glibc malloc API on top of kmalloc + the front caches
 *   percpu.c      per-thread (and, where available, per-CPU) object caches
 *   kmalloc.c     size classes -> slab caches; page blocks; huge hook
 *   vmalloc.c     huge blocks: one mapping each, guard page, mremap
 *   slab.c        kmem_cache: slabs carved from buddy blocks
 *   page_alloc.c  buddy allocator over 64 MiB chunks, struct kpage array
 *   os.c          the only file making syscalls
 *   report.c      one-line reports on stderr (write(2) only), abort
 *
 * Every struct lives here with its invariants beside it; cross-file functions
 * are declared below, grouped by the file that owns them.  Symbols shared
 * between files carry the k prefix and hidden visibility (the whole library
 * is built with -fvisibility=hidden).
 */
#ifndef KALLOC_INTERNAL_H
#define KALLOC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kalloc.h"

/* Everything declared from here on is internal to the library: hidden
 * visibility lets the compiler address it directly, without the GOT. */
#pragma GCC visibility push(hidden)

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define KCOLD       __attribute__((cold, noinline))
#define KNOINLINE   __attribute__((noinline))
#define KINLINE     static inline __attribute__((always_inline))
#define KEXPORT     __attribute__((visibility("default")))
#define KNORETURN   __attribute__((noreturn))
#define KFMT(a, b)  __attribute__((format(printf, a, b)))

#define KMIN(a, b) ((a) < (b) ? (a) : (b))
#define KMAX(a, b) ((a) > (b) ? (a) : (b))
#define KALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((uintptr_t)(a) - 1))
#define KALIGN_DOWN(x, a) ((x) & ~((uintptr_t)(a) - 1))
#define KIS_POW2(x)       ((x) != 0 && ((x) & ((x) - 1)) == 0)

/* Build-time configuration as constants, not #ifdef forests: disabled code is
 * still compiled and type-checked. */
#ifdef KALLOC_DEBUG_BUILD
static const bool config_debug = true;
#else
static const bool config_debug = false;
#endif

/* ================================================================== */
/* Tuning constants                                                    */
/* ================================================================== */

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

/* Free pages kept backed (dirty) per zone before the excess is returned to
 * the OS with MADV_DONTNEED; released down to the low mark.  Tunable with
 * KALLOC_DIRTY_MAX (bytes). */
#define KDIRTY_HIGH_DEFAULT (32UL << 20)
/* ... or this fraction of the memory in use, when that is more. */
#define KDIRTY_USED_FRACTION 8

/* Slabs: at least this many small objects each (fewer for big objects, see
 * slab.c: choose_order), at most this order unless nothing smaller fits. */
#define KSLAB_MIN_OBJECTS 8
#define KSLAB_MAX_ORDER   4
/* Empty slabs a cache keeps on its partial list before returning them. */
#define KSLAB_MIN_PARTIAL 5

/* ================================================================== */
/* report.c                                                            */
/* ================================================================== */

/* Formats like a tiny printf (%s %d %u %ld %lu %zu %x %lx %p %c %%) into a
 * stack buffer and write()s one line to stderr, prefixed "kalloc: ".  Never
 * allocates. */
void kreport(const char *fmt, ...) KFMT(1, 2);
/* kreport, then abort(). */
KNORETURN void kpanic(const char *fmt, ...) KFMT(1, 2);
/* Formats into buf (always NUL-terminated); returns the length. */
size_t kformat(char *buf, size_t len, const char *fmt, ...) KFMT(3, 4);
size_t kvformat(char *buf, size_t len, const char *fmt, __builtin_va_list ap);
/* write(2) all of buf to fd, retrying on EINTR. */
void kwrite_all(int fd, const char *buf, size_t len);

/* ================================================================== */
/* os.c: the only file making syscalls                                 */
/* ================================================================== */

/* Maps `size` bytes of fresh zeroed read-write memory aligned to `align`
 * (a power of two >= PAGE_SIZE); NULL on failure (errno preserved, the
 * reason returned through *err when err != NULL).  With `lazy`, the memory is
 * reserved with MAP_NORESERVE. `hint` may be 0. */
void *kos_map(size_t size, size_t align, bool lazy, uintptr_t hint, int *err);
/* Sets the function kos_map calls once when the OS refuses memory (ENOMEM):
 * it returns how many bytes it gave back; kos_map retries if any. */
void kos_set_reclaim(size_t (*fn)(void));
/* Unmaps; returns 0 or an errno value.  errno is preserved. */
int kos_unmap(void *addr, size_t size);
/* Maps size bytes (lazily backed) exactly at addr, or returns NULL when
 * anything is there. */
void *kos_map_at(void *addr, size_t size);
/* Gives pages back to the OS: afterwards they read as zero.  0 or errno. */
int kos_release(void *addr, size_t size);
/* Makes a range inaccessible (guard).  0 or errno. */
int kos_protect_none(void *addr, size_t size);
/* Makes a range read-write.  0 or errno. */
int kos_protect_rw(void *addr, size_t size);
/* mremap: moves/resizes a mapping.  With `fixed_to` != NULL, the target must be
 * a reserved range of at least new_size.  Returns the new address or NULL. */
void *kos_remap(void *old, size_t old_size, size_t new_size, void *fixed_to, int *err);
/* Fills buf with random bytes (getrandom, falling back to the clock and the
 * address space layout). */
void kos_random(void *buf, size_t len);
/* Number of possible CPUs (from sched_getaffinity and /sys), >= 1. */
unsigned kos_ncpus(void);
/* Monotonic time in nanoseconds (vDSO, no syscall on x86-64). */
uint64_t kos_now_ns(void);
/* getenv without allocation; NULL if unset. */
const char *kos_getenv(const char *name);
/* The current thread's id. */
long kos_gettid(void);
/* membarrier(MEMBARRIER_CMD_[REGISTER_]PRIVATE_EXPEDITED_RSEQ): 0 or errno. */
int kos_membarrier_rseq_register(void);
int kos_membarrier_rseq(void);
unsigned long kos_getauxval(unsigned long type);
/* The CPU the caller runs on (vDSO getcpu), 0 if unknown. */
int kos_getcpu(void);

/* ================================================================== */
/* Locks                                                               */
/* ================================================================== */

/* A mutex.  Allocator locks are never held across a syscall that can
 * block for long (mmap/munmap/madvise happen with no lock held), so a
 * pthread mutex (futex, no allocation) is enough.  Lock order, outermost
 * first:
 *     kmem_cache list lock  ->  a cache's node lock  ->  zone lock
 *     vmalloc lock (independent, never nested with the others)
 */
typedef pthread_mutex_t klock_t;
/* Adaptive: spins briefly before sleeping, which suits the short critical
 * sections here (a futex sleep and wake-up costs more than the section). */
#define KLOCK_INIT PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
KINLINE void klock(klock_t *l) { pthread_mutex_lock(l); }
KINLINE bool ktrylock(klock_t *l) { return pthread_mutex_trylock(l) == 0; }
KINLINE void kunlock(klock_t *l) { pthread_mutex_unlock(l); }
KINLINE void klock_reinit(klock_t *l) { pthread_mutex_t z = KLOCK_INIT; *l = z; }

/* ================================================================== */
/* page_alloc.c: the buddy allocator                                   */
/* ================================================================== */

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
 *   KPG_SLAB        page of a slab of a cache created with kmem_cache_create;
 *                   `head` -> head page, whose slab_cache names the cache
 *   KPG_KSLAB       page of a slab of a kmalloc class: the whole word is
 *                   KINFO_KSLAB_BASE + class, so free's one comparison,
 *                   (info - base) < KMALLOC_NR_CLASSES, tests the kind and
 *                   yields the class
 *   KPG_LARGE       head of a page block from alloc_pages / kmalloc large;
 *                   `npages` pages long
 *   KPG_TAIL        other pages of a KPG_LARGE block; `head` -> head page
 *   KPG_RESERVED    not managed by the buddy allocator
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
	uint8_t pad2;
	uint8_t flags;        /* KPF_* */
	uint8_t pad0;
	union {
		uint32_t npages;  /* LARGE head: pages in the block (exact size) */
		uint32_t dirty;   /* FREE head: pages of the block that may be backed */
	};
	_Atomic uint32_t inuse;    /* slab: objects not on freelist nor remote-adopted */
	uint32_t carved;           /* slab: objects handed out from never-used memory */
	struct page *next;    /* free list / slab partial list links */
	struct page *prev;
	struct page *head;    /* SLAB and TAIL: the head page; LARGE head: itself */
	/* Slab state (head page of a slab; see slab.c). */
	struct kmem_cache *slab_cache;
	void *freelist;            /* encoded list, protected by the cache lock */
	_Atomic uint64_t remote;   /* lock-free list of remote frees: ptr | FULL, count << 48 */
};
_Static_assert(sizeof(struct page) == 64, "struct page is one cache line");

/* page flags */
#define KPF_ZEROED   0x01   /* (allocated block) the memory is known to read as zero */
#define KPF_LISTED   0x02   /* (slab) on its cache's partial list; under the cache lock */

/* A chunk: 64 MiB of address space, its page info words and its mem_map. */
struct kchunk {
	uintptr_t base;            /* start of the 64 MiB range */
	struct kchunk *next;       /* zone's chunk list */
	uint8_t zone;
	uint32_t info[KCHUNK_PAGES];   /* kind | data << 8, per page */
	struct page pages[KCHUNK_PAGES];
};

/* Zones, as in the kernel; one node. */
enum { KZONE_DMA, KZONE_DMA32, KZONE_NORMAL, KNR_ZONES };

struct kfree_area {
	struct page *head;         /* doubly linked list of free block heads: */
	struct page *tail;         /* dirty ones from the head, clean ones at the tail */
	size_t nr_free;
};

struct kzone {
	klock_t lock;
	const char *name;
	uintptr_t limit;           /* highest address + 1 allowed in the zone (0: none) */
	struct kfree_area free_area[MAX_ORDER + 1];
	size_t nr_free_pages;      /* pages in free blocks */
	size_t nr_dirty_pages;     /* sum of `dirty` over free blocks */
	size_t nr_present_pages;   /* pages in the zone's chunks */
	size_t nr_released_total;  /* pages given back to the OS, ever */
	size_t dirty_high;         /* release above this many dirty free pages */
	uint64_t last_decay_ns;    /* last decay release (kos_now_ns) */
	unsigned decay_tick;       /* frees since the clock was last read */
	struct kchunk *chunks;
	struct kchunk *spare;      /* mem_maps of unmapped chunks, for reuse */
	unsigned nr_chunks;
};

struct knode {
	struct kzone zones[KNR_ZONES];
};

extern struct knode knode0;
/* kchunk_registry[addr >> KCHUNK_SHIFT]: the chunk, or NULL.  A static
 * (bss) table: untouched pages cost nothing, and it is valid before any
 * initialisation, so free() needs no "initialised?" test.  Entries are
 * published with release stores and never cleared (chunks are never
 * unmapped). */
extern struct kchunk *_Atomic kchunk_registry[KREGISTRY_LEN];
/* kinfo_map[addr >> KCHUNK_SHIFT]: the chunk's info array minus
 * (base >> PAGE_SHIFT) words, or 0, so free() finds a page's info word with
 * two dependent loads: kinfo_map[a >> 26] + (a >> 12) * 4.  Published with
 * kchunk_registry. */
extern _Atomic uintptr_t kinfo_map[KREGISTRY_LEN];

void kpage_init(void);
/* Allocates 2^order pages from `zone`; the head descriptor is returned with
 * info = KPG_LARGE (callers set their own kind) and npages = 2^order. */
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
size_t kpage_print(int fd);

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
KINLINE struct kchunk *kpage_chunk(const struct page *pg)
{
	return (struct kchunk *)((uintptr_t)pg & ~(KMETA_ALIGN - 1));
}
KINLINE void *kpage_address(const struct page *pg)
{
	struct kchunk *c = kpage_chunk(pg);
	return (void *)(c->base + ((uintptr_t)(pg - c->pages) << PAGE_SHIFT));
}
KINLINE uint32_t kpage_info(const struct page *pg)
{
	struct kchunk *c = kpage_chunk(pg);
	return c->info[pg - c->pages];
}
KINLINE void kpage_set_info(struct page *pg, uint32_t info)
{
	struct kchunk *c = kpage_chunk(pg);
	c->info[pg - c->pages] = info;
}
/* Info word of the page holding address p of chunk c. */
KINLINE uint32_t kchunk_info(const struct kchunk *c, const void *p)
{
	return c->info[((uintptr_t)p - c->base) >> PAGE_SHIFT];
}
KINLINE unsigned kpage_kind(const struct page *pg) { return kinfo_kind(kpage_info(pg)); }
KINLINE bool kpage_is_slab(const struct page *pg)
{
	return kpage_kind(pg) == KPG_SLAB || kpage_kind(pg) == KPG_KSLAB;
}

/* ================================================================== */
/* slab.c                                                              */
/* ================================================================== */

#define KCACHE_NAME_LEN 32

/*
 * struct kmem_cache.  Immutable after creation except the fields under
 * `lock`.  Objects are `size` bytes apart; the free pointer of a free object
 * sits at `fp_offset` (0, or past the object when a constructor or RCU must
 * keep the object's contents).
 */
struct kmem_cache {
	/* read by the fast paths */
	uint32_t size;             /* stride between objects */
	uint32_t object_size;      /* size asked for */
	uint32_t fp_offset;
	uint32_t align;
	uint64_t secret;           /* free pointer hardening */
	uint64_t div_mul;          /* exact-division check: see kslab_obj_valid */
	uint32_t div_shift;
	uint32_t pad;
	uint64_t div_limit;
	uintptr_t slab_mask;       /* slabs are aligned to their size: offset = p & mask */
	uint32_t page_info;        /* info word of its slabs' pages: KPG_SLAB, or
	                              KINFO_KSLAB_BASE + class (see kmalloc_init) */
	uint8_t order;             /* slab order */
	uint16_t objects;          /* objects per slab */
	int16_t kmalloc_class;     /* -1 for caches that are not kmalloc classes */
	int16_t front_idx;         /* front cache index, -1 for none */
	slab_flags_t flags;
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
	_Atomic size_t nr_alloc_total, nr_free_total;
} __attribute__((aligned(256)));   /* a power of two: kmalloc_caches[cls] is a shift */

extern klock_t kcache_list_lock;
extern struct kmem_cache *kcache_list;

/* Initialises a cache in place (used for static kmalloc caches and by
 * kmem_cache_create).  Returns 0 or -EINVAL. */
int kcache_init(struct kmem_cache *c, const char *name, size_t size, size_t align,
                slab_flags_t flags, void (*ctor)(void *), int kmalloc_class);
/* Fills out[] with up to n objects (at least 1 unless out of memory).
 * Returns the count. */
unsigned kslab_alloc_bulk(struct kmem_cache *c, gfp_t gfp, unsigned n, void **out);
/* Frees n objects of cache c (each validated: slab of c, object boundary). */
void kslab_free_bulk(struct kmem_cache *c, unsigned n, void *const *objs);
/* Frees one object whose slab head is known. */
void kslab_free_one(struct kmem_cache *c, struct page *slab, void *obj);
/* Releases the empty slabs of a cache; returns the number of slabs freed. */
size_t kslab_shrink(struct kmem_cache *c);
/* Validates that p is an object boundary inside slab `s` of cache c; reports
 * and aborts otherwise (the caller names the operation). */
void kslab_check_object(struct kmem_cache *c, struct page *s, const void *p, const char *op);
void kslab_init(void);
/* Fork handlers. */
void kslab_fork_prepare(void);
void kslab_fork_parent(void);
void kslab_fork_child(void);

/* Asks for the line at p in a writable state.  x86-64: PREFETCHW, which
 * processors without it execute as a no-op (GCC emits it only with
 * -mprfchw, hence the asm). */
KINLINE void kprefetch_write(const void *p)
{
#if defined(__x86_64__)
	__asm__ __volatile__("prefetchw (%0)" : : "r"(p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
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

/* ================================================================== */
/* kmalloc.c                                                           */
/* ================================================================== */

#define KMALLOC_NR_CLASSES 41
#define KMALLOC_SMALL_MAX 1024   /* table lookup up to here */

extern struct kmem_cache kmalloc_caches[KMALLOC_NR_CLASSES];
extern const uint32_t kmalloc_class_size[KMALLOC_NR_CLASSES];
/* class of size (8-byte granularity) for sizes <= KMALLOC_SMALL_MAX */
extern const uint8_t kmalloc_small_index[KMALLOC_SMALL_MAX / 8 + 1];
#define KMALLOC_TABLE_MAX 8192  /* malloc's table lookup up to here */
extern const uint8_t kmalloc_index16[KMALLOC_TABLE_MAX / 16 + 1];

/*
 * free()'s object-boundary check for the kmalloc classes: kslab_obj_valid's
 * test in 32-bit arithmetic, from one 8-byte entry per class, so free loads
 * it with the class as a scaled index.  Exact because a kmalloc slab is at
 * most 64 KiB with at most 256 objects (kmalloc classes whose slabs are
 * larger mark their pages KPG_SLAB, and free sends them to kfree_any): the
 * offset fits 16 bits, the object index 8, and for any offset that is not
 * an object boundary the rotated product exceeds 2^32 / 32 KiB.
 */
struct kfree_check {
	uint32_t mul;      /* inverse of the odd part of the size, mod 2^32 */
	uint16_t mask;     /* slab size - 1 */
	uint8_t shift;     /* log2 of the size's power-of-two part */
	uint8_t last;      /* objects per slab - 1 */
};
extern struct kfree_check kmalloc_check[KMALLOC_NR_CLASSES];
KINLINE bool kmalloc_obj_valid(size_t cls, const void *p)
{
	const struct kfree_check *k = &kmalloc_check[cls];
	uint32_t x = ((uint32_t)(uintptr_t)p & k->mask) * k->mul;
	unsigned sh = k->shift;
	x = (x >> sh) | (x << ((32 - sh) & 31));
	return x <= k->last;
}

void kmalloc_init(void);
/* Class index for a size <= KMALLOC_MAX_CACHE_SIZE. */
KINLINE unsigned kmalloc_index(size_t size)
{
	if (likely(size <= KMALLOC_SMALL_MAX))
		return kmalloc_small_index[(size + 7) >> 3];
	/* four classes per power of two above 1 KiB */
	unsigned lg = 63 - (unsigned)__builtin_clzl(size - 1);   /* 2^lg < size <= 2^(lg+1) */
	unsigned quarter = (unsigned)((size - 1) >> (lg - 2)) & 3; /* which quarter of (2^lg, 2^(lg+1)] */
	return 9 + (lg - 7) * 4 + quarter;
}
/* Any size, any alignment (a power of two; <= 16 means none): slab, page
 * block or huge area.  *zeroed (may be NULL) tells whether the memory is known
 * to read as zero.  NULL with errno = ENOMEM on failure (reported unless
 * __GFP_NOWARN). */
void *kalloc_any(size_t size, size_t align, gfp_t gfp, bool *zeroed);
/* Frees any block; reports and aborts for pointers kalloc never returned.
 * `op` names the caller in reports ("free", "kfree", ...). */
void kfree_any(const void *p, const char *op);
/* Usable size of any block; reports invalid pointers. */
size_t kusable_any(const void *p, const char *op);
/* realloc for any block: NULL on failure with p intact. */
void *krealloc_any(void *p, size_t size, gfp_t gfp, const char *op);
/* A failed allocation: errno = ENOMEM, report unless __GFP_NOWARN, abort if
 * __GFP_NOFAIL. */
void kalloc_fail(size_t size, gfp_t gfp, const char *what);
/* Invalid pointer report, then abort. */
KNORETURN void kbad_pointer(const void *p, const char *op, const char *why);

/* ================================================================== */
/* vmalloc.c                                                           */
/* ================================================================== */

/* Allocates a huge area of size bytes aligned to `align` (>= 2 MiB is
 * used when smaller).  Memory is zero (fresh mapping). */
void *kvm_alloc(size_t size, size_t align, gfp_t gfp);
/* If p is the start of a huge area, frees it and returns true. */
bool kvm_free(const void *p);
/* Usable size of huge area p, or 0 if p is not a huge area's start. */
size_t kvm_usable(const void *p);
/* Resizes a huge area in place or by mremap; NULL on failure (p intact). */
void *kvm_realloc(void *p, size_t size);
/* Is p inside (not only at the start of) any huge area? */
bool kvm_contains(const void *p);
void kvm_fork_prepare(void);
void kvm_fork_parent(void);
void kvm_fork_child(void);
size_t kvm_print(int fd);
void kvm_totals(size_t *count, size_t *bytes);

/* ================================================================== */
/* percpu.c: front caches                                              */
/* ================================================================== */

/*
 * Front caches hold object pointers in front of the slab caches, one stack
 * per "front index": 0..40 are the kmalloc classes, 41.. are slots given to
 * kmem_caches created by the program.  Stacks live in regions of
 * KPCPU_REGION bytes, one per CPU or one per thread, with one layout and one
 * fast path:
 *
 * Word i < KFRONT_NR of a region is the header of front index i:
 *     u16 current | u16 begin | u16 end | u16 unused
 * (offsets in 8-byte words from the region start); the slots
 * [begin, current) hold objects.  Pop and push find the region as
 * base + (index << KPCPU_SHIFT), the index read at a thread-pointer offset,
 * and are restartable sequences whose only commit is the 16-bit store of
 * `current`.  Pop misses when current <= begin, push when current >= end,
 * so begin = 0xffff, end = 0 "locks" a header (every operation misses).
 * The word before `begin` is a NULL sentinel, so push can compare the top
 * object (a double free) without a bounds check.
 *
 * KF_RSEQ (the default where glibc registered rseq): one region per CPU,
 * indexed by the rseq area's mm_cid (else cpu_id); the sequence is armed in
 * the rseq area, so preemption, migration or a signal restarts it.  A
 * stack is drained from another CPU by locking its header and issuing the
 * membarrier rseq fence.
 *
 * KF_THREAD (the fallback): one region per thread, indexed by
 * kfront_thr.slot, and the sequence "armed" in kfront_thr.cs, which no
 * kernel reads: the same instructions, and each stack has one user.
 *
 * Region -1 (just below base) has every header zero, so every operation on
 * it misses (0 <= begin, 0 >= end).  That is the sentinel which replaces an
 * "initialised?" test: until kfront_init publishes the real view, kpcpu
 * names kfront_thr.none (always -1) as the index and a static zeroed block
 * as region -1, so the first calls take the slow paths, which initialise.
 * A thread without a region of its own (per-thread mode: new, exiting, or
 * beyond the reserved number) has slot -1; the counting mode of
 * KALLOC_STATS keeps the initial view, so its fast paths always miss, and
 * its slow paths use kpcpu_slow, the real view.
 *
 * The view is published in the order base, cs_rel, cid_rel, and the fast
 * paths load it in the reverse order (x86 keeps loads in order): a fast
 * path that sees the new index sees the new area to arm and the new base;
 * one that sees the old index (-1) misses on region -1 of either base.
 */
enum { KF_NONE = 0, KF_RSEQ = 1, KF_THREAD = 2 };

#define KFRONT_CUSTOM   32
#define KFRONT_NR       (KMALLOC_NR_CLASSES + KFRONT_CUSTOM)
#define KPCPU_SHIFT     18
#define KPCPU_REGION    (1UL << KPCPU_SHIFT)
#define KPCPU_HDR_WORDS 80            /* headers, then slots */
#define KRSEQ_SIG       0x53053053

/* Where the stacks are, as seen from a thread: the region index is the
 * 32-bit signed word at &kfront_thr + cid_rel, the sequence is armed at
 * &kfront_thr + cs_rel, and region r is at base + (r << KPCPU_SHIFT).
 * The offsets are relative to kfront_thr, whose own offset from the thread
 * pointer the fast path takes from the GOT (initial-exec TLS): that makes
 * the initial view a link-time constant. */
struct kpcpu_view {
	intptr_t cid_rel;        /* rseq->mm_cid or rseq->cpu_id, or kfront_thr.slot / .none */
	intptr_t cs_rel;         /* rseq->rseq_cs, or kfront_thr.cs */
	char *base;              /* region 0 */
};

/* Per-thread state of the front caches. */
struct kfront_thread {
	uint64_t cs;             /* the per-thread mode arms here; nothing reads it */
	int32_t slot;            /* this thread's region (per-thread mode), -1 until it has one */
	int32_t none;            /* always -1: the index of the initial view */
	uint8_t state;           /* KT_NONE, KT_LIVE, KT_DEAD */
};
enum { KT_NONE = 0, KT_LIVE = 1, KT_DEAD = 2 };

extern struct kpcpu_view kpcpu;        /* the fast paths' view */
extern struct kpcpu_view kpcpu_slow;   /* the slow paths' view */
extern __thread struct kfront_thread kfront_thr;
extern struct kmem_cache *kfront_cache[KFRONT_NR];

#if defined(__x86_64__) && !defined(KALLOC_GENERIC_FRONT)
#define KPCPU_HAVE_RSEQ 1
/*
 * Every restartable sequence here has the same frame, with local labels:
 *   0: arm: store the address of the descriptor (7) in rseq->rseq_cs;
 *   1: start of the critical section;  2: its end, just after the commit;
 *   4: abort handler, in another section, preceded by the signature
 *      (as the operand of a ud1, so disassemblers stay in step): it jumps
 *      back to 0, re-arming (the kernel clears rseq_cs on abort) and
 *      starting over.
 * `reg` names a scratch operand used to arm; %[tp] + %[cs] must be the
 * thread pointer offset of rseq->rseq_cs.  A miss leaves the section by a
 * jump to a C label (asm goto): rseq_cs then still names this descriptor,
 * which the kernel ignores once the instruction pointer is outside [1, 2).
 */
#define KRSEQ_ARM(reg)                                                  \
	".pushsection __rseq_cs, \"aw\"\n\t"                              \
	".balign 32\n\t"                                                    \
	"7:\n\t"                                                            \
	".long 0, 0\n\t"                                                    \
	".quad 1f, 2f - 1f, 4f\n\t"                                         \
	".popsection\n\t"                                                   \
	".pushsection .text.unlikely, \"ax\"\n\t"                         \
	".byte 0x0f, 0xb9, 0x3d\n\t"                                        \
	".long 0x53053053\n\t"                                              \
	"4:\n\t"                                                            \
	"jmp 0f\n\t"                                                        \
	".popsection\n\t"                                                   \
	"0:\n\t"                                                            \
	"leaq 7b(%%rip), %[" reg "]\n\t"                                    \
	"movq %[" reg "], %%fs:(%[tp],%[cs])\n\t"
/* Loads a view, index first (see the publication order above), and the
 * thread pointer offset of kfront_thr. */
#define KPCPU_VIEW_LOAD                                                 \
	"movq %[cidrel], %[cid]\n\t"                                        \
	"movq %[csrel], %[cs]\n\t"                                          \
	"movq kfront_thr@gottpoff(%%rip), %[tp]\n\t"
#define KPCPU_VIEW_OUT [cid] "=&r"(cid), [cs] "=&r"(cs), [tp] "=&r"(tp)
#define KPCPU_VIEW_IN(v) [cidrel] "m"((v)->cid_rel), [csrel] "m"((v)->cs_rel), [base] "m"((v)->base)

/* Pops an object from this CPU's (thread's) stack `idx` in view v; NULL
 * when empty or locked. */
KINLINE void *kpcpu_pop(const struct kpcpu_view *v, size_t idx)
{
	void *obj;
	uintptr_t region, cur, cid, cs, tp;
	__asm__ __volatile__ goto(
		KPCPU_VIEW_LOAD
		KRSEQ_ARM("region")
		"1:\n\t"
		"movslq %%fs:(%[tp],%[cid]), %[region]\n\t"
		"shlq %[shift], %[region]\n\t"
		"addq %[base], %[region]\n\t"
		"movzwl (%[region],%[idx],8), %k[cur]\n\t"
		"cmpw 2(%[region],%[idx],8), %w[cur]\n\t"
		"jbe %l[miss]\n\t"
		"movq -8(%[region],%[cur],8), %[obj]\n\t"
		"subl $1, %k[cur]\n\t"
		"movw %w[cur], (%[region],%[idx],8)\n\t"
		"2:\n\t"
		: [obj] "=&r"(obj), [region] "=&r"(region), [cur] "=&r"(cur), KPCPU_VIEW_OUT
		: KPCPU_VIEW_IN(v), [idx] "r"(idx), [shift] "i"(KPCPU_SHIFT)
		: "memory", "cc"
		: miss);
	if (!obj)
		__builtin_unreachable();   /* stacks never hold NULL */
	return obj;
miss:
	return NULL;
}

/* Pushes obj on this CPU's (thread's) stack `idx` in view v; false when
 * full, locked, or obj is already on top (the caller's slow path sorts
 * these out). */
KINLINE bool kpcpu_push(const struct kpcpu_view *v, size_t idx, void *obj)
{
	uintptr_t region, cur, cid, cs, tp;
	__asm__ __volatile__ goto(
		KPCPU_VIEW_LOAD
		KRSEQ_ARM("region")
		"1:\n\t"
		"movslq %%fs:(%[tp],%[cid]), %[region]\n\t"
		"shlq %[shift], %[region]\n\t"
		"addq %[base], %[region]\n\t"
		"movzwl (%[region],%[idx],8), %k[cur]\n\t"
		"cmpw 4(%[region],%[idx],8), %w[cur]\n\t"
		"jae %l[miss]\n\t"
		"cmpq -8(%[region],%[cur],8), %[obj]\n\t"
		"je %l[miss]\n\t"
		"movq %[obj], (%[region],%[cur],8)\n\t"
		"addl $1, %k[cur]\n\t"
		"movw %w[cur], (%[region],%[idx],8)\n\t"
		"2:\n\t"
		: [region] "=&r"(region), [cur] "=&r"(cur), KPCPU_VIEW_OUT
		: KPCPU_VIEW_IN(v), [idx] "r"(idx), [obj] "r"(obj), [shift] "i"(KPCPU_SHIFT)
		: "memory", "cc"
		: miss);
	return true;
miss:
	return false;
}
#else
/* Other architectures: the per-thread mode only, in plain C.  The acquire
 * load of the index orders the load of base after it. */
#define KPCPU_HAVE_RSEQ 0
KINLINE uint16_t *kpcpu_hdr_this(const struct kpcpu_view *v, size_t idx)
{
	intptr_t rel = __atomic_load_n(&v->cid_rel, __ATOMIC_ACQUIRE);
	intptr_t r = *(const int32_t *)((uintptr_t)&kfront_thr + (uintptr_t)rel);
	return (uint16_t *)(void *)(v->base + r * (intptr_t)KPCPU_REGION + (intptr_t)idx * 8);
}
KINLINE void *kpcpu_pop(const struct kpcpu_view *v, size_t idx)
{
	uint16_t *h = kpcpu_hdr_this(v, idx);
	unsigned cur = h[0];
	if (cur <= h[1])
		return NULL;
	void **slots = (void **)(void *)(h - idx * 4);
	h[0] = (uint16_t)(cur - 1);
	return slots[cur - 1];
}
KINLINE bool kpcpu_push(const struct kpcpu_view *v, size_t idx, void *obj)
{
	uint16_t *h = kpcpu_hdr_this(v, idx);
	unsigned cur = h[0];
	void **slots = (void **)(void *)(h - idx * 4);
	if (cur >= h[2] || slots[cur - 1] == obj)
		return false;
	slots[cur] = obj;
	h[0] = (uint16_t)(cur + 1);
	return true;
}
#endif

void kfront_init(void);
/* Slow paths of kfront_pop / kfront_push. */
void *kfront_alloc_slow(unsigned idx, gfp_t gfp);
void kfront_free_slow(unsigned idx, void *obj);
/* Returns the cached objects of the calling thread (per-thread mode) or of
 * every CPU (rseq mode) to the slabs. */
void kfront_flush_all(void);
/* Returns every cached object of front index idx to its slab cache (every
 * CPU in rseq mode; the calling thread in per-thread mode). */
void kfront_drain_index(unsigned idx);
/* Front index for a new kmem_cache, or -1 (none free, or per-thread mode). */
int kfront_attach(struct kmem_cache *c);
void kfront_detach(struct kmem_cache *c);
void kfront_fork_prepare(void);
void kfront_fork_parent(void);
void kfront_fork_child(void);
size_t kfront_print(int fd);
const char *kfront_mode_name(void);
/* Objects of front index idx sitting in front caches (every CPU in rseq
 * mode, the calling thread otherwise); a racy snapshot. */
size_t kfront_cached(unsigned idx);

KINLINE void *kfront_pop(size_t idx, gfp_t gfp)
{
	void *p = kpcpu_pop(&kpcpu, idx);
	if (likely(p != NULL))
		return p;
	return kfront_alloc_slow((unsigned)idx, gfp);
}

KINLINE void kfront_push(size_t idx, void *obj)
{
	if (likely(kpcpu_push(&kpcpu, idx, obj)))
		return;
	kfront_free_slow((unsigned)idx, obj);
}

/* ================================================================== */
/* malloc.c / init                                                     */
/* ================================================================== */

/* 0: not started, 1: in progress, 2: done */
extern _Atomic int kalloc_init_state;
void kalloc_init_slow(void);
KINLINE void kalloc_ensure_init(void)
{
	if (unlikely(atomic_load_explicit(&kalloc_init_state, memory_order_acquire) != 2))
		kalloc_init_slow();
}

/* stats.c */
void kstats_print_fd(int fd);
/* Totals for mallinfo: bytes mapped for chunks, bytes in use (page blocks
 * and slab objects handed out), free buddy blocks. */
void kstats_totals(size_t *present, size_t *in_use, size_t *free_blocks);

#pragma GCC visibility pop

#endif /* KALLOC_INTERNAL_H */
