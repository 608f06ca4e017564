/* SPDX-License-Identifier: MIT */
/*
 * GFP_ATOMIC and GFP_NOWAIT: an allocation without __GFP_DIRECT_RECLAIM
 * makes no memory system call, never sleeps on a lock and never deadlocks,
 * even from a signal handler that interrupted the same thread while it held
 * allocator locks; __GFP_HIGH (GFP_ATOMIC) may use the zone's reserve, so it
 * succeeds where GFP_NOWAIT fails.
 *
 * The program is linked with --wrap for mmap, munmap, mremap, madvise,
 * mprotect, sched_yield, syscall (membarrier) and pthread_mutex_lock: the
 * wrappers count every call made while `forbid` is set (in the handler, and
 * around the GFP_NOWAIT / GFP_ATOMIC calls of the main flow).  A blocking
 * lock taken there would also be the deadlock this guards against.
 */
#include "internal.h"
#include "ktest.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t forbid;
static _Atomic unsigned long violations;
static const char *_Atomic last_violation;

static void seen(const char *what)
{
	if (forbid) {
		atomic_fetch_add(&violations, 1);
		atomic_store(&last_violation, what);
	}
}

void *__real_mmap(void *, size_t, int, int, int, off_t);
int __real_munmap(void *, size_t);
void *__real_mremap(void *, size_t, size_t, int, ...);
int __real_madvise(void *, size_t, int);
int __real_mprotect(void *, size_t, int);
int __real_sched_yield(void);
long __real_syscall(long, ...);
int __real_pthread_mutex_lock(pthread_mutex_t *);

void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
	seen("mmap");
	return __real_mmap(a, n, prot, flags, fd, off);
}
int __wrap_munmap(void *a, size_t n)
{
	seen("munmap");
	return __real_munmap(a, n);
}
void *__wrap_mremap(void *a, size_t o, size_t n, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	void *t = va_arg(ap, void *);
	va_end(ap);
	seen("mremap");
	return __real_mremap(a, o, n, flags, t);
}
int __wrap_madvise(void *a, size_t n, int adv)
{
	seen("madvise");
	return __real_madvise(a, n, adv);
}
int __wrap_mprotect(void *a, size_t n, int prot)
{
	seen("mprotect");
	return __real_mprotect(a, n, prot);
}
int __wrap_sched_yield(void)
{
	seen("sched_yield");
	return __real_sched_yield();
}
long __wrap_syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
	va_end(ap);
	seen("syscall");
	return __real_syscall(nr, a1, a2, a3);
}
int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
	seen("pthread_mutex_lock");
	return __real_pthread_mutex_lock(m);
}

/* What the handler allocated, freed by the main loop (a ring written by the
 * handler and read by the thread it interrupts). */
enum { RING = 4096 };
struct got {
	int kind;   /* 0 kmalloc, 1 pages (order in n), 2 cache object */
	size_t n;
	void *p;
};
static struct got ring[RING];
static _Atomic unsigned ring_head, ring_tail;
static struct kmem_cache *objs;
static _Atomic unsigned long handled, atomic_ok, atomic_fail;

static void keep(int kind, size_t n, void *p)
{
	unsigned h = atomic_load(&ring_head);
	if (h - atomic_load(&ring_tail) >= RING) {
		/* full: should not happen (the main loop drains often) */
		atomic_fetch_add(&violations, 1);
		atomic_store(&last_violation, "ring full");
		return;
	}
	ring[h % RING] = (struct got){ kind, n, p };
	atomic_store(&ring_head, h + 1);
}

static void drain_ring(void)
{
	unsigned t = atomic_load(&ring_tail);
	while (t != atomic_load(&ring_head)) {
		struct got g = ring[t % RING];
		if (g.kind == 0)
			kfree(g.p);
		else if (g.kind == 1)
			free_pages((unsigned long)g.p, (unsigned)g.n);
		else
			kmem_cache_free(objs, g.p);
		atomic_store(&ring_tail, ++t);
	}
}

static unsigned long hseed = 7;

static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	forbid = 1;
	static const size_t sizes[] = { 8, 24, 64, 200, 1000, 4096, 9000, 30000, 50000, 200000, 1 << 20, 5 << 20 };
	const gfp_t gfp = GFP_ATOMIC | __GFP_NOWARN;
	hseed = hseed * 6364136223846793005ul + 1442695040888963407ul;
	size_t n = sizes[(hseed >> 33) % (sizeof sizes / sizeof sizes[0])];
	void *p = kmalloc(n, gfp);
	if (p)
		keep(0, n, p);
	struct page *pg = alloc_pages(gfp, (unsigned)((hseed >> 40) % 3));
	if (pg)
		keep(1, (hseed >> 40) % 3, page_address(pg));
	void *o = kmem_cache_alloc(objs, gfp);
	if (o)
		keep(2, 0, o);
	atomic_fetch_add(&atomic_ok, (p != NULL) + (pg != NULL) + (o != NULL));
	atomic_fetch_add(&atomic_fail, (p == NULL) + (pg == NULL) + (o == NULL));
	atomic_fetch_add(&handled, 1);
	forbid = 0;
	errno = saved;
}

static pthread_t victim;
static _Atomic int stop;

static void *signaller(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		pthread_kill(victim, SIGUSR1);
		usleep(40);
	}
	return NULL;
}

/* The interrupted thread: every slow path that takes a lock of kalloc. */
static void churn(long ms)
{
	uint64_t r = 42;
	void *v[64] = { 0 };
	long long end = now_ms() + ms;
	unsigned long round = 0;
	while (now_ms() < end) {
		unsigned i = (unsigned)rng_range(&r, 0, 63);
		if (v[i]) {
			kfree(v[i]);
			v[i] = NULL;
		} else {
			v[i] = kmalloc(stress_size(rng_next(&r)) % (300 << 10) + 1, GFP_KERNEL);
		}
		unsigned order = (unsigned)rng_range(&r, 0, 4);
		struct page *pg = alloc_pages(GFP_KERNEL, order);
		if (pg)
			__free_pages(pg, order);
		void *o = kmem_cache_alloc(objs, GFP_KERNEL);
		kmem_cache_free(objs, o);
		if (++round % 64 == 0) {
			kmem_cache_shrink(objs);
			drain_ring();
		}
	}
	for (unsigned i = 0; i < 64; i++)
		kfree(v[i]);
	drain_ring();
}

/* GFP_NOWAIT takes pages until the zone is down to its reserve; GFP_ATOMIC
 * still gets some; GFP_KERNEL grows the zone. */
static void reserve(void)
{
	enum { MAX = 1 << 18 };
	void **v = mmap(NULL, MAX * sizeof *v, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(v != MAP_FAILED);
	if (v == MAP_FAILED)
		return;
	size_t n = 0;
	forbid = 1;
	while (n < MAX - 16 && (v[n] = (void *)__get_free_pages(GFP_NOWAIT | __GFP_NOWARN, 0)) != NULL)
		n++;
	size_t nowait = n;
	void *again = (void *)__get_free_pages(GFP_NOWAIT | __GFP_NOWARN, 0);
	void *a1 = (void *)__get_free_pages(GFP_ATOMIC | __GFP_NOWARN, 0);
	void *a2 = (void *)__get_free_pages(GFP_ATOMIC | __GFP_NOWARN, 0);
	forbid = 0;
	CHECKF(nowait > 0 && n < MAX - 16, "GFP_NOWAIT took %zu pages", nowait);
	CHECKF(again == NULL, "GFP_NOWAIT went on into the reserve");
	CHECKF(a1 != NULL && a2 != NULL, "GFP_ATOMIC did not get the reserve");
	void *k = (void *)__get_free_pages(GFP_KERNEL, 0);
	CHECKF(k != NULL, "GFP_KERNEL could not grow the zone");
	free_page((unsigned long)k);
	free_page((unsigned long)a1);
	free_page((unsigned long)a2);
	free_page((unsigned long)again);
	for (size_t i = 0; i < n; i++)
		free_page((unsigned long)v[i]);
	munmap(v, MAX * sizeof *v);
}

int main(void)
{
	objs = kmem_cache_create("atomic_objs", 96, 0, 0, NULL);
	CHECK(objs != NULL);
	churn(50);   /* warm: every path set up */
	reserve();

	victim = pthread_self();
	set_handler(SIGUSR1, on_signal, SA_RESTART);
	pthread_t t;
	pthread_create(&t, NULL, signaller, NULL);
	churn(1500);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	signal(SIGUSR1, SIG_IGN);
	drain_ring();

	unsigned long v = atomic_load(&violations);
	CHECKF(v == 0, "%lu forbidden calls without __GFP_DIRECT_RECLAIM (the last: %s)", v,
	       atomic_load(&last_violation) ? atomic_load(&last_violation) : "-");
	CHECKF(atomic_load(&handled) > 1000, "only %lu signals handled", atomic_load(&handled));
	CHECKF(atomic_load(&atomic_ok) > atomic_load(&handled), "GFP_ATOMIC succeeded %lu times in %lu signals",
	       atomic_load(&atomic_ok), atomic_load(&handled));
	test_msg("%lu signals, GFP_ATOMIC: %lu allocations, %lu failures\n", atomic_load(&handled),
	         atomic_load(&atomic_ok), atomic_load(&atomic_fail));
	CHECK(kmem_cache_destroy(objs) == 0);
	return check_done();
}
