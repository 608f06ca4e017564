/* SPDX-License-Identifier: MIT */
/*
 * malloc.c - the glibc malloc API: the top of the stack, with kapi.c.
 *
 * Semantics follow glibc 2.36 exactly where a program can tell:
 *  - every block is 16-byte aligned (the smallest block is 16 bytes);
 *  - sizes above PTRDIFF_MAX, and overflow in calloc and reallocarray, fail
 *    with ENOMEM; a failed realloc leaves the old block intact;
 *  - realloc(p, 0) frees p and returns NULL; malloc(0) returns a unique
 *    block (with hardening on, a slot of the zero-size region, kmalloc.c:
 *    any access through it faults, and malloc_usable_size says 0);
 *    free(NULL) does nothing; malloc_usable_size(NULL) is 0;
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
	if (unlikely(cls == KMALLOC_ZERO_CLASS)) {
		/* malloc(0): a slot of the zero-size region (its class's
		 * stack is always empty); when hardening is off or the region
		 * is full, a 16-byte block as before. */
		void *z = kzero_alloc(0, MALLOC_GFP);
		if (z)
			return z;
		cls = 1;
	}
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
 * free tag cleared (kmalloc.h).  tp: kfront_thr_tpoff(), which the caller
 * may have loaded for the countdown (kprof_count_tp). */
KINLINE void *front_pop_tp(size_t cls, size_t n, intptr_t tp)
{
	void *p = kpcpu_pop_tp(&kpcpu, cls, tp);
	if (likely(p != NULL)) {
		kmalloc_tag_clear(p);
		return p;
	}
	return front_pop_slow(n, cls);
}
static inline void *front_pop(size_t cls, size_t n)
{
	return front_pop_tp(cls, n, kfront_thr_tpoff());
}

/* A block of n <= KMALLOC_TABLE_MAX bytes from its class's front cache. */
static inline void *table_pop(size_t n)
{
	return front_pop(kmalloc_index16[(n + 15) >> 4], n);
}

/*
 * Fast path, x86-64, gcc 12 -O2 (objdump of libkalloc-preload.so, every
 * instruction from entry to ret executed, no branch taken): malloc of up to
 * 8 KiB is 24 instructions (the heap profile's countdown, prof.h: a load of
 * kfront_thr's offset, which the pop uses too, a subtraction and a branch;
 * size test, class table, the front-cache view, restartable pop, the store
 * that clears the free tag); free is 38 (range test, info map, the info
 * word's low byte, the object-boundary check of that byte's entry, which
 * also refuses every byte that is no front-cached class's (kmalloc.h), the
 * free tag's lea, compare, branch and store, view, restartable push).
 * Neither tests whether kalloc is initialised: before it is, the view
 * names a sentinel region on which both miss (internal.h).  Both modes run
 * these same instructions, so callgrind (which has no rseq and runs the
 * per-thread mode) counts them: a malloc(32) + free loop is 72 instructions
 * per iteration with the loop itself (bench/fastpath.sh; mimalloc 2.0: 115,
 * of which its real fast path is 41, as valgrind sends its free to the
 * cross-thread path; jemalloc 5.3: 77, tcmalloc 2.10: 77, glibc 2.36: 139).
 */
/* malloc's routing, without the countdown. */
KINLINE void *malloc_plain_tp(size_t n, intptr_t tp)
{
	if (likely(n <= KMALLOC_TABLE_MAX))
		return front_pop_tp(kmalloc_index16[(n + 15) >> 4], n, tp);
	if (likely(n <= KMALLOC_MAX_CACHE_SIZE))
		return front_pop_tp(kmalloc_index(n), n, tp);
	return malloc_slow(n);
}
KINLINE void *malloc_plain(size_t n)
{
	return malloc_plain_tp(n, kfront_thr_tpoff());
}

/* calloc's routing, without the countdown. */
static inline void *calloc_plain(size_t bytes)
{
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

/* ------------------------------------------------------------------ */
/* the profile's countdown (prof.h)                                    */
/* ------------------------------------------------------------------ */

/*
 * A sampled block (KALLOC_PROF) is never a slab object: up to 32 KiB it
 * is a page block of its own, above it what kalloc_any gives (page blocks
 * and huge areas), so free's fast path, which takes slab objects only,
 * never sees one, and the slow paths tell the profile (kprof_free_hook).
 */
static void *sampled_alloc(size_t n, bool zero)
{
	size_t sz = n < 16 ? 16 : n;
	gfp_t gfp = MALLOC_GFP | (zero ? __GFP_ZERO : 0);
	void *p;
	if (sz <= KMALLOC_MAX_CACHE_SIZE) {
		p = kpage_api_alloc_exact(sz, gfp);
	} else {
		bool zeroed = false;
		p = kalloc_any(sz, 0, gfp, &zeroed);
		if (p && zero && !zeroed)
			memset(p, 0, sz);
	}
	kprof_record(p, n);
	return p;
}

/* The countdown ran out: the tick, then the allocation, sampled or not.
 * During the initialisation the countdown stays at 0, so the first
 * allocations after it tick again and arm it as the tunables say. */
static KNOINLINE void *malloc_tick(size_t n, bool zero)
{
	kalloc_ensure_init();
	if (unlikely(atomic_load_explicit(&kalloc_init_state, memory_order_acquire) != 2)) {
		kfront_thr.prof_left = 0;
	} else if (kprof_tick(n)) {
		return sampled_alloc(n, zero);
	}
	return zero ? calloc_plain(n) : malloc_plain(n);
}

KINLINE void *malloc_fast(size_t n)
{
	intptr_t tp = kfront_thr_tpoff();
	if (kprof_count_tp(n, tp))
		return malloc_tick(n, false);
	return malloc_plain_tp(n, tp);
}

KEXPORT void *KMALLOC(malloc)(size_t n)
{
	return malloc_fast(n);
}

static KNOINLINE void free_slow(void *p)
{
	if (p) {
		kslab_set_caller(__builtin_return_address(0));
		kprof_free_hook(p);
		kfree_any(p, "free");
		kslab_clear_caller();
	}
}

/* True, with *cls set, when p is an object of a front-cached kmalloc slab
 * (kmalloc_obj_valid): realloc's and aligned delete's test. */
static inline bool kmalloc_object(const void *p, size_t *cls)
{
	size_t info = kmalloc_info_byte(p);
	*cls = info - KINFO_KSLAB_BASE;
	return kmalloc_obj_valid(info, p);
}

KINLINE void free_fast(void *p)
{
	/* (kmalloc_info_byte, spelled out: gcc 12 allocates registers
	 * better, and a pointer in no chunk goes straight to free_slow) */
	uintptr_t a = (uintptr_t)p, ci = a >> KCHUNK_SHIFT;
	if (likely(ci < KREGISTRY_LEN)) {
		uintptr_t map = atomic_load_explicit(&kinfo_map[ci], memory_order_acquire);
		if (likely(map != 0)) {
			size_t info = __atomic_load_n((const uint8_t *)(map + (a >> PAGE_SHIFT) * sizeof(uint32_t)),
			                              __ATOMIC_ACQUIRE);
			if (likely(kmalloc_obj_valid(info, p))) {
				/* p goes on top of its stack: the next malloc
				 * of the class returns it and the program
				 * writes it.  The free tag's store writes its
				 * line now, as a free list linked through the
				 * objects would (a PREFETCHW did that before
				 * the tag: larson-t1 4% faster than neither). */
				kmalloc_free_info(info, p);
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
	if (unlikely(kprof_count(bytes)))
		return malloc_tick(bytes, true);
	return calloc_plain(bytes);
}

/* A block that is not a small slab object: the profile forgets it (a
 * sampled block resized in place leaves the profile), and when the
 * countdown runs out the new size may be sampled: a new block, the old one
 * copied and freed. */
static KNOINLINE void *realloc_slow(void *p, size_t n)
{
	kprof_free_hook(p);
	if (unlikely(kprof_count(n))) {
		kalloc_ensure_init();
		if (atomic_load_explicit(&kalloc_init_state, memory_order_acquire) == 2 && kprof_tick(n)) {
			/* Above the slab classes the block is a page block or a
			 * huge area already: it is resized where it is (a huge
			 * one by mremap, no copy) and recorded as it comes out. */
			if (n > KMALLOC_MAX_CACHE_SIZE) {
				void *q = krealloc_any(p, n, MALLOC_GFP, "realloc");
				if (q)
					kprof_record(q, n);
				return q;
			}
			size_t old = kusable_any(p, "realloc");
			void *q = sampled_alloc(n, false);
			if (!q)
				return NULL;
			memcpy(q, p, KMIN(old, n));
			kfree_any(p, "realloc");
			return q;
		}
	}
	return krealloc_any(p, n < 16 ? 16 : n, MALLOC_GFP, "realloc");
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
		void *q = unlikely(kprof_count(n)) ? malloc_tick(n, false) : table_pop(n);
		if (unlikely(!q))
			return NULL;   /* reported, errno set; p stays */
		memcpy(q, p, KMIN(old, n));
		kmalloc_free_tagged(cls, p);
		return q;
	}
	return realloc_slow(p, n);
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
	/* (0 bytes: a slot of the zero-size region, aligned) */
	return kalloc_any(n == 0 ? 0 : n < 16 ? 16 : n, align, MALLOC_GFP, NULL);
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
 * Fast paths (objdump, as for malloc and free above): new is malloc's 24
 * instructions, its miss going to a slow path of its own; unsized delete
 * is free's 38; sized delete is free's, the size test (two comparisons
 * with the class's bounds) and a copy: 43.  The size cannot save free any
 * work: free's test of kind and class is already the object-boundary test
 * of the info byte's entry, and the double-free check stands whatever the
 * size says.  callgrind (bench/fastpath.sh), per iteration with the loop:
 * new(32) + delete(p) 72, as malloc(32) + free; new(32) + delete(p, 32) 78
 * (the five instructions and the caller's load of the size).
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
	size_t n = cls == KMALLOC_ZERO_CLASS ? 0 : kmalloc_class_size[cls];
	void *p = front_pop_slow(n, cls);
	if (likely(p != NULL))
		return p;
	return cxx_new_fail(n, CXX_PLAIN, nothrow);
}

/* Above 8 KiB: the rest of malloc, then the new-handler's loop. */
static KNOINLINE void *cxx_new_slow(size_t n, bool nothrow)
{
	void *p = malloc_plain(n);
	if (likely(p != NULL))
		return p;
	return cxx_new_fail(n, CXX_PLAIN, nothrow);
}

/* The countdown ran out (prof.h). */
static KNOINLINE void *cxx_new_tick(size_t n, bool nothrow)
{
	void *p = malloc_tick(n, false);
	if (likely(p != NULL))
		return p;
	return cxx_new_fail(n, CXX_PLAIN, nothrow);
}

/* malloc's fast path, the same instructions (front_pop with a miss of its
 * own). */
KINLINE void *cxx_new(size_t n, bool nothrow)
{
	intptr_t tp = kfront_thr_tpoff();
	if (kprof_count_tp(n, tp))
		return cxx_new_tick(n, nothrow);
	if (likely(n <= KMALLOC_TABLE_MAX)) {
		size_t cls = kmalloc_index16[(n + 15) >> 4];
		void *p = kpcpu_pop_tp(&kpcpu, cls, tp);
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
	if (!p)
		return;
	if (kprof_free_hook(p))
		kfree_any(p, "operator delete");   /* sampled: a block of its own, whatever the size */
	else
		kfree_sized(p, n, align, "operator delete");
}

/* free's fast path, and the size must be one of the block's class
 * (kmalloc_size_fits): four instructions more than free. */
KINLINE void cxx_delete_sized(void *p, size_t n)
{
	size_t info = kmalloc_info_byte(p);
	if (likely(kmalloc_obj_valid(info, p) && kmalloc_size_fits(info - KINFO_KSLAB_BASE, n))) {
		kmalloc_free_info(info, p);
		return;
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

/* mallinfo2's fields from the report's snapshot (stats_snap.h):
 *   arena     bytes of the chunks (present pages);   ordblks  free buddy blocks;
 *   hblks, hblkhd  huge areas and their bytes;       uordblks in use, huge areas excluded;
 *   fordblks  arena - uordblks;  smblks, fsmblks  objects and bytes held in the
 *   front caches (glibc's fastbins and tcache: free, but kept for reuse). */
static void mallinfo_of(const struct ksnap *s, struct mallinfo2 *mi)
{
	memset(mi, 0, sizeof *mi);
	size_t arena = s->mapped - s->huge_bytes - s->huge_kept;
	size_t used = s->in_use - s->huge_bytes;
	size_t cached_objs = 0;
	for (unsigned k = 0; k < s->nr_caches; k++)
		cached_objs += s->caches[k].cpu_cached;
	mi->arena = arena;
	mi->ordblks = s->buddy_free_blocks;
	mi->smblks = cached_objs;
	mi->hblks = s->huge_count;
	mi->hblkhd = s->huge_bytes;
	mi->uordblks = used;
	mi->fsmblks = s->cached;
	mi->fordblks = arena - KMIN(used, arena);
	mi->keepcost = 0;
}

KEXPORT struct mallinfo2 KMALLOC(mallinfo2)(void)
{
	struct mallinfo2 mi;
	memset(&mi, 0, sizeof mi);
	kalloc_ensure_init();
	struct ksnap *s = kstats_snapshot_new(false);
	if (s) {
		mallinfo_of(s, &mi);
		kstats_snapshot_free(s);
	}
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

/* glibc's layout (one arena), from the snapshot, written without stdio. */
KEXPORT void KMALLOC(malloc_stats)(void)
{
	kalloc_ensure_init();
	struct mallinfo2 m;
	struct ksnap *s = kstats_snapshot_new(false);
	if (!s)
		return;
	mallinfo_of(s, &m);
	kstats_snapshot_free(s);
	char buf[512];
	size_t n = kformat(buf, sizeof buf,
	                   "Arena 0:\nsystem bytes     = %10lu\nin use bytes     = %10lu\n"
	                   "Total (incl. mmap):\nsystem bytes     = %10lu\nin use bytes     = %10lu\n"
	                   "max mmap regions = %10lu\nmax mmap bytes   = %10lu\n",
	                   (unsigned long)m.arena, (unsigned long)m.uordblks,
	                   (unsigned long)(m.arena + m.hblkhd), (unsigned long)(m.uordblks + m.hblkhd),
	                   (unsigned long)m.hblks, (unsigned long)m.hblkhd);
	kwrite_all(2, buf, n);
}

/* glibc's XML (malloc/malloc.c: __malloc_info), one heap: <sizes> lists
 * the free slots of each kmalloc class (glibc: free chunks per bin);
 * "fast" is what the front caches hold (glibc: fastbins), "rest" the free
 * slab slots and free pages, "mmap" the huge areas. */
KEXPORT int KMALLOC(malloc_info)(int options, FILE *fp)
{
	if (options != 0) {
		errno = EINVAL;
		return -1;
	}
	kalloc_ensure_init();
	struct ksnap *s = kstats_snapshot_new(false);
	if (!s) {
		errno = ENOMEM;
		return -1;
	}
	struct mallinfo2 m;
	mallinfo_of(s, &m);
	size_t rest_count = m.ordblks, rest_bytes = s->buddy_free + s->slab_free;
	fprintf(fp, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
	for (unsigned i = 0; i < KMALLOC_NR_CLASSES; i++) {
		const struct ksnap_cache *e = NULL;
		for (unsigned k = 0; k < s->nr_caches && !e; k++)
			if (strcmp(s->caches[k].name, kmalloc_caches[i].name) == 0)
				e = &s->caches[k];
		if (!e)
			continue;
		size_t free_slots = e->num_objs - KMIN(e->num_objs, e->active_objs + e->cpu_cached);
		rest_count += free_slots;
		if (free_slots)
			fprintf(fp, "<size from=\"%u\" to=\"%u\" total=\"%zu\" count=\"%zu\"/>\n",
			        i ? kmalloc_class_size[i - 1] + 1 : 1, kmalloc_class_size[i], free_slots * (size_t)e->objsize,
			        free_slots);
	}
	fprintf(fp, "</sizes>\n<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n"
	            "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
	            "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
	            "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
	            "</heap>\n",
	        m.smblks, m.fsmblks, rest_count, rest_bytes, m.arena, m.arena, m.arena, m.arena);
	fprintf(fp, "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n"
	            "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
	            "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
	            "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
	            "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
	            "</malloc>\n",
	        m.smblks, m.fsmblks, rest_count, rest_bytes, m.hblks, m.hblkhd, m.arena + m.hblkhd, m.arena + m.hblkhd,
	        m.arena + m.hblkhd, m.arena + m.hblkhd);
	kstats_snapshot_free(s);
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
