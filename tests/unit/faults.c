/* SPDX-License-Identifier: MIT */
/*
 * faults: what the kernel may do, made to happen.  This program defines
 * mmap, munmap, mremap, open and syscall itself, so the allocator core
 * linked into it calls these; each forwards to the kernel (raw system
 * calls) unless a case asks it to fail the way the kernel can.  Each case
 * runs in a child.
 *
 *  - high_address: the OS hands out a chunk at or above 2^47 (5-level
 *    paging).  The page layer must refuse it (NULL, ENOMEM), not index its
 *    chunk tables out of bounds and hand out pages there.
 *  - remap_fails: growing a huge block fails in mremap.  The kernel's
 *    MREMAP_FIXED unmaps its target before it can fail; another thread maps
 *    into that hole before the allocator cleans up.  realloc must return
 *    NULL with the block intact, and the other thread's mapping must survive
 *    (kalloc used to unmap the whole reserved target).
 *  - membarrier_fails (per-CPU mode): the kernel refuses the membarrier
 *    fence (ENOMEM).  kmem_cache_shrink and malloc_trim must carry on,
 *    kmem_cache_destroy must refuse (-EBUSY, with a report) and succeed once
 *    the fence works again (kalloc used to abort).
 *  - no_sys (the CPU count without /sys): with this thread allowed only on
 *    the highest CPU, kos_ncpus must still count up to that CPU (kalloc
 *    counted the CPUs of the affinity mask: 1, and a thread on CPU 1 indexed
 *    past the per-CPU regions).
 *  - reclaim_races_destroy: mappings fail (ENOMEM) in one thread, so reclaim
 *    walks every cache, while another thread creates and destroys caches.
 */
/* Both names of each interposed function are defined below (the core is
 * built with 64-bit file offsets, which renames mmap and open). */
#undef _FILE_OFFSET_BITS
#include "internal.h"
#include "ktest.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)

/* ---- the kernel, reached without libc ----------------------------------- */

static long raw6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
	                 : "rcx", "r11", "memory");
	return ret;
}

static long result(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* ---- what the allocator calls ------------------------------------------- */

static atomic_int fake_high;            /* the next chunk mapping lands at 2^47 */
static atomic_int fail_mremap;          /* mremap fails, as the kernel may */
static void *intruder;                  /* what "another thread" mapped in the hole */
static atomic_int fail_membarrier;
static atomic_int no_sys;
static __thread int fail_maps;          /* this thread's next mappings fail (ENOMEM) */

#define HIGH ((uintptr_t)1 << 47)

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (len == KCHUNK_SIZE && atomic_exchange(&fake_high, 0))
		return (void *)HIGH;
	if (fail_maps > 0) {
		fail_maps--;
		errno = ENOMEM;
		return MAP_FAILED;
	}
	long r = result(raw6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off));
	return r == -1 ? MAP_FAILED : (void *)r;
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

int munmap(void *addr, size_t len)
{
	if ((uintptr_t)addr >= HIGH)
		return 0;   /* the fake chunk */
	return (int)result(raw6(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0));
}

void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (atomic_exchange(&fail_mremap, 0)) {
		/* As the kernel's mremap_to: the target goes first, then the
		 * move fails; meanwhile another thread maps into the hole. */
		if (flags & MREMAP_FIXED) {
			raw6(SYS_munmap, (long)new_addr, (long)new_size, 0, 0, 0, 0);
			long r = raw6(SYS_mmap, (long)new_addr, 1 << 20, PROT_READ | PROT_WRITE,
			              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (r == (long)new_addr) {
				intruder = new_addr;
				memset(intruder, 0x5a, 1 << 20);
			}
		}
		errno = ENOMEM;
		return MAP_FAILED;
	}
	long r = result(raw6(SYS_mremap, (long)old, (long)old_size, (long)new_size, flags, (long)new_addr, 0));
	return r == -1 ? MAP_FAILED : (void *)r;
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (atomic_load(&no_sys) && strncmp(path, "/sys/", 5) == 0) {
		errno = ENOENT;
		return -1;
	}
	return (int)result(raw6(SYS_openat, AT_FDCWD, (long)path, flags, mode, 0, 0));
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

long syscall(long n, ...)
{
	va_list ap;
	va_start(ap, n);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
	long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_membarrier && atomic_load(&fail_membarrier)) {
		errno = ENOMEM;
		return -1;
	}
	return result(raw6(n, a, b, c, d, e, f));
}

/* ---- the cases ----------------------------------------------------------- */

static int high_address(void *arg)
{
	(void)arg;
	/* Use up the free max-order blocks, so the next one needs a chunk. */
	static void *held[4096];
	int n = 0;
	for (;;) {
		struct page *pg = kpage_alloc(GFP_NOWAIT, MAX_ORDER);   /* never maps */
		if (!pg)
			break;
		held[n++] = pg;
		if (n == 4096)
			return 10;
	}
	atomic_store(&fake_high, 1);
	errno = 0;
	struct page *pg = alloc_pages(GFP_KERNEL | __GFP_NOWARN, MAX_ORDER);
	if (atomic_load(&fake_high))
		return 11;   /* no chunk was mapped: the case did not happen */
	if (pg && (uintptr_t)page_address(pg) >= HIGH)
		return 1;    /* pages handed out beyond the registry */
	if (kchunk_of((void *)HIGH) != NULL)
		return 2;
	/* Either refused (the fake chunk), or served from a real chunk mapped
	 * on the retry; never the fake one. */
	if (pg)
		__free_pages(pg, MAX_ORDER);
	else if (errno != ENOMEM)
		return 3;
	for (int i = 0; i < n; i++)
		kpage_free(held[i]);
	void *p = malloc(100);
	return p ? 0 : 4;
}

static int remap_fails(void *arg)
{
	(void)arg;
	size_t old = 8 << 20, grown = 64 << 20;
	unsigned char *p = malloc(old);
	if (!p)
		return 10;
	pattern_fill(p, old, 7);
	atomic_store(&fail_mremap, 1);
	errno = 0;
	void *q = realloc(p, grown);
	if (atomic_load(&fail_mremap))
		return 11;   /* mremap was not called */
	if (q != NULL || errno != ENOMEM)
		return 1;
	if (pattern_check(p, old, 7) != old)
		return 2;    /* the block changed */
	if (intruder) {
		/* The other thread's mapping must be there: touch it all. */
		unsigned char *m = intruder;
		for (size_t i = 0; i < (1 << 20); i += 4096)
			if (m[i] != 0x5a)
				return 3;
		memset(m, 1, 1 << 20);
	}
	q = realloc(p, grown);   /* works again */
	if (!q || pattern_check(q, old, 7) != old)
		return 4;
	free(q);
	return 0;
}

static int membarrier_fails(void *arg)
{
	(void)arg;
	if (kfront_mode != KF_RSEQ)
		return 77;
	struct kmem_cache *c = kmem_cache_create("faults", 96, 0, 0, NULL);
	if (!c || c->front_idx < 0)
		return 10;
	void *objs[64];
	for (int i = 0; i < 64; i++)
		objs[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < 64; i++)
		kmem_cache_free(c, objs[i]);   /* into this CPU's stack */
	free(malloc(64));
	atomic_store(&fail_membarrier, 1);
	kmem_cache_shrink(c);
	malloc_trim(0);
	struct capture cap;
	char out[512];
	capture_begin(&cap);
	int rc = kmem_cache_destroy(c);
	capture_end(&cap, out, sizeof out);
	if (rc != -EBUSY || !contains(out, "faults") || !contains(out, "membarrier"))
		return 1;
	void *o = kmem_cache_alloc(c, GFP_KERNEL);   /* the cache still works */
	if (!o)
		return 2;
	kmem_cache_free(c, o);
	atomic_store(&fail_membarrier, 0);
	if (kmem_cache_destroy(c) != 0)
		return 3;
	return 0;
}

static int no_sys_count(void *arg)
{
	(void)arg;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 10;
	int highest = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			highest = c;
	if (highest < 1)
		return 77;   /* one CPU: nothing to tell apart */
	CPU_ZERO(&set);
	CPU_SET(highest, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		return 11;
	atomic_store(&no_sys, 1);
	unsigned n = kos_ncpus();
	atomic_store(&no_sys, 0);
	if (n <= (unsigned)highest) {
		test_msg("kos_ncpus() = %u without /sys, on CPU %d", n, highest);
		return 1;
	}
	return 0;
}

static atomic_int stop;

static void *churn_caches(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !atomic_load(&stop); i++) {
		char name[32];
		snprintf(name, sizeof name, "race-%u", i % 7);
		struct kmem_cache *c = kmem_cache_create(name, 32 + (i % 5) * 48, 0, 0, NULL);
		if (!c)
			return (void *)1;
		void *o[16];
		for (int k = 0; k < 16; k++)
			o[k] = kmem_cache_alloc(c, GFP_KERNEL);
		for (int k = 0; k < 16; k++)
			kmem_cache_free(c, o[k]);
		if (kmem_cache_destroy(c) != 0)
			return (void *)2;
	}
	return NULL;
}

static int reclaim_races_destroy(void *arg)
{
	(void)arg;
	pthread_t t;
	if (pthread_create(&t, NULL, churn_caches, NULL) != 0)
		return 10;
	uint64_t t0 = kos_now_ns();
	unsigned reclaims = 0;
	while (kos_now_ns() - t0 < 700000000ull) {
		fail_maps = 1;   /* this thread only: the first try fails, reclaim runs, the retry maps */
		void *p = kos_map(1 << 20, PAGE_SIZE, false, 0);
		if (p)
			kos_unmap(p, 1 << 20);
		reclaims++;
	}
	atomic_store(&stop, 1);
	void *rv;
	pthread_join(t, &rv);
	if (rv)
		return 1;
	return reclaims ? 0 : 11;
}

static void run(const char *name, int (*fn)(void *))
{
	static struct child_result r;
	run_child(fn, NULL, 30000, &r);
	char how[128];
	if (child_exit(&r) == 77) {
		test_msg("%s: skipped", name);
		return;
	}
	CHECKF(child_exit(&r) == 0, "%s: %s\n%s", name, child_describe(&r, how, sizeof how), r.err);
}

int main(void)
{
	free(malloc(1));
	run("high_address", high_address);
	run("remap_fails", remap_fails);
	run("membarrier_fails", membarrier_fails);
	run("no_sys", no_sys_count);
	run("reclaim_races_destroy", reclaim_races_destroy);
	return check_done();
}

#else
int main(void)
{
	return 77;   /* the interposers forward with x86-64 system calls */
}
#endif
