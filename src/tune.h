/* SPDX-License-Identifier: MIT */
/*
 * tune.h - every tuning constant of kalloc, and the tunables read from the
 * environment (tune.c), in one place.
 *
 * Constants that describe a structure (the chunk size, a region's layout)
 * stay beside that structure; what is here could be changed without
 * changing any layout, only the speed and memory trade-offs.
 */
#ifndef KALLOC_TUNE_H
#define KALLOC_TUNE_H

#include "report.h"

#pragma GCC visibility push(hidden)

/* ---- page layer (page_alloc.c) ------------------------------------- */

/* Free pages kept backed (dirty) per zone before the excess goes back to the
 * OS (KALLOC_DIRTY_MAX) ... */
#define KDIRTY_HIGH_DEFAULT (32UL << 20)
/* ... or this fraction of the memory in use, when that is more. */
#define KDIRTY_USED_FRACTION 8
/* The high mark rises to the recent peak of pages in use when a release at
 * the mark follows another within this interval (page_alloc.c); what it
 * keeps stays within the room below that peak, or, on a free, within this
 * factor times KALLOC_DIRTY_MAX or the memory in use divided by
 * KDIRTY_MARK_USED_DIV, whichever is more.  (On bench/'s frag, keeping the
 * room: 1.65x the speed of the fixed mark at +12% peak RSS; keeping all
 * that is freed: 2.3x the speed at +39% RSS, as the free pages kept are
 * not all of the orders the next wave asks for.) */
#define KDIRTY_REPEAT_NS 250000000ull
#define KDIRTY_MARK_FACTOR 4
#define KDIRTY_MARK_USED_DIV 4
/* Decay: at most once per this interval, a free releases the dirty pages
 * (above an eighth of KALLOC_DIRTY_MAX) that stayed unused for the whole
 * interval. */
#define KDECAY_NS 1000000000ull
/* The clock is read on one free in this many. */
#define KDECAY_TICK 64
/* A zone's reserve (its min watermark): this many free pages, or a
 * sixteenth of the zone when that is less, are left to __GFP_HIGH
 * (GFP_ATOMIC), __GFP_NOFAIL and allocations made while reclaiming. */
#define KZONE_MIN_PAGES 256
/* Reclaim passes an allocation that finds memory short may run: in all, by
 * default and with __GFP_RETRY_MAYFAIL (__GFP_NOFAIL has no bound;
 * __GFP_NORETRY runs one light pass), and in a row without freeing anything
 * (then it fails, or __GFP_NOFAIL aborts). */
#define KRECLAIM_TRIES 32
#define KRECLAIM_TRIES_MAYFAIL 128
#define KRECLAIM_STALLS 4
/* Shrinkers: objects asked of one per call when its batch is 0; calls in one
 * pass at most; consecutive passes that free nothing (or return nonsense)
 * after which it is not asked again. */
#define KSHRINK_BATCH 128
#define KSHRINK_MAX_CALLS 4096
#define KSHRINK_FRUITLESS_MAX 8
/* An allocation finding no free block while a release has blocks out
 * yields and looks again this many times before it maps a chunk. */
#define KRELEASE_WAIT_TRIES 1000
/* Pages a release pass takes off the free lists at most (16 MiB). */
#define KRELEASE_PASS_PAGES 4096
/* Exact page blocks of more pages than this keep their whole power-of-two
 * block (kpage_alloc_exact). */
#define KEXACT_WHOLE_MIN 64
/* The most free pages of a low zone (DMA32, DMA) that allocations for a
 * higher zone falling back to it leave alone, as the kernel's
 * lowmem_reserve: one max-order block, or a quarter of a smaller zone. */
#define KLOWMEM_RESERVE_PAGES 1024
/* Free blocks released per pass (one lock round trip). */
#define KRELEASE_BATCH 256

/* ---- slab layer (slab.c) ------------------------------------------- */

/* A slab holds at least this many objects of up to 512 bytes (4 up to
 * 4 KiB, 2 above), wasting at most 1/8 ... */
#define KSLAB_MIN_OBJECTS 8
/* ... at this order at most, unless nothing smaller fits. */
#define KSLAB_MAX_ORDER 4
/* A new slab's objects are handed out in groups of this many neighbours
 * (a power of two), the groups in a random order, the objects of each in
 * address order (slab.c, carve). */
#define KSLAB_CARVE_GROUP 8
/* Empty slabs a cache keeps on its partial list before returning them. */
#define KSLAB_MIN_PARTIAL 5

/* ---- front caches (front*.c) --------------------------------------- */

/* Slots reserved per stack, as object bytes and clamped: per CPU for a
 * kmalloc class, per thread for a kmalloc class, per CPU for a custom
 * cache. */
#define KFRONT_CPU_BYTES     (128U << 10)
#define KFRONT_CPU_SLOTS_MAX 2048U
#define KFRONT_THREAD_BYTES  (64U << 10)
#define KFRONT_THREAD_SLOTS_MAX 1024U
/* Per-thread mode: a thread's stack of a kmalloc class grows by half on
 * each miss, up to the slots reserved for a CPU, within this many object
 * bytes per thread beyond the capacities above. */
#define KFRONT_THREAD_GROW_BYTES (128U << 10)
#define KFRONT_CUSTOM_BYTES  (32U << 10)
#define KFRONT_CUSTOM_SLOTS_MAX 64U
#define KFRONT_SLOTS_MIN     4U
/* Page blocks (kmalloc's page classes): slots reserved per CPU and class
 * for this many bytes (1 to 8 blocks), granted within a budget of their
 * own (the size of the one below); a thread keeps one block of the classes
 * up to KFRONT_THREAD_PAGE_MAX, none of the larger ones. */
#define KFRONT_PAGE_BYTES    (1U << 20)
#define KFRONT_THREAD_PAGE_MAX (256U << 10)
/* A per-CPU stack starts with this many bytes worth of objects (at most a
 * quarter of its slots) and grows by half on each miss ... */
#define KFRONT_INITIAL_BYTES 8192U
/* ... within a per-CPU budget of object bytes (KALLOC_PCPU_BUDGET). */
#define KFRONT_BUDGET_DEFAULT (4UL << 20)
/* After a scan for capacity to steal found none, this many grow attempts
 * on that CPU skip stealing. */
#define KFRONT_STEAL_BACKOFF 255
/* Objects moved between a stack and the slabs in one batch, at most. */
#define KFRONT_BATCH_MAX 128U
/* Per-thread mode: regions reserved at first, and at most. */
#define KTHR_REGIONS_FIRST 64U
#define KTHR_REGIONS_MAX 8192U

/* ---- slab debugging (slab.c) --------------------------------------- */

/* The kernel's trace flag (SLUB's 'T'); the other debug flags are in
 * kalloc.h. */
#define SLAB_TRACE 0x00200000u
/* KALLOC_HARDEN=full (docs/debugging.md, "the hardened profile"): set on
 * every cache at its creation, and on page blocks and huge areas
 * (kslab_block_flags).  A debug flag: the object gets the red zones of
 * SLAB_RED_ZONE, zero as the poison of SLAB_POISON (freed objects are
 * zeroed, checked when they leave the quarantine and when handed out
 * again), the free-pointer checks of SLAB_CONSISTENCY_CHECKS, and a
 * quarantine that lets objects out in a random order among the oldest;
 * no call sites are recorded. */
#define SLAB_HARDEN 0x00400000u
/* Red zone bytes after each object (past its end rounded up to 8), and
 * before the next object. */
#define KDBG_RED_ZONE 16U
/* A debug cache's freed objects wait in a FIFO quarantine before they go
 * back to their slab: at most this many objects, or bytes. */
#define KDBG_QUARANTINE_OBJECTS 256U
#define KDBG_QUARANTINE_BYTES (1UL << 20)
/* Debug caches with a quarantine, at most (the others keep the checks):
 * KALLOC_HARDEN=full makes every cache one. */
#define KDBG_MAX_CACHES 128U
/* Under SLAB_HARDEN alone (KALLOC_HARDEN=full) a cache's quarantine is
 * shorter: at most this many objects, or bytes.  The checks do not need a
 * long one (a double free is seen by the object's state, a write after
 * free when the object is handed out again, however late); what it buys
 * is a delay before reuse, and its cost is the cache misses of objects
 * checked long after they were zeroed (bench/: larson with 256 objects and
 * 1 MiB per cache ran 20x glibc's time, the zero check missing in cache). */
#define KHARDEN_QUARANTINE_OBJECTS 32U
#define KHARDEN_QUARANTINE_BYTES (32UL << 10)
/* Guard slabs (KALLOC_HARDEN=full): one new slab in this many, drawn at
 * random, of order up to KHARDEN_GUARD_MAX_ORDER, is followed by an
 * inaccessible page, so a linear overflow off the slab's end faults.  Each
 * costs an mprotect when the slab is made and one when it goes back, a
 * page of address space (never of memory), and two more mappings for the
 * process (an mprotect refused at vm.max_map_count makes a plain slab). */
#define KHARDEN_GUARD_ONE_IN 4U
#define KHARDEN_GUARD_MAX_ORDER 4U
/* Under SLAB_HARDEN, the object leaving a full quarantine is drawn at
 * random among its oldest this many (a FIFO otherwise). */
#define KDBG_RANDOM_WINDOW 8U
/* Page blocks and huge areas freed under KALLOC_HARDEN=full or
 * KALLOC_DEBUG wait in a quarantine of their own: at most this many bytes
 * (always the last one freed) and KDBG_QUARANTINE_OBJECTS blocks. */
#define KDBG_BLOCK_QUARANTINE_BYTES (4UL << 20)

/* KALLOC_PROF_SAMPLE's default: one sample per 512 KiB allocated, on
 * average (tcmalloc's and jemalloc's default). */
#define KPROF_SAMPLE_DEFAULT (512UL << 10)

/* ---- the environment (tune.c) -------------------------------------- */

/*
 * The tunables, parsed once by ktune_load() at initialisation (init.c);
 * until then, and for a variable that is unset, empty or bad, they hold
 * their defaults.  A bad value prints one line naming the variable and what
 * it expects.  The table in tune.c lists them all.
 */
struct ktunables {
	size_t dirty_max;      /* KALLOC_DIRTY_MAX: bytes kept backed per zone */
	size_t pcpu_budget;    /* KALLOC_PCPU_BUDGET: object bytes per CPU */
	bool rseq;             /* KALLOC_RSEQ: per-CPU caches where possible */
	bool rcu;              /* KALLOC_RCU: use liburcu when the process has it
	                          (0: frees at once, unprotected; for tests) */
	const char *stats;     /* KALLOC_STATS: NULL (off), "1" (stderr) or a path */
	size_t limit;          /* KALLOC_LIMIT: bytes kalloc may hold (0: no limit) */
	/* KALLOC_DEBUG, slub_debug's syntax: letters[,cache[,cache...]].
	 * debug_flags: the SLAB_* debug flags the letters give (0: off);
	 * debug_caches: the comma-separated names after the letters, pointing
	 * into the environment (NULL: every cache). */
	slab_flags_t debug_flags;
	const char *debug_caches;
	/* KALLOC_HARDEN: 0 (off), 1 (the default checks) or "full" (the
	 * hardened profile).  Read by the layers that harden. */
	uint8_t harden;
	/* Introspection (prof.c): KALLOC_PROF (NULL: off, "1": kalloc.<pid>.heap,
	 * or a path with %p for the pid), KALLOC_PROF_SAMPLE (mean bytes between
	 * samples), KALLOC_STATS_SIGNAL (a signal's name or number, NULL: none),
	 * KALLOC_SHM (publish the counters for kalloc-top). */
	const char *prof;
	size_t prof_sample;
	const char *stats_signal;
	bool shm;
};
enum { KHARDEN_OFF = 0, KHARDEN_DEFAULT = 1, KHARDEN_FULL = 2 };
extern struct ktunables ktune;
void ktune_load(void);

/* getenv without allocation; NULL if unset. */
const char *kenv_get(const char *name);
/* A size: digits and an optional K, M or G (binary).  True with *out set for
 * a good value; false for anything else, including overflow. */
bool kenv_parse_size(const char *s, size_t *out);
/* Whether `name` is one of the comma-separated names in `list` (NULL:
 * every name). */
bool kenv_list_has(const char *list, const char *name);
/* "0" or "1". */
bool kenv_parse_bool(const char *s, bool *out);

#pragma GCC visibility pop

#endif /* KALLOC_TUNE_H */
