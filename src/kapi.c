/* SPDX-License-Identifier: MIT */
/*
 * kapi.c - the exported kernel-style API (include/kalloc.h).
 *
 * Every entry point here is thin: it starts the lazy initialisation where
 * the call may be a program's first, and hands the work to the layer that
 * does it; where an entry point combines layers (a cache made by the
 * program is a slab cache with a front-cache slot), the combination is
 * here, on top of both.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* Unknown GFP bits: one line (unless __GFP_NOWARN), and the known bits
 * honoured. */
static KNOINLINE gfp_t gfp_unknown(gfp_t gfp, const char *op)
{
	if (!(gfp & __GFP_NOWARN))
		kreport("%s: unknown GFP bits 0x%x ignored", op, gfp & ~KALLOC_GFP_KNOWN);
	return gfp & KALLOC_GFP_KNOWN;
}

KINLINE gfp_t gfp_check(gfp_t gfp, const char *op)
{
	return unlikely(gfp & ~KALLOC_GFP_KNOWN) ? gfp_unknown(gfp, op) : gfp;
}

/* ------------------------------------------------------------------ */
/* pages                                                               */
/* ------------------------------------------------------------------ */

KEXPORT struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	kalloc_ensure_init();
	return kpage_api_alloc(gfp_check(gfp, "alloc_pages"), order);
}

KEXPORT void *page_address(const struct page *page)
{
	return page ? kpage_address(page) : NULL;
}

KEXPORT struct page *virt_to_page(const void *addr)
{
	struct kchunk *c = kchunk_of(addr);
	if (!c || !kchunk_pfn_mapped(c, ((uintptr_t)addr - c->base) >> PAGE_SHIFT))
		return NULL;
	return kchunk_page(c, addr);
}

KEXPORT enum zone_type page_zonenum(const struct page *page)
{
	return page ? (enum zone_type)kpage_chunk(page)->zone : __MAX_NR_ZONES;
}

KEXPORT unsigned long __get_free_pages(gfp_t gfp, unsigned int order)
{
	struct page *pg = alloc_pages(gfp, order);
	return pg ? (unsigned long)kpage_address(pg) : 0;
}

KEXPORT unsigned long get_zeroed_page(gfp_t gfp)
{
	return __get_free_pages(gfp | __GFP_ZERO, 0);
}

KEXPORT void __free_pages(struct page *page, unsigned int order)
{
	if (!page)
		return;
	if (order > MAX_ORDER)
		kpanic("__free_pages: order %u is above MAX_ORDER", order);
	kpage_api_free(kpage_address(page), 1UL << order, "__free_pages");
}

KEXPORT void free_pages(unsigned long addr, unsigned int order)
{
	if (!addr)
		return;
	if (order > MAX_ORDER)
		kpanic("free_pages: order %u is above MAX_ORDER", order);
	kpage_api_free((void *)addr, 1UL << order, "free_pages");
}

KEXPORT void *alloc_pages_exact(size_t size, gfp_t gfp)
{
	kalloc_ensure_init();
	return kpage_api_alloc_exact(size, gfp_check(gfp, "alloc_pages_exact"));
}

KEXPORT void free_pages_exact(void *addr, size_t size)
{
	if (!addr)
		return;
	kpage_api_free(addr, (size + PAGE_SIZE - 1) >> PAGE_SHIFT, "free_pages_exact");
}

/* ------------------------------------------------------------------ */
/* object caches                                                       */
/* ------------------------------------------------------------------ */

KEXPORT struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align, slab_flags_t flags,
                                             void (*ctor)(void *))
{
	kalloc_ensure_init();
	const char *why;
	int err;
	struct kmem_cache *c = kslab_create(name, size, align, flags, ctor, &why, &err);
	if (c) {
		/* A debug cache takes no front slot: its objects go through
		 * the slab layer's checks. */
		c->front_idx = kslab_debug(c) ? -1 : (int16_t)kfront_attach(c);
		return c;
	}
	if (flags & SLAB_PANIC)
		kpanic("kmem_cache_create: cannot create cache %s (size %lu, align %lu): %s", name ? name : "(null)",
		       (unsigned long)size, (unsigned long)align, why);
	kreport("kmem_cache_create: cannot create cache %s (size %lu, align %lu): %s", name ? name : "(null)",
	        (unsigned long)size, (unsigned long)align, why);
	errno = err;
	return NULL;
}

KEXPORT void *kmem_cache_alloc(struct kmem_cache *c, gfp_t gfp)
{
	void *obj;
	if (unlikely(!c || c->dead))
		kpanic("kmem_cache_alloc: %s cache %p", c ? "destroyed" : "NULL", (void *)c);
	gfp = gfp_check(gfp, "kmem_cache_alloc");
	kslab_set_caller(__builtin_return_address(0));
	/* The cache's zone replaces any the caller gives (new_slab), and a
	 * failure report names it. */
	gfp = (gfp & ~KGFP_ZONEMASK) | c->allocflags;
	/* __GFP_COLD: from the slabs, not the recently freed objects of the
	 * CPU's stack (the hot end). */
	if (likely(c->front_idx >= 0 && !(gfp & __GFP_COLD))) {
		obj = kfront_pop((unsigned)c->front_idx, gfp);   /* reports failures */
		if (unlikely(!obj))
			return NULL;
	} else if (kslab_alloc_bulk(c, gfp, 1, &obj) != 1) {
		kalloc_fail(c->object_size, gfp, c->name);
		return NULL;
	}
	kslab_clear_caller();
	if (gfp & __GFP_ZERO)
		memset(obj, 0, c->object_size);
	return obj;
}

KEXPORT void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t gfp)
{
	return kmem_cache_alloc(c, gfp | __GFP_ZERO);
}

/* The slab of obj, an object of cache c; reports (naming `op`) and aborts
 * for anything else. */
static struct page *cache_object(struct kmem_cache *c, void *obj, const char *op)
{
	if (unlikely(!c))
		kpanic("%s: NULL cache for object %p", op, obj);
	struct page *s = kslab_of(obj);
	if (!s)
		kpanic("%s: invalid pointer %p (not a slab object; cache %s)", op, obj, c->name);
	kslab_check_object(c, s, obj, op);
	return s;
}

KEXPORT void kmem_cache_free(struct kmem_cache *c, void *obj)
{
	if (!obj)
		return;
	struct page *s = cache_object(c, obj, "kmem_cache_free");
	kslab_set_caller(__builtin_return_address(0));
	if (likely(c->front_idx >= 0))
		kfront_push((unsigned)c->front_idx, obj);
	else
		kslab_free_one(c, s, obj);
	kslab_clear_caller();
}

KEXPORT int kmem_cache_alloc_bulk(struct kmem_cache *c, gfp_t gfp, size_t n, void **objs)
{
	if (unlikely(!c || c->dead))
		kpanic("kmem_cache_alloc_bulk: %s cache %p", c ? "destroyed" : "NULL", (void *)c);
	gfp = gfp_check(gfp, "kmem_cache_alloc_bulk");
	if (n == 0 || n > INT32_MAX)
		return 0;
	size_t got = 0;
	if (c->front_idx >= 0 && !(gfp & __GFP_COLD))
		while (got < n && (objs[got] = kpcpu_pop(&kpcpu, (size_t)c->front_idx)) != NULL)
			got++;
	while (got < n) {
		unsigned want = (unsigned)KMIN(n - got, (size_t)UINT32_MAX);
		unsigned k = kslab_alloc_bulk(c, gfp, want, objs + got);
		if (!k)
			break;
		got += k;
	}
	if (got < n) {
		/* all or nothing, as the kernel's */
		kmem_cache_free_bulk(c, got, objs);
		kalloc_fail(c->object_size * n, gfp, c->name);
		return 0;
	}
	if (gfp & __GFP_ZERO)
		for (size_t i = 0; i < n; i++)
			memset(objs[i], 0, c->object_size);
	return (int)n;
}

KEXPORT void kmem_cache_free_bulk(struct kmem_cache *c, size_t n, void **objs)
{
	for (size_t i = 0; i < n; i++)
		kmem_cache_free(c, objs[i]);
}

KEXPORT int kmem_cache_shrink(struct kmem_cache *c)
{
	if (c) {
		if (c->front_idx >= 0)
			kfront_drain_index((unsigned)c->front_idx);
		kslab_shrink(c);
	}
	return 0;
}

KEXPORT int kmem_cache_destroy(struct kmem_cache *c)
{
	if (!c)
		return 0;
	if (kslab_is_builtin(c)) {
		kreport("kmem_cache_destroy: cache %s is built in and cannot be destroyed", c->name);
		return -EINVAL;
	}
	/* Objects freed with RCU are live until their grace period ends, and
	 * a SLAB_TYPESAFE_BY_RCU cache's slabs go after one: wait for them
	 * (rcu_barrier), which a thread inside a read-side critical section
	 * must not do. */
	if (krcu_bound() && ((c->flags & SLAB_TYPESAFE_BY_RCU) || atomic_load(&c->rcu_pending))) {
		if (krcu_read_ongoing()) {
			kreport("kmem_cache_destroy: cache %s: called inside an RCU read-side critical section; "
			        "not destroyed", c->name);
			return -EBUSY;
		}
		while (atomic_load_explicit(&c->rcu_pending, memory_order_acquire))
			krcu_barrier();
	}
	if (c->front_idx >= 0 && !kfront_drain_index((unsigned)c->front_idx)) {
		kreport("kmem_cache_destroy: cache %s: the per-CPU caches cannot be drained now (membarrier "
		        "refused); not destroyed", c->name);
		return -EBUSY;
	}
	size_t live = kslab_live(c);
	if (live) {
		kreport("kmem_cache_destroy: cache %s still has %lu object%s in use; not destroyed", c->name,
		        (unsigned long)live, live == 1 ? "" : "s");
		return -EBUSY;
	}
	if (!kfront_detach(c)) {
		kreport("kmem_cache_destroy: cache %s: the per-CPU caches cannot be drained now (membarrier "
		        "refused); not destroyed", c->name);
		return -EBUSY;
	}
	kslab_destroy(c);
	return 0;
}

KEXPORT unsigned int kmem_cache_size(struct kmem_cache *c)
{
	return c ? c->object_size : 0;
}

KEXPORT const char *kmem_cache_name(struct kmem_cache *c)
{
	return c ? c->name : NULL;
}

/* ------------------------------------------------------------------ */
/* kmalloc                                                             */
/* ------------------------------------------------------------------ */

KEXPORT void *kmalloc(size_t size, gfp_t gfp)
{
	bool z = false;
	kalloc_ensure_init();
	gfp = gfp_check(gfp, "kmalloc");
	kslab_set_caller(__builtin_return_address(0));
	void *p = kalloc_any(size, 0, gfp, &z);
	kslab_clear_caller();
	if (p && (gfp & __GFP_ZERO) && !z)
		memset(p, 0, size);
	return p;
}

KEXPORT void *kzalloc(size_t size, gfp_t gfp)
{
	return kmalloc(size, gfp | __GFP_ZERO);
}

KEXPORT void *kmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes)) {
		kalloc_fail(SIZE_MAX, gfp, "kmalloc_array: size overflow");
		return NULL;
	}
	return kmalloc(bytes, gfp);
}

KEXPORT void *kcalloc(size_t n, size_t size, gfp_t gfp)
{
	return kmalloc_array(n, size, gfp | __GFP_ZERO);
}

KEXPORT void *krealloc(const void *p, size_t new_size, gfp_t gfp)
{
	if (!p)
		return kmalloc(new_size, gfp);
	if (new_size == 0) {
		kfree_any(p, "krealloc");
		return NULL;
	}
	gfp = gfp_check(gfp, "krealloc");
	size_t old = (gfp & __GFP_ZERO) ? kusable_any(p, "krealloc") : 0;
	void *n = krealloc_any((void *)p, new_size, gfp, "krealloc");
	if (n && (gfp & __GFP_ZERO) && new_size > old)
		memset((char *)n + old, 0, new_size - old);
	return n;
}

KEXPORT void kfree(const void *p)
{
	kslab_set_caller(__builtin_return_address(0));
	kprof_free_hook(p);   /* a sampled malloc block freed with kfree */
	kfree_any(p, "kfree");
	kslab_clear_caller();
}

KEXPORT size_t ksize(const void *p)
{
	return p ? kusable_any(p, "ksize") : 0;
}

KEXPORT char *kstrdup(const char *s, gfp_t gfp)
{
	if (!s)
		return NULL;
	size_t len = strlen(s) + 1;
	char *p = kmalloc(len, gfp);
	if (p)
		memcpy(p, s, len);
	return p;
}

KEXPORT void *kmemdup(const void *src, size_t len, gfp_t gfp)
{
	void *p = kmalloc(len, gfp);
	if (p)
		memcpy(p, src, len);
	return p;
}

/* kmalloc already takes the huge path above 4 MiB. */
KEXPORT void *kvmalloc(size_t size, gfp_t gfp)
{
	return kmalloc(size, gfp);
}

KEXPORT void kvfree(const void *addr)
{
	kprof_free_hook(addr);
	kfree_any(addr, "kvfree");
}

/* ------------------------------------------------------------------ */
/* RCU                                                                 */
/* ------------------------------------------------------------------ */

/* The grace period of an object freed with kfree_rcu or
 * kmem_cache_free_rcu is over: free it.  Only the rcu_head's address is
 * known; the object is the block that holds it. */
static void free_rcu_cb(struct krcu_head *h)
{
	struct kmem_cache *c;
	void *p = kblock_start(h, &c);
	if (!p)
		kpanic("kfree_rcu: the rcu_head %p is no longer inside a block of kalloc", (void *)h);
	kfree_any(p, "kfree_rcu");
	if (c)   /* the cache may be destroyed from here on */
		atomic_fetch_sub_explicit(&c->rcu_pending, 1, memory_order_release);
}

/* Checks that head lies inside the object ptr (usable bytes) at pointer
 * alignment, then defers. */
static void free_rcu(void *head, void *ptr, size_t usable, const char *op)
{
	uintptr_t h = (uintptr_t)head, p = (uintptr_t)ptr;
	struct kmem_cache *c;
	if (h < p || h - p > usable || usable - (h - p) < sizeof(struct krcu_head) || (h & (sizeof(void *) - 1)) ||
	    kblock_start(head, &c) != ptr)
		kpanic("%s: the rcu_head %p is not inside the object %p (%lu bytes)", op, head, ptr,
		       (unsigned long)usable);
	if (c)
		atomic_fetch_add_explicit(&c->rcu_pending, 1, memory_order_relaxed);
	krcu_call(head, free_rcu_cb);
}

KEXPORT void kvfree_call_rcu(void *head, void *ptr)
{
	if (!ptr)
		return;
	free_rcu(head, ptr, kusable_any(ptr, "kfree_rcu"), "kfree_rcu");
}

KEXPORT void kmem_cache_free_call_rcu(struct kmem_cache *c, void *obj, void *head)
{
	if (!obj)
		return;
	cache_object(c, obj, "kmem_cache_free_rcu");
	free_rcu(head, obj, c->object_size, "kmem_cache_free_rcu");
}

KEXPORT void kvfree_rcu_barrier(void)
{
	if (krcu_read_ongoing())
		kpanic("kvfree_rcu_barrier: called inside an RCU read-side critical section (it would wait for "
		       "itself)");
	krcu_barrier();
}

/* ------------------------------------------------------------------ */
/* vmalloc                                                             */
/* ------------------------------------------------------------------ */

static void *vmalloc_zero(size_t size, bool zero)
{
	bool z;
	kalloc_ensure_init();
	void *p = kvm_alloc(size, 0, GFP_KERNEL, &z);
	if (!p)
		kalloc_fail(size, GFP_KERNEL, "vmalloc");
	else if (zero && !z)
		memset(p, 0, KALIGN_UP(size ? size : 1, PAGE_SIZE));   /* a freed area reused: all of it */
	return p;
}

KEXPORT void *vmalloc(size_t size)
{
	return vmalloc_zero(size, false);
}

KEXPORT void *vzalloc(size_t size)
{
	return vmalloc_zero(size, true);
}

KEXPORT void vfree(const void *addr)
{
	if (!addr)
		return;
	if (!kvm_free(addr))
		kbad_pointer(addr, "vfree", "not a vmalloc area");
}

/* ------------------------------------------------------------------ */
/* per-CPU data                                                        */
/* ------------------------------------------------------------------ */

KEXPORT void *__alloc_percpu(size_t size, size_t align)
{
	kalloc_ensure_init();
	return kpcpu_alloc(size, align);
}

KEXPORT void free_percpu(void *p)
{
	if (p)
		kpcpu_free(p);
}

KEXPORT unsigned int kalloc_nr_cpu_ids(void)
{
	kalloc_ensure_init();
	return kpcpu_nr_ids();
}

KEXPORT unsigned int kalloc_this_cpu(void)
{
	kalloc_ensure_init();
	return kpcpu_this_cpu();
}

KEXPORT void kalloc_this_cpu_add(void *p, long v, size_t size)
{
	kalloc_ensure_init();
	kpcpu_add(p, v, size);
}

KEXPORT void kalloc_this_cpu_write(void *p, long v, size_t size)
{
	kalloc_ensure_init();
	kpcpu_write(p, v, size);
}

KEXPORT void *kalloc_per_cpu_ptr(const void *p, unsigned int cpu)
{
	kalloc_ensure_init();
	return kpcpu_ptr(p, cpu, "per_cpu_ptr");
}

KEXPORT void *kalloc_this_cpu_ptr(const void *p)
{
	kalloc_ensure_init();
	return kpcpu_ptr(p, kpcpu_this_cpu(), "this_cpu_ptr");
}

KEXPORT unsigned int kalloc_get_cpu(void)
{
	kalloc_ensure_init();
	return kpcpu_get_cpu();
}

KEXPORT void kalloc_put_cpu(void)
{
	kpcpu_put_cpu();
}

/* Called by the constructor kalloc.h gives every file of a module: possibly
 * the program's first call. */
KEXPORT void kalloc_percpu_module_add(void *start, void *stop)
{
	kalloc_ensure_init();
	kpcpu_module_add(start, stop);
}

KEXPORT void kalloc_percpu_module_del(void *start, void *stop)
{
	kpcpu_module_del(start, stop);
}

/* ------------------------------------------------------------------ */
/* introspection                                                       */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* memory limit and shrinkers                                          */
/* ------------------------------------------------------------------ */

KEXPORT int kalloc_set_limit(size_t bytes)
{
	kalloc_ensure_init();
	if (bytes && bytes < PAGE_SIZE)
		return -EINVAL;
	kreclaim_set_limit(bytes);
	return 0;
}

KEXPORT size_t kalloc_get_limit(void)
{
	kalloc_ensure_init();
	return atomic_load_explicit(&kmem_limit_pages, memory_order_relaxed) << PAGE_SHIFT;
}

KEXPORT size_t kalloc_charged(void)
{
	kalloc_ensure_init();
	return kmem_charged() << PAGE_SHIFT;
}

KEXPORT int register_shrinker(struct shrinker *s, const char *name)
{
	kalloc_ensure_init();
	return kreclaim_register(s, name);
}

KEXPORT void unregister_shrinker(struct shrinker *s)
{
	if (s)
		kreclaim_unregister(s);
}

KEXPORT void kalloc_stats_print(int fd, int format)
{
	kalloc_ensure_init();
	kstats_write(NULL, NULL, fd, format);
}

KEXPORT void kalloc_stats_write(kalloc_write_fn fn, void *opaque, int format)
{
	kalloc_ensure_init();
	if (fn)
		kstats_write(fn, opaque, -1, format);
}

KEXPORT int kalloc_prof_dump(const char *path)
{
	kalloc_ensure_init();
	return kprof_on ? kprof_dump(path) : -1;
}

KEXPORT int kalloc_validate(void)
{
	kalloc_ensure_init();
	kmalloc_validate();   /* page blocks' canaries */
	return kslab_validate();
}
