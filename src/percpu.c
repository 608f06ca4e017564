/* SPDX-License-Identifier: MIT */
/*
 * percpu.c - front caches (per-CPU with rseq, per-thread as a fallback) and
 * per-CPU data for applications.
 *
 * The layout and the fast paths are described in internal.h (kfront_pop,
 * kfront_push, kpcpu_pop, kpcpu_push).  This file holds:
 *
 *  - the choice of mode at initialisation: per-CPU when glibc registered
 *    rseq for every thread (__rseq_size != 0, the area's cpu_id valid) and
 *    the membarrier rseq fence can be registered, unless KALLOC_RSEQ=0;
 *    per-thread otherwise.  kalloc never registers a second rseq area.
 *  - the slow paths, the same in both modes: a miss on pop refills half a
 *    stack from the slab layer (one lock round trip for the batch) and
 *    pushes it one push at a time; a miss on push pops half the stack and
 *    returns it to the slabs.  A locked stack (being drained, or the
 *    sentinel region -1) makes both go straight to the slab layer.
 *  - draining another CPU's stacks: lock their headers (begin = 0xffff,
 *    end = 0), issue MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, which restarts
 *    every critical section in flight, so afterwards `current` is stable
 *    and nobody else can commit; take the objects, reset and unlock.
 *  - the per-thread regions: handed out lowest first from a bitmap when a
 *    thread first misses, flushed and given back by a thread-specific-data
 *    destructor at thread exit; in a forked child the regions of the
 *    threads that did not survive the fork are flushed and given back.
 *  - KALLOC_STATS: the counting mode, in which every operation goes through
 *    the slow path and is counted (hits and misses per front index).
 *  - alloc_percpu and the this_cpu operations.
 *
 * Capacities: per CPU, the slots reserved for a kmalloc class hold 128 KiB
 * worth of objects, clamped to [4, 2048] (a 64-byte class 2048 objects, a
 * 32 KiB class 4); per thread 64 KiB worth, clamped to [4, 256]; a custom
 * cache's 32 KiB worth, clamped to [4, 64].  In rseq mode a stack starts
 * with 8 KiB worth (at most a quarter of its slots) and grows by half on
 * each miss, within a per-CPU budget of object bytes (KALLOC_PCPU_BUDGET,
 * 4 MiB by default), taking unused capacity from other stacks of that CPU
 * when the budget is spent.  The slot arrays take about 160 KiB of address
 * space per region, touched as they fill.  Per-thread stacks keep their
 * full capacity.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static int kfront_base_mode;   /* KF_RSEQ, KF_THREAD or KF_NONE (no front caches) */
static bool kfront_counting;   /* KALLOC_STATS: every operation takes the slow path, counted */

/* Region -1 of the initial view: zeroed headers, on which every pop and
 * push misses. */
static uint64_t ksentinel[KFRONT_NR];
#define KPCPU_VIEW_INIT                                               \
	{                                                               \
		.cid_rel = offsetof(struct kfront_thread, none),          \
		.cs_rel = offsetof(struct kfront_thread, cs),             \
		.base = (char *)ksentinel + KPCPU_REGION,                 \
	}
struct kpcpu_view kpcpu __attribute__((aligned(32))) = KPCPU_VIEW_INIT;
struct kpcpu_view kpcpu_slow = KPCPU_VIEW_INIT;
__thread struct kfront_thread kfront_thr = { .slot = -1, .none = -1 };
struct kmem_cache *kfront_cache[KFRONT_NR];

static unsigned kfront_cap[KFRONT_NR];          /* slots reserved per region */
static unsigned thread_cap[KMALLOC_NR_CLASSES]; /* per-thread capacity */
static uint16_t layout_begin[KFRONT_NR];        /* word offsets in a region */
static size_t layout_words;                     /* words of a region in use */
static unsigned kpcpu_nr;                       /* regions: CPUs, or thread slots */
static bool kpcpu_use_cid;

static klock_t drain_lock = KLOCK_INIT;
static klock_t pc_lock = KLOCK_INIT;    /* alloc_percpu space */
static klock_t thr_lock = KLOCK_INIT;   /* per-thread regions */
static pthread_key_t kfront_key;

#define KFRONT_BATCH_MAX 128

/* KALLOC_STATS counters: [idx][0] allocs, [1] alloc misses, [2] frees,
 * [3] free misses. */
static _Atomic uint64_t kf_stat[KFRONT_NR][4];

/* Per-CPU capacity starts small (8 KiB worth of objects, at least 2 and at
 * most a quarter of the reserved slots) and adapts (see rseq_grow) within
 * kpcpu_budget bytes of objects per CPU. */
static size_t kpcpu_budget = 4UL << 20;

static unsigned initial_cap(unsigned idx)
{
	unsigned max = kfront_cap[idx];
	size_t by_bytes = 8192 / kfront_cache[idx]->size;
	return (unsigned)KMIN(KMAX(by_bytes, (size_t)KMIN(2u, max)), (size_t)KMAX(max / 4, 1u));
}

/* ------------------------------------------------------------------ */
/* regions                                                             */
/* ------------------------------------------------------------------ */

struct kpcpu_hdr {
	uint16_t cur, begin, end, unused;
};

static inline struct kpcpu_hdr *region_hdr(unsigned r, unsigned idx)
{
	return (struct kpcpu_hdr *)(kpcpu_slow.base + ((size_t)r << KPCPU_SHIFT)) + idx;
}

static inline void **region_slots(unsigned r)
{
	return (void **)(kpcpu_slow.base + ((size_t)r << KPCPU_SHIFT));
}

/* begin = 0xffff, end = 0 in one 32-bit store (little endian). */
static void hdr_lock(struct kpcpu_hdr *h)
{
	__atomic_store_n((uint32_t *)(void *)&h->begin, 0x0000ffffu, __ATOMIC_RELEASE);
}

static inline uint32_t *hdr_word(struct kpcpu_hdr *h)
{
	return (uint32_t *)(void *)&h->begin;
}

/* Unlocks (or sets up) a header with `cap` slots of capacity. */
static void hdr_set_cap(struct kpcpu_hdr *h, unsigned idx, unsigned cap)
{
	uint32_t v = (uint32_t)layout_begin[idx] | (uint32_t)(layout_begin[idx] + cap) << 16;
	__atomic_store_n(hdr_word(h), v, __ATOMIC_RELEASE);
}

/* Bytes of object capacity granted on a CPU: the last header word of its
 * region (headers use fewer than KPCPU_HDR_WORDS - 1 words). */
static inline _Atomic size_t *cap_bytes(unsigned cpu)
{
	return (_Atomic size_t *)(void *)(kpcpu_slow.base + ((size_t)cpu << KPCPU_SHIFT) +
	                                  (KPCPU_HDR_WORDS - 1) * sizeof(void *));
}

/* The word before it: how many grow attempts skip stealing (a backoff). */
static inline _Atomic size_t *steal_backoff(unsigned cpu)
{
	return (_Atomic size_t *)(void *)(kpcpu_slow.base + ((size_t)cpu << KPCPU_SHIFT) +
	                                  (KPCPU_HDR_WORDS - 2) * sizeof(void *));
}

/* The calling thread's region: its CPU's (rseq) or its own (per-thread);
 * -1 (as unsigned, so above any region) for none. */
static inline unsigned this_region(void)
{
	/* integer arithmetic: the word is not inside kfront_thr in rseq mode */
	uintptr_t a = (uintptr_t)&kfront_thr + (uintptr_t)kpcpu_slow.cid_rel;
	return (unsigned)*(volatile int32_t *)a;
}

/* Offset of kfront_thr from the thread pointer: the same in every thread. */
static intptr_t kthr_tpoff(void)
{
	return (char *)&kfront_thr - (char *)__builtin_thread_pointer();
}

/* Maps n regions and region -1 below them (left zeroed: the sentinel);
 * returns region 0. */
static char *regions_map(unsigned n)
{
	char *m = kos_map((size_t)(n + 1) << KPCPU_SHIFT, PAGE_SIZE, true, 0, NULL);
	return m ? m + KPCPU_REGION : NULL;
}

/* Capacity of a header now, 0 when locked. */
static unsigned hdr_cap(struct kpcpu_hdr *h)
{
	uint32_t w = __atomic_load_n(hdr_word(h), __ATOMIC_ACQUIRE);
	if ((w & 0xffff) == 0xffff)
		return 0;
	return (w >> 16) - (w & 0xffff);
}

/* Reserved slots per stack and where each starts: the same in every
 * region, in both modes.  Returns false when they do not fit a region. */
static bool layout_setup(void)
{
	size_t words = KPCPU_HDR_WORDS;
	for (unsigned i = 0; i < KFRONT_NR; i++) {
		unsigned cap = 64;
		if (i < KMALLOC_NR_CLASSES) {
			kfront_cache[i] = &kmalloc_caches[i];
			cap = (unsigned)KMIN(KMAX(131072u / kmalloc_class_size[i], 4u), 2048u);
			thread_cap[i] = (unsigned)KMIN(KMAX(65536u / kmalloc_class_size[i], 4u), 256u);
		}
		kfront_cap[i] = cap;
		words += 1;   /* NULL sentinel */
		layout_begin[i] = (uint16_t)words;
		words += cap;
	}
	layout_words = words;
	return words * sizeof(void *) <= KPCPU_REGION;
}

/* ------------------------------------------------------------------ */
/* per-CPU mode                                                        */
/* ------------------------------------------------------------------ */

/* Takes up to `want` bytes of unused capacity from other stacks of `cpu`
 * (never below their initial capacity).  Returns the bytes taken. */
static size_t steal_capacity(unsigned cpu, unsigned except, size_t want)
{
	static _Atomic unsigned rotor;
	size_t got = 0;
	unsigned start = atomic_fetch_add_explicit(&rotor, 1, memory_order_relaxed);
	for (unsigned n = 0; n < KFRONT_NR && got < want; n++) {
		unsigned j = (start + n) % KFRONT_NR;
		if (j == except || !kfront_cache[j])
			continue;
		struct kpcpu_hdr *h = region_hdr(cpu, j);
		uint32_t w = __atomic_load_n(hdr_word(h), __ATOMIC_ACQUIRE);
		unsigned b = w & 0xffff, e = w >> 16;
		if (b == 0xffff)
			continue;
		unsigned cur = __atomic_load_n(&h->cur, __ATOMIC_RELAXED);
		unsigned floor = KMAX(cur, b + initial_cap(j));
		if (e <= floor)
			continue;
		size_t size = kfront_cache[j]->size;
		unsigned k = (unsigned)KMIN((size_t)(e - floor), (want - got + size - 1) / size);
		uint32_t nw = b | (uint32_t)(e - k) << 16;
		if (__atomic_compare_exchange_n(hdr_word(h), &w, nw, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			atomic_fetch_sub_explicit(cap_bytes(cpu), k * size, memory_order_relaxed);
			got += k * size;
		}
	}
	return got;
}

/* A miss on this CPU's stack idx: grow it by half (up to the reserved
 * slots), within the CPU's byte budget, taking unused capacity from other
 * stacks when the budget is spent.  Lowering another stack's end below its
 * current fill is harmless: pops still work and pushes miss until it
 * drains; no stack ever exceeds its reserved slots. */
static void rseq_grow(unsigned idx)
{
	unsigned cpu = this_region();
	if (cpu >= kpcpu_nr)
		return;
	struct kpcpu_hdr *h = region_hdr(cpu, idx);
	uint32_t w = __atomic_load_n(hdr_word(h), __ATOMIC_ACQUIRE);
	unsigned b = w & 0xffff, e = w >> 16, max = kfront_cap[idx];
	if (b == 0xffff || e - b >= max)
		return;
	unsigned grow = KMIN(KMAX((e - b) / 2, 1u), max - (e - b));
	size_t size = kfront_cache[idx]->size, bytes = grow * size;
	_Atomic size_t *used = cap_bytes(cpu);
	if (atomic_fetch_add_explicit(used, bytes, memory_order_relaxed) + bytes > kpcpu_budget) {
		atomic_fetch_sub_explicit(used, bytes, memory_order_relaxed);
		/* Stealing scans every stack of the CPU: after a scan that found
		 * nothing, skip the next 255 attempts on this CPU. */
		_Atomic size_t *backoff = steal_backoff(cpu);
		if (atomic_load_explicit(backoff, memory_order_relaxed)) {
			atomic_fetch_sub_explicit(backoff, 1, memory_order_relaxed);
			return;
		}
		size_t got = steal_capacity(cpu, idx, bytes);
		if (got < bytes) {
			if (!got)
				atomic_store_explicit(backoff, 255, memory_order_relaxed);
			grow = (unsigned)(got / size);
			if (!grow)
				return;
		}
		bytes = grow * size;
		atomic_fetch_add_explicit(used, bytes, memory_order_relaxed);
	}
	uint32_t nw = b | (uint32_t)(e + grow) << 16;
	if (!__atomic_compare_exchange_n(hdr_word(h), &w, nw, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		atomic_fetch_sub_explicit(used, bytes, memory_order_relaxed);
}

static void budget_from_env(void)
{
	const char *bud = kos_getenv("KALLOC_PCPU_BUDGET");
	if (!bud || !*bud)
		return;
	size_t v = 0;
	const char *q = bud;
	for (; *q >= '0' && *q <= '9'; q++)
		v = v * 10 + (size_t)(*q - '0');
	if (*q == 'k' || *q == 'K')
		v <<= 10, q++;
	else if (*q == 'm' || *q == 'M')
		v <<= 20, q++;
	if (*q || v < 4096)
		kreport("KALLOC_PCPU_BUDGET=%s: expected a size such as 512K or 2M; using the default", bud);
	else
		kpcpu_budget = v;
}

static bool rseq_setup(void)
{
	if (!KPCPU_HAVE_RSEQ)
		return false;
	if (&__rseq_size == NULL || &__rseq_offset == NULL || __rseq_size == 0)
		return false;
	const char *rs = (const char *)__builtin_thread_pointer() + __rseq_offset;
	uint32_t cpu = *(const volatile uint32_t *)(rs + 4);
	if (cpu >= 0xfffffff0u)
		return false;   /* registration failed or absent */
	unsigned nr = kos_ncpus();
	if (cpu >= nr)
		return false;
	bool use_cid = kos_getauxval(AT_RSEQ_FEATURE_SIZE) >= 28;
	if (kos_membarrier_rseq_register() != 0)
		return false;
	char *base = regions_map(nr);
	if (!base)
		return false;
	kpcpu_nr = nr;
	kpcpu_use_cid = use_cid;
	kpcpu_slow.base = base;
	kpcpu_slow.cs_rel = __rseq_offset + 8 - kthr_tpoff();
	kpcpu_slow.cid_rel = __rseq_offset + (use_cid ? 24 : 4) - kthr_tpoff();
	budget_from_env();
	for (unsigned c = 0; c < kpcpu_nr; c++) {
		size_t bytes = 0;
		for (unsigned i = 0; i < KFRONT_NR; i++) {
			struct kpcpu_hdr *h = region_hdr(c, i);
			h->cur = layout_begin[i];
			/* custom slots start locked: attached on demand */
			if (i < KMALLOC_NR_CLASSES) {
				hdr_set_cap(h, i, initial_cap(i));
				bytes += (size_t)initial_cap(i) * kmalloc_class_size[i];
			} else {
				hdr_lock(h);
			}
		}
		atomic_store(cap_bytes(c), bytes);
	}
	return true;
}

/* Returns the objects of stack idx of region r to the slabs.  The stack
 * must have no other user: its thread's own, one that cannot run any more,
 * or one locked and fenced (rseq_drain). */
static void region_flush(unsigned r, unsigned idx)
{
	struct kpcpu_hdr *h = region_hdr(r, idx);
	unsigned cur = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE), b = layout_begin[idx];
	if (cur > b && kfront_cache[idx])
		kslab_free_bulk(kfront_cache[idx], cur - b, region_slots(r) + b);
	__atomic_store_n(&h->cur, (uint16_t)b, __ATOMIC_RELAXED);
}

/* The kmalloc stacks of region r (a per-thread region: custom caches have
 * none there). */
static void region_flush_kmalloc(unsigned r)
{
	for (unsigned i = 0; i < KMALLOC_NR_CLASSES; i++)
		region_flush(r, i);
}

/* Drains the stacks of the selected indices on every CPU. */
static void rseq_drain(const bool *sel)
{
	klock(&drain_lock);
	/* Remember each capacity: it is restored when unlocking. */
	for (unsigned c = 0; c < kpcpu_nr; c++)
		for (unsigned i = 0; i < KFRONT_NR; i++)
			if (sel[i]) {
				struct kpcpu_hdr *h = region_hdr(c, i);
				h->unused = (uint16_t)hdr_cap(h);
				hdr_lock(h);
			}
	if (kos_membarrier_rseq() != 0)
		kpanic("membarrier rseq fence failed: cannot drain per-CPU caches");
	for (unsigned c = 0; c < kpcpu_nr; c++)
		for (unsigned i = 0; i < KFRONT_NR; i++) {
			if (!sel[i])
				continue;
			region_flush(c, i);
			struct kpcpu_hdr *h = region_hdr(c, i);
			if (kfront_cache[i] && h->unused)
				hdr_set_cap(h, i, h->unused);
		}
	kunlock(&drain_lock);
}

/* ------------------------------------------------------------------ */
/* per-thread mode                                                     */
/* ------------------------------------------------------------------ */

/* Regions for threads: address space for KTHR_REGIONS_FIRST at first
 * (touched as used), extended in place up to KTHR_REGIONS_MAX when threads
 * need more; a thread that finds none runs without a front cache. */
#define KTHR_REGIONS_FIRST 64
#define KTHR_REGIONS_MAX 8192
static uint64_t thr_used[KTHR_REGIONS_MAX / 64];   /* bit r: region r taken */
static unsigned thr_hint;   /* no free region below this one */
static unsigned thr_high;   /* regions ever handed out are below this one */

static void thread_exit(void *arg);

static bool thread_mode_setup(void)
{
	char *base = regions_map(KTHR_REGIONS_FIRST);
	if (!base)
		return false;
	if (pthread_key_create(&kfront_key, thread_exit) != 0) {
		kos_unmap(base - KPCPU_REGION, (size_t)(KTHR_REGIONS_FIRST + 1) << KPCPU_SHIFT);
		return false;
	}
	kpcpu_nr = KTHR_REGIONS_FIRST;
	kpcpu_slow.base = base;
	kpcpu_slow.cs_rel = offsetof(struct kfront_thread, cs);
	kpcpu_slow.cid_rel = offsetof(struct kfront_thread, slot);
	return true;
}

/* Doubles the regions, mapping the next ones right after the last.
 * thr_lock held. */
static bool thread_regions_grow(void)
{
	unsigned n = kpcpu_nr * 2;
	if (n > KTHR_REGIONS_MAX)
		return false;
	char *end = kpcpu_slow.base + ((size_t)kpcpu_nr << KPCPU_SHIFT);
	if (!kos_map_at(end, (size_t)(n - kpcpu_nr) << KPCPU_SHIFT))
		return false;
	kpcpu_nr = n;
	return true;
}

/* Takes the lowest free region, or -1 when none is left.  thr_lock held. */
static int region_take(void)
{
	for (unsigned w = thr_hint / 64; w < kpcpu_nr / 64; w++) {
		uint64_t free_bits = ~thr_used[w];
		if (!free_bits)
			continue;
		unsigned r = w * 64 + (unsigned)__builtin_ctzll(free_bits);
		thr_used[w] |= 1ULL << (r % 64);
		thr_hint = r + 1;
		thr_high = KMAX(thr_high, r + 1);
		return (int)r;
	}
	thr_hint = kpcpu_nr;
	if (thread_regions_grow())
		return region_take();
	return -1;
}

static void region_give_back(unsigned r)
{
	thr_used[r / 64] &= ~(1ULL << (r % 64));
	thr_hint = KMIN(thr_hint, r);
}

/* Gives a thread region to the calling thread: after this its pushes and
 * pops hit.  False when none is left (the thread runs uncached). */
static bool thread_setup(void)
{
	klock(&thr_lock);
	int r = region_take();
	kunlock(&thr_lock);
	if (r < 0)
		return false;
	for (unsigned i = 0; i < KFRONT_NR; i++) {
		struct kpcpu_hdr *h = region_hdr((unsigned)r, i);
		h->cur = layout_begin[i];
		if (i < KMALLOC_NR_CLASSES)
			hdr_set_cap(h, i, thread_cap[i]);
		else
			hdr_lock(h);   /* custom caches are fronted in rseq mode only */
	}
	kfront_thr.slot = r;
	kfront_thr.state = KT_LIVE;
	/* A non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(kfront_key, (void *)1);
	return true;
}

static void thread_flush(void)
{
	if (kfront_thr.state != KT_LIVE)
		return;
	region_flush_kmalloc((unsigned)kfront_thr.slot);
}

static void thread_exit(void *arg)
{
	(void)arg;
	if (kfront_thr.state != KT_LIVE)
		return;
	thread_flush();
	unsigned r = (unsigned)kfront_thr.slot;
	/* From here on every push and pop of this thread misses, and the
	 * slow paths go to the slabs. */
	kfront_thr.slot = -1;
	kfront_thr.state = KT_DEAD;
	klock(&thr_lock);
	region_give_back(r);
	kunlock(&thr_lock);
}

/* Gives the memory of regions no thread holds back to the OS. */
static void thread_release_idle(void)
{
	size_t bytes = KALIGN_UP(layout_words * sizeof(void *), PAGE_SIZE);
	klock(&thr_lock);
	for (unsigned r = 0; r < thr_high; r++)
		if (!((thr_used[r / 64] >> (r % 64)) & 1))
			kos_release(kpcpu_slow.base + ((size_t)r << KPCPU_SHIFT), bytes);
	kunlock(&thr_lock);
}

/* ------------------------------------------------------------------ */
/* slow paths                                                          */
/* ------------------------------------------------------------------ */

/* One object straight from / to the slab layer. */
static void *slab_alloc_one(unsigned idx, gfp_t gfp)
{
	void *obj;
	struct kmem_cache *c = kfront_cache[idx] ? kfront_cache[idx] : &kmalloc_caches[idx];
	return kslab_alloc_bulk(c, gfp, 1, &obj) == 1 ? obj : NULL;
}

static void slab_free_one(unsigned idx, void *obj)
{
	kslab_free_bulk(kfront_cache[idx] ? kfront_cache[idx] : &kmalloc_caches[idx], 1, &obj);
}

/* Half the current capacity of the calling thread's stack idx (1 when
 * locked). */
static unsigned front_batch(unsigned idx)
{
	unsigned r = this_region();
	unsigned cap = r < kpcpu_nr ? hdr_cap(region_hdr(r, idx)) : 0;
	return KMIN(KMAX((cap + 1) / 2, 1u), (unsigned)KFRONT_BATCH_MAX);
}

/* A miss on pop: a batch from the slabs, all but one pushed. */
static void *front_refill(unsigned idx, gfp_t gfp)
{
	struct kmem_cache *c = kfront_cache[idx];
	void *tmp[KFRONT_BATCH_MAX];
	if (kfront_base_mode == KF_RSEQ)
		rseq_grow(idx);
	unsigned n = kslab_alloc_bulk(c, gfp, front_batch(idx), tmp);
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
static void front_spill(unsigned idx, void *obj)
{
	struct kmem_cache *c = kfront_cache[idx];
	void *tmp[KFRONT_BATCH_MAX];
	if (kfront_base_mode == KF_RSEQ)
		rseq_grow(idx);
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

/* The per-thread mode gives a thread its region on its first miss. */
static inline void thread_ready(gfp_t gfp)
{
	if (kfront_base_mode == KF_THREAD && unlikely(kfront_thr.state == KT_NONE) &&
	    (gfp & __GFP_DIRECT_RECLAIM) && !thread_setup())
		kfront_thr.state = KT_DEAD;
}

static void *alloc_slow(unsigned idx, gfp_t gfp)
{
	if (kfront_base_mode == KF_NONE)
		return slab_alloc_one(idx, gfp);   /* initialising, or no regions */
	thread_ready(gfp);
	if (kfront_counting) {
		atomic_fetch_add_explicit(&kf_stat[idx][0], 1, memory_order_relaxed);
		void *p = kpcpu_pop(&kpcpu_slow, idx);
		if (p)
			return p;
		atomic_fetch_add_explicit(&kf_stat[idx][1], 1, memory_order_relaxed);
	}
	return front_refill(idx, gfp);
}

void *kfront_alloc_slow(unsigned idx, gfp_t gfp)
{
	kalloc_ensure_init();
	void *p = alloc_slow(idx, gfp);
	if (unlikely(!p))
		kalloc_fail(kfront_cache[idx]->object_size, gfp, kfront_cache[idx]->name);
	return p;
}

void kfront_free_slow(unsigned idx, void *obj)
{
	if (kfront_base_mode == KF_NONE) {
		slab_free_one(idx, obj);
		return;
	}
	thread_ready(GFP_KERNEL);
	if (kfront_counting) {
		atomic_fetch_add_explicit(&kf_stat[idx][2], 1, memory_order_relaxed);
		if (kpcpu_push(&kpcpu_slow, idx, obj))
			return;
		atomic_fetch_add_explicit(&kf_stat[idx][3], 1, memory_order_relaxed);
	}
	front_spill(idx, obj);
}

void kfront_drain_index(unsigned idx)
{
	if (kfront_base_mode == KF_RSEQ) {
		bool sel[KFRONT_NR] = { false };
		sel[idx] = true;
		rseq_drain(sel);
	} else if (kfront_base_mode == KF_THREAD && kfront_thr.state == KT_LIVE) {
		region_flush((unsigned)kfront_thr.slot, idx);
	}
}

void kfront_flush_all(void)
{
	if (kfront_base_mode == KF_RSEQ) {
		bool sel[KFRONT_NR];
		for (unsigned i = 0; i < KFRONT_NR; i++)
			sel[i] = kfront_cache[i] != NULL;
		rseq_drain(sel);
	} else if (kfront_base_mode == KF_THREAD) {
		thread_flush();
		thread_release_idle();
	}
}

int kfront_attach(struct kmem_cache *c)
{
	if (kfront_base_mode != KF_RSEQ)
		return -1;
	int found = -1;
	klock(&drain_lock);
	for (unsigned i = KMALLOC_NR_CLASSES; i < KFRONT_NR; i++)
		if (!kfront_cache[i]) {
			found = (int)i;
			break;
		}
	if (found >= 0) {
		size_t cap = 32768 / c->size;
		cap = KMIN(KMAX(cap, 4), 64);
		/* The layout reserved 64 slots; use fewer for big objects. */
		kfront_cap[found] = (unsigned)cap;
		kfront_cache[found] = c;
		for (unsigned cpu = 0; cpu < kpcpu_nr; cpu++) {
			struct kpcpu_hdr *h = region_hdr(cpu, (unsigned)found);
			h->cur = layout_begin[found];
			hdr_set_cap(h, (unsigned)found, initial_cap((unsigned)found));
			atomic_fetch_add(cap_bytes(cpu), (size_t)initial_cap((unsigned)found) * c->size);
		}
	}
	kunlock(&drain_lock);
	return found;
}

void kfront_detach(struct kmem_cache *c)
{
	int idx = c->front_idx;
	if (idx < 0)
		return;
	kfront_drain_index((unsigned)idx);
	klock(&drain_lock);
	for (unsigned cpu = 0; cpu < kpcpu_nr; cpu++) {
		struct kpcpu_hdr *h = region_hdr(cpu, (unsigned)idx);
		atomic_fetch_sub(cap_bytes(cpu), (size_t)hdr_cap(h) * c->size);
		hdr_lock(h);
	}
	kunlock(&drain_lock);
	/* Stacks are locked and empty: no one can push to them any more. */
	kos_membarrier_rseq();
	kfront_cache[idx] = NULL;
	c->front_idx = -1;
}

void kfront_fork_prepare(void)
{
	klock(&drain_lock);
	klock(&pc_lock);
	klock(&thr_lock);
}

void kfront_fork_parent(void)
{
	kunlock(&thr_lock);
	kunlock(&pc_lock);
	kunlock(&drain_lock);
}

/* After the slab layer's own fork handler: the child has one thread, so
 * the regions of all the others are flushed and given back. */
void kfront_fork_child(void)
{
	klock_reinit(&thr_lock);
	klock_reinit(&pc_lock);
	klock_reinit(&drain_lock);
	if (kfront_base_mode != KF_THREAD)
		return;
	unsigned mine = kfront_thr.state == KT_LIVE ? (unsigned)kfront_thr.slot : ~0u;
	for (unsigned r = 0; r < thr_high; r++) {
		if (r == mine || !((thr_used[r / 64] >> (r % 64)) & 1))
			continue;
		region_flush_kmalloc(r);
		region_give_back(r);
	}
}

const char *kfront_mode_name(void)
{
	switch (kfront_base_mode) {
	case KF_RSEQ:
		return kpcpu_use_cid ? "rseq (per-CPU, mm_cid)" : "rseq (per-CPU, cpu_id)";
	case KF_THREAD:
		return "per-thread";
	default:
		return "none";
	}
}

/* ------------------------------------------------------------------ */
/* initialisation                                                      */
/* ------------------------------------------------------------------ */

void kfront_init(void)
{
	if (!layout_setup())
		kpanic("front cache layout exceeds its %lu-byte region", (unsigned long)KPCPU_REGION);
	const char *env = kos_getenv("KALLOC_RSEQ");
	bool want_rseq = true;
	if (env) {
		if (env[0] == '0' && env[1] == '\0')
			want_rseq = false;
		else if (!(env[0] == '1' && env[1] == '\0'))
			kreport("KALLOC_RSEQ=%s: expected 0 or 1; using the default", env);
	}
	int mode = KF_NONE;
	if (want_rseq && rseq_setup())
		mode = KF_RSEQ;
	else if (thread_mode_setup())
		mode = KF_THREAD;
	kfront_base_mode = mode;
	const char *st = kos_getenv("KALLOC_STATS");
	kfront_counting = mode != KF_NONE && st && *st && !(st[0] == '0' && st[1] == '\0');
	/* Last, publish the view to the fast paths, in the order they rely
	 * on (internal.h): from here on they may hit. */
	if (mode != KF_NONE && !kfront_counting) {
		__atomic_store_n(&kpcpu.base, kpcpu_slow.base, __ATOMIC_RELEASE);
		__atomic_store_n(&kpcpu.cs_rel, kpcpu_slow.cs_rel, __ATOMIC_RELEASE);
		__atomic_store_n(&kpcpu.cid_rel, kpcpu_slow.cid_rel, __ATOMIC_RELEASE);
	}
}

/* ------------------------------------------------------------------ */
/* introspection                                                       */
/* ------------------------------------------------------------------ */

/* Objects cached in stack idx: over all CPUs, or the calling thread's. */
static size_t cached_in(unsigned idx, size_t *regions)
{
	size_t n = 0, used = 0;
	unsigned first = 0, last = 0;
	if (kfront_base_mode == KF_RSEQ) {
		last = kpcpu_nr;
	} else if (kfront_base_mode == KF_THREAD && kfront_thr.state == KT_LIVE) {
		first = (unsigned)kfront_thr.slot;
		last = first + 1;
	}
	for (unsigned r = first; r < last; r++) {
		unsigned cur = __atomic_load_n(&region_hdr(r, idx)->cur, __ATOMIC_RELAXED);
		if (cur > layout_begin[idx]) {
			n += cur - layout_begin[idx];
			used++;
		}
	}
	if (regions)
		*regions = used;
	return n;
}

size_t kfront_cached(unsigned idx)
{
	return cached_in(idx, NULL);
}

size_t kfront_print(int fd)
{
	char line[256];
	size_t n = kformat(line, sizeof line, "front caches: %s\n", kfront_mode_name());
	kwrite_all(fd, line, n);
	bool rseq = kfront_base_mode == KF_RSEQ;
	for (unsigned i = 0; i < KFRONT_NR; i++) {
		struct kmem_cache *c = kfront_cache[i];
		if (!c)
			continue;
		size_t cpus = 0, fill = cached_in(i, &cpus);
		uint64_t a = atomic_load(&kf_stat[i][0]), am = atomic_load(&kf_stat[i][1]);
		uint64_t f = atomic_load(&kf_stat[i][2]), fm = atomic_load(&kf_stat[i][3]);
		if (!fill && !a && !f)
			continue;
		unsigned capsum = 0;
		if (rseq)
			for (unsigned cpu = 0; cpu < kpcpu_nr; cpu++)
				capsum += hdr_cap(region_hdr(cpu, i));
		else
			capsum = i < KMALLOC_NR_CLASSES ? thread_cap[i] : 0;
		n = kformat(line, sizeof line, "front cache %s: capacity %u (max %u per %s), cached %lu objects on %lu %s",
		            c->name, capsum, rseq ? kfront_cap[i] : capsum, rseq ? "CPU" : "thread",
		            (unsigned long)fill, (unsigned long)cpus, rseq ? "CPUs" : "threads (this one)");
		if (a || f) {
			unsigned long ah = a ? (unsigned long)((a - am) * 1000 / a) : 0;
			unsigned long fh = f ? (unsigned long)((f - fm) * 1000 / f) : 0;
			n += kformat(line + n, sizeof line - n, ", alloc %lu hit %lu.%lu%%, free %lu hit %lu.%lu%%",
			             (unsigned long)a, ah / 10, ah % 10, (unsigned long)f, fh / 10, fh % 10);
		}
		line[n++] = '\n';
		kwrite_all(fd, line, n);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* per-CPU data for applications                                       */
/* ------------------------------------------------------------------ */

/*
 * One unit of KALLOC_PERCPU_UNIT bytes per possible CPU, all in one lazily
 * backed mapping: an allocation is an offset inside the unit, the same on
 * every CPU, so per_cpu_ptr(p, cpu) is p + cpu * unit (the kernel's percpu
 * chunks).  Space inside the unit is handed out in 16-byte granules, first
 * fit over a bitmap, under pc_lock.
 */
#define PC_GRANULE 16
#define PC_GRANULES (KALLOC_PERCPU_UNIT / PC_GRANULE)

static char *pc_base;
static uint64_t pc_used[PC_GRANULES / 64];
static uint32_t *pc_len;   /* granules of the allocation starting at each granule */
static unsigned pc_nr;

static bool pc_setup(void)
{
	if (pc_base)
		return true;
	pc_nr = kos_ncpus();
	pc_base = kos_map((size_t)pc_nr * KALLOC_PERCPU_UNIT, PAGE_SIZE, true, 0, NULL);
	pc_len = kos_map(PC_GRANULES * sizeof(uint32_t), PAGE_SIZE, true, 0, NULL);
	if (!pc_base || !pc_len) {
		if (pc_base)
			kos_unmap(pc_base, (size_t)pc_nr * KALLOC_PERCPU_UNIT);
		if (pc_len)
			kos_unmap(pc_len, PC_GRANULES * sizeof(uint32_t));
		pc_base = NULL;
		pc_len = NULL;
		return false;
	}
	return true;
}

static bool pc_test(size_t g) { return (pc_used[g / 64] >> (g % 64)) & 1; }
static void pc_set(size_t g, size_t n, bool v)
{
	for (size_t i = g; i < g + n; i++) {
		if (v)
			pc_used[i / 64] |= 1ull << (i % 64);
		else
			pc_used[i / 64] &= ~(1ull << (i % 64));
	}
}

KEXPORT void *__alloc_percpu(size_t size, size_t align)
{
	kalloc_ensure_init();
	if (size == 0 || size > KALLOC_PERCPU_UNIT / 2 || (align && !KIS_POW2(align)) || align > PAGE_SIZE) {
		kreport("__alloc_percpu: bad size %lu or alignment %lu", (unsigned long)size, (unsigned long)align);
		errno = EINVAL;
		return NULL;
	}
	size_t n = (size + PC_GRANULE - 1) / PC_GRANULE;
	size_t step = align > PC_GRANULE ? align / PC_GRANULE : 1;
	void *ret = NULL;
	klock(&pc_lock);
	if (pc_setup()) {
		for (size_t g = 0; g + n <= PC_GRANULES && !ret; g += step) {
			size_t k = 0;
			while (k < n && !pc_test(g + k))
				k++;
			if (k == n) {
				pc_set(g, n, true);
				pc_len[g] = (uint32_t)n;
				ret = pc_base + g * PC_GRANULE;
			}
		}
	}
	kunlock(&pc_lock);
	if (!ret) {
		kalloc_fail(size, GFP_KERNEL, "__alloc_percpu");
		return NULL;
	}
	for (unsigned cpu = 0; cpu < pc_nr; cpu++)
		memset((char *)ret + (size_t)cpu * KALLOC_PERCPU_UNIT, 0, n * PC_GRANULE);
	return ret;
}

KEXPORT void free_percpu(void *p)
{
	if (!p)
		return;
	uintptr_t off = (uintptr_t)p - (uintptr_t)pc_base;
	klock(&pc_lock);
	if (!pc_base || (uintptr_t)p < (uintptr_t)pc_base || off >= KALLOC_PERCPU_UNIT || off % PC_GRANULE ||
	    pc_len[off / PC_GRANULE] == 0) {
		kunlock(&pc_lock);
		kbad_pointer(p, "free_percpu", "not allocated by __alloc_percpu");
	}
	size_t g = off / PC_GRANULE;
	pc_set(g, pc_len[g], false);
	pc_len[g] = 0;
	kunlock(&pc_lock);
}

KEXPORT unsigned int kalloc_nr_cpu_ids(void)
{
	kalloc_ensure_init();
	klock(&pc_lock);
	bool ok = pc_setup();
	kunlock(&pc_lock);
	return ok ? pc_nr : kos_ncpus();
}

KEXPORT unsigned int kalloc_this_cpu(void)
{
	kalloc_ensure_init();
	if (kfront_base_mode == KF_RSEQ)
		return this_region();
	return (unsigned)kos_getcpu();
}

#if KPCPU_HAVE_RSEQ
/* *(p + this cpu's unit) += v, as one restartable sequence. */
static inline void rseq_add64(char *p, int64_t v)
{
	uintptr_t t1, t2;
	__asm__ __volatile__(
		KRSEQ_ARM("t1")
		"1:\n\t"
		"movl %%fs:(%[tp],%[cid]), %k[t1]\n\t"
		"shlq %[shift], %[t1]\n\t"
		"addq %[p], %[t1]\n\t"
		"movq (%[t1]), %[t2]\n\t"
		"addq %[v], %[t2]\n\t"
		"movq %[t2], (%[t1])\n\t"
		"2:\n\t"
		: [t1] "=&r"(t1), [t2] "=&r"(t2)
		: [tp] "r"(kthr_tpoff()), [cs] "r"(kpcpu_slow.cs_rel), [cid] "r"(kpcpu_slow.cid_rel), [p] "r"(p), [v] "r"(v),
		  [shift] "i"(KALLOC_PERCPU_UNIT_SHIFT)
		: "memory", "cc");
}

static inline void rseq_add32(char *p, int32_t v)
{
	uintptr_t t1;
	uint32_t t2;
	__asm__ __volatile__(
		KRSEQ_ARM("t1")
		"1:\n\t"
		"movl %%fs:(%[tp],%[cid]), %k[t1]\n\t"
		"shlq %[shift], %[t1]\n\t"
		"addq %[p], %[t1]\n\t"
		"movl (%[t1]), %[t2]\n\t"
		"addl %[v], %[t2]\n\t"
		"movl %[t2], (%[t1])\n\t"
		"2:\n\t"
		: [t1] "=&r"(t1), [t2] "=&r"(t2)
		: [tp] "r"(kthr_tpoff()), [cs] "r"(kpcpu_slow.cs_rel), [cid] "r"(kpcpu_slow.cid_rel), [p] "r"(p), [v] "r"(v),
		  [shift] "i"(KALLOC_PERCPU_UNIT_SHIFT)
		: "memory", "cc");
}
#endif

KEXPORT void kalloc_this_cpu_add(void *p, long v, size_t size)
{
	kalloc_ensure_init();
#if KPCPU_HAVE_RSEQ
	if (kfront_base_mode == KF_RSEQ) {
		if (size == 8) {
			rseq_add64(p, v);
			return;
		}
		if (size == 4) {
			rseq_add32(p, (int32_t)v);
			return;
		}
	}
#endif
	char *q = (char *)p + (size_t)kos_getcpu() * KALLOC_PERCPU_UNIT;
	switch (size) {
	case 1: __atomic_fetch_add((uint8_t *)q, (uint8_t)v, __ATOMIC_RELAXED); break;
	case 2: __atomic_fetch_add((uint16_t *)(void *)q, (uint16_t)v, __ATOMIC_RELAXED); break;
	case 4: __atomic_fetch_add((uint32_t *)(void *)q, (uint32_t)v, __ATOMIC_RELAXED); break;
	case 8: __atomic_fetch_add((uint64_t *)(void *)q, (uint64_t)v, __ATOMIC_RELAXED); break;
	default: kpanic("this_cpu_add: unsupported size %lu", (unsigned long)size);
	}
}
