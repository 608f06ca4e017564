/* SPDX-License-Identifier: MIT */
/*
 * percpu.c - the front caches in front of the kmalloc slab caches.
 *
 * Each thread has, per kmalloc class, a bin: a stack of object pointers
 * (struct kfront_bin in internal.h) that malloc pops and free pushes with no
 * lock and no atomic instruction.  The bins live in initial-exec TLS and
 * start zeroed, which makes them their own sentinel: begin == cur == end, so
 * the first malloc and the first free of a thread miss and land here, where
 * the thread's slot array is set up.
 *
 * Capacity per class: 64 KiB worth of objects, clamped to [4, 256] slots.  A
 * miss on pop refills half a bin from the slab layer in one batch
 * (kslab_alloc_bulk, one lock round trip); a push on a full bin returns the
 * older half (the bottom of the stack) to the slabs and keeps the hot half.
 *
 * Thread exit: a pthread key destructor returns every cached object and the
 * slot array and marks the thread dead; frees and mallocs that still arrive
 * afterwards (later destructors) go straight to the slab layer.
 */
#include "internal.h"

#include <string.h>

__thread struct kfront_bin kfront_bins[KMALLOC_NR_CLASSES];

enum { KF_NONE = 0, KF_LIVE = 1, KF_DEAD = 2 };

static __thread uint8_t kfront_state;
static __thread void **kfront_slots;     /* the thread's slot array */
static __thread size_t kfront_slots_bytes;

static pthread_key_t kfront_key;
static unsigned kfront_cap[KMALLOC_NR_CLASSES];
static size_t kfront_total_slots;

static void thread_exit(void *arg);

void kfront_init(void)
{
	size_t total = 0;
	for (unsigned i = 0; i < KMALLOC_NR_CLASSES; i++) {
		size_t cap = 65536 / kmalloc_class_size[i];
		cap = KMAX(cap, 4);
		cap = KMIN(cap, 256);
		kfront_cap[i] = (unsigned)cap;
		total += cap + 1;   /* +1: the NULL slot before each bin */
	}
	kfront_total_slots = total;
	pthread_key_create(&kfront_key, thread_exit);
}

/* Sets up the calling thread's bins.  Returns false when out of memory. */
static bool thread_setup(void)
{
	size_t bytes = KALIGN_UP(kfront_total_slots * sizeof(void *), PAGE_SIZE);
	struct page *pg = kpage_alloc_exact(GFP_KERNEL, bytes >> PAGE_SHIFT, 0);
	if (!pg)
		return false;
	kpage_set_tails(pg, bytes >> PAGE_SHIFT, KPG_TAIL);
	void **slots = kpage_address(pg);
	if (!(pg->flags & KPF_ZEROED))
		memset(slots, 0, bytes);
	void **s = slots;
	for (unsigned i = 0; i < KMALLOC_NR_CLASSES; i++) {
		s[0] = NULL;
		struct kfront_bin *b = &kfront_bins[i];
		b->begin = b->cur = s + 1;
		b->end = s + 1 + kfront_cap[i];
		s = b->end;
	}
	kfront_slots = slots;
	kfront_slots_bytes = bytes;
	kfront_state = KF_LIVE;
	/* Non-NULL value so the destructor runs at thread exit. */
	pthread_setspecific(kfront_key, slots);
	return true;
}

static void flush_bin(unsigned cls, struct kfront_bin *b, size_t n)
{
	/* Returns the n oldest objects (bottom of the stack). */
	size_t have = (size_t)(b->cur - b->begin);
	n = KMIN(n, have);
	if (!n)
		return;
	kslab_free_bulk(&kmalloc_caches[cls], (unsigned)n, b->begin);
	memmove(b->begin, b->begin + n, (have - n) * sizeof(void *));
	b->cur -= n;
}

void kfront_flush_self(void)
{
	if (kfront_state != KF_LIVE)
		return;
	for (unsigned i = 0; i < KMALLOC_NR_CLASSES; i++) {
		struct kfront_bin *b = &kfront_bins[i];
		flush_bin(i, b, (size_t)(b->cur - b->begin));
	}
}

static void thread_exit(void *arg)
{
	(void)arg;
	if (kfront_state != KF_LIVE)
		return;
	kfront_flush_self();
	void **slots = kfront_slots;
	memset(kfront_bins, 0, sizeof kfront_bins);
	kfront_state = KF_DEAD;
	kfront_slots = NULL;
	struct kchunk *c = kchunk_of(slots);
	kpage_free(kchunk_page(c, slots));
}

void *kfront_alloc_slow(unsigned cls, gfp_t gfp)
{
	struct kmem_cache *c = &kmalloc_caches[cls];
	void *obj;
	kalloc_ensure_init();
	if (kfront_state != KF_LIVE) {
		if (kfront_state == KF_DEAD || !(gfp & __GFP_DIRECT_RECLAIM) || !thread_setup())
			return kslab_alloc_bulk(c, gfp, 1, &obj) == 1 ? obj : NULL;
	}
	struct kfront_bin *b = &kfront_bins[cls];
	if (b->cur != b->begin)
		return *--b->cur;
	unsigned want = (kfront_cap[cls] + 1) / 2;
	unsigned got = kslab_alloc_bulk(c, gfp, want, b->begin);
	if (!got)
		return NULL;
	b->cur = b->begin + got - 1;
	return *b->cur;
}

void kfront_free_slow(unsigned cls, void *obj)
{
	struct kmem_cache *c = &kmalloc_caches[cls];
	if (kfront_state != KF_LIVE) {
		if (kfront_state == KF_DEAD || !thread_setup()) {
			kslab_free_bulk(c, 1, &obj);
			return;
		}
	}
	struct kfront_bin *b = &kfront_bins[cls];
	if (b->cur != b->begin && b->cur[-1] == obj)
		kpanic("free(): double free of object %p (cache %s)", obj, c->name);
	if (b->cur == b->end)
		flush_bin(cls, b, (size_t)(b->end - b->begin + 1) / 2);
	*b->cur++ = obj;
}

void kfront_fork_child(void)
{
	/* The forking thread's bins were copied and stay valid. */
}

size_t kfront_print(int fd)
{
	char line[128];
	size_t n = kformat(line, sizeof line, "front caches: per-thread, %lu slots per thread\n",
	                   (unsigned long)kfront_total_slots);
	kwrite_all(fd, line, n);
	return 0;
}
