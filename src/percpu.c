/* SPDX-License-Identifier: MIT */
/*
 * percpu.c - per-CPU data for applications: the kernel's alloc_percpu,
 * per_cpu_ptr and this_cpu operations (exported by kapi.c).
 *
 * One unit of KALLOC_PERCPU_UNIT bytes per possible CPU, all in one lazily
 * backed mapping: an allocation is an offset inside the unit, the same on
 * every CPU, so per_cpu_ptr(p, cpu) is p + cpu * unit (the kernel's percpu
 * chunks).  Space inside the unit is handed out in 16-byte granules, first
 * fit over a bitmap, under pc_lock (a leaf: the mapping is made before it is
 * taken).
 *
 * this_cpu_add is a restartable sequence (load, add, store-commit) indexed
 * like the front caches' stacks when they run per CPU (front.h), and an
 * atomic add on sched_getcpu()'s copy otherwise.
 */
#include "percpu.h"

#include <errno.h>
#include <string.h>

#define PC_GRANULE 16
#define PC_GRANULES (KALLOC_PERCPU_UNIT / PC_GRANULE)

static klock_t pc_lock = KLOCK_INIT;
static char *pc_base;      /* published once, under pc_lock */
static uint64_t pc_used[PC_GRANULES / 64];
static uint32_t *pc_len;   /* granules of the allocation starting at each granule */
static unsigned pc_nr;

/* Maps the units on first use; the mapping is made with no lock held, and
 * the loser of a race gives its copy back. */
static bool pc_setup(void)
{
	if (__atomic_load_n(&pc_base, __ATOMIC_ACQUIRE))
		return true;
	unsigned nr = kos_ncpus();
	size_t units = (size_t)nr * KALLOC_PERCPU_UNIT, lens = PC_GRANULES * sizeof(uint32_t);
	char *base = kos_map(units, PAGE_SIZE, true, 0);
	uint32_t *len = base ? kos_map(lens, PAGE_SIZE, true, 0) : NULL;
	if (!len) {
		if (base)
			kos_unmap(base, units);
		return false;
	}
	klock(&pc_lock);
	bool mine = pc_base == NULL;
	if (mine) {
		pc_nr = nr;
		pc_len = len;
		__atomic_store_n(&pc_base, base, __ATOMIC_RELEASE);
	}
	kunlock(&pc_lock);
	if (!mine) {
		kos_unmap(base, units);
		kos_unmap(len, lens);
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

void *kpcpu_alloc(size_t size, size_t align)
{
	if (size == 0 || size > KALLOC_PERCPU_UNIT / 2 || (align && !KIS_POW2(align)) || align > PAGE_SIZE) {
		kreport("__alloc_percpu: bad size %lu or alignment %lu", (unsigned long)size, (unsigned long)align);
		errno = EINVAL;
		return NULL;
	}
	size_t n = (size + PC_GRANULE - 1) / PC_GRANULE;
	size_t step = align > PC_GRANULE ? align / PC_GRANULE : 1;
	void *ret = NULL;
	if (pc_setup()) {
		klock(&pc_lock);
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
		kunlock(&pc_lock);
	}
	if (!ret) {
		kalloc_fail(size, GFP_KERNEL, "__alloc_percpu");
		return NULL;
	}
	for (unsigned cpu = 0; cpu < pc_nr; cpu++)
		memset((char *)ret + (size_t)cpu * KALLOC_PERCPU_UNIT, 0, n * PC_GRANULE);
	return ret;
}

void kpcpu_free(void *p)
{
	klock(&pc_lock);
	uintptr_t off = (uintptr_t)p - (uintptr_t)pc_base;
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

unsigned kpcpu_nr_ids(void)
{
	return pc_setup() ? pc_nr : kos_ncpus();
}

unsigned kpcpu_this_cpu(void)
{
	if (kfront_mode == KF_RSEQ)
		return kfront_this_region();
	return (unsigned)kos_getcpu();
}

void kpcpu_fork_prepare(void) { klock(&pc_lock); }
void kpcpu_fork_parent(void) { kunlock(&pc_lock); }
void kpcpu_fork_child(void) { klock_reinit(&pc_lock); }

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
		: [tp] "r"(kfront_thr_tpoff()), [cs] "r"(kpcpu_slow.cs_rel), [cid] "r"(kpcpu_slow.cid_rel),
		  [p] "r"(p), [v] "r"(v), [shift] "i"(KALLOC_PERCPU_UNIT_SHIFT)
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
		: [tp] "r"(kfront_thr_tpoff()), [cs] "r"(kpcpu_slow.cs_rel), [cid] "r"(kpcpu_slow.cid_rel),
		  [p] "r"(p), [v] "r"(v), [shift] "i"(KALLOC_PERCPU_UNIT_SHIFT)
		: "memory", "cc");
}
#endif

void kpcpu_add(void *p, long v, size_t size)
{
#if KPCPU_HAVE_RSEQ
	if (kfront_mode == KF_RSEQ) {
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
