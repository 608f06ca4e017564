/* SPDX-License-Identifier: MIT */
/*
 * percpu.c - per-CPU data for applications: the kernel's alloc_percpu,
 * per_cpu_ptr and this_cpu operations, static DEFINE_PER_CPU variables and
 * get_cpu/put_cpu (exported by kapi.c).
 *
 * One unit of KALLOC_PERCPU_UNIT bytes per possible CPU, all in one lazily
 * backed mapping: an allocation is an offset inside the unit, the same on
 * every CPU, so per_cpu_ptr(p, cpu) is p + cpu * unit (the kernel's percpu
 * chunks).  Space inside the unit is handed out in 16-byte granules, first
 * fit over a bitmap, under pc_lock (a leaf: the mapping is made before it is
 * taken).  A per-CPU pointer is CPU 0's copy.
 *
 * this_cpu_add and this_cpu_write are restartable sequences (load, add,
 * store-commit; store-commit) indexed like the front caches' stacks when
 * they run per CPU (front.h), and atomic operations on sched_getcpu()'s copy
 * otherwise.
 *
 * Static variables (DEFINE_PER_CPU) are templates in each module's section
 * "kalloc_percpu".  A constructor in each module (kalloc.h) registers the
 * section: it gets per-CPU space of the section's size, the template is
 * copied into every CPU's copy, and the module table records start, length
 * and CPU 0's copy.  A template address t then stands for
 * copy + (t - start): every accessor resolves its pointer first (one compare
 * for alloc_percpu memory, a scan of the table otherwise).  The table is
 * written under pc_lock and read without a lock: each entry has a sequence
 * count, odd while it changes.  A module's destructor only marks its entry
 * retired (a thread still running at exit may use the variables); the
 * entry, and its space, go when a module registered later overlaps it or
 * needs its place.  Registering the same section again (each file of a
 * module has the constructor) finds the live entry and does nothing.
 *
 * get_cpu: one lock per CPU, in the units themselves (one per-CPU allocation
 * of a klock_t), made on first use.  The thread-local pc_held counts the
 * thread's nesting and keeps the CPU index it locked, which the thread keeps
 * using (smp_processor_id, this_cpu_ptr) until its last put_cpu, wherever it
 * runs.  These locks are the program's, held between its get_cpu and
 * put_cpu for as long as it likes: they are outside kalloc's lock order
 * (base.h), taken with no lock of kalloc held, and fork preparation does not
 * wait for them.  A forked child reinitialises them and takes again the one
 * its forking thread holds.
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

/* Modules with DEFINE_PER_CPU variables. */
#define PC_MODULES 256
struct pc_module {
	unsigned seq;      /* odd while the entry changes: readers try again */
	bool retired;      /* its module's destructor ran; under pc_lock only */
	uintptr_t start;   /* the module's section of templates */
	uintptr_t len;     /* its size; 0: a free entry */
	char *copy;        /* CPU 0's copy of the section */
};
static struct pc_module pc_mod[PC_MODULES];
static unsigned pc_nmod;   /* entries ever used: readers scan these */

/* get_cpu's locks (CPU 0's copy of a per-CPU klock_t), published once. */
static klock_t *pc_cpu_lock;
static _Thread_local struct {
	unsigned cpu;      /* the CPU index the outermost get_cpu locked */
	unsigned depth;    /* get_cpu sections open in this thread */
} pc_held;

/* Maps the units on first use; the mapping is made with no lock held, and
 * the loser of a race gives its copy back. */
static bool pc_setup(void)
{
	if (__atomic_load_n(&pc_base, __ATOMIC_ACQUIRE))
		return true;
	unsigned nr = kos_ncpus();
	size_t units = (size_t)nr * KALLOC_PERCPU_UNIT, lens = PC_GRANULES * sizeof(uint32_t);
	char *base = kos_map(units, PAGE_SIZE, true, 0);
	/* the lengths (metadata) between guard pages: not beside the units */
	uint32_t *len = base ? kos_map_guarded(lens, PAGE_SIZE, true) : NULL;
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
		kos_unmap((char *)len - PAGE_SIZE, KALIGN_UP(lens, PAGE_SIZE) + 2 * PAGE_SIZE);
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
	if (pc_held.depth)
		return pc_held.cpu;
	if (kfront_mode == KF_RSEQ)
		return kfront_this_region();
	return (unsigned)kos_getcpu();
}

/* ---- static variables: the module table ---------------------------- */

static void pc_mod_set(struct pc_module *e, uintptr_t start, uintptr_t len, char *copy)
{
	unsigned seq = e->seq;
	__atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->start, start, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	__atomic_store_n(&e->copy, copy, __ATOMIC_RELAXED);
	__atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
}

/* CPU 0's copy of template address a, or NULL. */
static char *pc_mod_lookup(uintptr_t a)
{
	unsigned n = __atomic_load_n(&pc_nmod, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++) {
		struct pc_module *e = &pc_mod[i];
		uintptr_t start, len;
		char *copy;
		unsigned seq;
		do {
			while ((seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE)) & 1)
				kos_yield();
			start = __atomic_load_n(&e->start, __ATOMIC_RELAXED);
			len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
			copy = __atomic_load_n(&e->copy, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
		} while (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != seq);
		if (a - start < len)
			return copy + (a - start);
	}
	return NULL;
}

/* The live entry of the section [start, start + len); under pc_lock. */
static struct pc_module *pc_mod_live(uintptr_t start, uintptr_t len)
{
	for (unsigned i = 0; i < pc_nmod; i++)
		if (pc_mod[i].start == start && pc_mod[i].len == len && !pc_mod[i].retired)
			return &pc_mod[i];
	return NULL;
}

void kpcpu_module_add(const void *start, const void *stop)
{
	uintptr_t s = (uintptr_t)start, len = (uintptr_t)stop - s;
	if (!start || (uintptr_t)stop <= s)
		return;
	klock(&pc_lock);
	bool known = pc_mod_live(s, len) != NULL;
	kunlock(&pc_lock);
	if (known)
		return;
	if (len > KALLOC_PERCPU_UNIT / 2)
		kpanic("DEFINE_PER_CPU: a module's per-CPU variables at %p take %lu bytes, more than %lu", start,
		       (unsigned long)len, KALLOC_PERCPU_UNIT / 2);
	/* The copy must be aligned as the section is: as its start, up to a page. */
	char *copy = kpcpu_alloc(len, KMIN(s & -s, (uintptr_t)PAGE_SIZE));
	if (!copy)
		kpanic("DEFINE_PER_CPU: no per-CPU space for a module's %lu bytes of variables at %p",
		       (unsigned long)len, start);
	for (unsigned cpu = 0; cpu < pc_nr; cpu++)
		memcpy(copy + (size_t)cpu * KALLOC_PERCPU_UNIT, start, len);

	char *stale[PC_MODULES];
	unsigned nstale = 0;
	struct pc_module *slot = NULL;
	klock(&pc_lock);
	if (pc_mod_live(s, len)) {
		kunlock(&pc_lock);
		kpcpu_free(copy);
		return;
	}
	/* An entry that overlaps the new section is of a module unloaded since. */
	for (unsigned i = 0; i < pc_nmod; i++) {
		struct pc_module *e = &pc_mod[i];
		if (e->len && s < e->start + e->len && e->start < s + len) {
			stale[nstale++] = e->copy;
			pc_mod_set(e, 0, 0, NULL);
		}
		if (!e->len && !slot)
			slot = e;
	}
	if (!slot && pc_nmod < PC_MODULES)
		slot = &pc_mod[pc_nmod];
	for (unsigned i = 0; !slot && i < pc_nmod; i++) {
		if (pc_mod[i].retired) {
			slot = &pc_mod[i];
			stale[nstale++] = slot->copy;
		}
	}
	if (!slot) {
		kunlock(&pc_lock);
		kpanic("DEFINE_PER_CPU: more than %d modules with per-CPU variables", PC_MODULES);
	}
	pc_mod_set(slot, s, len, copy);
	slot->retired = false;
	if (slot == &pc_mod[pc_nmod])
		__atomic_store_n(&pc_nmod, pc_nmod + 1, __ATOMIC_RELEASE);
	kunlock(&pc_lock);
	for (unsigned i = 0; i < nstale; i++)
		kpcpu_free(stale[i]);
}

void kpcpu_module_del(const void *start, const void *stop)
{
	klock(&pc_lock);
	struct pc_module *e = pc_mod_live((uintptr_t)start, (uintptr_t)stop - (uintptr_t)start);
	if (e)
		e->retired = true;
	kunlock(&pc_lock);
}

/* CPU 0's copy of the per-CPU object at p: p itself for alloc_percpu memory,
 * a registered module's copy for a template address; anything else is
 * reported (op names the caller) and aborts. */
static char *pc_resolve(const void *p, const char *op)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)__atomic_load_n(&pc_base, __ATOMIC_ACQUIRE);
	if (likely(base && a - base < KALLOC_PERCPU_UNIT))
		return (char *)p;
	char *q = pc_mod_lookup(a);
	if (unlikely(!q))
		kbad_pointer(p, op,
		             "not alloc_percpu memory (CPU 0's copy) nor a DEFINE_PER_CPU variable of a loaded module");
	return q;
}

void *kpcpu_ptr(const void *p, unsigned cpu, const char *op)
{
	char *q = pc_resolve(p, op);
	if (unlikely(cpu >= pc_nr))
		kpanic("%s: CPU %u is not below nr_cpu_ids (%u)", op, cpu, pc_nr);
	return q + (size_t)cpu * KALLOC_PERCPU_UNIT;
}

/* ---- get_cpu / put_cpu ---------------------------------------------- */

static klock_t *pc_cpu_lock_of(klock_t *l, unsigned cpu)
{
	return (klock_t *)(void *)((char *)l + (size_t)cpu * KALLOC_PERCPU_UNIT);
}

static klock_t *pc_cpu_locks(void)
{
	klock_t *l = __atomic_load_n(&pc_cpu_lock, __ATOMIC_ACQUIRE);
	if (likely(l))
		return l;
	l = kpcpu_alloc(sizeof(klock_t), 64);
	if (!l)
		kpanic("get_cpu: no per-CPU space for its locks");
	for (unsigned cpu = 0; cpu < pc_nr; cpu++)
		klock_reinit(pc_cpu_lock_of(l, cpu));
	klock_t *none = NULL;
	if (!__atomic_compare_exchange_n(&pc_cpu_lock, &none, l, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		kpcpu_free(l);
		l = none;
	}
	return l;
}

unsigned kpcpu_get_cpu(void)
{
	if (pc_held.depth) {
		pc_held.depth++;
		return pc_held.cpu;
	}
	klock_t *l = pc_cpu_locks();
	unsigned cpu = kpcpu_this_cpu();
	klock(pc_cpu_lock_of(l, cpu));
	pc_held.cpu = cpu;
	pc_held.depth = 1;
	return cpu;
}

void kpcpu_put_cpu(void)
{
	if (unlikely(pc_held.depth == 0))
		kpanic("put_cpu: no get_cpu() section is open in this thread");
	if (--pc_held.depth == 0)
		kunlock(pc_cpu_lock_of(pc_cpu_lock, pc_held.cpu));
}

void kpcpu_fork_prepare(void) { klock(&pc_lock); }
void kpcpu_fork_parent(void) { kunlock(&pc_lock); }
void kpcpu_fork_child(void)
{
	klock_reinit(&pc_lock);
	klock_t *l = pc_cpu_lock;
	if (!l)
		return;
	for (unsigned cpu = 0; cpu < pc_nr; cpu++)
		klock_reinit(pc_cpu_lock_of(l, cpu));
	if (pc_held.depth)
		klock(pc_cpu_lock_of(l, pc_held.cpu));
}

#if KPCPU_HAVE_RSEQ
/* The restartable sequences on a per-CPU object, for 8 and 4-byte objects
 * (suffix q and l): each finds this CPU's copy, t1 = p + (cpu << shift),
 * then either adds v to it (load, add, the store is the commit) or stores v
 * (the store is the commit, so it lands in the copy of the CPU the thread
 * runs on then). */
#define KPCPU_RSEQ_COPY                                          \
	KRSEQ_ARM("t1")                                          \
	"1:\n\t"                                                  \
	"movl %%fs:(%[tp],%[cid]), %k[t1]\n\t"                     \
	"shlq %[shift], %[t1]\n\t"                                \
	"addq %[p], %[t1]\n\t"
#define KPCPU_RSEQ_IN                                                                                \
	[tp] "r"(kfront_thr_tpoff()), [cs] "r"(kpcpu_slow.cs_rel), [cid] "r"(kpcpu_slow.cid_rel), \
	[p] "r"(p), [v] "r"(v), [shift] "i"(KALLOC_PERCPU_UNIT_SHIFT)
#define KPCPU_RSEQ_ADD(name, type, sfx)                                         \
	static inline void name(char *p, type v)                                \
	{                                                                       \
		uintptr_t t1;                                                   \
		type t2;                                                        \
		__asm__ __volatile__(KPCPU_RSEQ_COPY                            \
		                     "mov" sfx " (%[t1]), %[t2]\n\t"             \
		                     "add" sfx " %[v], %[t2]\n\t"                \
		                     "mov" sfx " %[t2], (%[t1])\n\t"             \
		                     "2:\n\t"                                     \
		                     : [t1] "=&r"(t1), [t2] "=&r"(t2)           \
		                     : KPCPU_RSEQ_IN                            \
		                     : "memory", "cc");                         \
	}
#define KPCPU_RSEQ_STORE(name, type, sfx)                                       \
	static inline void name(char *p, type v)                                \
	{                                                                       \
		uintptr_t t1;                                                   \
		__asm__ __volatile__(KPCPU_RSEQ_COPY                            \
		                     "mov" sfx " %[v], (%[t1])\n\t"              \
		                     "2:\n\t"                                     \
		                     : [t1] "=&r"(t1)                           \
		                     : KPCPU_RSEQ_IN                            \
		                     : "memory", "cc");                         \
	}
KPCPU_RSEQ_ADD(rseq_add64, int64_t, "q")
KPCPU_RSEQ_ADD(rseq_add32, int32_t, "l")
KPCPU_RSEQ_STORE(rseq_store64, int64_t, "q")
KPCPU_RSEQ_STORE(rseq_store32, int32_t, "l")
#endif

/* this_cpu_add (store false) and this_cpu_write (store true) on the copy of
 * the CPU the caller runs on: a restartable sequence for 8 and 4-byte
 * objects in the per-CPU mode, else an atomic on sched_getcpu()'s copy. */
static void pc_update(void *ptr, long v, size_t size, bool store, const char *op)
{
	char *p = pc_resolve(ptr, op);
#if KPCPU_HAVE_RSEQ
	if (kfront_mode == KF_RSEQ && size == 8) {
		if (store)
			rseq_store64(p, v);
		else
			rseq_add64(p, v);
		return;
	}
	if (kfront_mode == KF_RSEQ && size == 4) {
		if (store)
			rseq_store32(p, (int32_t)v);
		else
			rseq_add32(p, (int32_t)v);
		return;
	}
#endif
	char *q = p + (size_t)kos_getcpu() * KALLOC_PERCPU_UNIT;
#define PC_ATOMIC(T)                                                             \
	do {                                                                     \
		if (store)                                                       \
			__atomic_store_n((T *)(void *)q, (T)v, __ATOMIC_RELAXED); \
		else                                                             \
			__atomic_fetch_add((T *)(void *)q, (T)v, __ATOMIC_RELAXED); \
	} while (0)
	switch (size) {
	case 1: PC_ATOMIC(uint8_t); break;
	case 2: PC_ATOMIC(uint16_t); break;
	case 4: PC_ATOMIC(uint32_t); break;
	case 8: PC_ATOMIC(uint64_t); break;
	default: kpanic("%s: unsupported size %lu", op, (unsigned long)size);
	}
#undef PC_ATOMIC
}

void kpcpu_add(void *ptr, long v, size_t size)
{
	pc_update(ptr, v, size, false, "this_cpu_add");
}

void kpcpu_write(void *ptr, long v, size_t size)
{
	pc_update(ptr, v, size, true, "this_cpu_write");
}
