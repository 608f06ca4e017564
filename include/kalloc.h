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

/* Zone modifiers: where the memory may live. */
#define __GFP_DMA            0x01u    /* below 16 MiB: not available yet, such allocations fail */
#define __GFP_DMA32          0x04u    /* below 4 GiB */
/* Action modifiers. */
#define __GFP_HIGH           0x20u    /* accepted; no emergency reserve yet */
#define __GFP_IO             0x40u    /* accepted; no effect yet */
#define __GFP_FS             0x80u    /* accepted; no effect yet */
#define __GFP_ZERO           0x100u   /* return zeroed memory */
#define __GFP_NOWARN         0x200u   /* no report on failure */
#define __GFP_DIRECT_RECLAIM 0x400u   /* may map memory from the OS, and reclaim when it refuses */
#define __GFP_KSWAPD_RECLAIM 0x800u   /* accepted; no effect */
#define __GFP_NORETRY        0x1000u  /* accepted; no effect yet */
#define __GFP_HARDWALL       0x100000u /* accepted; no effect */
#define __GFP_NOFAIL         0x8000u  /* never return NULL: report and abort instead */
#define __GFP_RECLAIM        (__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)

/* May map memory from the OS and reclaim; the normal choice. */
#define GFP_KERNEL (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
/* Never maps memory from the OS: served from what kalloc holds, or fails
 * (page and slab locks are only tried, but a cache's lock may still be
 * waited for after a new slab).  No reserve yet: as GFP_NOWAIT. */
#define GFP_ATOMIC (__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
/* Like GFP_ATOMIC. */
#define GFP_NOWAIT (__GFP_KSWAPD_RECLAIM)
/* Memory for data handed to "user" code; same as GFP_KERNEL here. */
#define GFP_USER   (GFP_KERNEL | __GFP_HARDWALL)
#define GFP_DMA    __GFP_DMA
#define GFP_DMA32  __GFP_DMA32

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
/* Debugging flags, as the kernel's slub_debug: accepted; their checks are
 * not implemented yet (caches behave as without them). */
#define SLAB_CONSISTENCY_CHECKS 0x00000100u
#define SLAB_RED_ZONE         0x00000400u
#define SLAB_POISON           0x00000800u
#define SLAB_STORE_USER       0x00010000u
/* Abort with a report if the cache cannot be created. */
#define SLAB_PANIC            0x00040000u
/* Accepted: a free object keeps its contents (the free pointer is stored
 * after it), but slabs are not yet held back for an RCU grace period before
 * they return to the page allocator. */
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
/* Releases the cache's empty slabs to the page allocator. Returns 0. */
KALLOC_API int kmem_cache_shrink(struct kmem_cache *cache);
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
 *  - use a variable of another module through DECLARE_PER_CPU, which makes
 *    the program read its address from the GOT (GCC 12's
 *    nodirect_extern_access where the compiler has it, else a weak
 *    declaration, which does that in position-independent code only).  With a
 *    plain `extern` the linker may copy the variable into the program (a
 *    copy relocation), out of its module's section, and the accessors report
 *    it and abort;
 *  - a module's copies exist once its constructors of priority 101 have run
 *    (before its other constructors), and stay usable until exit; after
 *    dlclose its space is given back when a module loaded later needs the
 *    place;
 *  - at most KALLOC_PERCPU_UNIT / 2 bytes of them per module, each aligned to
 *    at most PAGE_SIZE; the toolchain must provide section attributes and
 *    __start_ and __stop_ symbols (GCC or Clang, ELF).
 */
#if defined(__has_attribute)
#if __has_attribute(nodirect_extern_access)
#define KALLOC_PERCPU_EXTERN __attribute__((nodirect_extern_access))
#endif
#endif
#ifndef KALLOC_PERCPU_EXTERN
#define KALLOC_PERCPU_EXTERN __attribute__((weak))
#endif
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
/* Introspection                                                       */
/* ------------------------------------------------------------------ */

/* Writes slabinfo, buddyinfo and vmallocinfo to the file descriptor,
 * without allocating. */
KALLOC_API void kalloc_stats_print(int fd);

#ifdef __cplusplus
}
#endif

#endif /* KALLOC_H */
