/* SPDX-License-Identifier: MIT */
/*
 * base.h - what every layer of kalloc shares: compiler helpers, the lock
 * type, the one lock order and the rule for system calls under locks.
 *
 * The layers, bottom first (meson.build's core_sources is this list, and
 * tests/layers.py checks the object files against it: a file may refer only
 * to symbols of the files before it; the only way up is a function pointer
 * that an upper layer registers, as init.c registers the reclaim hook):
 *
 *   os.c            the only file that calls the kernel
 *   report.c        one-line reports, failures, the report buffer
 *   tune.c          tunables: the environment, parsed once
 *   rcu.c           deferral past an RCU grace period (liburcu, weakly bound)
 *   cxxrt.cc        the C++ runtime: new-handler, std::bad_alloc (weakly bound)
 *   page_alloc.c    the buddy allocator over 64 MiB chunks
 *   slab.c          kmem_cache internals: slabs, partial lists, remote frees
 *   front_region.c  front caches: region layout, views, flushing (rseq.h: the sequences)
 *   front_rseq.c    front caches, per-CPU mode: growth, stealing, the drain
 *   front_thread.c  front caches, per-thread mode: regions for threads
 *   front.c         front caches: mode choice and the slow paths
 *   vmalloc.c       huge areas, each its own mapping
 *   kmalloc.c       size classes; routing of any block by size and pointer
 *   percpu.c        per-CPU data for applications (alloc_percpu, this_cpu_add)
 *   stats.c         slabinfo, buddyinfo, vmallocinfo, front caches, totals
 *   prof.c          sampled heap profile, report on a signal, kalloc-top's segment
 *   reclaim.c       memory pressure: the limit's reclaim, shrinkers
 *   init.c          lazy initialisation, fork handlers, reclaim, exit report
 *   kapi.c          the exported kernel-style API (include/kalloc.h)
 *   malloc.c        the exported glibc malloc API, C++'s operator new and
 *                   delete, and their fast paths
 *
 * Every header includes only the headers of the layers below it; the two
 * files on top define every exported symbol, and they alone start the lazy
 * initialisation.  internal.h includes them all, for those two files and for
 * the unit tests.
 */
#ifndef KALLOC_BASE_H
#define KALLOC_BASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The library's own files register no module of per-CPU variables (kalloc.h's
 * constructor would refer to kapi.c from every layer). */
#define KALLOC_NO_PERCPU_MODULE 1
#include "kalloc.h"

/* Everything declared from here on is internal to the library: hidden
 * visibility lets the compiler address it directly, without the GOT.  Each
 * internal header repeats this. */
#pragma GCC visibility push(hidden)

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define KNOINLINE   __attribute__((noinline))
#define KINLINE     static inline __attribute__((always_inline))
#define KEXPORT     __attribute__((visibility("default")))
#define KNORETURN   __attribute__((noreturn))
#define KFMT(a, b)  __attribute__((format(printf, a, b)))
#define KSTR_(x)    #x
#define KSTR(x)     KSTR_(x)

#define KMIN(a, b) ((a) < (b) ? (a) : (b))
#define KMAX(a, b) ((a) > (b) ? (a) : (b))
#define KALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((uintptr_t)(a) - 1))
#define KALIGN_DOWN(x, a) ((x) & ~((uintptr_t)(a) - 1))
#define KIS_POW2(x)       ((x) != 0 && ((x) & ((x) - 1)) == 0)

/* ================================================================== */
/* Locks                                                               */
/* ================================================================== */

/*
 * A lock is a pthread mutex (a futex: no allocation), adaptive, so it spins
 * briefly before it sleeps: the critical sections are short.
 *
 * Lock order, outermost first.  A thread holding one of these takes only
 * locks further down the list:
 *
 *   0. shrink_lock     (reclaim.c)       running the shrinkers, which may
 *                                        allocate and free; taken with no
 *                                        other lock held
 *   1. init_lock       (init.c)          the one-time initialisation
 *   2. drain_lock      (front_rseq.c)    draining other CPUs' stacks; the
 *                                        custom-cache slots of the stacks
 *   3. kcache_list_lock (slab.c)         the list of all caches
 *   4. c->lock         (slab.c)          one cache's partial list; never
 *                                        two caches' at once, except in
 *                                        fork preparation (list order)
 *   5. z->lock         (page_alloc.c)    one zone's free lists and chunks;
 *                                        never two zones' at once (the
 *                                        zonelist fallback takes them in
 *                                        turn), except in fork preparation
 *
 * and the leaves, each taken with no other lock of kalloc held and taking
 * none while held:
 *
 *   thr_lock   (front_thread.c)  the per-thread regions' bitmap
 *   pc_lock    (percpu.c)        the per-CPU data allocator's bitmap
 *   vmap_lock  (vmalloc.c)       the huge areas' table
 *   q->lock    (slab.c)          a debug cache's quarantine (taken with at
 *                                most drain_lock held, by a drain's frees)
 *   prof_lock  (prof.c)          the heap profile's tables
 *
 * get_cpu's locks, one per CPU index (percpu.c), are the program's: held
 * between its get_cpu and put_cpu, outside this order; kalloc never takes
 * one with a lock of its own held, and fork preparation takes none.
 *
 * Fork preparation (init.c) takes shrink_lock, then glibc's stdio list
 * lock (glibc's fork takes it after the prepare handlers, and stdio
 * allocates under its locks; a shrinker may use stdio), then every lock in
 * this order, the leaves last; the child reinitialises them.  A process
 * that has only ever had one thread takes none.
 *
 * System calls: none is made with a lock of kalloc held, with two
 * exceptions, each the lock's whole purpose: init_lock is held across the
 * initialisation, which maps memory and registers the membarrier rseq fence;
 * drain_lock is held across that fence (membarrier), which is what makes a
 * locked stack stable.  Reports that end in abort() write with locks held:
 * the process ends there.
 */
typedef pthread_mutex_t klock_t;
#define KLOCK_INIT PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
KINLINE void klock(klock_t *l) { pthread_mutex_lock(l); }
KINLINE bool ktrylock(klock_t *l) { return pthread_mutex_trylock(l) == 0; }
KINLINE void kunlock(klock_t *l) { pthread_mutex_unlock(l); }
KINLINE void klock_reinit(klock_t *l) { pthread_mutex_t z = KLOCK_INIT; *l = z; }

/* In a loop that waits for another CPU (PAUSE on x86-64). */
KINLINE void kcpu_relax(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("pause");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Asks for the line at p in a writable state.  x86-64: PREFETCHW, which
 * processors without it execute as a no-op (GCC emits it only with
 * -mprfchw, hence the asm). */
KINLINE void kprefetch_write(const void *p)
{
#if defined(__x86_64__)
	__asm__ __volatile__("prefetchw (%0)" : : "r"(p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

#pragma GCC visibility pop

#endif /* KALLOC_BASE_H */
