/* SPDX-License-Identifier: MIT */
/*
 * prof.h - the sampled heap profile, the report on a signal, the shared
 * segment kalloc-top reads, and the reports at exit (prof.c).
 */
#ifndef KALLOC_PROF_H
#define KALLOC_PROF_H

#include "stats.h"

#pragma GCC visibility push(hidden)

/*
 * The tick.  Each thread counts down the bytes it asks malloc, calloc,
 * realloc and operator new for in kfront_thr.prof_left; the entry point that takes it
 * below zero calls its slow path, which calls kprof_tick.  A thread starts
 * at 0, so its first allocation ticks and arms the counter: with nothing to
 * do (no KALLOC_PROF, no KALLOC_STATS_SIGNAL, no KALLOC_SHM) to INTPTR_MAX,
 * which never runs out; with sampling, to the bytes until the next sample;
 * with a signal or a segment to serve, to KPROF_TICK_BYTES at most.
 * The fast path pays for the countdown alone: a subtraction from a
 * thread-local and a predicted branch.  The counter is a field of
 * kfront_thr (rseq.h), whose offset from the thread pointer malloc's fast
 * path loads anyway for the front caches: the countdown adds no load.
 */
#define KPROF_TICK_BYTES (256L << 10)

/* Counts n bytes; true when the counter ran out (call the slow path).
 * tp = kfront_thr_tpoff(), which malloc's fast path passes on to the pop
 * too (one load for both: malloc.c). */
KINLINE bool kprof_count_tp(size_t n, intptr_t tp)
{
#if defined(__x86_64__)
	__asm__ goto("subq %[n], %%fs:%c[off](%[tp])\n\t"
	             "js %l[out]\n\t"
	             :
	             : [n] "r"(n), [tp] "r"(tp), [off] "i"(offsetof(struct kfront_thread, prof_left))
	             : "memory", "cc"
	             : out);
	return false;
out:
	return true;
#else
	(void)tp;
	kfront_thr.prof_left = (intptr_t)((uintptr_t)kfront_thr.prof_left - n);   /* wraps, never overflows */
	return unlikely(kfront_thr.prof_left < 0);
#endif
}
KINLINE bool kprof_count(size_t n)
{
	return kprof_count_tp(n, kfront_thr_tpoff());
}

/* The slow path of the countdown: serves a pending signal report and the
 * segment, re-arms the counter, and returns true when the allocation of n
 * bytes that ran it out is to be sampled.  kalloc is initialised; no lock
 * of kalloc is held. */
bool kprof_tick(size_t n);

/* KALLOC_PROF: sampling is on; set once at initialisation. */
extern bool kprof_on;

/* Records block p, asked for with n bytes, as sampled, with the stack of
 * the caller of the exported entry point.  Sampled blocks are page blocks
 * or huge areas (malloc.c allocates them so), so that only the slow free
 * paths ever see one. */
void kprof_record(void *p, size_t n);
/* The profile forgets p if it is sampled (a block being freed or moved by
 * realloc): a lock-free filter answers for most blocks, the table under
 * its lock for the rest.  Call only while kprof_on. */
bool kprof_forget(const void *p);
/* kprof_forget when sampling is on; true when p was sampled. */
KINLINE bool kprof_free_hook(const void *p)
{
	return unlikely(kprof_on) && kprof_forget(p);
}

/* At the end of initialisation: reads KALLOC_PROF, KALLOC_STATS_SIGNAL,
 * KALLOC_SHM (parsed into ktune), maps the profile's tables, installs the
 * signal handler, creates the segment. */
void kprof_init(void);
/* Fork handlers: prof_lock, a leaf, taken last. */
void kprof_fork_prepare(void);
void kprof_fork_parent(void);
void kprof_fork_child(void);
/* At exit: the KALLOC_STATS report, the profile, the segment removed. */
void kprof_exit(void);
/* Writes the heap profile to path ("%p" the pid; NULL: KALLOC_PROF's or
 * kalloc.<pid>.heap) and path.collapsed.  0 or an errno value. */
int kprof_dump(const char *path);

#pragma GCC visibility pop

#endif /* KALLOC_PROF_H */
