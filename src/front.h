/* SPDX-License-Identifier: MIT */
/*
 * front.h - the front caches: stacks of object pointers in front of the slab
 * caches, one region of stacks per CPU (rseq) or per thread.
 *
 * Files, bottom first, each with its header: front_region.c (the layout of
 * a region, the views, flushing a stack), front_rseq.c (per-CPU mode),
 * front_thread.c (per-thread mode), front.c (mode choice, slow paths, and
 * the API below, which the layers above use).  The pop and push sequences
 * and the structures they read are in rseq.h.
 *
 * Front indices: 0 .. KFRONT_CLASSES - 1 are the classes the layer above
 * registers at initialisation (the kmalloc classes); KFRONT_CLASSES ..
 * KFRONT_NR - 1 are slots given to caches made with kmem_cache_create (in
 * per-CPU mode only: in per-thread mode another thread's stack could not be
 * drained for kmem_cache_destroy).
 *
 * KF_RSEQ (the default where glibc registered rseq): one region per possible
 * CPU, indexed by the rseq area's mm_cid (else cpu_id); the sequence is
 * armed in the rseq area, so preemption, migration or a signal restarts it.
 * Another CPU's stack is drained by locking its header and issuing the
 * membarrier rseq fence.
 *
 * KF_THREAD (the fallback): one region per thread, indexed by
 * kfront_thr.slot, and the sequence "armed" in kfront_thr.cs, which no
 * kernel reads: the same instructions, and each stack has one user.
 *
 * Region -1 (just below base) has every header zero, so every operation on
 * it misses.  That is the sentinel which replaces an "initialised?" test:
 * until kfront_init publishes the real view, kpcpu names kfront_thr.none
 * (always -1) as the index and a static zeroed block as region -1, so the
 * first calls take the slow paths, which initialise.  A thread without a
 * region of its own (per-thread mode: new, exiting, or beyond the reserved
 * number) has slot -1; the counting mode of KALLOC_STATS keeps the initial
 * view, so its fast paths always miss, and its slow paths use kpcpu_slow,
 * the real view.
 *
 * The view is published in the order base, cs_rel, cid_rel, and the fast
 * paths load it in the reverse order (x86 keeps loads in order): a fast
 * path that sees the new index sees the new area to arm and the new base;
 * one that sees the old index (-1) misses on region -1 of either base.
 */
#ifndef KALLOC_FRONT_H
#define KALLOC_FRONT_H

#include "front_rseq.h"
#include "front_thread.h"

#pragma GCC visibility push(hidden)

/* Chooses the mode (ktune.rseq), lays the regions out for the n caches of
 * `classes` (front indices 0 .. n - 1, n <= KFRONT_CLASSES) and publishes
 * the view: from then on the fast paths may hit. */
void kfront_init(struct kmem_cache *classes, unsigned n);
/* Slow paths of kfront_pop / kfront_push: refill or spill a batch.  A
 * failed allocation is reported (kalloc_fail, with the cache's name). */
void *kfront_alloc_slow(unsigned idx, gfp_t gfp);
void kfront_free_slow(unsigned idx, void *obj);
/* Returns the cached objects of the calling thread (per-thread mode) or of
 * every CPU (rseq mode) to the slabs; empty slabs may stay listed for a
 * shrink.  Best effort: see kfront_drain_index. */
void kfront_flush_all(void);
/* Returns every cached object of front index idx to its slab cache (every
 * CPU in rseq mode; the calling thread in per-thread mode); empty slabs may
 * stay listed for a shrink.  False when nothing could be drained (rseq mode:
 * the kernel refused the membarrier fence). */
bool kfront_drain_index(unsigned idx);
/* Front index for a new kmem_cache, or -1 (none free, or per-thread mode). */
int kfront_attach(struct kmem_cache *c);
/* Drains c's stacks and gives its index back (c->front_idx becomes -1);
 * false, with c still attached, when the stacks could not be drained. */
bool kfront_detach(struct kmem_cache *c);
void kfront_fork_prepare(void);
void kfront_fork_parent(void);
void kfront_fork_child(void);
const char *kfront_mode_name(void);
/* Objects of front index idx sitting in front caches (every CPU in rseq
 * mode, the calling thread otherwise); a racy snapshot. */
size_t kfront_cached(unsigned idx);
/* One stack's state for the report (stats.c). */
struct kfront_stats {
	struct kmem_cache *cache;  /* NULL: the index is unused */
	size_t cached;             /* objects held */
	size_t regions;            /* regions holding some */
	unsigned capacity;         /* summed over CPUs (rseq), or per thread */
	unsigned max;              /* reserved slots per region */
	uint64_t allocs, alloc_misses, frees, free_misses;   /* counting mode */
};
void kfront_stats(unsigned idx, struct kfront_stats *st);
/* Whether obj sits in a stack of front index idx, any CPU's or thread's:
 * a racy scan (an object on its way between a stack and its slab is in
 * neither; the caller looks again), for the free tag's check (slab.h). */
bool kfront_holds(unsigned idx, const void *obj);

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

#pragma GCC visibility pop

#endif /* KALLOC_FRONT_H */
