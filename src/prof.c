/* SPDX-License-Identifier: MIT */
/*
 * prof.c - introspection while the program runs: the sampled heap profile
 * (KALLOC_PROF), the report on a signal (KALLOC_STATS_SIGNAL), the shared
 * segment kalloc-top reads (KALLOC_SHM), and the reports at exit.  Above
 * stats.c, whose snapshot it publishes and prints, and below init.c, which
 * calls kprof_init and kprof_exit.
 *
 * The tick.  malloc, calloc, realloc and operator new subtract the bytes
 * asked for from a thread-local countdown (kfront_thr.prof_left, prof.h) and call
 * their slow path when it goes below zero; that is all the fast paths pay
 * (bench/fastpath.sh).  kprof_tick, the slow path, does the work of all
 * three features and re-arms the countdown: to INTPTR_MAX when none is on,
 * else to the bytes until the next sample, and with a signal or a segment
 * to serve to KPROF_TICK_BYTES at most.
 *
 * Sampling, as tcmalloc and jemalloc sample: the bytes between two samples
 * are drawn from an exponential distribution of mean KALLOC_PROF_SAMPLE
 * (512 KiB), so each byte allocated is equally likely to be the one that
 * is sampled, and the allocation holding that byte is sampled: a block of
 * n bytes is sampled with probability 1 - exp(-n / mean).  The profile
 * records raw sample counts and sizes; pprof's heap_v2 header tells pprof
 * the mean, and it scales each count by 1 / (1 - exp(-size / mean)); the
 * collapsed stacks are scaled here the same way.
 *
 * Freeing.  A sampled block of a small size is not taken from its class:
 * malloc.c gives it a page block of its own (a huge area above 4 MiB), as
 * tcmalloc's sampled allocations come from its page heap.  Page blocks and
 * huge areas are never freed by free's fast path (its one comparison
 * accepts only kmalloc slab objects), so the fast path needs no test for
 * sampled blocks; the slow path calls kprof_forget, which asks a lock-free
 * filter (a counter per hash bucket of addresses) and takes the table's
 * lock only for blocks whose bucket holds a sampled one.  The cost is one
 * page per sampled small block: at the default rate under 1% of the bytes
 * allocated.
 *
 * Stacks: glibc's backtrace() (the unwinder of libgcc_s, through the
 * unwind tables, so programs built without frame pointers get whole
 * stacks; a frame-pointer walk would stop or wander at the first function
 * without one).  backtrace loads libgcc_s with dlopen, which allocates, on
 * its first call: the first sample of the process makes that call with the
 * thread marked busy (its own allocations are not sampled and take the
 * plain paths), and no lock of kalloc is held while a stack is taken.  The
 * unwinder takes the loader's lock (recursive), never one of kalloc's.
 * Frames of kalloc itself are cut from the top of each stack.
 *
 * Tables, mapped from the OS at initialisation when KALLOC_PROF is set
 * (lazily backed): stacks (a hash table of up to KPROF_STACKS distinct
 * stacks, each with its live and total counts and bytes; never removed)
 * and live sampled blocks (open addressing by address, up to KPROF_SLOTS,
 * with backward-shift deletion).  One lock, prof_lock, a leaf: nothing is
 * called and no system call is made under it.  A sample that finds a table
 * full is dropped and counted.
 *
 * The signal handler only sets a flag (an atomic store).  The report runs
 * at the next tick of any thread, so within KPROF_TICK_BYTES of allocation
 * by a thread; a program that allocates nothing at all prints when it next
 * does.  A watcher thread would print at once, but kalloc starts no thread
 * in a program that did not ask for one, and a thread started from inside
 * malloc (pthread_create allocates) is fragile; the tick costs nothing.
 *
 * The segment (/dev/shm/kalloc.<pid>, mode 0600) is a struct ksnap
 * (stats_snap.h), rewritten from a fresh snapshot at a tick at most every
 * KSHM_PERIOD_MS, under a sequence count (odd while written); removed at
 * exit.  A child after fork makes its own at its first publication.
 *
 * Profile output, written at exit and on the signal (KALLOC_PROF's path,
 * default kalloc.<pid>.heap in the working directory):
 *   PATH            pprof's legacy heap profile ("heap profile: ... @
 *                   heap_v2/N", one line per stack, then MAPPED_LIBRARIES:
 *                   /proc/self/maps), read by pprof and google-pprof;
 *   PATH.collapsed  one line per stack, "root;...;caller-of-malloc bytes",
 *                   for flamegraph.pl, the bytes scaled to estimate the
 *                   live heap; function names from each binary's .symtab
 *                   (or .dynsym) read from its file, so the file names the
 *                   functions by itself.
 */
#include "prof.h"

#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <link.h>
#include <signal.h>
#include <string.h>

bool kprof_on;

/* ------------------------------------------------------------------ */
/* the tick                                                            */
/* ------------------------------------------------------------------ */

#define KSHM_PERIOD_MS 100

static bool ticking;                   /* a signal or a segment to serve */
static int stats_signal;
static _Atomic int signal_pending;
static __thread intptr_t armed;        /* what kfront_thr.prof_left was last set to */
static __thread intptr_t gap;          /* bytes until the next sample; 0: not drawn */
static __thread uint64_t rng;
static __thread bool busy;             /* taking a stack: no sample, no report */
static uint64_t rng_secret;
static _Atomic uint64_t rng_threads;

static void serve_signal(void);
static void shm_tick(void);

static uint64_t rng_next(void)
{
	if (unlikely(!rng))
		rng = rng_secret ^ ((uintptr_t)&rng * 0x9e3779b97f4a7c15ULL) ^ (atomic_fetch_add(&rng_threads, 1) << 32) ^ 1;
	/* splitmix64 */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ln(x) for x > 0, without libm: x = m * 2^e with m in [1, 2), then
 * ln(m) = 2 atanh((m - 1) / (m + 1)), a series in t <= 1/3. */
static double kln(double x)
{
	int e = 0;
	while (x < 1.0) {
		x *= 2;
		e--;
	}
	while (x >= 2.0) {
		x /= 2;
		e++;
	}
	double t = (x - 1) / (x + 1), t2 = t * t, sum = 0, p = t;
	for (int k = 1; k < 24; k += 2) {
		sum += p / k;
		p *= t2;
	}
	return 2 * sum + e * 0.69314718055994530942;
}

/* exp(-x) for x >= 0: halve x to below 1/2, a Taylor series, square back. */
static double kexp_neg(double x)
{
	if (x > 700)
		return 0;
	int k = 0;
	while (x > 0.5) {
		x /= 2;
		k++;
	}
	double r = 1 - x * (1 - x / 2 * (1 - x / 3 * (1 - x / 4 * (1 - x / 5 * (1 - x / 6)))));
	while (k--)
		r *= r;
	return r;
}

/* The bytes until the next sample: exponential with mean prof_sample. */
static intptr_t draw_gap(void)
{
	double u = (double)((rng_next() >> 11) + 1) / 9007199254740992.0;   /* (0, 1] */
	double g = -kln(u) * (double)ktune.prof_sample;
	if (g < 1)
		return 1;
	if (g > (double)(INTPTR_MAX / 4))
		return INTPTR_MAX / 4;
	return (intptr_t)g;
}

bool kprof_tick(size_t n)
{
	intptr_t used = (intptr_t)((uintptr_t)armed - (uintptr_t)kfront_thr.prof_left);   /* since armed, n included */
	if (used < 0)
		used = (intptr_t)KMIN(n, (size_t)INTPTR_MAX);
	kfront_thr.prof_left = armed = INTPTR_MAX;      /* allocations made from here on do not tick */
	bool sample = false;
	if (kprof_on && !busy) {
		if (!gap)
			gap = draw_gap();
		gap -= used;
		if (gap < 0) {
			sample = true;
			gap = draw_gap();
		}
	}
	if (ticking && !busy && !kmem_in_reclaim) {
		if (atomic_load_explicit(&signal_pending, memory_order_relaxed))
			serve_signal();
		shm_tick();
	}
	intptr_t next = kprof_on ? gap : INTPTR_MAX;
	if (ticking && next > KPROF_TICK_BYTES)
		next = KPROF_TICK_BYTES;
	kfront_thr.prof_left = armed = next;
	return sample;
}

/* ------------------------------------------------------------------ */
/* the tables                                                          */
/* ------------------------------------------------------------------ */

#define KPROF_DEPTH  48
#define KPROF_STACKS (1U << 14)
#define KPROF_SLOTS  (1U << 17)
#define KPROF_FILTER (1U << 16)

struct prof_stack {
	uint64_t hash;            /* 0: the entry is empty */
	uint32_t depth, pad;
	uint64_t live_count, live_bytes, alloc_count, alloc_bytes;
	uintptr_t pc[KPROF_DEPTH];   /* [0]: the caller of the entry point */
};

struct prof_slot {
	uintptr_t addr;           /* 0: empty */
	uint32_t stack;
	uint32_t pad;
	uint64_t size;
};

static klock_t prof_lock = KLOCK_INIT;
static struct prof_stack *stacks;
static struct prof_slot *slots;
static _Atomic uint16_t *filter;
static size_t nr_stacks, nr_live;
static uint64_t dropped;
static _Atomic int warm;
/* kalloc's executable segment, when kalloc is a shared object of its own
 * (0, 0 when it is linked into the program) */
static uintptr_t own_start, own_end;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static unsigned filter_idx(const void *p)
{
	return (unsigned)(mix((uintptr_t)p) & (KPROF_FILTER - 1));
}

/* Under prof_lock: the stack's entry, added if new; NULL when full. */
static struct prof_stack *stack_get(const uintptr_t *pc, unsigned depth)
{
	uint64_t h = 0x84222325cbf29ce4ULL ^ depth;
	for (unsigned i = 0; i < depth; i++)
		h = mix(h ^ pc[i]);
	h |= 1;
	for (unsigned i = (unsigned)h & (KPROF_STACKS - 1), probes = 0; probes < KPROF_STACKS;
	     i = (i + 1) & (KPROF_STACKS - 1), probes++) {
		struct prof_stack *s = &stacks[i];
		if (s->hash == h && s->depth == depth && memcmp(s->pc, pc, depth * sizeof *pc) == 0)
			return s;
		if (s->hash == 0) {
			if (nr_stacks >= KPROF_STACKS * 3 / 4)
				return NULL;
			s->hash = h;
			s->depth = depth;
			memcpy(s->pc, pc, depth * sizeof *pc);
			nr_stacks++;
			return s;
		}
	}
	return NULL;
}

static unsigned slot_home(uintptr_t a)
{
	return (unsigned)(mix(a) & (KPROF_SLOTS - 1));
}

/* Under prof_lock: removes slot i, moving later entries of its run back
 * (linear probing's deletion without tombstones). */
static void slot_remove(unsigned i)
{
	unsigned j = i;
	for (;;) {
		slots[i].addr = 0;
		for (;;) {
			j = (j + 1) & (KPROF_SLOTS - 1);
			if (slots[j].addr == 0)
				return;
			unsigned k = slot_home(slots[j].addr);
			/* slot j may move to i when its home is not in (i, j] */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		slots[i] = slots[j];
		i = j;
	}
}

/* Takes the stack of the caller of kalloc's entry point into pc[]. */
static unsigned capture(uintptr_t *pc)
{
	void *frames[KPROF_DEPTH + 16];
	int n = backtrace(frames, (int)(sizeof frames / sizeof frames[0]));
	int i = 0;
	if (own_end) {
		/* cut kalloc's own frames from the top */
		while (i < n && (uintptr_t)frames[i] >= own_start && (uintptr_t)frames[i] < own_end)
			i++;
	} else {
		/* kalloc is linked into the program: its frames cannot be told
		 * apart by object; kprof_record and the entry point's slow path */
		i = KMIN(n, 2);
	}
	unsigned d = 0;
	for (; i < n && d < KPROF_DEPTH; i++)
		pc[d++] = (uintptr_t)frames[i];
	return d;
}

/* dl_iterate_phdr's callback: the executable segment holding arg's
 * address, in the object loaded at it. */
static int find_own(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	uintptr_t a = (uintptr_t)arg;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && a >= start && a < start + ph->p_memsz) {
			own_start = start;
			own_end = start + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* The first sample: backtrace's own first call (dlopen of libgcc_s, which
 * allocates), and the range of kalloc's code when kalloc is a shared
 * object of its own (its frames are then cut by address, with no lookup). */
static void warm_up(void)
{
	void *f[4];
	backtrace(f, 4);
	Dl_info di;
	struct link_map *lm = NULL;
	if (dladdr1((void *)kprof_record, &di, (void **)&lm, RTLD_DL_LINKMAP) && lm && lm->l_name && lm->l_name[0])
		dl_iterate_phdr(find_own, (void *)kprof_record);
	atomic_store(&warm, 1);
}

/* Under prof_lock: the slot of block p, or the empty slot where it would
 * go. */
static unsigned slot_find(uintptr_t p)
{
	unsigned i = slot_home(p);
	while (slots[i].addr && slots[i].addr != p)
		i = (i + 1) & (KPROF_SLOTS - 1);
	return i;
}

/* Under prof_lock: the live block of slot i leaves its stack's counts. */
static void slot_unlive(unsigned i)
{
	struct prof_stack *s = &stacks[slots[i].stack];
	s->live_count--;
	s->live_bytes -= slots[i].size;
}

void kprof_record(void *p, size_t n)
{
	if (!p || !stacks)
		return;
	uintptr_t pc[KPROF_DEPTH];
	busy = true;
	if (unlikely(!atomic_load(&warm)))
		warm_up();
	unsigned depth = capture(pc);
	busy = false;
	klock(&prof_lock);
	struct prof_stack *s = stack_get(pc, depth);
	if (!s || nr_live >= KPROF_SLOTS * 3 / 4) {
		dropped++;
		kunlock(&prof_lock);
		return;
	}
	s->alloc_count++;
	s->alloc_bytes += n;
	s->live_count++;
	s->live_bytes += n;
	unsigned i = slot_find((uintptr_t)p);
	if (slots[i].addr) {
		/* a block freed behind kalloc's back (kfree of a malloc block):
		 * the old record goes */
		slot_unlive(i);
	} else {
		nr_live++;
		atomic_fetch_add_explicit(&filter[filter_idx(p)], 1, memory_order_relaxed);
	}
	slots[i] = (struct prof_slot){ (uintptr_t)p, (uint32_t)(s - stacks), 0, n };
	kunlock(&prof_lock);
}

bool kprof_forget(const void *p)
{
	bool found = false;
	if (!p || !filter || !atomic_load_explicit(&filter[filter_idx(p)], memory_order_relaxed))
		return false;
	klock(&prof_lock);
	unsigned i = slot_find((uintptr_t)p);
	if (slots[i].addr) {
		slot_unlive(i);
		slot_remove(i);
		nr_live--;
		atomic_fetch_sub_explicit(&filter[filter_idx(p)], 1, memory_order_relaxed);
		found = true;
	}
	kunlock(&prof_lock);
	return found;
}

/* ------------------------------------------------------------------ */
/* symbols                                                             */
/* ------------------------------------------------------------------ */

/* The ELF files mapped while a profile is written. */
#define KSYM_FILES 32
struct sym_file {
	char path[256];
	const unsigned char *map;
	size_t size;
	const Elf64_Sym *syms;
	size_t nsyms;
	const char *strtab;
	size_t strsize;
};
struct sym_state {
	struct sym_file files[KSYM_FILES];
	unsigned nfiles;
};

static bool elf_ok(const unsigned char *m, size_t size)
{
	const Elf64_Ehdr *eh = (const void *)m;
	return size >= sizeof *eh && memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
	       eh->e_shoff && eh->e_shoff < size && eh->e_shentsize == sizeof(Elf64_Shdr) &&
	       eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) <= size;
}

/* The symbol table of a file: .symtab, else .dynsym. */
static void elf_symbols(struct sym_file *f)
{
	if (!elf_ok(f->map, f->size))
		return;
	const Elf64_Ehdr *eh = (const void *)f->map;
	const Elf64_Shdr *sh = (const void *)(f->map + eh->e_shoff);
	for (int pass = 0; pass < 2 && !f->syms; pass++) {
		unsigned want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
		for (unsigned i = 0; i < eh->e_shnum; i++) {
			if (sh[i].sh_type != want || sh[i].sh_link >= eh->e_shnum)
				continue;
			const Elf64_Shdr *st = &sh[sh[i].sh_link];
			if (sh[i].sh_offset + sh[i].sh_size > f->size || st->sh_offset + st->sh_size > f->size)
				continue;
			f->syms = (const void *)(f->map + sh[i].sh_offset);
			f->nsyms = sh[i].sh_size / sizeof(Elf64_Sym);
			f->strtab = (const char *)(f->map + st->sh_offset);
			f->strsize = st->sh_size;
			break;
		}
	}
}

static struct sym_file *sym_file(struct sym_state *st, const char *path)
{
	for (unsigned i = 0; i < st->nfiles; i++)
		if (strcmp(st->files[i].path, path) == 0)
			return &st->files[i];
	if (st->nfiles >= KSYM_FILES)
		return NULL;
	struct sym_file *f = &st->files[st->nfiles++];
	memset(f, 0, sizeof *f);
	kformat(f->path, sizeof f->path, "%s", path);
	f->map = kos_map_file(path, &f->size);
	if (f->map)
		elf_symbols(f);
	return f;
}

static void sym_done(struct sym_state *st)
{
	for (unsigned i = 0; i < st->nfiles; i++)
		if (st->files[i].map)
			kos_unmap((void *)st->files[i].map, st->files[i].size);
	st->nfiles = 0;
}

/* The name of the function holding return address pc into buf: the
 * binary's symbol table, then the dynamic symbol dladdr finds, then
 * "object+0xoffset". */
static void symbolize(struct sym_state *st, uintptr_t pc, char *buf, size_t len)
{
	Dl_info di;
	struct link_map *lm = NULL;
	uintptr_t a = pc - 1;   /* inside the call instruction */
	if (!dladdr1((void *)a, &di, (void **)&lm, RTLD_DL_LINKMAP) || !lm) {
		kformat(buf, len, "%p", (void *)pc);
		return;
	}
	const char *path = lm->l_name && lm->l_name[0] ? lm->l_name : "/proc/self/exe";
	struct sym_file *f = sym_file(st, path);
	uintptr_t v = a - lm->l_addr;
	const char *best = NULL;
	uint64_t best_val = 0;
	if (f && f->syms) {
		for (size_t i = 0; i < f->nsyms; i++) {
			const Elf64_Sym *s = &f->syms[i];
			if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF || s->st_name >= f->strsize)
				continue;
			if (v >= s->st_value && v < s->st_value + s->st_size) {
				best = f->strtab + s->st_name;
				break;
			}
			if (v >= s->st_value && s->st_size == 0 && s->st_value >= best_val) {
				best = f->strtab + s->st_name;
				best_val = s->st_value;
			}
		}
	}
	if (!best)
		best = di.dli_sname;
	if (best && *best) {
		kformat(buf, len, "%s", best);
		return;
	}
	/* the main program: the name it was started by, not /proc/self/exe */
	const char *label = lm->l_name && lm->l_name[0] ? path : di.dli_fname && di.dli_fname[0] ? di.dli_fname : path;
	const char *obj = strrchr(label, '/');
	kformat(buf, len, "%s+0x%lx", obj ? obj + 1 : label, (unsigned long)v);
}

/* ------------------------------------------------------------------ */
/* writing the profile                                                 */
/* ------------------------------------------------------------------ */

/* path with "%p" replaced by the pid into buf. */
static void expand_path(char *buf, size_t len, const char *path)
{
	size_t n = 0;
	for (const char *p = path; *p && n + 24 < len; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			n += kformat(buf + n, len - n, "%d", kos_getpid());
			p++;
		} else {
			buf[n++] = *p;
		}
	}
	buf[n] = '\0';
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int write_file(const char *path, struct kout *o)
{
	int fd = kos_open_write(path);
	if (fd < 0)
		return 1;
	kout_flush(o, fd);
	kos_close(fd);
	return 0;
}

int kprof_dump(const char *path)
{
	if (!stacks)
		return 1;
	char file[512], name[256];
	const char *p = path ? path : ktune.prof;
	if (!p || strcmp(p, "1") == 0)
		p = "kalloc.%p.heap";
	expand_path(file, sizeof file - 16, p);
	if (!file[0])
		return 1;

	/* Copy the used stacks out under the lock, then format without it. */
	klock(&prof_lock);
	size_t n = nr_stacks;
	kunlock(&prof_lock);
	size_t bytes = KALIGN_UP((n + 1) * sizeof(struct prof_stack), PAGE_SIZE);
	struct prof_stack *copy = kos_map(bytes, PAGE_SIZE, false, 0);
	if (!copy)
		return 1;
	size_t got = 0;
	uint64_t tot_lc = 0, tot_lb = 0, tot_ac = 0, tot_ab = 0, drops;
	klock(&prof_lock);
	for (unsigned i = 0; i < KPROF_STACKS && got <= n; i++)
		if (stacks[i].hash)
			copy[got++] = stacks[i];
	drops = dropped;
	kunlock(&prof_lock);
	for (size_t i = 0; i < got; i++) {
		tot_lc += copy[i].live_count;
		tot_lb += copy[i].live_bytes;
		tot_ac += copy[i].alloc_count;
		tot_ab += copy[i].alloc_bytes;
	}

	struct kout o;
	kout_init(&o);
	size_t mark;
	do {
		mark = kout_mark(&o);
		kout_printf(&o, "heap profile: %6lu: %8lu [%6lu: %8lu] @ heap_v2/%lu\n", (unsigned long)tot_lc,
		            (unsigned long)tot_lb, (unsigned long)tot_ac, (unsigned long)tot_ab,
		            (unsigned long)ktune.prof_sample);
		for (size_t i = 0; i < got; i++) {
			const struct prof_stack *s = &copy[i];
			kout_printf(&o, "%6lu: %8lu [%6lu: %8lu] @", (unsigned long)s->live_count, (unsigned long)s->live_bytes,
			            (unsigned long)s->alloc_count, (unsigned long)s->alloc_bytes);
			for (unsigned d = 0; d < s->depth; d++)
				kout_printf(&o, " %p", (void *)s->pc[d]);
			kout_printf(&o, "\n");
		}
		kout_printf(&o, "\nMAPPED_LIBRARIES:\n");
	} while (kout_again(&o, mark));
	/* /proc/self/maps, read in pieces into the buffer */
	for (;;) {
		mark = kout_mark(&o);
		size_t room = o.cap - o.len;
		size_t r = o.full ? 0 : kos_read_file("/proc/self/maps", o.buf + o.len, room);
		if (r + 1 < room) {
			o.len += r;
			break;
		}
		o.full = true;
		if (!kout_again(&o, mark))
			break;
	}
	int err = write_file(file, &o);
	/* The collapsed stacks go beside a profile written to a file, not
	 * beside /dev/null or a pipe. */
	bool collapsed = !err && kos_is_regular(file);

	struct sym_state *st = collapsed ? kos_map(sizeof *st, PAGE_SIZE, false, 0) : NULL;
	if (st) {
		do {
			mark = kout_mark(&o);
			for (size_t i = 0; i < got; i++) {
				const struct prof_stack *s = &copy[i];
				if (!s->live_count)
					continue;
				for (unsigned d = s->depth; d-- > 0;) {
					symbolize(st, s->pc[d], name, sizeof name);
					for (char *c = name; *c; c++)
						if (*c == ';' || *c == ' ')
							*c = '_';
					kout_printf(&o, "%s%s", name, d ? ";" : "");
				}
				/* the sampled bytes, scaled as pprof scales them */
				double avg = (double)s->live_bytes / (double)s->live_count;
				double q = 1 - kexp_neg(avg / (double)ktune.prof_sample);
				uint64_t est = q > 0 ? (uint64_t)((double)s->live_bytes / q) : s->live_bytes;
				kout_printf(&o, " %lu\n", (unsigned long)est);
			}
		} while (kout_again(&o, mark));
		sym_done(st);
		kos_unmap(st, sizeof *st);
		size_t fl = strlen(file);
		kformat(file + fl, sizeof file - fl, ".collapsed");
		err |= write_file(file, &o);
	}
	if (drops)
		kreport("KALLOC_PROF: %lu samples dropped (the profile's tables are full)", (unsigned long)drops);
	kout_done(&o);
	kos_unmap(copy, bytes);
	return err;
}

/* ------------------------------------------------------------------ */
/* reports: at exit and on the signal                                  */
/* ------------------------------------------------------------------ */

/* The KALLOC_STATS report: "1" (or unset, for the signal) to stderr as
 * text; a path ("%p": the pid) ending in .json as JSON, replacing the
 * file; any other path as text, appended. */
static void stats_report(void)
{
	const char *v = ktune.stats;
	if (!v || strcmp(v, "1") == 0) {
		kstats_write(NULL, NULL, 2, KALLOC_STATS_TEXT);
		return;
	}
	char path[512];
	expand_path(path, sizeof path, v);
	bool json = ends_with(path, ".json");
	int fd = json ? kos_open_write(path) : kos_open_append(path);
	if (fd < 0) {
		kreport("KALLOC_STATS: cannot open %s; printing to stderr", path);
		kstats_write(NULL, NULL, 2, KALLOC_STATS_TEXT);
		return;
	}
	kstats_write(NULL, NULL, fd, json ? KALLOC_STATS_JSON : KALLOC_STATS_TEXT);
	kos_close(fd);
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store_explicit(&signal_pending, 1, memory_order_relaxed);
}

static void serve_signal(void)
{
	if (!atomic_exchange(&signal_pending, 0))
		return;
	stats_report();
	if (kprof_on)
		kprof_dump(NULL);
}

/* ------------------------------------------------------------------ */
/* the segment                                                         */
/* ------------------------------------------------------------------ */

static struct ksnap *shm;         /* the segment, mapped shared */
static struct ksnap *shm_next;    /* the next snapshot, private */
static int shm_pid;
static _Atomic uint64_t shm_last_ns;
static _Atomic int shm_busy;

static void shm_path(char *buf, size_t len, int pid)
{
	kformat(buf, len, "/dev/shm/kalloc.%d", pid);
}

static void shm_publish(void)
{
	int pid = kos_getpid();
	char path[64];
	if (pid != shm_pid) {
		/* a child of fork: the segment is the parent's */
		if (shm)
			kos_unmap(shm, sizeof *shm);
		shm_path(path, sizeof path, pid);
		shm = kos_shm_create(path, sizeof *shm);
		shm_pid = pid;
		if (!shm)
			return;
		shm->magic = KSNAP_MAGIC;
		shm->version = KSNAP_VERSION;
		shm->size = (uint32_t)sizeof *shm;
	}
	if (!shm || !shm_next)
		return;
	kstats_snapshot(shm_next, true);
	uint64_t seq = __atomic_load_n(&shm->seq, __ATOMIC_RELAXED);
	shm_next->updates = shm->updates + 1;
	__atomic_store_n(&shm->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	size_t from = offsetof(struct ksnap, pid);
	memcpy((char *)shm + from, (char *)shm_next + from, sizeof *shm - from);
	__atomic_store_n(&shm->seq, seq + 2, __ATOMIC_RELEASE);
}

static void shm_tick(void)
{
	if (!ktune.shm)
		return;
	uint64_t now = kos_now_ns();
	if (now - atomic_load_explicit(&shm_last_ns, memory_order_relaxed) < KSHM_PERIOD_MS * 1000000ULL)
		return;
	if (atomic_exchange(&shm_busy, 1))
		return;
	atomic_store(&shm_last_ns, now);
	shm_publish();
	atomic_store(&shm_busy, 0);
}

/* ------------------------------------------------------------------ */
/* start and exit                                                      */
/* ------------------------------------------------------------------ */

void kprof_init(void)
{
	kos_random(&rng_secret, sizeof rng_secret);
	if (ktune.prof) {
		stacks = kos_map(KPROF_STACKS * sizeof *stacks, PAGE_SIZE, true, 0);
		slots = kos_map(KPROF_SLOTS * sizeof *slots, PAGE_SIZE, true, 0);
		filter = kos_map(KPROF_FILTER * sizeof *filter, PAGE_SIZE, true, 0);
		if (stacks && slots && filter)
			kprof_on = true;
		else
			kreport("KALLOC_PROF: no memory for the profile's tables; not sampling");
	}
	if (ktune.stats_signal) {
		stats_signal = kos_signal_number(ktune.stats_signal);
		if (!stats_signal || kos_signal_flag(stats_signal, on_signal) != 0)
			kreport("KALLOC_STATS_SIGNAL=%s: not a signal kalloc can catch (USR1, USR2, HUP, a number)",
			        ktune.stats_signal);
		else
			ticking = true;
	}
	if (ktune.shm) {
		shm_next = kos_map(sizeof *shm_next, PAGE_SIZE, false, 0);
		ticking = true;
	}
}

void kprof_fork_prepare(void)
{
	klock(&prof_lock);
}

void kprof_fork_parent(void)
{
	kunlock(&prof_lock);
}

void kprof_fork_child(void)
{
	klock_reinit(&prof_lock);
}

void kprof_exit(void)
{
	if (ktune.stats)
		stats_report();
	if (kprof_on)
		kprof_dump(NULL);
	if (shm && shm_pid == kos_getpid()) {
		char path[64];
		shm_path(path, sizeof path, shm_pid);
		kos_unlink(path);
	}
}
