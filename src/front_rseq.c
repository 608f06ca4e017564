/* SPDX-License-Identifier: MIT */
/*
 * front_rseq.c - front caches, per-CPU mode: one region per possible CPU,
 * indexed by the rseq area's mm_cid (or cpu_id), with adaptive capacity and
 * the drain of other CPUs' stacks.
 *
 * Setup: glibc registered rseq for every thread (__rseq_size != 0, the
 * area's cpu_id valid) and the membarrier rseq fence can be registered;
 * kalloc never registers a second rseq area.
 *
 * Capacity: a stack starts with kfront_initial_cap and grows by half on each
 * miss (kfront_rseq_grow), up to its reserved slots, within a per-CPU budget
 * of object bytes (ktune.pcpu_budget; page blocks have a budget of the same
 * size apart, and start with no capacity), taking unused capacity from the
 * CPU's other stacks of the same kind when the budget is spent, with a backoff after a fruitless
 * scan.  Only the owner's `end` moves, by compare-and-swap; a stack never
 * exceeds its reserved slots, so lowering `end` below the fill is harmless:
 * pops still work and pushes miss until it drains.
 *
 * Draining (kfront_rseq_drain): under drain_lock, lock the selected headers
 * on every CPU (begin = 0xffff, end = 0: every pop and push misses), issue
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, which restarts every critical
 * section in flight, so afterwards `current` is stable and nobody else can
 * commit; put the objects back to their slabs, reset, and unlock with the
 * capacity each had.  If the kernel refuses the fence (ENOMEM, under memory
 * pressure), the stacks are unlocked untouched and the drain reports that
 * it did not happen.  The objects go back with kslab_put_bulk, which never
 * calls the page layer: the only system call under drain_lock is the fence.
 * The custom-cache slots are attached and detached under drain_lock too.
 */
#include "front_rseq.h"

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static bool use_cid;
static klock_t drain_lock = KLOCK_INIT;

bool kfront_rseq_uses_cid(void)
{
	return use_cid;
}

/* Takes up to `want` bytes of unused capacity from other stacks of `cpu`
 * of the same kind (page blocks or not: `pages`), never below their
 * initial capacity.  Returns the bytes taken. */
static size_t steal_capacity(unsigned cpu, unsigned except, size_t want, bool pages)
{
	static _Atomic unsigned rotor;
	size_t got = 0;
	unsigned start = atomic_fetch_add_explicit(&rotor, 1, memory_order_relaxed);
	for (unsigned n = 0; n < KFRONT_NR && got < want; n++) {
		unsigned j = (start + n) % KFRONT_NR;
		if (j == except || !kfront_cache[j] || kfront_cache[j]->pages != pages)
			continue;
		struct kpcpu_hdr *h = kfront_hdr(cpu, j);
		uint32_t w = __atomic_load_n(kfront_hdr_word(h), __ATOMIC_ACQUIRE);
		unsigned b = w & 0xffff, e = w >> 16;
		if (b == 0xffff)
			continue;
		unsigned cur = __atomic_load_n(&h->cur, __ATOMIC_RELAXED);
		unsigned floor = KMAX(cur, b + kfront_initial_cap(j));
		if (e <= floor)
			continue;
		size_t size = kfront_cache[j]->size;
		unsigned k = (unsigned)KMIN((size_t)(e - floor), (want - got + size - 1) / size);
		uint32_t nw = b | (uint32_t)(e - k) << 16;
		if (__atomic_compare_exchange_n(kfront_hdr_word(h), &w, nw, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			atomic_fetch_sub_explicit(pages ? kfront_page_cap_bytes(cpu) : kfront_cap_bytes(cpu), k * size,
			                          memory_order_relaxed);
			got += k * size;
		}
	}
	return got;
}

void kfront_rseq_grow(unsigned idx)
{
	unsigned cpu = kfront_this_region();
	if (cpu >= kfront_nr_regions)
		return;
	struct kpcpu_hdr *h = kfront_hdr(cpu, idx);
	uint32_t w = __atomic_load_n(kfront_hdr_word(h), __ATOMIC_ACQUIRE);
	unsigned grow = kfront_grow_step(w, kfront_cap[idx]);
	if (!grow)
		return;
	size_t size = kfront_cache[idx]->size, bytes = grow * size;
	bool pages = kfront_cache[idx]->pages;
	_Atomic size_t *used = pages ? kfront_page_cap_bytes(cpu) : kfront_cap_bytes(cpu);
	if (atomic_fetch_add_explicit(used, bytes, memory_order_relaxed) + bytes > ktune.pcpu_budget) {
		atomic_fetch_sub_explicit(used, bytes, memory_order_relaxed);
		/* Stealing scans every stack of the CPU: after a scan that found
		 * nothing, skip the next attempts on this CPU. */
		_Atomic size_t *backoff = kfront_steal_backoff(cpu);
		if (atomic_load_explicit(backoff, memory_order_relaxed)) {
			atomic_fetch_sub_explicit(backoff, 1, memory_order_relaxed);
			return;
		}
		size_t got = steal_capacity(cpu, idx, bytes, pages);
		if (got < bytes) {
			if (!got)
				atomic_store_explicit(backoff, KFRONT_STEAL_BACKOFF, memory_order_relaxed);
			grow = (unsigned)(got / size);
			if (!grow)
				return;
		}
		bytes = grow * size;
		atomic_fetch_add_explicit(used, bytes, memory_order_relaxed);
	}
	if (!kfront_hdr_extend(h, w, grow))
		atomic_fetch_sub_explicit(used, bytes, memory_order_relaxed);
}

/* glibc's rseq area for this thread, when it registered one and the
 * sequences exist here; NULL otherwise. */
static const struct krseq_area *glibc_rseq(void)
{
	if (!KPCPU_HAVE_RSEQ)
		return NULL;
	if (&__rseq_size == NULL || &__rseq_offset == NULL || __rseq_size == 0)
		return NULL;
	const struct krseq_area *rs =
		(const struct krseq_area *)(void *)((char *)__builtin_thread_pointer() + __rseq_offset);
	uint32_t cpu = *(const volatile uint32_t *)&rs->cpu_id;
	return cpu >= 0xfffffff0u ? NULL : rs;   /* registration failed or absent */
}

bool kfront_rseq_cs_rel(intptr_t *rel)
{
	if (!glibc_rseq())
		return false;
	*rel = __rseq_offset - kfront_thr_tpoff() + (intptr_t)offsetof(struct krseq_area, rseq_cs);
	return true;
}

bool kfront_rseq_setup(void)
{
	const struct krseq_area *rs = glibc_rseq();
	if (!rs)
		return false;
	uint32_t cpu = *(const volatile uint32_t *)&rs->cpu_id;
	unsigned nr = kos_ncpus();
	if (cpu >= nr)
		return false;
	bool cid = kos_getauxval(AT_RSEQ_FEATURE_SIZE) >= KRSEQ_MM_CID_FEATURE_SIZE;
	if (kos_membarrier_rseq_register() != 0)
		return false;
	char *base = kfront_regions_map(nr);
	if (!base)
		return false;
	kfront_nr_regions = nr;
	use_cid = cid;
	intptr_t rel = __rseq_offset - kfront_thr_tpoff();
	kpcpu_slow.base = base;
	kpcpu_slow.cs_rel = rel + (intptr_t)offsetof(struct krseq_area, rseq_cs);
	kpcpu_slow.cid_rel = rel + (intptr_t)(cid ? offsetof(struct krseq_area, mm_cid)
	                                           : offsetof(struct krseq_area, cpu_id));
	for (unsigned c = 0; c < kfront_nr_regions; c++) {
		size_t bytes = 0;
		for (unsigned i = 0; i < KFRONT_NR; i++) {
			struct kpcpu_hdr *h = kfront_hdr(c, i);
			h->cur = kfront_begin[i];
			/* custom slots start locked: attached on demand */
			if (kfront_cache[i]) {
				kfront_hdr_set_cap(h, i, kfront_initial_cap(i));
				bytes += (size_t)kfront_initial_cap(i) * kfront_cache[i]->size;
			} else {
				kfront_hdr_lock(h);
			}
		}
		atomic_store(kfront_cap_bytes(c), bytes);
		atomic_store(kfront_page_cap_bytes(c), 0);
	}
	return true;
}

bool kfront_rseq_drain(const bool *sel)
{
	klock(&drain_lock);
	/* Remember each capacity: it is restored when unlocking. */
	for (unsigned c = 0; c < kfront_nr_regions; c++)
		for (unsigned i = 0; i < KFRONT_NR; i++)
			if (sel[i]) {
				struct kpcpu_hdr *h = kfront_hdr(c, i);
				h->unused = (uint16_t)kfront_hdr_cap(h);
				kfront_hdr_lock(h);
			}
	/* Without the fence (the kernel may refuse it under memory pressure:
	 * ENOMEM) a sequence in flight could still commit to a stack: leave
	 * the objects where they are, unlock, and say the drain did not
	 * happen. */
	bool fenced = kos_membarrier_rseq() == 0;
	for (unsigned c = 0; c < kfront_nr_regions; c++)
		for (unsigned i = 0; i < KFRONT_NR; i++) {
			if (!sel[i])
				continue;
			if (fenced)
				kfront_region_flush(c, i, true);
			struct kpcpu_hdr *h = kfront_hdr(c, i);
			if (kfront_cache[i] && h->unused)
				kfront_hdr_set_cap(h, i, h->unused);
			h->unused = 0;
		}
	kunlock(&drain_lock);
	return fenced;
}

int kfront_rseq_attach(struct kmem_cache *c)
{
	int found = -1;
	klock(&drain_lock);
	for (unsigned i = KFRONT_CLASSES; i < KFRONT_NR; i++)
		if (!kfront_cache[i]) {
			found = (int)i;
			break;
		}
	if (found >= 0) {
		/* The layout reserved KFRONT_CUSTOM_SLOTS_MAX slots; big
		 * objects use fewer. */
		size_t cap = KMIN(KMAX(KFRONT_CUSTOM_BYTES / c->size, (size_t)KFRONT_SLOTS_MIN),
		                  (size_t)KFRONT_CUSTOM_SLOTS_MAX);
		kfront_cap[found] = (unsigned)cap;
		kfront_cache[found] = c;
		for (unsigned cpu = 0; cpu < kfront_nr_regions; cpu++) {
			struct kpcpu_hdr *h = kfront_hdr(cpu, (unsigned)found);
			h->cur = kfront_begin[found];
			kfront_hdr_set_cap(h, (unsigned)found, kfront_initial_cap((unsigned)found));
			atomic_fetch_add(kfront_cap_bytes(cpu), (size_t)kfront_initial_cap((unsigned)found) * c->size);
		}
	}
	kunlock(&drain_lock);
	return found;
}

bool kfront_rseq_detach(struct kmem_cache *c)
{
	unsigned idx = (unsigned)c->front_idx;
	klock(&drain_lock);
	for (unsigned cpu = 0; cpu < kfront_nr_regions; cpu++) {
		struct kpcpu_hdr *h = kfront_hdr(cpu, idx);
		h->unused = (uint16_t)kfront_hdr_cap(h);
		kfront_hdr_lock(h);
	}
	/* After the fence no sequence can commit to these stacks: empty them,
	 * leave them locked and give the index back for another cache. */
	bool fenced = kos_membarrier_rseq() == 0;
	for (unsigned cpu = 0; cpu < kfront_nr_regions; cpu++) {
		struct kpcpu_hdr *h = kfront_hdr(cpu, idx);
		if (fenced) {
			kfront_region_flush(cpu, idx, true);
			atomic_fetch_sub(kfront_cap_bytes(cpu), (size_t)h->unused * c->size);
		} else {
			kfront_hdr_set_cap(h, idx, h->unused);
		}
		h->unused = 0;
	}
	if (fenced) {
		kfront_cache[idx] = NULL;
		c->front_idx = -1;
	}
	kunlock(&drain_lock);
	return fenced;
}

void kfront_rseq_fork_prepare(void) { klock(&drain_lock); }
void kfront_rseq_fork_parent(void) { kunlock(&drain_lock); }
void kfront_rseq_fork_child(void) { klock_reinit(&drain_lock); }
