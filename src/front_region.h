/* SPDX-License-Identifier: MIT */
/*
 * front_region.h - front caches: the layout of a region and the views
 * (front_region.c), shared by every front-cache file.  front.h has the
 * design of the front caches; rseq.h the sequences and what they read.
 */
#ifndef KALLOC_FRONT_REGION_H
#define KALLOC_FRONT_REGION_H

#include "rseq.h"
#include "slab.h"

#pragma GCC visibility push(hidden)

enum { KF_NONE = 0, KF_RSEQ = 1, KF_THREAD = 2 };

#define KFRONT_CLASSES  59   /* 58 kmalloc classes and the zero-size class */
#define KFRONT_CUSTOM   31
#define KFRONT_NR       (KFRONT_CLASSES + KFRONT_CUSTOM)
/* Words at the start of a region before the slots: the headers, then, in
 * its last three, per-CPU accounting (kfront_cap_bytes,
 * kfront_page_cap_bytes, kfront_steal_backoff). */
#define KPCPU_HDR_WORDS 96
_Static_assert(KFRONT_NR + 3 <= KPCPU_HDR_WORDS, "headers and accounting fit before the slots");

extern struct kpcpu_view kpcpu;        /* the fast paths' view */
extern struct kpcpu_view kpcpu_slow;   /* the slow paths' view */
extern int kfront_mode;                /* KF_RSEQ, KF_THREAD, or KF_NONE (none yet) */
/* The layout, the same in every region, in both modes. */
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
/* Maps n regions and region -1 below them (left zeroed: the sentinel),
 * a guard page below that; returns region 0. */
char *kfront_regions_map(unsigned n);
/* Unmaps what kfront_regions_map(n) returned as base, guards included. */
void kfront_regions_unmap(char *base, unsigned n);
/* Returns the objects of stack idx of region r to the slabs (with `put`,
 * leaving empty slabs listed: kslab_put_bulk), emptying the stack before
 * the first object goes back.  The stack must have no other user: locked
 * (and fenced, per CPU), or one whose thread cannot run any more. */
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
/* One step of growth for a stack whose header word is w: half its
 * capacity (at least one slot), up to `max` slots; 0 when it is locked or
 * at max. */
KINLINE unsigned kfront_grow_step(uint32_t w, unsigned max)
{
	unsigned b = w & 0xffff, e = w >> 16;
	if (b == 0xffff || e - b >= max)
		return 0;
	return KMIN(KMAX((e - b) / 2, 1u), max - (e - b));
}
/* Raises the end of header h, read as w, by `grow` slots; false when the
 * word changed meanwhile (a flush locked it, say). */
KINLINE bool kfront_hdr_extend(struct kpcpu_hdr *h, uint32_t w, unsigned grow)
{
	uint32_t nw = (w & 0xffff) | (uint32_t)((w >> 16) + grow) << 16;
	return __atomic_compare_exchange_n(kfront_hdr_word(h), &w, nw, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}
/* Capacity of a header now, 0 when locked. */
KINLINE unsigned kfront_hdr_cap(struct kpcpu_hdr *h)
{
	uint32_t w = __atomic_load_n(kfront_hdr_word(h), __ATOMIC_ACQUIRE);
	if ((w & 0xffff) == 0xffff)
		return 0;
	return (w >> 16) - (w & 0xffff);
}
/* Per-CPU mode: bytes of object capacity granted on a CPU (slab objects,
 * and apart, page blocks), and how many grow attempts skip stealing (a
 * backoff): the last three header words of its region. */
KINLINE _Atomic size_t *kfront_cap_bytes(unsigned cpu)
{
	return (_Atomic size_t *)(void *)(kfront_slots(cpu) + KPCPU_HDR_WORDS - 1);
}
KINLINE _Atomic size_t *kfront_page_cap_bytes(unsigned cpu)
{
	return (_Atomic size_t *)(void *)(kfront_slots(cpu) + KPCPU_HDR_WORDS - 3);
}
KINLINE _Atomic size_t *kfront_steal_backoff(unsigned cpu)
{
	return (_Atomic size_t *)(void *)(kfront_slots(cpu) + KPCPU_HDR_WORDS - 2);
}


/* The region index of the calling thread: in rseq mode the CPU it runs on
 * (an mm_cid, or a cpu_id) at the moment of the call; ~0u when it has none.
 * Integer arithmetic: the word is not inside kfront_thr in rseq mode. */
KINLINE unsigned kfront_this_region(void)
{
	uintptr_t a = (uintptr_t)&kfront_thr + (uintptr_t)kpcpu_slow.cid_rel;
	return (unsigned)*(volatile int32_t *)a;
}
#pragma GCC visibility pop

#endif /* KALLOC_FRONT_REGION_H */
