/* SPDX-License-Identifier: MIT */
/*
 * malloc.c - the glibc malloc API: the top of the stack, with kapi.c.
 *
 * Semantics follow glibc 2.36 exactly where a program can tell:
 *  - every block is 16-byte aligned (the smallest block is 16 bytes);
 *  - sizes above PTRDIFF_MAX, and overflow in calloc and reallocarray, fail
 *    with ENOMEM; a failed realloc leaves the old block intact;
 *  - realloc(p, 0) frees p and returns NULL; malloc(0) returns a unique
 *    block; free(NULL) does nothing; malloc_usable_size(NULL) is 0;
 *  - memalign rounds a non-power-of-two alignment up to the next power of
 *    two and fails with EINVAL above SIZE_MAX / 2 + 1; aligned_alloc fails
 *    with EINVAL for an alignment that is not a power of two (C17 DR 460,
 *    glibc 2.38); posix_memalign returns EINVAL for an alignment that is not
 *    a power of two multiple of sizeof(void *), and ENOMEM with errno ENOMEM
 *    when memory runs out, and leaves *memptr alone on failure;
 *  - a pointer kalloc never returned is reported and the process aborts.
 *
 * C++'s replaceable operator new and delete, every form, are here too (the
 * last section): the same fast paths, the new-handler and std::bad_alloc
 * through cxxrt.cc, and sized delete checking its size against the block.
 *
 * Fast paths: malloc of up to 8 KiB is a table lookup and a pop from the
 * CPU's (or thread's) stack; free is an info-map lookup, the page's info
 * word, the object-boundary check and a push.  Everything else goes to the
 * slow paths in kmalloc.c.
 *
 * Initialisation (init.c) is lazy: the first call of a thread misses on the
 * front caches' sentinel view (front.h) and its slow path here starts it;
 * the other entry points that may come first start it themselves.
 */
#include "internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MALLOC_GFP (GFP_KERNEL | __GFP_NOWARN)

/* The glibc names, except in a sanitizer build (tests/sanitize): there the
 * sanitizer's allocator must be the process's malloc (its own start-up
 * allocates before any instrumented code may run), and kalloc's functions
 * are kalloc_malloc, kalloc_free, ... for the tests to call. */
#ifdef KALLOC_SANITIZER_BUILD
#define KMALLOC(name) kalloc_##name
#else
#define KMALLOC(name) name
#endif

/* ------------------------------------------------------------------ */
/* malloc / free                                                       */
/* ------------------------------------------------------------------ */

static KNOINLINE void *malloc_slow(size_t n)
{
	kalloc_ensure_init();
	kslab_set_caller(__builtin_return_address(0));
	void *p = kalloc_any(n < 16 ? 16 : n, 0, MALLOC_GFP, NULL);
	kslab_clear_caller();
	return p;
}

/* The miss of front_pop: the first call of the process lands here, and
 * every allocation of a debug class (KALLOC_DEBUG), whose red zone starts
 * at the n bytes asked for.  (n first: it stays in its register, so the
 * fast path moves nothing for it.) */
static KNOINLINE void *front_pop_slow(size_t n, size_t cls)
{
	kalloc_ensure_init();
	kslab_set_caller(__builtin_return_address(0));
	void *p = kfront_alloc_slow((unsigned)cls, MALLOC_GFP);
	if (unlikely(kslab_debug(&kmalloc_caches[cls])) && p)
		kslab_debug_set_size(&kmalloc_caches[cls], p, n);
	else if (p)
		kmalloc_tag_clear(p);
	kslab_clear_caller();
	return p;
}

/* kfront_pop, whose miss also starts the initialisation; the object's
 * free tag cleared (kmalloc.h). */
static inline void *front_pop(size_t cls, size_t n)
{
	void *p = kpcpu_pop(&kpcpu, cls);
	if (likely(p != NULL)) {
		kmalloc_tag_clear(p);
		return p;
	}
	return front_pop_slow(n, cls);
}

/* A block of n <= KMALLOC_TABLE_MAX bytes from its class's front cache. */
static inline void *table_pop(size_t n)
{
	return front_pop(kmalloc_index16[(n + 15) >> 4], n);
}

/*
 * Fast path, x86-64, gcc 12 -O2 (objdump of libkalloc-preload.so, every
 * instruction from entry to ret executed, no branch taken): malloc of up to
 * 8 KiB is 22 instructions (size test, class table, the front-cache view,
 * restartable pop, the store that clears the free tag); free is 44 (range
 * test, info map and info word, one comparison for kind and class,
 * object-boundary check, the free tag's lea, compare, branch and store (kmalloc.h),
 * view, restartable push with the double-free test of the top object).
 * Neither tests whether kalloc is initialised: before it is, the view names
 * a sentinel region on which both miss (internal.h).  Both modes run these
 * same instructions, so callgrind (which has no rseq and runs the
 * per-thread mode) counts them: a malloc(32) + free loop is 76 instructions
 * per iteration with the loop itself (72 before the free tag;
 * bench/fastpath.sh; mimalloc 2.0: 115, of
 * which its real fast path is 41, as valgrind sends its free to the
 * cross-thread path; jemalloc 5.3: 77, tcmalloc 2.10: 77, glibc 2.36: 139).
 */
KINLINE void *malloc_fast(size_t n)
{
	if (likely(n <= KMALLOC_TABLE_MAX))
		return table_pop(n);
	if (likely(n <= KMALLOC_MAX_CACHE_SIZE))
		return front_pop(kmalloc_index(n), n);
	return malloc_slow(n);
}

KEXPORT void *KMALLOC(malloc)(size_t n)
{
	return malloc_fast(n);
}

static KNOINLINE void free_slow(void *p)
{
	if (p) {
		kslab_set_caller(__builtin_return_address(0));
		kfree_any(p, "free");
		kslab_clear_caller();
	}
}

/* True, with *cls set, when p is an object of a front-cached kmalloc slab
 * (its page's info word is KINFO_KSLAB_BASE + class and p is on an object
 * boundary): free's and realloc's test. */
static inline bool kmalloc_object(const void *p, size_t *cls)
{
	uintptr_t a = (uintptr_t)p, ci = a >> KCHUNK_SHIFT;
	if (likely(ci < KREGISTRY_LEN)) {
		uintptr_t map = atomic_load_explicit(&kinfo_map[ci], memory_order_acquire);
		if (likely(map != 0)) {
			size_t c = __atomic_load_n((const uint32_t *)(map + (a >> PAGE_SHIFT) * sizeof(uint32_t)), __ATOMIC_ACQUIRE) -
		           KINFO_KSLAB_BASE;
			*cls = c;
			return likely(c < KMALLOC_NR_CLASSES && kmalloc_obj_valid(c, p));
		}
	}
	return false;
}

KINLINE void free_fast(void *p)
{
	size_t cls;
	/* (kmalloc_object, spelled out: gcc 12 allocates registers better) */
	uintptr_t a = (uintptr_t)p, ci = a >> KCHUNK_SHIFT;
	if (likely(ci < KREGISTRY_LEN)) {
		uintptr_t map = atomic_load_explicit(&kinfo_map[ci], memory_order_acquire);
		if (likely(map != 0)) {
			cls = __atomic_load_n((const uint32_t *)(map + (a >> PAGE_SHIFT) * sizeof(uint32_t)), __ATOMIC_ACQUIRE) -
			      KINFO_KSLAB_BASE;
			if (likely(cls < KMALLOC_NR_CLASSES && kmalloc_obj_valid(cls, p))) {
				/* p goes on top of its stack: the next malloc of
				 * the class returns it and the program writes it.
				 * The free tag's store writes its line now, as a
				 * free list linked through the objects would (a
				 * PREFETCHW did that before the tag: larson-t1 4%
				 * faster than neither). */
				kmalloc_free_tagged(cls, p);
				return;
			}
		}
	}
	free_slow(p);
}

KEXPORT void KMALLOC(free)(void *p)
{
	free_fast(p);
}

KEXPORT void *KMALLOC(calloc)(size_t n, size_t m)
{
	size_t bytes;
	if (unlikely(__builtin_mul_overflow(n, m, &bytes))) {
		errno = ENOMEM;
		return NULL;
	}
	if (likely(bytes <= KMALLOC_TABLE_MAX)) {
		/* malloc's path; front-cached objects are never known zero */
		void *p = table_pop(bytes);
		if (likely(p != NULL))
			memset(p, 0, bytes);
		return p;
	}
	bool zeroed = false;
	kalloc_ensure_init();
	void *p = kalloc_any(bytes, 0, MALLOC_GFP | __GFP_ZERO, &zeroed);
	if (p && !zeroed)
		memset(p, 0, bytes);
	return p;
}

/* Small blocks take a path of their own, with free's lookup: the block
 * stays while the new size maps to its class (as krealloc_any decides),
 * else it moves through the front caches. */
KEXPORT void *KMALLOC(realloc)(void *p, size_t n)
{
	if (!p)
		return KMALLOC(malloc)(n);
	if (n == 0) {
		KMALLOC(free)(p);
		return NULL;
	}
	size_t cls;
	/* (a debug class's objects take krealloc_any: their red zone moves
	 * with the size) */
	if (likely(kmalloc_object(p, &cls)) && likely(n <= KMALLOC_TABLE_MAX) &&
	    likely(!kslab_debug(&kmalloc_caches[cls]))) {
		size_t old = kmalloc_class_size[cls];
		if (n <= old && (n > old / 2 || n <= 16))
			return p;
		void *q = table_pop(n);
		if (unlikely(!q))
			return NULL;   /* reported, errno set; p stays */
		memcpy(q, p, KMIN(old, n));
		kmalloc_free_tagged(cls, p);
		return q;
	}
	return krealloc_any(p, n < 16 ? 16 : n, MALLOC_GFP, "realloc");
}

KEXPORT void *KMALLOC(reallocarray)(void *p, size_t n, size_t m)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, m, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return KMALLOC(realloc)(p, bytes);
}

/* ------------------------------------------------------------------ */
/* aligned allocation                                                  */
/* ------------------------------------------------------------------ */

static void *aligned(size_t align, size_t n)
{
	if (align <= 16)
		return KMALLOC(malloc)(n);
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (!KIS_POW2(align))
		align = (size_t)1 << (64 - __builtin_clzl(align));
	if (n > (size_t)PTRDIFF_MAX - align) {
		errno = ENOMEM;
		return NULL;
	}
	kalloc_ensure_init();
	return kalloc_any(n < 16 ? 16 : n, align, MALLOC_GFP, NULL);
}

KEXPORT void *KMALLOC(memalign)(size_t align, size_t n)
{
	return aligned(align, n);
}

/* C17 (DR 460) and glibc since 2.38: an alignment that is not a power of
 * two (0 included) fails with EINVAL; memalign keeps rounding it up. */
KEXPORT void *KMALLOC(aligned_alloc)(size_t align, size_t n)
{
	if (!KIS_POW2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, n);
}

KEXPORT int KMALLOC(posix_memalign)(void **memptr, size_t align, size_t n)
{
	if (align % sizeof(void *) != 0 || !KIS_POW2(align / sizeof(void *)))
		return EINVAL;
	/* On ENOMEM errno is ENOMEM too, as glibc leaves it. */
	void *p = aligned(align, n);
	if (!p)
		return ENOMEM;
	*memptr = p;
	return 0;
}

KEXPORT void *KMALLOC(valloc)(size_t n)
{
	return aligned(PAGE_SIZE, n);
}

KEXPORT void *KMALLOC(pvalloc)(size_t n)
{
	if (n > SIZE_MAX - PAGE_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned(PAGE_SIZE, KALIGN_UP(n ? n : 1, PAGE_SIZE));
}

/* ------------------------------------------------------------------ */
/* C++ operator new and delete                                         */
/* ------------------------------------------------------------------ */

/*
 * Every replaceable form of C++17, defined under its Itanium ABI name
 * (size_t is unsigned long: "m"), so the operators take the same fast paths
 * as malloc and free instead of reaching them through libstdc++'s, and so
 * sized delete can use its size.  Semantics as the standard requires:
 *  - new(0) returns a unique block (malloc(0)'s);
 *  - new that fails calls the installed new-handler and tries again, until
 *    there is none: then it throws std::bad_alloc; the handler may throw
 *    itself, which goes on to new's caller;
 *  - the nothrow forms run the same loop and return NULL instead of
 *    throwing, a handler's exception included (caught in cxxrt.cc);
 *  - an alignment that is not a power of two (undefined behaviour) fails at
 *    once, without the handler, which could not make it succeed;
 *  - delete of NULL does nothing; unsized and aligned delete are free;
 *  - sized delete checks the size against the block: one that cannot be
 *    the block's is reported (kfree_sized) and aborts.
 * Fast paths (objdump, as for malloc and free above): new is malloc's 22
 * instructions, its miss going to a slow path of its own; unsized delete is
 * free's 44; sized delete is free's and the size test, two comparisons with
 * the class's bounds: 48.  The size cannot save free any work: free's test
 * of kind and class is already one comparison of the info word, and the
 * object-boundary and double-free checks stand whatever the size says.
 * callgrind (bench/fastpath.sh), per iteration with the loop: new(32) +
 * delete(p) 76, as malloc(32) + free; new(32) + delete(p, 32) 81 (the
 * four instructions and the caller's load of the size).
 */
#ifndef KALLOC_SANITIZER_BUILD
_Static_assert(sizeof(size_t) == sizeof(unsigned long), "operator new's names say size_t is unsigned long");

#define CXX_PLAIN 1   /* the alignment of plain new: malloc's */

static KNOINLINE void *cxx_new_fail(size_t n, size_t align, bool nothrow)
{
	if (KIS_POW2(align)) {
		kcxx_handler_fn h;
		while ((h = kcxx_new_handler()) != NULL) {
			if (!kcxx_call_handler(h, nothrow))
				return NULL;
			void *p = aligned(align, n);
			if (p)
				return p;
		}
	}
	if (nothrow)
		return NULL;
	kcxx_throw_bad_alloc();
	kpanic("operator new: cannot allocate %zu bytes (alignment %zu) and no C++ runtime to throw std::bad_alloc", n,
	       align);
}

/* The miss of the table pop: its slow path, then the new-handler's loop,
 * which asks for the class's size (the same class: the request's size is
 * not kept, so that the fast path needs no register for it). */
static KNOINLINE void *cxx_pop_slow(size_t cls, bool nothrow)
{
	void *p = front_pop_slow(kmalloc_class_size[cls], cls);
	if (likely(p != NULL))
		return p;
	return cxx_new_fail(kmalloc_class_size[cls], CXX_PLAIN, nothrow);
}

/* Above 8 KiB: the rest of malloc, then the new-handler's loop. */
static KNOINLINE void *cxx_new_slow(size_t n, bool nothrow)
{
	void *p = malloc_fast(n);
	if (likely(p != NULL))
		return p;
	return cxx_new_fail(n, CXX_PLAIN, nothrow);
}

/* malloc's fast path, the same instructions (front_pop with a miss of its
 * own). */
KINLINE void *cxx_new(size_t n, bool nothrow)
{
	if (likely(n <= KMALLOC_TABLE_MAX)) {
		size_t cls = kmalloc_index16[(n + 15) >> 4];
		void *p = kpcpu_pop(&kpcpu, cls);
		if (likely(p != NULL)) {
			kmalloc_tag_clear(p);
			return p;
		}
		return cxx_pop_slow(cls, nothrow);
	}
	return cxx_new_slow(n, nothrow);
}

static inline void *cxx_new_aligned(size_t n, size_t align, bool nothrow)
{
	void *p = KIS_POW2(align) ? aligned(align, n) : NULL;
	if (likely(p != NULL))
		return p;
	return cxx_new_fail(n, align, nothrow);
}

static KNOINLINE void cxx_delete_slow(void *p, size_t n, size_t align)
{
	if (p)
		kfree_sized(p, n, align, "operator delete");
}

/* free's fast path, and the size must be one of the block's class
 * (kmalloc_size_fits): four instructions more than free. */
KINLINE void cxx_delete_sized(void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p, ci = a >> KCHUNK_SHIFT;
	if (likely(ci < KREGISTRY_LEN)) {
		uintptr_t map = atomic_load_explicit(&kinfo_map[ci], memory_order_acquire);
		if (likely(map != 0)) {
			size_t cls = __atomic_load_n((const uint32_t *)(map + (a >> PAGE_SHIFT) * sizeof(uint32_t)),
			                             __ATOMIC_ACQUIRE) -
			             KINFO_KSLAB_BASE;
			if (likely(cls < KMALLOC_NR_CLASSES && kmalloc_size_fits(cls, n) && kmalloc_obj_valid(cls, p))) {
				kmalloc_free_tagged(cls, p);
				return;
			}
		}
	}
	cxx_delete_slow(p, n, 0);
}

/* std::nothrow_t comes by reference (unused); std::align_val_t is an enum
 * of size_t. */
struct cxx_nothrow_t;
typedef size_t cxx_align_t;   /* std::align_val_t: an enum of size_t */

KEXPORT void *_Znwm(size_t n) { return cxx_new(n, false); }
KEXPORT void *_Znam(size_t n) { return cxx_new(n, false); }
KEXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const struct cxx_nothrow_t *t) { (void)t; return cxx_new(n, true); }
KEXPORT void *_ZnamRKSt9nothrow_t(size_t n, const struct cxx_nothrow_t *t) { (void)t; return cxx_new(n, true); }
KEXPORT void *_ZnwmSt11align_val_t(size_t n, cxx_align_t al) { return cxx_new_aligned(n, al, false); }
KEXPORT void *_ZnamSt11align_val_t(size_t n, cxx_align_t al) { return cxx_new_aligned(n, al, false); }
KEXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, cxx_align_t al, const struct cxx_nothrow_t *t)
{
	(void)t;
	return cxx_new_aligned(n, al, true);
}
KEXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, cxx_align_t al, const struct cxx_nothrow_t *t)
{
	(void)t;
	return cxx_new_aligned(n, al, true);
}

KEXPORT void _ZdlPv(void *p) { free_fast(p); }
KEXPORT void _ZdaPv(void *p) { free_fast(p); }
KEXPORT void _ZdlPvm(void *p, size_t n) { cxx_delete_sized(p, n); }
KEXPORT void _ZdaPvm(void *p, size_t n) { cxx_delete_sized(p, n); }
KEXPORT void _ZdlPvRKSt9nothrow_t(void *p, const struct cxx_nothrow_t *t) { (void)t; KMALLOC(free)(p); }
KEXPORT void _ZdaPvRKSt9nothrow_t(void *p, const struct cxx_nothrow_t *t) { (void)t; KMALLOC(free)(p); }
KEXPORT void _ZdlPvSt11align_val_t(void *p, cxx_align_t al) { (void)al; KMALLOC(free)(p); }
KEXPORT void _ZdaPvSt11align_val_t(void *p, cxx_align_t al) { (void)al; KMALLOC(free)(p); }
KEXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, cxx_align_t al, const struct cxx_nothrow_t *t)
{
	(void)al, (void)t;
	KMALLOC(free)(p);
}
KEXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, cxx_align_t al, const struct cxx_nothrow_t *t)
{
	(void)al, (void)t;
	KMALLOC(free)(p);
}
/* Sized and aligned: free's lookup, then the block's class must be the one
 * an aligned request of n bytes takes. */
static inline void cxx_delete_sized_aligned(void *p, size_t n, size_t align)
{
	size_t cls;
	if (align <= 16) {
		cxx_delete_sized(p, n);
		return;
	}
	if (likely(align <= PAGE_SIZE && KIS_POW2(align) && kmalloc_object(p, &cls)) &&
	    likely(cls == kmalloc_aligned_class(KMAX(n, 16), align))) {
		kmalloc_free_tagged(cls, p);
		return;
	}
	cxx_delete_slow(p, n, align);
}

KEXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, cxx_align_t al) { cxx_delete_sized_aligned(p, n, al); }
KEXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, cxx_align_t al) { cxx_delete_sized_aligned(p, n, al); }
#endif /* !KALLOC_SANITIZER_BUILD */

/* ------------------------------------------------------------------ */
/* introspection                                                       */
/* ------------------------------------------------------------------ */

KEXPORT size_t KMALLOC(malloc_usable_size)(void *p)
{
	return p ? kusable_any(p, "malloc_usable_size") : 0;
}

KEXPORT int KMALLOC(malloc_trim)(size_t pad)
{
	(void)pad;
	kalloc_ensure_init();
	return kalloc_trim() ? 1 : 0;
}

KEXPORT struct mallinfo2 KMALLOC(mallinfo2)(void)
{
	struct mallinfo2 mi;
	memset(&mi, 0, sizeof mi);
	kalloc_ensure_init();
	size_t present, in_use, free_blocks, hcount, hbytes, hcached;
	kstats_totals(&present, &in_use, &free_blocks);
	kvm_totals(&hcount, &hbytes, &hcached);
	mi.arena = present;
	mi.ordblks = free_blocks;
	mi.hblks = hcount;
	mi.hblkhd = hbytes;
	mi.uordblks = in_use;
	mi.fordblks = present - in_use;
	mi.keepcost = 0;
	return mi;
}

static int clamp_int(size_t v)
{
	return v > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)v;
}

KEXPORT struct mallinfo KMALLOC(mallinfo)(void)
{
	struct mallinfo2 m2 = KMALLOC(mallinfo2)();
	struct mallinfo mi;
	memset(&mi, 0, sizeof mi);
	mi.arena = clamp_int(m2.arena);
	mi.ordblks = clamp_int(m2.ordblks);
	mi.hblks = clamp_int(m2.hblks);
	mi.hblkhd = clamp_int(m2.hblkhd);
	mi.uordblks = clamp_int(m2.uordblks);
	mi.fordblks = clamp_int(m2.fordblks);
	return mi;
}

KEXPORT int KMALLOC(mallopt)(int param, int value)
{
	(void)value;
	switch (param) {
	case M_MXFAST:
		return value >= 0 && value <= 160 ? 1 : 0;
	case M_TRIM_THRESHOLD:
	case M_TOP_PAD:
	case M_MMAP_THRESHOLD:
	case M_MMAP_MAX:
	case M_CHECK_ACTION:
	case M_PERTURB:
	case M_ARENA_TEST:
	case M_ARENA_MAX:
		return 1;
	default:
		return 0;
	}
}

KEXPORT void KMALLOC(malloc_stats)(void)
{
	kalloc_ensure_init();
	struct mallinfo2 m = KMALLOC(mallinfo2)();
	char buf[512];
	size_t n = kformat(buf, sizeof buf,
	                   "Arena 0:\nsystem bytes     = %10lu\nin use bytes     = %10lu\n"
	                   "Total (incl. mmap):\nsystem bytes     = %10lu\nin use bytes     = %10lu\n"
	                   "max mmap regions = %10lu\nmax mmap bytes   = %10lu\n",
	                   (unsigned long)m.arena, (unsigned long)(m.arena - m.fordblks),
	                   (unsigned long)(m.arena + m.hblkhd), (unsigned long)m.uordblks,
	                   (unsigned long)m.hblks, (unsigned long)m.hblkhd);
	kwrite_all(2, buf, n);
}

KEXPORT int KMALLOC(malloc_info)(int options, FILE *fp)
{
	if (options != 0) {
		errno = EINVAL;
		return -1;
	}
	struct mallinfo2 m = KMALLOC(mallinfo2)();
	fprintf(fp, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
	for (unsigned i = 0; i < KMALLOC_NR_CLASSES; i++) {
		struct kmem_cache *c = &kmalloc_caches[i];
		size_t live = atomic_load(&c->nr_alloc_total) - atomic_load(&c->nr_free_total);
		size_t total = c->nr_slabs * c->objects;
		if (total)
			fprintf(fp, "<size from=\"%u\" to=\"%u\" total=\"%zu\" count=\"%zu\"/>\n",
			        i ? kmalloc_class_size[i - 1] + 1 : 1, kmalloc_class_size[i],
			        (total - KMIN(live, total)) * c->object_size, total - KMIN(live, total));
	}
	fprintf(fp, "</sizes>\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
	            "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
	            "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
	            "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
	            "</heap>\n",
	        m.ordblks, m.fordblks, m.arena, m.arena, m.arena, m.arena);
	fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
	            "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
	            "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
	            "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
	            "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
	            "</malloc>\n",
	        m.ordblks, m.fordblks, m.hblks, m.hblkhd, m.arena + m.hblkhd, m.arena + m.hblkhd,
	        m.arena + m.hblkhd, m.arena + m.hblkhd);
	return 0;
}

/* ------------------------------------------------------------------ */
/* glibc's internal names                                              */
/* ------------------------------------------------------------------ */

#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#define KALIAS(name, target) \
	KEXPORT __typeof__(target) name __attribute__((alias(#target)))

#ifndef KALLOC_SANITIZER_BUILD
KALIAS(__libc_malloc, malloc);
KALIAS(__libc_free, free);
KALIAS(__libc_calloc, calloc);
KALIAS(__libc_realloc, realloc);
KALIAS(__libc_memalign, memalign);
KALIAS(__libc_valloc, valloc);
KALIAS(__libc_pvalloc, pvalloc);
KALIAS(__posix_memalign, posix_memalign);
#endif
