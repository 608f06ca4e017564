/* SPDX-License-Identifier: MIT */
/*
 * kalloc.h - the kernel-style API of kalloc.
 *
 * kalloc is a userspace memory allocator built like the Linux kernel's memory
 * manager: a buddy page allocator (alloc_pages), SLUB-style object caches
 * (kmem_cache_*), the kmalloc size classes and a vmalloc-like path for huge
 * blocks.  The same library also exports the whole glibc malloc API; see
 * README.md.
 *
 * Link with `pkg-config --cflags --libs kalloc` (or -lkalloc).
 *
 * Conventions, as in the kernel:
 *  - allocation functions return NULL on failure (errno is set to ENOMEM),
 *    unless __GFP_NOFAIL is given, in which case they never return NULL;
 *  - a failed allocation prints a one-line report on stderr unless
 *    __GFP_NOWARN is given;
 *  - freeing NULL is a no-op everywhere;
 *  - misuse that kalloc detects (freeing a pointer it never returned or not
 *    at an object's start, freeing to the wrong cache, freeing an object
 *    again while it is the most recently freed one of its cache's stack or
 *    slab) prints a one-line report naming the address and the cache, then
 *    aborts.  Not every double free is caught yet.
 *
 * Where this header says "accepted", the flag is taken without error but
 * does not yet do what the kernel's does; the comment says what it does
 * now.
 */
#ifndef KALLOC_H
#define KALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KALLOC_API __attribute__((visibility("default")))
#define KALLOC_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define KALLOC_API
#define KALLOC_MALLOC_ATTR
#endif

/* ------------------------------------------------------------------ */
/* GFP flags                                                           */
/* ------------------------------------------------------------------ */

typedef unsigned int gfp_t;

/*
 * Zone modifiers: where the memory may live.  Mandatory, as in the kernel:
 * memory outside the zone is never returned (NULL instead).  With both,
 * the stricter (DMA) wins.
 */
#define __GFP_DMA            0x01u    /* ZONE_DMA: below 16 MiB (see "Zones" below) */
#define __GFP_HIGHMEM        0x02u    /* a preference served from ZONE_NORMAL, as on 64-bit kernels */
#define __GFP_DMA32          0x04u    /* ZONE_DMA32: below 4 GiB */
/*
 * Behaviour modifiers.
 *  __GFP_DIRECT_RECLAIM  may call the OS (map memory), wait for locks and
 *                        run shrinkers; without it the allocation makes no
 *                        system call, never blocks, runs no shrinker: it
 *                        is served from caches and free lists or fails
 *  __GFP_HIGH            may use the zones' reserve (their min watermark)
 *  __GFP_IO, __GFP_FS    handed to shrinkers in shrink_control.gfp_mask,
 *                        so they can decline under GFP_NOIO / GFP_NOFS
 *  __GFP_NORETRY         when memory is short: one light attempt (kalloc's
 *                        own caches only, no shrinker), then fail
 *  __GFP_RETRY_MAYFAIL   reclaim (shrinkers included) and retry, up to 128
 *                        passes (default: 32); 4 passes in a row that free
 *                        nothing end it either way
 *  __GFP_NOFAIL          never NULL: reclaims for as long as passes free
 *                        something, then reports and aborts
 *  __GFP_ZERO            zeroed memory
 *  __GFP_NOWARN          no report on failure
 *  __GFP_COMP            accepted: every page block is one compound block
 *                        here (virt_to_page of any page finds its head's
 *                        block)
 *  __GFP_COLD            kmem_cache_alloc takes the object from the slabs
 *                        (the cold end), not from the CPU's recently freed
 *                        ones
 *  __GFP_KSWAPD_RECLAIM, __GFP_HARDWALL: accepted; nothing to do here (no
 *  background reclaim thread, no cpusets)
 * Bits outside these: a one-line report (unless __GFP_NOWARN), and the known
 * bits honoured.
 */
#define __GFP_HIGH           0x20u
#define __GFP_IO             0x40u
#define __GFP_FS             0x80u
#define __GFP_ZERO           0x100u
#define __GFP_NOWARN         0x200u
#define __GFP_DIRECT_RECLAIM 0x400u
#define __GFP_KSWAPD_RECLAIM 0x800u
#define __GFP_NORETRY        0x1000u
#define __GFP_RETRY_MAYFAIL  0x2000u
#define __GFP_COMP           0x4000u
#define __GFP_NOFAIL         0x8000u
#define __GFP_COLD           0x10000u
#define __GFP_HARDWALL       0x100000u
#define __GFP_RECLAIM        (__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)
/* The old names. */
#define __GFP_WAIT           __GFP_DIRECT_RECLAIM
#define __GFP_REPEAT         __GFP_RETRY_MAYFAIL

/* May map memory from the OS and reclaim; the normal choice. */
#define GFP_KERNEL (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
/* Never blocks, never calls the OS, may use the reserve: for signal
 * handlers and code that holds locks a reclaim could need. */
#define GFP_ATOMIC (__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
/* As GFP_ATOMIC without the reserve: fails where GFP_ATOMIC may not. */
#define GFP_NOWAIT (__GFP_KSWAPD_RECLAIM)
/* May reclaim, but shrinkers are told not to do I/O / file-system work. */
#define GFP_NOIO   (__GFP_RECLAIM)
#define GFP_NOFS   (__GFP_RECLAIM | __GFP_IO)
/* Memory for data handed to "user" code; same as GFP_KERNEL here. */
#define GFP_USER   (GFP_KERNEL | __GFP_HARDWALL)
/* User data that may live in high memory: ZONE_NORMAL here. */
#define GFP_HIGHUSER (GFP_USER | __GFP_HIGHMEM)
#define GFP_DMA    __GFP_DMA
#define GFP_DMA32  __GFP_DMA32

/* Every bit above (the zone modifiers included). */
#define KALLOC_GFP_KNOWN 0x11ffe7u

/* ------------------------------------------------------------------ */
/* Page allocator                                                      */
/* ------------------------------------------------------------------ */

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1UL << PAGE_SHIFT)
#define PAGE_MASK  (~(PAGE_SIZE - 1))
/* Largest order the buddy allocator hands out: 2^MAX_ORDER pages = 4 MiB. */
#define MAX_ORDER  10

/* Page descriptor (the kernel's struct page); opaque. */
struct page;

/*
 * Zones, as in the kernel: every page belongs to one.  ZONE_DMA32 holds
 * memory whose addresses lie below 4 GiB, ZONE_DMA memory below 16 MiB
 * (only what the process's address space leaves free there: it may be
 * none, and then __GFP_DMA allocations fail), ZONE_NORMAL the rest.  The
 * zone modifiers are mandatory: __GFP_DMA32 never returns memory at or
 * above 4 GiB, __GFP_DMA never at or above 16 MiB (both given: ZONE_DMA).
 * An allocation for ZONE_NORMAL (or ZONE_DMA32) may be served from the
 * lower zones' free memory when the OS refuses more (or the GFP flags
 * forbid asking it), never from their last reserve.
 */
enum zone_type {
	ZONE_DMA,
	ZONE_DMA32,
	ZONE_NORMAL,
	__MAX_NR_ZONES
};
/* The zone of a page descriptor (from alloc_pages, virt_to_page); for NULL,
 * __MAX_NR_ZONES. */
KALLOC_API enum zone_type page_zonenum(const struct page *page);

/* Allocates 2^order contiguous pages, aligned to their size.  Returns the head page descriptor or NULL.  order > MAX_ORDER
 * is reported and fails. */
KALLOC_API struct page *alloc_pages(gfp_t gfp, unsigned int order);
#define alloc_page(gfp) alloc_pages((gfp), 0)
/* Returns pages obtained from alloc_pages(); order must match. */
KALLOC_API void __free_pages(struct page *page, unsigned int order);
#define __free_page(page) __free_pages((page), 0)
/* Address of the memory a page descriptor describes. */
KALLOC_API void *page_address(const struct page *page);
/* Page descriptor of any address inside a block from the page allocator
 * (or a slab); NULL for an address kalloc does not manage. */
KALLOC_API struct page *virt_to_page(const void *addr);
/* Like alloc_pages(), returning the address (0 on failure). */
KALLOC_API unsigned long __get_free_pages(gfp_t gfp, unsigned int order);
#define __get_free_page(gfp) __get_free_pages((gfp), 0)
/* One zeroed page, or 0. */
KALLOC_API unsigned long get_zeroed_page(gfp_t gfp);
/* Returns memory from __get_free_pages(); order must match.  0 is a no-op. */
KALLOC_API void free_pages(unsigned long addr, unsigned int order);
#define free_page(addr) free_pages((addr), 0)
/* Allocates round_up(size, PAGE_SIZE) bytes of pages (up to 256 KiB the
 * unused tail of the power-of-two block goes back to the buddy allocator;
 * above, the block keeps it: address space, not memory). */
KALLOC_API void *alloc_pages_exact(size_t size, gfp_t gfp);
KALLOC_API void free_pages_exact(void *addr, size_t size);

/* ------------------------------------------------------------------ */
/* kmap                                                                */
/* ------------------------------------------------------------------ */

/* Every page is mapped, as on a 64-bit kernel: kmap and its variants return
 * page_address(page), and the unmaps do nothing but evaluate their argument.
 * Unlike the kernel's, kmap_atomic() disables neither preemption nor page
 * faults, and mappings need not be released in any order. */
static inline void *kmap(struct page *page) { return page_address(page); }
static inline void kunmap(struct page *page) { (void)page; }
static inline void *kmap_atomic(struct page *page) { return page_address(page); }
static inline void kunmap_atomic(const void *addr) { (void)addr; }
static inline void *kmap_local_page(struct page *page) { return page_address(page); }
static inline void kunmap_local(const void *addr) { (void)addr; }

/* ------------------------------------------------------------------ */
/* Slab caches                                                         */
/* ------------------------------------------------------------------ */

typedef unsigned int slab_flags_t;

/* Align objects to the cache line (64 bytes) when that wastes little. */
#define SLAB_HWCACHE_ALIGN    0x00002000u
/* Debugging flags, as the kernel's slub_debug letters F, Z, P, U (and
 * KALLOC_DEBUG for any cache; docs/debugging.md): consistency checks on
 * every allocation and free (object boundary, a per-object allocated/free
 * state that catches every double free, free pointers); red zones before
 * and after each object; freed objects poisoned with 0x6b (last byte 0xa5)
 * and checked when reused; the last allocation and free callers printed in
 * reports.  A cache with any of them bypasses the per-CPU caches and keeps
 * freed objects in a FIFO quarantine before reuse.  Poison is not applied
 * to caches with a constructor or SLAB_TYPESAFE_BY_RCU. */
#define SLAB_CONSISTENCY_CHECKS 0x00000100u
#define SLAB_RED_ZONE         0x00000400u
#define SLAB_POISON           0x00000800u
#define SLAB_STORE_USER       0x00010000u
/* Abort with a report if the cache cannot be created. */
#define SLAB_PANIC            0x00040000u
/* Slabs from ZONE_DMA (below 16 MiB) or ZONE_DMA32 (below 4 GiB): every
 * object of the cache lies there. */
#define SLAB_CACHE_DMA        0x00004000u
#define SLAB_CACHE_DMA32      0x00008000u
/* Type-safe memory for lock-free readers (see "RCU" below): objects are
 * reused at once, but a slab goes back to the page allocator only after an
 * RCU grace period, so a reader inside rcu_read_lock() that still holds a
 * freed object reads an object of this cache (free, or allocated again),
 * never other memory; a free object keeps its contents (the free pointer is
 * stored after it).  kmem_cache_destroy waits for the slabs held back. */
#define SLAB_TYPESAFE_BY_RCU  0x00080000u

struct kmem_cache;

/* Creates a cache of objects of `size` bytes.  `align` is 0 or a power of
 * two; objects are at least pointer aligned (16 bytes for size >= 16).
 * `ctor`, if not NULL, runs on every object when a slab is populated (not at
 * each allocation): freed objects must be returned in their constructed
 * state.  The name is copied.  Returns NULL (or aborts with SLAB_PANIC) for
 * size 0, a bad alignment, or a size above KMALLOC_MAX_CACHE_SIZE * 8. */
KALLOC_API struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align,
                                                slab_flags_t flags, void (*ctor)(void *));
/* One object, or NULL. */
KALLOC_API void *kmem_cache_alloc(struct kmem_cache *cache, gfp_t gfp) KALLOC_MALLOC_ATTR;
/* kmem_cache_alloc() | __GFP_ZERO. */
KALLOC_API void *kmem_cache_zalloc(struct kmem_cache *cache, gfp_t gfp) KALLOC_MALLOC_ATTR;
/* Returns an object to its cache.  An object of another cache is reported
 * and aborts. */
KALLOC_API void kmem_cache_free(struct kmem_cache *cache, void *obj);
/* Returns the cache's empty slabs to the page allocator now (objects
 * cached per CPU go back to their slabs first).  Returns 0. */
KALLOC_API int kmem_cache_shrink(struct kmem_cache *cache);
/* Allocates n objects into objs: returns n, or 0 (having allocated none)
 * when not all n can be had, as the kernel's does. */
KALLOC_API int kmem_cache_alloc_bulk(struct kmem_cache *cache, gfp_t gfp, size_t n, void **objs);
/* Frees n objects of the cache (NULL entries are skipped). */
KALLOC_API void kmem_cache_free_bulk(struct kmem_cache *cache, size_t n, void **objs);
/* Destroys an empty cache: 0 on success.  With live objects, reports the
 * cache name and the count on stderr, leaves the cache intact and returns
 * -EBUSY. */
KALLOC_API int kmem_cache_destroy(struct kmem_cache *cache);
/* Object size and name of a cache. */
KALLOC_API unsigned int kmem_cache_size(struct kmem_cache *cache);
KALLOC_API const char *kmem_cache_name(struct kmem_cache *cache);

/* ------------------------------------------------------------------ */
/* kmalloc                                                             */
/* ------------------------------------------------------------------ */

/* Largest size served from a kmalloc slab cache; above it come page blocks
 * (up to 256 KiB in page classes kept per CPU, rounded up to 40, 48, 56, 64,
 * 80 KiB, ...: ksize tells), above 4 MiB the huge (vmalloc-like) path. */
#define KMALLOC_MAX_CACHE_SIZE (32UL * 1024)
/* Largest kmalloc size (PTRDIFF_MAX, as malloc). */
#define KMALLOC_MAX_SIZE       ((size_t)PTRDIFF_MAX)

/* With GFP_DMA or GFP_DMA32, sizes up to KMALLOC_MAX_CACHE_SIZE come from
 * the dma-kmalloc-N / dma32-kmalloc-N caches, larger ones are page blocks of
 * the zone, and above 4 MiB they fail; krealloc keeps a block's zone. */
KALLOC_API void *kmalloc(size_t size, gfp_t gfp) KALLOC_MALLOC_ATTR;
KALLOC_API void *kzalloc(size_t size, gfp_t gfp) KALLOC_MALLOC_ATTR;
/* n * size bytes, zeroed; NULL (ENOMEM) on overflow. */
KALLOC_API void *kcalloc(size_t n, size_t size, gfp_t gfp) KALLOC_MALLOC_ATTR;
/* n * size bytes; NULL (ENOMEM) on overflow. */
KALLOC_API void *kmalloc_array(size_t n, size_t size, gfp_t gfp) KALLOC_MALLOC_ATTR;
/* Resizes; krealloc(NULL, n) is kmalloc(n); krealloc(p, 0) frees p and
 * returns NULL (as the kernel returns ZERO_SIZE_PTR).  On failure p is left
 * intact and NULL is returned. */
KALLOC_API void *krealloc(const void *p, size_t new_size, gfp_t gfp);
KALLOC_API void kfree(const void *p);
/* Usable size of a kmalloc'd block (>= the size asked for). */
KALLOC_API size_t ksize(const void *p);
KALLOC_API char *kstrdup(const char *s, gfp_t gfp) KALLOC_MALLOC_ATTR;
KALLOC_API void *kmemdup(const void *src, size_t len, gfp_t gfp) KALLOC_MALLOC_ATTR;

/* ------------------------------------------------------------------ */
/* vmalloc: huge blocks, each its own mapping with a guard page         */
/* ------------------------------------------------------------------ */

KALLOC_API void *vmalloc(size_t size) KALLOC_MALLOC_ATTR;
KALLOC_API void *vzalloc(size_t size) KALLOC_MALLOC_ATTR;
KALLOC_API void vfree(const void *addr);
/* kmalloc for small sizes, vmalloc otherwise; kvfree frees either. */
KALLOC_API void *kvmalloc(size_t size, gfp_t gfp) KALLOC_MALLOC_ATTR;
KALLOC_API void kvfree(const void *addr);

/* ------------------------------------------------------------------ */
/* Per-CPU data                                                        */
/* ------------------------------------------------------------------ */

/* Each possible CPU has a unit of this many bytes; a per-CPU allocation is
 * the same offset in every unit, so per_cpu_ptr() of alloc_percpu memory is
 * an addition. */
#define KALLOC_PERCPU_UNIT_SHIFT 20
#define KALLOC_PERCPU_UNIT (1UL << KALLOC_PERCPU_UNIT_SHIFT)

/* Zeroed per-CPU space of `size` bytes (align: 0 or a power of two up to
 * PAGE_SIZE); returns the pointer to CPU 0's copy, or NULL. */
KALLOC_API void *__alloc_percpu(size_t size, size_t align);
#define alloc_percpu(type) ((type *)__alloc_percpu(sizeof(type), _Alignof(type)))
KALLOC_API void free_percpu(void *ptr);
/* Number of possible CPUs: valid indices are 0 .. nr_cpu_ids - 1. */
KALLOC_API unsigned int kalloc_nr_cpu_ids(void);
#define nr_cpu_ids kalloc_nr_cpu_ids()
/* The index of the CPU the caller runs on (the rseq concurrency id when
 * per-CPU caches are in use); it may change at any moment, except inside a
 * get_cpu() section, where it is the section's CPU. */
KALLOC_API unsigned int kalloc_this_cpu(void);
/* Adds v to the caller's CPU copy of the 1, 2, 4 or 8-byte object at p,
 * atomically with respect to that CPU (a restartable sequence, or an atomic
 * add where rseq is not in use). */
KALLOC_API void kalloc_this_cpu_add(void *p, long v, size_t size);

/* Stores v in the caller's CPU copy of the 1, 2, 4 or 8-byte object at p,
 * atomically with respect to that CPU, as kalloc_this_cpu_add. */
KALLOC_API void kalloc_this_cpu_write(void *p, long v, size_t size);
/* CPU cpu's copy of the per-CPU object at p: alloc_percpu memory (an
 * addition), or a DEFINE_PER_CPU variable or any part of one (a look-up of
 * its module).  Any other address, or cpu >= nr_cpu_ids, is reported, abort. */
KALLOC_API void *kalloc_per_cpu_ptr(const void *p, unsigned int cpu);
/* kalloc_per_cpu_ptr(p, smp_processor_id()). */
KALLOC_API void *kalloc_this_cpu_ptr(const void *p);

#define per_cpu_ptr(ptr, cpu) \
	((__typeof__(ptr))kalloc_per_cpu_ptr((const void *)(ptr), (unsigned int)(cpu)))
#define this_cpu_ptr(ptr) ((__typeof__(ptr))kalloc_this_cpu_ptr((const void *)(ptr)))
/* pcp is an lvalue in CPU 0's copy, e.g. this_cpu_add(*counter, 5), or a
 * DEFINE_PER_CPU variable, e.g. this_cpu_add(hits, 5) or
 * this_cpu_inc(stats.events).  add, sub, inc, dec and write take integers
 * and pointers of 1, 2, 4 or 8 bytes, and act on the CPU the caller runs on
 * at that instant, inside a get_cpu() section as well. */
#define this_cpu_add(pcp, val) kalloc_this_cpu_add((void *)&(pcp), (long)(val), sizeof(pcp))
#define this_cpu_sub(pcp, val) this_cpu_add(pcp, -(long)(val))
#define this_cpu_inc(pcp) this_cpu_add(pcp, 1)
#define this_cpu_dec(pcp) this_cpu_add(pcp, -1)
#define this_cpu_read(pcp) (*this_cpu_ptr(&(pcp)))
#define this_cpu_write(pcp, val) kalloc_this_cpu_write((void *)&(pcp), (long)(val), sizeof(pcp))
#define for_each_possible_cpu(cpu) for ((cpu) = 0; (cpu) < (__typeof__(cpu))nr_cpu_ids; (cpu)++)

/*
 * Static per-CPU variables.  DEFINE_PER_CPU(type, name) in one file (an
 * initialiser may follow, `static` may come before), DECLARE_PER_CPU(type,
 * name) where other files or modules use it; then per_cpu(name, cpu),
 * get_cpu_var(name), this_cpu_inc(name), this_cpu_add(name.member, v),
 * per_cpu_ptr(&name, cpu) as in the kernel.
 *
 * `name` itself is a template in the section "kalloc_percpu" of its module
 * (the program or a shared library).  Every file that includes this header
 * gets a constructor that, when the module's section is not empty, registers
 * it with kalloc: kalloc allocates the section's size of per-CPU space and
 * copies the template into every CPU's copy.  The accessors find a variable's
 * copies from its address, by the module whose section holds it.
 *
 * Where this differs from the kernel:
 *  - the accessors cost a call and, for these variables, a look-up among the
 *    registered modules (alloc_percpu memory is an addition);
 *  - reading or writing `name` directly touches the template, not a CPU's
 *    copy (the kernel's sparse checker warns of that; nothing does here);
 *  - use a variable of another module through DECLARE_PER_CPU, a weak
 *    declaration, which makes position-independent code (PIE, the default
 *    on Debian, and shared libraries) read its address from the GOT.  With
 *    a plain `extern`, or from a program built without -fPIE, the linker
 *    copies a shared library's variable into the program (a copy
 *    relocation), out of the library's section, and the accessors report it
 *    and abort: a program that uses a library's per-CPU variables directly
 *    must be position independent;
 *  - a module's copies exist once its constructors of priority 101 have run
 *    (before its other constructors), and stay usable until exit; after
 *    dlclose its space is given back when a module loaded later needs the
 *    place;
 *  - at most KALLOC_PERCPU_UNIT / 2 bytes of them per module, each aligned to
 *    at most PAGE_SIZE; the toolchain must provide section attributes and
 *    __start_ and __stop_ symbols (GCC or Clang, ELF).
 */
/* weak: position-independent code then reads the address from the GOT.
 * (GCC's nodirect_extern_access would do it in any code, but it marks the
 * whole program as taking no copy relocation, and the program's own direct
 * references to the C library's data, stderr or environ, then break.) */
#define KALLOC_PERCPU_EXTERN __attribute__((weak))
#define DEFINE_PER_CPU(type, name) __attribute__((section("kalloc_percpu"))) __typeof__(type) name
#define DECLARE_PER_CPU(type, name) extern KALLOC_PERCPU_EXTERN __typeof__(type) name
#define per_cpu(name, cpu) (*per_cpu_ptr(&(name), (cpu)))

/* Registers and retires a module's section of DEFINE_PER_CPU templates (the
 * constructor and destructor below call them). */
KALLOC_API void kalloc_percpu_module_add(void *start, void *stop);
KALLOC_API void kalloc_percpu_module_del(void *start, void *stop);
#if !defined(KALLOC_NO_PERCPU_MODULE)
extern char __start_kalloc_percpu[] __attribute__((weak, visibility("hidden")));
extern char __stop_kalloc_percpu[] __attribute__((weak, visibility("hidden")));
__attribute__((constructor(101))) static void kalloc_percpu_module_ctor(void)
{
	if ((uintptr_t)__start_kalloc_percpu != (uintptr_t)__stop_kalloc_percpu)
		kalloc_percpu_module_add(__start_kalloc_percpu, __stop_kalloc_percpu);
}
__attribute__((destructor(101))) static void kalloc_percpu_module_dtor(void)
{
	if ((uintptr_t)__start_kalloc_percpu != (uintptr_t)__stop_kalloc_percpu)
		kalloc_percpu_module_del(__start_kalloc_percpu, __stop_kalloc_percpu);
}
#endif

/*
 * get_cpu() returns the caller's CPU index and gives it the use of that CPU's
 * copies, exclusive of every other get_cpu() section, until put_cpu().
 * Userspace cannot disable preemption, so each CPU index has a lock, which
 * get_cpu takes and put_cpu releases.  Sections nest: an inner get_cpu of the
 * same thread returns the same index and takes nothing.  A thread that
 * migrates inside a section keeps its index: smp_processor_id(),
 * this_cpu_ptr(), this_cpu_read() and get_cpu_var() in the section use it.
 *
 * Where this differs from the kernel: the section may sleep, and may be
 * preempted; the this_cpu_* operations of other threads do not wait for it
 * (they are atomic on their own, as an interrupt handler's are in the
 * kernel), so a variable that sections update by read-modify-write must not
 * be updated by this_cpu_add and friends at the same time.  put_cpu() outside
 * a section is reported, abort; a thread that exits inside a section leaves
 * its index locked.  A forked child starts with every lock free except the
 * one its forking thread holds.
 */
KALLOC_API unsigned int kalloc_get_cpu(void);
KALLOC_API void kalloc_put_cpu(void);
#define get_cpu() ((int)kalloc_get_cpu())
#define put_cpu() kalloc_put_cpu()
#define smp_processor_id() ((int)kalloc_this_cpu())
/* This CPU's copy of a per-CPU variable, as an lvalue, inside a get_cpu()
 * section that put_cpu_var() ends. */
#define get_cpu_var(var) (*per_cpu_ptr(&(var), kalloc_get_cpu()))
#define put_cpu_var(var) ((void)&(var), kalloc_put_cpu())

/* ------------------------------------------------------------------ */
/* Memory limit and shrinkers                                          */
/* ------------------------------------------------------------------ */

/*
 * KALLOC_LIMIT=512M in the environment, or kalloc_set_limit(), caps the
 * memory kalloc holds: pages handed out or free but possibly backed, and
 * huge areas (in use or cached); not its own metadata (page descriptors,
 * per-CPU cache arrays: about 1.6% more).  An allocation that would go
 * above it reclaims as its GFP flags allow (kalloc's own caches and free
 * memory first, then the shrinkers, then it retries) and otherwise fails:
 * NULL (malloc: ENOMEM).  0 is no limit.  Returns 0, or -EINVAL for a limit
 * smaller than a page.  When more than the new limit is held, kalloc gives
 * back what it can at once; the rest stays until it is freed.
 */
KALLOC_API int kalloc_set_limit(size_t bytes);
/* The limit (0: none), and the bytes charged against it now (a sum of
 * counters read one after the other, so while memory moves between zones
 * and huge areas it is off by what moved; the limit itself is checked
 * against reservations and is never passed). */
KALLOC_API size_t kalloc_get_limit(void);
KALLOC_API size_t kalloc_charged(void);

struct shrink_control {
	gfp_t gfp_mask;            /* the flags of the allocation that reclaims */
	int nid;                   /* node: 0 */
	unsigned long nr_to_scan;  /* objects to scan (and free if it can) */
	unsigned long nr_scanned;  /* set to nr_to_scan; may be lowered */
};

/* scan_objects: nothing can be done now (e.g. GFP_NOFS); count_objects:
 * nothing to free. */
#define SHRINK_STOP  (~0UL)
#define SHRINK_EMPTY (~0UL - 1)
/* The cost of recreating an object; above it, fewer are scanned. */
#define DEFAULT_SEEKS 2

/*
 * A shrinker, as in the kernel: count_objects says how many objects it could
 * free, scan_objects frees up to sc->nr_to_scan of them and returns how many
 * it freed (or SHRINK_STOP).  Shrinkers run when an allocation allowed to
 * reclaim finds memory short (above the limit, or the OS refuses memory),
 * one at a time, with no lock of kalloc held: they may allocate (such
 * allocations do not reclaim again) and free.  A shrinker that frees
 * nothing in 8 consecutive passes, or returns counts that make no sense,
 * is reported once and not asked again.  Do not unregister a shrinker
 * from inside a shrinker.
 */
struct shrinker {
	unsigned long (*count_objects)(struct shrinker *, struct shrink_control *);
	unsigned long (*scan_objects)(struct shrinker *, struct shrink_control *);
	long batch;                /* objects per scan_objects call; 0: 128 */
	int seeks;                 /* DEFAULT_SEEKS, or more for dear objects */
	unsigned flags;            /* none defined */
	void *private_data;
	/* kalloc's (set by register_shrinker) */
	struct shrinker *kalloc_next;
	unsigned kalloc_fruitless;
	int kalloc_dropped;
	char kalloc_name[32];
};

/* Registers s under `name` (copied; for reports).  0, -EINVAL for a
 * shrinker without both callbacks, -EEXIST when it is registered already. */
KALLOC_API int register_shrinker(struct shrinker *s, const char *name);
/* Waits for a pass in progress, then removes s. */
KALLOC_API void unregister_shrinker(struct shrinker *s);

/* ------------------------------------------------------------------ */
/* RCU: freeing after a grace period (docs/rcu.md)                      */
/* ------------------------------------------------------------------ */

/*
 * Built on liburcu's default flavour (urcu-memb: link with liburcu, e.g.
 * `pkg-config --libs liburcu`), which the program uses for its readers
 * (rcu_read_lock, rcu_dereference, rcu_assign_pointer).  kalloc does not
 * load liburcu itself: when the program has it loaded, the frees below wait
 * for a grace period (liburcu's call_rcu; they run in its call_rcu thread);
 * when it has not, no RCU reader can exist and they free at once.  liburcu
 * must be linked, not loaded later with dlopen.  Any thread may call them,
 * registered with liburcu or not (on x86-64; elsewhere it must be
 * registered, as liburcu's call_rcu requires).
 *
 * The rcu_head member: liburcu's struct rcu_head (from <urcu.h>) or, for a
 * program that does not include liburcu's headers, struct kalloc_rcu_head,
 * which has the same layout.  Its contents belong to kalloc from the call
 * until the object is freed.
 */
struct kalloc_rcu_head {
	void *next;
	void (*func)(struct kalloc_rcu_head *head);
};

/* Frees ptr (from kmalloc and friends, or an object of any cache) after a
 * grace period; rhf names its rcu_head member.  NULL is a no-op.  Never
 * waits for a grace period: callable inside rcu_read_lock(). */
#define kfree_rcu(ptr, rhf)                                                              \
	do {                                                                             \
		__typeof__(ptr) kfree_rcu_p_ = (ptr);                                    \
		(void)sizeof(char[sizeof(kfree_rcu_p_->rhf) ==                           \
		                  sizeof(struct kalloc_rcu_head) ? 1 : -1]);             \
		if (kfree_rcu_p_)                                                        \
			kvfree_call_rcu((void *)&kfree_rcu_p_->rhf, (void *)kfree_rcu_p_); \
	} while (0)
#define kvfree_rcu(ptr, rhf) kfree_rcu(ptr, rhf)
/* kmem_cache_free(cache, obj) after a grace period (the object stays
 * allocated until then: kmem_cache_destroy waits for it).  The object is
 * checked against the cache now, as kmem_cache_free would. */
#define kmem_cache_free_rcu(cache, obj, rhf)                                             \
	do {                                                                             \
		__typeof__(obj) kmem_cache_free_rcu_p_ = (obj);                          \
		(void)sizeof(char[sizeof(kmem_cache_free_rcu_p_->rhf) ==                 \
		                  sizeof(struct kalloc_rcu_head) ? 1 : -1]);             \
		if (kmem_cache_free_rcu_p_)                                              \
			kmem_cache_free_call_rcu((cache), (void *)kmem_cache_free_rcu_p_,   \
			                         (void *)&kmem_cache_free_rcu_p_->rhf);     \
	} while (0)
/* What the two macros call: head is the rcu_head inside the block ptr
 * (checked: a head outside the block, or a pointer kalloc did not return,
 * is reported and aborts). */
KALLOC_API void kvfree_call_rcu(void *head, void *ptr);
KALLOC_API void kmem_cache_free_call_rcu(struct kmem_cache *cache, void *obj, void *head);
/* Waits until every free deferred by kfree_rcu or kmem_cache_free_rcu
 * before the call has been done (liburcu's rcu_barrier).  Not inside
 * rcu_read_lock() (reported, aborts) nor from an RCU callback. */
KALLOC_API void kvfree_rcu_barrier(void);
/* kmem_cache_destroy waits the same way for the objects of the cache freed
 * with RCU and, for a SLAB_TYPESAFE_BY_RCU cache, for its slabs held back;
 * inside rcu_read_lock() it reports, leaves the cache and returns -EBUSY. */

/* ------------------------------------------------------------------ */
/* Introspection                                                       */
/* ------------------------------------------------------------------ */

/* The statistics report (docs/introspection.md): slabinfo, buddyinfo,
 * vmallocinfo, the front caches, the memory limit and the totals (mapped,
 * resident, in use, cached, fragmentation), taken as one snapshot and
 * formatted without allocating from the structures it describes.  Text
 * (KALLOC_STATS_TEXT, as KALLOC_STATS=1 prints it) or one JSON object
 * (KALLOC_STATS_JSON).  kalloc_stats_print writes it to a file descriptor;
 * kalloc_stats_write hands it to fn(opaque, text, len), once per call, as a
 * buffer that is gone when fn returns (fn may allocate). */
#define KALLOC_STATS_TEXT 0
#define KALLOC_STATS_JSON 1
typedef void (*kalloc_write_fn)(void *opaque, const char *text, size_t len);
KALLOC_API void kalloc_stats_print(int fd, int format);
KALLOC_API void kalloc_stats_write(kalloc_write_fn fn, void *opaque, int format);
/* With KALLOC_PROF set: writes the sampled heap profile now to path
 * ("%p": the pid; NULL: KALLOC_PROF's file) and path.collapsed; 0 when
 * both were written, -1 when sampling is off. */
KALLOC_API int kalloc_prof_dump(const char *path);
/* Checks every object of every debug cache now (KALLOC_DEBUG, or a cache
 * made with SLAB_RED_ZONE, SLAB_POISON, SLAB_STORE_USER or
 * SLAB_CONSISTENCY_CHECKS): the red zones of allocated objects, the poison
 * and red zones of free ones; and the canary after every page block
 * (blocks of more than 32 KiB, up to 4 MiB, under the default hardening).
 * Damage is reported (one block on stderr, with the callers under
 * SLAB_STORE_USER) and the process aborts; with no damage, or nothing to
 * check, it returns 0.  A snapshot: call it while no other thread
 * allocates or frees. */
KALLOC_API int kalloc_validate(void);

#ifdef __cplusplus
}
#endif

#endif /* KALLOC_H */
