/* SPDX-License-Identifier: MIT */
/*
 * slab_threads: objects allocated by one thread and freed by another.
 * Eight threads each allocate objects, fill them with a pattern naming the
 * object, and hand them to the other threads through mutex-protected queues;
 * every thread checks and frees what it receives.  Run with a cache created
 * by the test (then destroyed: it must be empty, so destroy returns 0) and
 * with kmalloc of mixed sizes (slab classes and page blocks).  Every object
 * must arrive intact (a block handed out twice while live would have its
 * pattern overwritten) at a thread other than its producer, and all of
 * them must come back.
 */
#include "internal.h"
#include "ktest.h"

#include <pthread.h>
#include <stdatomic.h>

#define NTHREADS 8
#define PER_THREAD 25000

struct msg {
	struct msg *next;
	uint64_t id;      /* producer << 32 | sequence */
	uint32_t size;
	uint32_t check;
	/* pattern bytes follow, up to size */
};

struct queue {
	pthread_mutex_t lock;
	struct msg *head;
} __attribute__((aligned(64)));

static struct queue queues[NTHREADS];
static struct kmem_cache *cache;   /* NULL: kmalloc */
static _Atomic size_t consumed;
static _Atomic int failures;

static void fail(const char *what, const void *p, uint64_t id)
{
	atomic_fetch_add(&failures, 1);
	if (atomic_load(&failures) < 20)
		test_msg("slab_threads: %s: object %p id %#lx", what, p, (unsigned long)id);
}

static size_t pick_size(uint64_t *r)
{
	if (cache)
		return kmem_cache_size(cache);
	uint64_t x = rng_range(r, 0, 99);
	if (x < 70)
		return (size_t)rng_range(r, sizeof(struct msg), 256);
	if (x < 97)
		return (size_t)rng_range(r, 257, 8192);
	return (size_t)rng_range(r, 32769, 70000);
}

static void produce(uint64_t *r, unsigned self, uint32_t seq)
{
	size_t size = pick_size(r);
	struct msg *m = cache ? kmem_cache_alloc(cache, GFP_KERNEL) : kmalloc(size, GFP_KERNEL);
	if (!m) {
		fail("allocation failed", NULL, seq);
		return;
	}
	m->id = (uint64_t)self << 32 | seq;
	m->size = (uint32_t)size;
	m->check = (uint32_t)(m->id * 2654435761u);
	pattern_fill(m + 1, size - sizeof *m, m->id);
	unsigned to = (self + 1 + seq % (NTHREADS - 1)) % NTHREADS;
	pthread_mutex_lock(&queues[to].lock);
	m->next = queues[to].head;
	queues[to].head = m;
	pthread_mutex_unlock(&queues[to].lock);
}

static size_t consume(unsigned self)
{
	pthread_mutex_lock(&queues[self].lock);
	struct msg *m = queues[self].head;
	queues[self].head = NULL;
	pthread_mutex_unlock(&queues[self].lock);
	size_t n = 0;
	while (m) {
		struct msg *next = m->next;
		if (m->check != (uint32_t)(m->id * 2654435761u) ||
		    pattern_check(m + 1, m->size - sizeof *m, m->id) != m->size - sizeof *m)
			fail("object corrupted", m, m->id);
		if ((m->id >> 32) == self)
			fail("object delivered to its producer", m, m->id);
		if (cache)
			kmem_cache_free(cache, m);
		else
			kfree(m);
		m = next;
		n++;
	}
	atomic_fetch_add(&consumed, n);
	return n;
}

static void *worker(void *arg)
{
	unsigned self = (unsigned)(uintptr_t)arg;
	uint64_t r = 0x7468726561647300ull + self;
	for (uint32_t seq = 0; seq < PER_THREAD; seq++) {
		produce(&r, self, seq);
		if (seq % 16 == 0)
			consume(self);
	}
	while (atomic_load(&consumed) < (size_t)NTHREADS * PER_THREAD) {
		if (!consume(self))
			sched_yield();
	}
	return NULL;
}

static void run(const char *what)
{
	pthread_t t[NTHREADS];
	atomic_store(&consumed, 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	CHECKF(atomic_load(&consumed) == (size_t)NTHREADS * PER_THREAD, "%s: %zu of %d objects came back", what,
	       atomic_load(&consumed), NTHREADS * PER_THREAD);
	int f = atomic_exchange(&failures, 0);
	CHECKF(f == 0, "%s: %d failures in the threads", what, f);
	for (unsigned i = 0; i < NTHREADS; i++)
		CHECK(queues[i].head == NULL);
}

int main(void)
{
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_mutex_init(&queues[i].lock, NULL);

	cache = kmem_cache_create("unit_xthread", 96, 0, SLAB_HWCACHE_ALIGN, NULL);
	CHECK(cache != NULL);
	if (cache) {
		run("custom cache");
		CHECKF(kmem_cache_destroy(cache) == 0, "the cache is not empty after every object came back");
	}
	cache = NULL;
	run("kmalloc");
	return check_done();
}
