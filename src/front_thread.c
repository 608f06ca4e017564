/* SPDX-License-Identifier: MIT */
/*
 * front_thread.c - front caches, per-thread mode: one region per thread, for
 * KALLOC_RSEQ=0, a glibc without rseq, and other architectures.
 *
 * Regions are handed out lowest first from a bitmap when a thread first
 * misses (kfront_thread_ready), and flushed and given back by a
 * thread-specific-data destructor at thread exit; in a forked child the
 * regions of the threads that did not survive the fork are flushed and
 * given back.  Address space for KTHR_REGIONS_FIRST regions is reserved at
 * first (touched as used) and doubled in place, up to KTHR_REGIONS_MAX,
 * when threads need more; a thread that finds none runs without a front
 * cache.  Stacks start at kfront_thread_cap and grow when their misses
 * alternate (kfront_thread_grow).
 *
 * Signals: where glibc registered rseq, the per-thread mode arms its
 * sequences in glibc's rseq area too (the region index stays the thread's
 * own), so a signal handler that allocates restarts an interrupted pop or
 * push as in per-CPU mode.  Without rseq (glibc.pthread.rseq=0, an old
 * kernel, the portable C build) a pop or push interrupted by a handler that
 * allocates can hand out an object twice: there, signal handlers must not
 * allocate (as POSIX says of malloc).  Flushing a thread's own stack locks
 * its header first, so the thread's handlers miss on it meanwhile.
 *
 * thr_lock guards the bitmap and the region count; it is a leaf, and no
 * system call is made under it: growing maps the new regions with the lock
 * dropped (one thread at a time, the others retry on a later miss), and
 * malloc_trim's release of idle regions marks them taken while it releases
 * them.
 */
#include "front_thread.h"

static klock_t thr_lock = KLOCK_INIT;
static uint64_t thr_used[KTHR_REGIONS_MAX / 64];   /* bit r: region r taken */
static unsigned thr_hint;   /* no free region below this one */
static unsigned thr_high;   /* regions ever handed out are below this one */
static bool thr_growing;    /* a thread is mapping more regions */
static bool restartable;    /* the sequences are armed in glibc's rseq area */
static pthread_key_t thr_key;

static void thread_exit(void *arg);

bool kfront_thread_setup(void)
{
	char *base = kfront_regions_map(KTHR_REGIONS_FIRST);
	if (!base)
		return false;
	if (pthread_key_create(&thr_key, thread_exit) != 0) {
		kfront_regions_unmap(base, KTHR_REGIONS_FIRST);
		return false;
	}
	kfront_nr_regions = KTHR_REGIONS_FIRST;
	kpcpu_slow.base = base;
	/* Where glibc registered rseq (KALLOC_RSEQ=0 only chose this mode),
	 * the sequences are armed in its area, so a signal, preemption or
	 * migration restarts them as in per-CPU mode: a signal handler may
	 * allocate.  Elsewhere they are armed in a word no kernel reads. */
	restartable = kfront_rseq_cs_rel(&kpcpu_slow.cs_rel);
	if (!restartable)
		kpcpu_slow.cs_rel = offsetof(struct kfront_thread, cs);
	kpcpu_slow.cid_rel = offsetof(struct kfront_thread, slot);
	return true;
}

bool kfront_thread_restartable(void)
{
	return restartable;
}

static bool region_taken(unsigned r)
{
	return (thr_used[r / 64] >> (r % 64)) & 1;
}

/* The lowest free region, marked taken, or -1.  thr_lock held. */
static int find_free(void)
{
	for (unsigned w = thr_hint / 64; w < kfront_nr_regions / 64; w++) {
		uint64_t free_bits = ~thr_used[w];
		if (!free_bits)
			continue;
		unsigned r = w * 64 + (unsigned)__builtin_ctzll(free_bits);
		thr_used[w] |= 1ULL << (r % 64);
		thr_hint = r + 1;
		thr_high = KMAX(thr_high, r + 1);
		return (int)r;
	}
	thr_hint = kfront_nr_regions;
	return -1;
}

static void region_give_back(unsigned r)
{
	thr_used[r / 64] &= ~(1ULL << (r % 64));
	thr_hint = KMIN(thr_hint, r);
}

/* Takes the lowest free region, doubling the regions when none is free.
 * -1 when none can be had, -2 when another thread is adding regions (try
 * again later). */
static int region_take(void)
{
	klock(&thr_lock);
	int r = find_free();
	unsigned n = kfront_nr_regions;
	if (r >= 0 || thr_growing || n * 2 > KTHR_REGIONS_MAX) {
		if (r < 0 && thr_growing)
			r = -2;
		kunlock(&thr_lock);
		return r;
	}
	thr_growing = true;
	kunlock(&thr_lock);
	/* Map the next n regions right after the last, with no lock held. */
	bool ok = kos_map_at(kpcpu_slow.base + ((size_t)n << KPCPU_SHIFT), (size_t)n << KPCPU_SHIFT) != NULL;
	klock(&thr_lock);
	if (ok)
		kfront_nr_regions = n * 2;
	thr_growing = false;
	r = ok ? find_free() : -1;
	kunlock(&thr_lock);
	return r;
}

void kfront_thread_ready(gfp_t gfp)
{
	if (kfront_mode != KF_THREAD || likely(kfront_thr.state != KT_NONE) || !(gfp & __GFP_DIRECT_RECLAIM))
		return;
	int r = region_take();
	if (r == -2)
		return;   /* another thread is growing the regions: next miss */
	if (r < 0) {
		kfront_thr.state = KT_DEAD;   /* runs uncached */
		return;
	}
	for (unsigned i = 0; i < KFRONT_NR; i++) {
		struct kpcpu_hdr *h = kfront_hdr((unsigned)r, i);
		h->cur = kfront_begin[i];
		if (i < KFRONT_CLASSES && kfront_cache[i])
			kfront_hdr_set_cap(h, i, kfront_thread_cap[i]);
		else
			kfront_hdr_lock(h);   /* custom caches are fronted in rseq mode only */
	}
	kfront_thr.slot = r;
	kfront_thr.grown = 0;
	kfront_thr.spilled = kfront_thr.refilled = 0;
	kfront_thr.state = KT_LIVE;
	/* A non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(thr_key, (void *)1);
}

/* Empties the calling thread's stack idx.  The header is locked first, so
 * a signal handler of this thread that allocates meanwhile misses on the
 * stack and goes to the slabs; it is unlocked after unless the thread is
 * exiting. */
static void flush_own(unsigned idx, bool exiting)
{
	unsigned r = (unsigned)kfront_thr.slot;
	struct kpcpu_hdr *h = kfront_hdr(r, idx);
	if (!kfront_cache[idx] || idx >= KFRONT_CLASSES)
		return;
	unsigned cap = kfront_hdr_cap(h);
	kfront_hdr_lock(h);
	kfront_region_flush(r, idx, false);
	/* back to the base capacity: what it had grown is the thread's again,
	 * and the stack's misses start over */
	kfront_thr.spilled &= ~(1ull << idx);
	kfront_thr.refilled &= ~(1ull << idx);
	if (cap > kfront_thread_cap[idx])
		kfront_thr.grown -= KMIN(kfront_thr.grown, (uint32_t)((cap - kfront_thread_cap[idx]) * kfront_cache[idx]->size));
	if (!exiting)
		kfront_hdr_set_cap(h, idx, kfront_thread_cap[idx]);
}

_Static_assert(KFRONT_CLASSES <= 64, "a bit per class in kfront_thr.spilled and .refilled");

void kfront_thread_grow(unsigned idx, bool spill)
{
	if (kfront_thr.state != KT_LIVE || idx >= KFRONT_CLASSES || !kfront_cache[idx] || kfront_cache[idx]->pages)
		return;
	uint64_t bit = 1ull << idx;
	uint64_t *mine = spill ? &kfront_thr.spilled : &kfront_thr.refilled;
	uint64_t *other = spill ? &kfront_thr.refilled : &kfront_thr.spilled;
	bool alternates = *other & bit;
	*other &= ~bit;
	*mine |= bit;
	if (!alternates)
		return;
	struct kpcpu_hdr *h = kfront_hdr((unsigned)kfront_thr.slot, idx);
	uint32_t w = __atomic_load_n(kfront_hdr_word(h), __ATOMIC_ACQUIRE);
	size_t size = kfront_cache[idx]->size;
	size_t room = KFRONT_THREAD_GROW_BYTES - KMIN((size_t)kfront_thr.grown, (size_t)KFRONT_THREAD_GROW_BYTES);
	unsigned grow = (unsigned)KMIN((size_t)kfront_grow_step(w, kfront_cap[idx]), room / size);
	/* The header is the thread's own; a fork's or trim's flush locks it
	 * first, which the exchange then sees. */
	if (grow && kfront_hdr_extend(h, w, grow))
		kfront_thr.grown += (uint32_t)(grow * size);
}

void kfront_thread_flush_index(unsigned idx)
{
	if (kfront_thr.state == KT_LIVE)
		flush_own(idx, false);
}

void kfront_thread_flush(void)
{
	if (kfront_thr.state == KT_LIVE)
		for (unsigned i = 0; i < KFRONT_CLASSES; i++)
			flush_own(i, false);
}

static void thread_exit(void *arg)
{
	(void)arg;
	if (kfront_thr.state != KT_LIVE)
		return;
	for (unsigned i = 0; i < KFRONT_CLASSES; i++)
		flush_own(i, true);
	unsigned r = (unsigned)kfront_thr.slot;
	/* From here on every push and pop of this thread misses, and the
	 * slow paths go to the slabs. */
	kfront_thr.slot = -1;
	kfront_thr.state = KT_DEAD;
	klock(&thr_lock);
	region_give_back(r);
	kunlock(&thr_lock);
}

void kfront_thread_release_idle(void)
{
	uint64_t mine[KTHR_REGIONS_MAX / 64];
	unsigned high;
	/* Take the idle regions, so that no thread is given one while its
	 * pages go back; give them back after. */
	klock(&thr_lock);
	high = thr_high;
	for (unsigned w = 0; w < (high + 63) / 64; w++) {
		mine[w] = ~thr_used[w];
		if (w == high / 64)
			mine[w] &= (1ULL << (high % 64)) - 1;
		thr_used[w] |= mine[w];
	}
	kunlock(&thr_lock);
	size_t bytes = KALIGN_UP(kfront_layout_words * sizeof(void *), PAGE_SIZE);
	for (unsigned r = 0; r < high; r++)
		if ((mine[r / 64] >> (r % 64)) & 1)
			kos_release(kfront_slots(r), bytes);
	klock(&thr_lock);
	for (unsigned r = 0; r < high; r++)
		if ((mine[r / 64] >> (r % 64)) & 1)
			region_give_back(r);
	kunlock(&thr_lock);
}

void kfront_thread_fork_prepare(void) { klock(&thr_lock); }
void kfront_thread_fork_parent(void) { kunlock(&thr_lock); }

/* The child has one thread: the regions of all the others are flushed and
 * given back.  Runs after the slab and page layers' own fork handlers. */
void kfront_thread_fork_child(void)
{
	klock_reinit(&thr_lock);
	thr_growing = false;
	if (kfront_mode != KF_THREAD)
		return;
	unsigned mine = kfront_thr.state == KT_LIVE ? (unsigned)kfront_thr.slot : ~0u;
	for (unsigned r = 0; r < thr_high; r++) {
		if (r == mine || !region_taken(r))
			continue;
		for (unsigned i = 0; i < KFRONT_CLASSES; i++)
			kfront_region_flush(r, i, false);
		region_give_back(r);
	}
}
