/* SPDX-License-Identifier: MIT */
/*
 * front.c - front caches: the choice of mode, the slow paths, and the calls
 * the layers above make (front.h).
 *
 * Mode: per-CPU (front_rseq.c) unless KALLOC_RSEQ=0 or rseq is not to be
 * had, else per-thread (front_thread.c); neither (KF_NONE) only while
 * initialising or when no region could be mapped, and then every operation
 * goes straight to the slab layer.
 *
 * The slow paths are the same in both modes: a miss on pop refills half a
 * stack from the slab layer (one lock round trip for the batch) and pushes
 * it one push at a time; a miss on push pops half the stack and returns it
 * to the slabs.  A locked stack (being drained, or the sentinel region -1)
 * makes both go straight to the slab layer.
 *
 * KALLOC_STATS: the counting mode, in which the fast paths keep the
 * sentinel view, so every operation takes the slow path and is counted
 * (hits and misses per front index) at no cost to the normal fast path.
 */
#include "front.h"

#include <errno.h>

static bool counting;

/* KALLOC_STATS counters: [idx][0] allocs, [1] alloc misses, [2] frees,
 * [3] free misses. */
static _Atomic uint64_t kf_stat[KFRONT_NR][4];

/* ------------------------------------------------------------------ */
/* initialisation                                                      */
/* ------------------------------------------------------------------ */

void kfront_init(struct kmem_cache *classes, unsigned n)
{
	if (!kfront_layout_setup(classes, n))
		kpanic("front cache layout exceeds its %lu-byte region", (unsigned long)KPCPU_REGION);
	int mode = KF_NONE;
	if (ktune.rseq && kfront_rseq_setup())
		mode = KF_RSEQ;
	else if (kfront_thread_setup())
		mode = KF_THREAD;
	kfront_mode = mode;
	counting = mode != KF_NONE && ktune.stats != NULL;
	/* Last, publish the view to the fast paths, in the order they rely
	 * on (front.h): from here on they may hit. */
	if (mode != KF_NONE && !counting) {
		__atomic_store_n(&kpcpu.base, kpcpu_slow.base, __ATOMIC_RELEASE);
		__atomic_store_n(&kpcpu.cs_rel, kpcpu_slow.cs_rel, __ATOMIC_RELEASE);
		__atomic_store_n(&kpcpu.cid_rel, kpcpu_slow.cid_rel, __ATOMIC_RELEASE);
	}
}

const char *kfront_mode_name(void)
{
	switch (kfront_mode) {
	case KF_RSEQ:
		return kfront_rseq_uses_cid() ? "rseq (per-CPU, mm_cid)" : "rseq (per-CPU, cpu_id)";
	case KF_THREAD:
		return kfront_thread_restartable() ? "per-thread (restartable: rseq)"
		                                   : "per-thread (not restartable: no allocation in signal handlers)";
	default:
		return "none";
	}
}

/* ------------------------------------------------------------------ */
/* slow paths                                                          */
/* ------------------------------------------------------------------ */

/* Half the current capacity of the calling thread's stack idx (1 when
 * locked). */
static unsigned front_batch(unsigned idx)
{
	unsigned r = kfront_this_region();
	unsigned cap = r < kfront_nr_regions ? kfront_hdr_cap(kfront_hdr(r, idx)) : 0;
	return KMIN(KMAX((cap + 1) / 2, 1u), KFRONT_BATCH_MAX);
}

/* A miss on stack idx, on a full stack (`spill`) or an empty one: the
 * mode's growth rule. */
static void front_grow(unsigned idx, bool spill)
{
	if (kfront_mode == KF_RSEQ)
		kfront_rseq_grow(idx);
	else if (kfront_mode == KF_THREAD)
		kfront_thread_grow(idx, spill);
}

/* A miss on pop: a batch from the slabs, all but one pushed. */
static void *front_refill(struct kmem_cache *c, unsigned idx, gfp_t gfp)
{
	void *tmp[KFRONT_BATCH_MAX];
	front_grow(idx, false);
	/* Without reclaim (GFP_ATOMIC), one object: no batch to push back,
	 * so no lock that could be waited for. */
	unsigned want = (gfp & __GFP_DIRECT_RECLAIM) ? front_batch(idx) : 1;
	unsigned n = kslab_alloc_bulk(c, gfp, want, tmp);
	if (!n)
		return NULL;
	void *obj = tmp[--n];
	unsigned i = 0;
	while (i < n && kpcpu_push(&kpcpu_slow, idx, tmp[i]))
		i++;
	if (i < n)
		kslab_free_bulk(c, n - i, tmp + i);
	return obj;
}

/* A miss on push: half the stack back to the slabs, then obj pushed (or
 * freed to its slab when the stack is locked). */
static void front_spill(struct kmem_cache *c, unsigned idx, void *obj)
{
	void *tmp[KFRONT_BATCH_MAX];
	front_grow(idx, true);
	unsigned n = 0, want = front_batch(idx);
	while (n < want) {
		void *p = kpcpu_pop(&kpcpu_slow, idx);
		if (!p)
			break;
		if (unlikely(p == obj))
			kpanic("free(): double free of object %p (cache %s)", obj, c->name);
		tmp[n++] = p;
	}
	if (n)
		kslab_free_bulk(c, n, tmp);
	if (!kpcpu_push(&kpcpu_slow, idx, obj))
		kslab_free_bulk(c, 1, &obj);
}

static void *alloc_slow(struct kmem_cache *c, unsigned idx, gfp_t gfp)
{
	if (kfront_mode == KF_NONE) {
		void *obj;
		return kslab_alloc_bulk(c, gfp, 1, &obj) == 1 ? obj : NULL;
	}
	kfront_thread_ready(gfp);
	if (counting) {
		atomic_fetch_add_explicit(&kf_stat[idx][0], 1, memory_order_relaxed);
		void *p = kpcpu_pop(&kpcpu_slow, idx);
		if (p)
			return p;
		atomic_fetch_add_explicit(&kf_stat[idx][1], 1, memory_order_relaxed);
	}
	return front_refill(c, idx, gfp);
}

void *kfront_alloc_slow(unsigned idx, gfp_t gfp)
{
	struct kmem_cache *c = kfront_cache[idx];
	if (unlikely(!c)) {
		/* Only a call made while kalloc itself initialises can get here
		 * (the classes are registered first thing). */
		errno = ENOMEM;
		return NULL;
	}
	void *p;
	if (kslab_debug(c)) {
		/* no stack (kfront_layout_setup): one object, checked */
		kslab_note_caller(__builtin_return_address(0));
		p = kslab_alloc_bulk(c, gfp, 1, &p) == 1 ? p : NULL;
	} else {
		p = alloc_slow(c, idx, gfp);
	}
	if (unlikely(!p))
		kalloc_fail(c->object_size, gfp, c->name);
	return p;
}

void kfront_free_slow(unsigned idx, void *obj)
{
	struct kmem_cache *c = kfront_cache[idx];
	if (kfront_mode == KF_NONE || kslab_debug(c)) {
		kslab_note_caller(__builtin_return_address(0));
		kslab_free_bulk(c, 1, &obj);
		return;
	}
	kfront_thread_ready(GFP_KERNEL);
	if (counting) {
		atomic_fetch_add_explicit(&kf_stat[idx][2], 1, memory_order_relaxed);
		if (kpcpu_push(&kpcpu_slow, idx, obj))
			return;
		atomic_fetch_add_explicit(&kf_stat[idx][3], 1, memory_order_relaxed);
	}
	front_spill(c, idx, obj);
}

/* ------------------------------------------------------------------ */
/* draining, custom caches, fork                                       */
/* ------------------------------------------------------------------ */

bool kfront_drain_index(unsigned idx)
{
	if (kfront_mode == KF_RSEQ) {
		bool sel[KFRONT_NR] = { false };
		sel[idx] = true;
		return kfront_rseq_drain(sel);
	}
	if (kfront_mode == KF_THREAD)
		kfront_thread_flush_index(idx);
	return true;
}

void kfront_flush_all(void)
{
	if (kfront_mode == KF_RSEQ) {
		bool sel[KFRONT_NR];
		for (unsigned i = 0; i < KFRONT_NR; i++)
			sel[i] = kfront_cache[i] != NULL;
		kfront_rseq_drain(sel);
	} else if (kfront_mode == KF_THREAD) {
		kfront_thread_flush();
		kfront_thread_release_idle();
	}
}

int kfront_attach(struct kmem_cache *c)
{
	return kfront_mode == KF_RSEQ ? kfront_rseq_attach(c) : -1;
}

bool kfront_detach(struct kmem_cache *c)
{
	return c->front_idx < 0 || kfront_rseq_detach(c);
}

void kfront_fork_prepare(void)
{
	kfront_rseq_fork_prepare();
	kfront_thread_fork_prepare();
}

void kfront_fork_parent(void)
{
	kfront_thread_fork_parent();
	kfront_rseq_fork_parent();
}

void kfront_fork_child(void)
{
	kfront_rseq_fork_child();
	kfront_thread_fork_child();
}

/* ------------------------------------------------------------------ */
/* introspection                                                       */
/* ------------------------------------------------------------------ */

/* Objects cached in stack idx: over all CPUs, or the calling thread's. */
static size_t cached_in(unsigned idx, size_t *regions)
{
	size_t n = 0, used = 0;
	unsigned first = 0, last = 0;
	if (kfront_mode == KF_RSEQ) {
		last = kfront_nr_regions;
	} else if (kfront_mode == KF_THREAD && kfront_thr.state == KT_LIVE) {
		first = (unsigned)kfront_thr.slot;
		last = first + 1;
	}
	for (unsigned r = first; r < last; r++) {
		unsigned cur = __atomic_load_n(&kfront_hdr(r, idx)->cur, __ATOMIC_RELAXED);
		if (cur > kfront_begin[idx]) {
			n += cur - kfront_begin[idx];
			used++;
		}
	}
	if (regions)
		*regions = used;
	return n;
}

bool kfront_holds(unsigned idx, const void *obj)
{
	if (kfront_mode == KF_NONE)
		return false;
	for (unsigned r = 0; r < kfront_nr_regions; r++) {
		struct kpcpu_hdr *h = kfront_hdr(r, idx);
		unsigned cur = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
		unsigned begin = kfront_begin[idx];
		void *const *slots = (void *const *)kfront_slots(r);
		for (unsigned i = begin; i < cur && i < begin + kfront_cap[idx]; i++)
			if (__atomic_load_n(&slots[i], __ATOMIC_RELAXED) == obj)
				return true;
	}
	return false;
}

size_t kfront_cached(unsigned idx)
{
	return cached_in(idx, NULL);
}

void kfront_stats(unsigned idx, struct kfront_stats *st)
{
	st->cache = kfront_cache[idx];
	if (!st->cache)
		return;
	st->cached = cached_in(idx, &st->regions);
	st->allocs = atomic_load(&kf_stat[idx][0]);
	st->alloc_misses = atomic_load(&kf_stat[idx][1]);
	st->frees = atomic_load(&kf_stat[idx][2]);
	st->free_misses = atomic_load(&kf_stat[idx][3]);
	st->capacity = 0;
	if (kfront_mode == KF_RSEQ) {
		for (unsigned cpu = 0; cpu < kfront_nr_regions; cpu++)
			st->capacity += kfront_hdr_cap(kfront_hdr(cpu, idx));
		st->max = kfront_cap[idx];
	} else {
		st->capacity = idx < KFRONT_CLASSES ? kfront_thread_cap[idx] : 0;
		st->max = st->capacity;
	}
}
