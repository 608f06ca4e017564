/* SPDX-License-Identifier: MIT */
/*
 * front.h - the front caches: stacks of object pointers in front of the slab
 * caches, one region of stacks per CPU (rseq) or per thread.
 *
 * Files, bottom first: front_region.c (the layout of a region, the views,
 * flushing a stack), front_rseq.c (per-CPU mode), front_thread.c
 * (per-thread mode), front.c (mode choice, slow paths, the API below).
 * The pop and push sequences and the structures they read are in rseq.h.
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

#include "rseq.h"
#include "slab.h"

#pragma GCC visibility push(hidden)

enum { KF_NONE = 0, KF_RSEQ = 1, KF_THREAD = 2 };

#define KFRONT_CLASSES  41
#define KFRONT_CUSTOM   32
#define KFRONT_NR       (KFRONT_CLASSES + KFRONT_CUSTOM)
/* Words at the start of a region before the slots: the headers, then two
 * words of per-CPU accounting (kfront_cap_bytes, kfront_steal_backoff). */
#define KPCPU_HDR_WORDS 80
_Static_assert(KFRONT_NR + 2 <= KPCPU_HDR_WORDS, "headers and accounting fit before the slots");

/* ================================================================== */
/* For the layers above                                                */
/* ================================================================== */

extern struct kpcpu_view kpcpu;        /* the fast paths' view */
extern struct kpcpu_view kpcpu_slow;   /* the slow paths' view */
extern int kfront_mode;                /* KF_RSEQ, KF_THREAD, or KF_NONE (none yet) */

/* Chooses the mode (ktune.rseq), lays the regions out for the n caches of
 * `classes` (front indices 0 .. n - 1, n <= KFRONT_CLASSES) and publishes
 * the view: from then on the fast paths may hit. */
void kfront_init(struct kmem_cache *classes, unsigned n);
/* Slow paths of kfront_pop / kfront_push: refill or spill a batch.  A
 * failed allocation is reported (kalloc_fail, with the cache's name). */
void *kfront_alloc_slow(unsigned idx, gfp_t gfp);
void kfront_free_slow(unsigned idx, void *obj);
/* Returns the cached objects of the calling thread (per-thread mode) or of
 * every CPU (rseq mode) to the slabs; empty slabs stay listed for a shrink. */
void kfront_flush_all(void);
/* Returns every cached object of front index idx to its slab cache (every
 * CPU in rseq mode; the calling thread in per-thread mode); empty slabs
 * stay listed for a shrink. */
void kfront_drain_index(unsigned idx);
/* Front index for a new kmem_cache, or -1 (none free, or per-thread mode). */
int kfront_attach(struct kmem_cache *c);
/* Drains c's stacks and gives its index back (c->front_idx becomes -1). */
void kfront_detach(struct kmem_cache *c);
void kfront_fork_prepare(void);
void kfront_fork_parent(void);
void kfront_fork_child(void);
const char *kfront_mode_name(void);
/* Objects of front index idx sitting in front caches (every CPU in rseq
 * mode, the calling thread otherwise); a racy snapshot. */
size_t kfront_cached(unsigned idx);
/* The region index of the calling thread: in rseq mode the CPU it runs on
 * (an mm_cid, or a cpu_id) at the moment of the call; ~0u when it has none.
 * Integer arithmetic: the word is not inside kfront_thr in rseq mode. */
KINLINE unsigned kfront_this_region(void)
{
	uintptr_t a = (uintptr_t)&kfront_thr + (uintptr_t)kpcpu_slow.cid_rel;
	return (unsigned)*(volatile int32_t *)a;
}
/* Offset of kfront_thr from the thread pointer: the same in every thread.
 * x86-64: the load the fast paths make (KPCPU_VIEW_LOAD), a form the linker
 * can relax; compilers may otherwise fold the GOT entry into an arithmetic
 * instruction that it cannot relax. */
KINLINE intptr_t kfront_thr_tpoff(void)
{
#if defined(__x86_64__)
	intptr_t off;
	__asm__("movq kfront_thr@gottpoff(%%rip), %0" : "=r"(off));
	return off;
#else
	return (char *)&kfront_thr - (char *)__builtin_thread_pointer();
#endif
}

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
/* Between the front-cache files                                       */
/* ================================================================== */

/* front_region.c: the layout, the same in every region, in both modes. */
extern struct kmem_cache *kfront_cache[KFRONT_NR];   /* NULL: index unused */
extern unsigned kfront_cap[KFRONT_NR];           /* reserved slots per region */
extern unsigned kfront_thread_cap[KFRONT_CLASSES];   /* per-thread capacity */
extern uint16_t kfront_begin[KFRONT_NR];         /* first slot, in words */
extern size_t kfront_layout_words;               /* words of a region in use */
extern unsigned kfront_nr_regions;               /* regions: CPUs, or thread slots */

/* Registers the classes and lays out the stacks; false when they do not
 * fit a region. */
bool kfront_layout_setup(struct kmem_cache *classes, unsigned n);
/* Capacity a per-CPU stack starts with. */
unsigned kfront_initial_cap(unsigned idx);
/* Maps n regions and region -1 below them (left zeroed: the sentinel);
 * returns region 0. */
char *kfront_regions_map(unsigned n);
/* Returns the objects of stack idx of region r to the slabs (with `put`,
 * leaving empty slabs listed: kslab_put_bulk).  The stack must have no
 * other user: its thread's own, one that cannot run any more, or one
 * locked and fenced. */
void kfront_region_flush(unsigned r, unsigned idx, bool put);

KINLINE struct kpcpu_hdr *kfront_hdr(unsigned r, unsigned idx)
{
	return (struct kpcpu_hdr *)(kpcpu_slow.base + ((size_t)r << KPCPU_SHIFT)) + idx;
}
KINLINE void **kfront_slots(unsigned r)
{
	return (void **)(kpcpu_slow.base + ((size_t)r << KPCPU_SHIFT));
}
/* begin and end as one 32-bit word (little endian: begin low). */
KINLINE uint32_t *kfront_hdr_word(struct kpcpu_hdr *h)
{
	return (uint32_t *)(void *)&h->begin;
}
/* begin = 0xffff, end = 0 in one store: every pop and push misses. */
KINLINE void kfront_hdr_lock(struct kpcpu_hdr *h)
{
	__atomic_store_n(kfront_hdr_word(h), 0x0000ffffu, __ATOMIC_RELEASE);
}
/* Unlocks (or sets up) a header with `cap` slots of capacity. */
KINLINE void kfront_hdr_set_cap(struct kpcpu_hdr *h, unsigned idx, unsigned cap)
{
	uint32_t v = (uint32_t)kfront_begin[idx] | (uint32_t)(kfront_begin[idx] + cap) << 16;
	__atomic_store_n(kfront_hdr_word(h), v, __ATOMIC_RELEASE);
}
/* Capacity of a header now, 0 when locked. */
KINLINE unsigned kfront_hdr_cap(struct kpcpu_hdr *h)
{
	uint32_t w = __atomic_load_n(kfront_hdr_word(h), __ATOMIC_ACQUIRE);
	if ((w & 0xffff) == 0xffff)
		return 0;
	return (w >> 16) - (w & 0xffff);
}
/* Per-CPU mode: bytes of object capacity granted on a CPU, and how many
 * grow attempts skip stealing (a backoff): the last two header words of
 * its region. */
KINLINE _Atomic size_t *kfront_cap_bytes(unsigned cpu)
{
	return (_Atomic size_t *)(void *)(kfront_slots(cpu) + KPCPU_HDR_WORDS - 1);
}
KINLINE _Atomic size_t *kfront_steal_backoff(unsigned cpu)
{
	return (_Atomic size_t *)(void *)(kfront_slots(cpu) + KPCPU_HDR_WORDS - 2);
}

/* front_rseq.c: per-CPU mode. */
bool kfront_rseq_setup(void);
void kfront_rseq_grow(unsigned idx);
/* Drains the stacks of the selected indices on every CPU (drain_lock). */
void kfront_rseq_drain(const bool *sel);
int kfront_rseq_attach(struct kmem_cache *c);
void kfront_rseq_detach(struct kmem_cache *c);
bool kfront_rseq_uses_cid(void);
void kfront_rseq_fork_prepare(void);
void kfront_rseq_fork_parent(void);
void kfront_rseq_fork_child(void);

/* front_thread.c: per-thread mode. */
bool kfront_thread_setup(void);
/* Gives the calling thread its region on its first miss (with a GFP that
 * may reclaim); afterwards its pushes and pops hit. */
void kfront_thread_ready(gfp_t gfp);
/* Returns the calling thread's cached objects to the slabs. */
void kfront_thread_flush(void);
/* Gives the memory of regions no thread holds back to the OS. */
void kfront_thread_release_idle(void);
void kfront_thread_fork_prepare(void);
void kfront_thread_fork_parent(void);
void kfront_thread_fork_child(void);

#pragma GCC visibility pop

#endif /* KALLOC_FRONT_H */
