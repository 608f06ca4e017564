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

/* ------------------------------------------------------------------ */
/* pages                                                               */
/* ------------------------------------------------------------------ */

KEXPORT struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	kalloc_ensure_init();
	return kpage_api_alloc(gfp, order);
}

KEXPORT void *page_address(const struct page *page)
{
	return page ? kpage_address(page) : NULL;
}

KEXPORT struct page *virt_to_page(const void *addr)
{
	struct kchunk *c = kchunk_of(addr);
	return c ? kchunk_page(c, addr) : NULL;
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
	return kpage_api_alloc_exact(size, gfp);
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
		c->front_idx = (int16_t)kfront_attach(c);
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
	if (likely(c->front_idx >= 0)) {
		obj = kfront_pop((unsigned)c->front_idx, gfp);   /* reports failures */
		if (unlikely(!obj))
			return NULL;
	} else if (kslab_alloc_bulk(c, gfp, 1, &obj) != 1) {
		kalloc_fail(c->object_size, gfp, c->name);
		return NULL;
	}
	if (gfp & __GFP_ZERO)
		memset(obj, 0, c->object_size);
	return obj;
}

KEXPORT void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t gfp)
{
	return kmem_cache_alloc(c, gfp | __GFP_ZERO);
}

KEXPORT void kmem_cache_free(struct kmem_cache *c, void *obj)
{
	if (!obj)
		return;
	if (unlikely(!c))
		kpanic("kmem_cache_free: NULL cache for object %p", obj);
	struct page *s = kslab_of(obj);
	if (!s)
		kpanic("kmem_cache_free: invalid pointer %p (not a slab object; cache %s)", obj, c->name);
	kslab_check_object(c, s, obj, "kmem_cache_free");
	if (likely(c->front_idx >= 0))
		kfront_push((unsigned)c->front_idx, obj);
	else
		kslab_free_one(c, s, obj);
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
	void *p = kalloc_any(size, 0, gfp, &z);
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
	size_t old = (gfp & __GFP_ZERO) ? kusable_any(p, "krealloc") : 0;
	void *n = krealloc_any((void *)p, new_size, gfp, "krealloc");
	if (n && (gfp & __GFP_ZERO) && new_size > old)
		memset((char *)n + old, 0, new_size - old);
	return n;
}

KEXPORT void kfree(const void *p)
{
	kfree_any(p, "kfree");
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
	kfree_any(addr, "kvfree");
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

KEXPORT void kalloc_stats_print(int fd)
{
	kalloc_ensure_init();
	kstats_print(fd);
}
