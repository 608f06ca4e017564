/* SPDX-License-Identifier: MIT */
/*
 * The memory limit and shrinkers: a program whose cache is held by a
 * shrinker allocates far more than the limit in total, and succeeds, while
 * kalloc's charge stays under the limit; GFP_NOFS reaches the shrinker,
 * which declines; __GFP_NORETRY fails where __GFP_RETRY_MAYFAIL succeeds
 * after reclaim; a shrinker that frees nothing, or returns nonsense, is
 * dropped and the allocation fails instead of looping; __GFP_NOFAIL
 * reclaims, and aborts with a report only when nothing can be freed; a
 * shrinker that allocates does not deadlock; kmem_cache_alloc_bulk,
 * kmem_cache_free_bulk and kmem_cache_shrink against the slab counts.
 */
#include "internal.h"
#include "ktest.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define MIB (1UL << 20)
#define LIMIT (48 * MIB)

/* The program's cache: 4 KiB objects on a list, oldest first; the
 * shrinker frees the oldest. */
struct obj {
	struct obj *next;
	char data[4096 - sizeof(struct obj *)];
};
static struct obj *head, *tail;
static unsigned long cached, scans, scanned, declined, allocs_in_scan;
static gfp_t last_mask;
static int decline_nofs, allocate_in_scan;

static unsigned long count(struct shrinker *s, struct shrink_control *sc)
{
	(void)s;
	(void)sc;
	return cached ? cached : SHRINK_EMPTY;
}

static unsigned long scan(struct shrinker *s, struct shrink_control *sc)
{
	(void)s;
	scans++;
	last_mask = sc->gfp_mask;
	if (decline_nofs && !(sc->gfp_mask & __GFP_FS)) {
		declined++;
		return SHRINK_STOP;
	}
	if (allocate_in_scan) {
		/* a shrinker that allocates: no reclaim again, no deadlock */
		void *p = kmalloc(256, GFP_KERNEL);
		allocs_in_scan += p != NULL;
		kfree(p);
	}
	unsigned long n = 0;
	while (n < sc->nr_to_scan && head) {
		struct obj *o = head;
		head = o->next;
		if (!head)
			tail = NULL;
		kfree(o);
		n++;
		cached--;
	}
	scanned += n;
	return n;
}

static struct shrinker cache_shrinker = {
	.count_objects = count,
	.scan_objects = scan,
	.seeks = DEFAULT_SEEKS,
};

static int add(gfp_t gfp)
{
	struct obj *o = kmalloc(sizeof *o, gfp);
	if (!o)
		return 0;
	memset(o->data, 0x5a, sizeof o->data);
	o->next = NULL;
	if (tail)
		tail->next = o;
	else
		head = o;
	tail = o;
	cached++;
	return 1;
}

static void drop_all(void)
{
	while (head) {
		struct obj *o = head;
		head = o->next;
		kfree(o);
	}
	tail = NULL;
	cached = 0;
}

/* Far more than the limit in total, all of it kept until the shrinker
 * takes it. */
static void many(void)
{
	size_t max_charged = 0, n = 0, total = 512 * MIB / sizeof(struct obj);
	for (size_t i = 0; i < total; i++) {
		if (!add(GFP_KERNEL)) {
			CHECKF(0, "allocation %zu of %zu failed under the limit", i, total);
			break;
		}
		n++;
		if (i % 256 == 0)
			max_charged = KMAX(max_charged, kalloc_charged());
	}
	CHECKF(max_charged <= LIMIT, "charged %zu MiB, limit %lu MiB", max_charged / MIB, LIMIT / MIB);
	CHECKF(scans > 0 && scanned > n / 2, "the shrinker freed %lu objects in %lu calls", scanned, scans);
	CHECKF(rss_bytes() < LIMIT + 40 * MIB, "RSS %zu MiB", rss_bytes() / MIB);
	test_msg("%zu MiB allocated in all, at most %zu MiB charged (limit %lu), RSS %zu MiB, %lu scans\n",
	         n * sizeof(struct obj) / MIB, max_charged / MIB, LIMIT / MIB, rss_bytes() / MIB, scans);
}

/* Fills the cache up to the limit (with the shrinker unregistered for the
 * while: else it would make room for ever). */
static void fill(void)
{
	unregister_shrinker(&cache_shrinker);
	while (add(GFP_KERNEL | __GFP_NOWARN))
		;
}

static void retry_policy(void)
{
	fill();
	CHECKF(cached > (LIMIT / sizeof(struct obj)) / 2, "filled with %lu objects only", cached);
	CHECK(register_shrinker(&cache_shrinker, "test-cache") == 0);
	CHECK(register_shrinker(&cache_shrinker, "test-cache") == -EEXIST);

	unsigned long s0 = scans;
	void *p = kmalloc(2 * MIB, GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
	CHECKF(p == NULL, "__GFP_NORETRY succeeded at the limit with the cache full");
	CHECKF(scans == s0, "__GFP_NORETRY ran the shrinker");
	kfree(p);

	decline_nofs = 1;
	s0 = scans;
	p = kmalloc(2 * MIB, GFP_NOFS | __GFP_NOWARN);
	CHECKF(p == NULL, "the shrinker declined under GFP_NOFS, yet the allocation succeeded");
	CHECKF(scans > s0 && declined > 0, "the shrinker was not asked under GFP_NOFS");
	CHECKF(!(last_mask & __GFP_FS) && (last_mask & __GFP_IO), "gfp_mask %#x is not GFP_NOFS's", last_mask);
	kfree(p);
	decline_nofs = 0;

	s0 = scans;
	p = kmalloc(2 * MIB, GFP_KERNEL | __GFP_RETRY_MAYFAIL);
	CHECKF(p != NULL, "__GFP_RETRY_MAYFAIL failed with a shrinker that can free");
	CHECKF(scans > s0, "__GFP_RETRY_MAYFAIL did not run the shrinker");
	kfree(p);

	/* a shrinker that allocates while it frees */
	fill();
	CHECK(register_shrinker(&cache_shrinker, "test-cache") == 0);
	allocate_in_scan = 1;
	p = kmalloc(4 * MIB, GFP_KERNEL);
	CHECKF(p != NULL && allocs_in_scan > 0, "allocating shrinker: %p, %lu allocations", p, allocs_in_scan);
	kfree(p);
	allocate_in_scan = 0;
}

/* Shrinkers that free nothing, or say they freed more than they scanned. */
static unsigned long lazy_calls, liar_calls;
static unsigned long lazy_count(struct shrinker *s, struct shrink_control *sc)
{
	(void)s, (void)sc;
	return 1000;
}
static unsigned long lazy_scan(struct shrinker *s, struct shrink_control *sc)
{
	(void)s, (void)sc;
	lazy_calls++;
	return 0;
}
static unsigned long liar_scan(struct shrinker *s, struct shrink_control *sc)
{
	(void)s;
	liar_calls++;
	return sc->nr_to_scan + 1000;
}
static struct shrinker lazy = { .count_objects = lazy_count, .scan_objects = lazy_scan, .seeks = DEFAULT_SEEKS };
static struct shrinker liar = { .count_objects = lazy_count, .scan_objects = liar_scan, .seeks = DEFAULT_SEEKS };

static void broken(void)
{
	fill();
	CHECK(register_shrinker(&lazy, "lazy") == 0);
	CHECK(register_shrinker(&liar, "liar") == 0);
	struct capture cap;
	char out[4096];
	capture_begin(&cap);
	long long t0 = now_ms();
	int fails = 0;
	for (int i = 0; i < 12; i++) {
		void *p = kmalloc(2 * MIB, GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
		fails += p == NULL;
		kfree(p);
	}
	long long ms = now_ms() - t0;
	capture_end(&cap, out, sizeof out);
	CHECKF(fails == 12, "%d of 12 allocations failed with only useless shrinkers", fails);
	CHECKF(ms < 10000, "12 failing allocations took %lld ms", ms);
	CHECKF(contains(out, "shrinker lazy") && contains(out, "freed nothing"), "no report on 'lazy': %s", out);
	CHECKF(contains(out, "shrinker liar") && contains(out, "make no sense"), "no report on 'liar': %s", out);
	CHECKF(count_lines(out) == 2, "reported %d times: %s", count_lines(out), out);
	unsigned long l0 = lazy_calls, r0 = liar_calls;
	void *p = kmalloc(2 * MIB, GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
	kfree(p);
	CHECKF(lazy_calls == l0 && liar_calls == r0, "dropped shrinkers asked again");
	unregister_shrinker(&lazy);
	unregister_shrinker(&liar);
	CHECK(register_shrinker(&cache_shrinker, "test-cache") == 0);
}

static int nofail_nothing(void *arg)
{
	(void)arg;
	fill();
	void *p = kmalloc(8 * MIB, GFP_KERNEL | __GFP_NOFAIL);
	return p ? 0 : 3;
}

static void nofail(void)
{
	fill();
	CHECK(register_shrinker(&cache_shrinker, "test-cache") == 0);
	void *p = kmalloc(8 * MIB, GFP_KERNEL | __GFP_NOFAIL);
	CHECKF(p != NULL, "__GFP_NOFAIL returned NULL");
	kfree(p);
	struct child_result r;
	run_child(nofail_nothing, NULL, 20000, &r);
	char why[128];
	CHECKF(child_aborted(&r) && contains(r.err, "__GFP_NOFAIL"), "__GFP_NOFAIL with nothing to free: %s; %s",
	       child_describe(&r, why, sizeof why), r.err);
}

/* Bulk allocation, bulk free and kmem_cache_shrink, by the slab counts. */
static void bulk(void)
{
	struct kmem_cache *c = kmem_cache_create("bulk_test", 200, 0, 0, NULL);
	CHECK(c != NULL);
	enum { N = 5000 };
	static void *v[N];
	CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, N, v) == N);
	int distinct = 1;
	for (int i = 0; i < N; i++) {
		memset(v[i], i & 0xff, 200);
		distinct &= v[i] != NULL;
	}
	CHECK(distinct);
	CHECKF(kslab_live(c) >= N, "live %zu after bulk alloc of %d", kslab_live(c), N);
	size_t slabs = c->nr_slabs;
	CHECKF(slabs * c->objects >= N, "%zu slabs of %u objects for %d", slabs, c->objects, N);
	kmem_cache_free_bulk(c, N, v);
	kmem_cache_shrink(c);
	CHECKF(kslab_live(c) == 0, "live %zu after bulk free", kslab_live(c));
	CHECKF(c->nr_slabs <= KSLAB_MIN_PARTIAL, "%zu slabs left after kmem_cache_shrink (had %zu)",
	       (size_t)c->nr_slabs, slabs);
	/* __GFP_COLD: from the slabs, not the object just freed */
	void *a = kmem_cache_alloc(c, GFP_KERNEL);
	kmem_cache_free(c, a);
	void *b = kmem_cache_alloc(c, GFP_KERNEL | __GFP_COLD);
	void *d = kmem_cache_alloc(c, GFP_KERNEL);
	if (c->front_idx >= 0)   /* a cache with a per-CPU stack (rseq mode) */
		CHECKF(b != a && d == a, "__GFP_COLD took the hot object (%p %p %p)", a, b, d);
	kmem_cache_free(c, b);
	kmem_cache_free(c, d);
	CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 0, v) == 0);
	CHECK(kmem_cache_destroy(c) == 0);
}


/* Threads: four threads fill a shared cache (a list under a mutex that the
 * shrinker only tries: a thread holding it may be the one reclaiming),
 * while a fifth samples the charge, which never passes the limit. */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct obj *shared;
static unsigned long shared_n;
static _Atomic unsigned long t_fail, t_ok, t_scans;
static _Atomic int t_stop;
static _Atomic size_t t_max_charged;

static unsigned long shared_count(struct shrinker *s, struct shrink_control *sc)
{
	(void)s, (void)sc;
	return __atomic_load_n(&shared_n, __ATOMIC_RELAXED) ?: SHRINK_EMPTY;
}

static unsigned long shared_scan(struct shrinker *s, struct shrink_control *sc)
{
	(void)s;
	atomic_fetch_add(&t_scans, 1);
	if (pthread_mutex_trylock(&shared_lock) != 0)
		return SHRINK_STOP;
	unsigned long n = 0;
	while (n < sc->nr_to_scan && shared) {
		struct obj *o = shared;
		shared = o->next;
		kfree(o);
		n++;
		shared_n--;
	}
	pthread_mutex_unlock(&shared_lock);
	return n;
}

static struct shrinker shared_shrinker = { .count_objects = shared_count, .scan_objects = shared_scan,
	                                   .seeks = DEFAULT_SEEKS };

static void *filler(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < 128 * MIB / sizeof(struct obj); i++) {
		struct obj *o = kmalloc(sizeof *o, GFP_KERNEL | __GFP_NOWARN);
		if (!o) {
			atomic_fetch_add(&t_fail, 1);
			continue;
		}
		memset(o->data, 0x33, sizeof o->data);
		pthread_mutex_lock(&shared_lock);
		o->next = shared;
		shared = o;
		shared_n++;
		pthread_mutex_unlock(&shared_lock);
		atomic_fetch_add(&t_ok, 1);
	}
	return NULL;
}

static void *sampler(void *arg)
{
	(void)arg;
	while (!atomic_load(&t_stop)) {
		size_t c = kalloc_charged();
		if (c > atomic_load(&t_max_charged))
			atomic_store(&t_max_charged, c);
	}
	return NULL;
}

static void threads(void)
{
	unregister_shrinker(&cache_shrinker);
	drop_all();
	/* No huge area cached from before: kalloc_charged() reads the areas'
	 * charge and the zones' one after the other, so a purge of cached
	 * areas between the two reads, with the zones taking the room at
	 * once, would count both.  With the zones alone, each sample is one
	 * zone's published value. */
	kvm_purge();
	CHECK(register_shrinker(&shared_shrinker, "shared") == 0);
	pthread_t t[4], m;
	pthread_create(&m, NULL, sampler, NULL);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, filler, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	atomic_store(&t_stop, 1);
	pthread_join(m, NULL);
	unsigned long ok = atomic_load(&t_ok), fail = atomic_load(&t_fail);
	CHECKF(atomic_load(&t_max_charged) <= LIMIT, "charged %zu MiB with 4 threads, limit %lu MiB",
	       atomic_load(&t_max_charged) / MIB, LIMIT / MIB);
	CHECKF(fail * 100 <= ok, "4 threads: %lu allocations failed, %lu succeeded", fail, ok);
	test_msg("4 threads: %lu MiB allocated, %lu failures, at most %zu MiB charged, %lu scans\n",
	         ok * sizeof(struct obj) / MIB, fail, atomic_load(&t_max_charged) / MIB, atomic_load(&t_scans));
	unregister_shrinker(&shared_shrinker);
	while (shared) {
		struct obj *o = shared;
		shared = o->next;
		kfree(o);
	}
	shared_n = 0;
}

static void unknown_bits(void)
{
	struct capture cap;
	char out[1024];
	capture_begin(&cap);
	void *p = kmalloc(100, GFP_KERNEL | 0x40000000u);
	void *q = kmalloc(100, GFP_KERNEL | __GFP_NOWARN | 0x40000000u);
	capture_end(&cap, out, sizeof out);
	CHECK(p != NULL && q != NULL);
	CHECKF(count_lines(out) == 1 && contains(out, "unknown GFP bits 0x40000000"), "report: %s", out);
	kfree(p);
	kfree(q);
}

int main(void)
{
	kfree(kmalloc(1, GFP_KERNEL));   /* initialised */
	bulk();
	unknown_bits();
	CHECK(kalloc_set_limit(100) == -EINVAL);
	CHECK(kalloc_set_limit(LIMIT) == 0);
	CHECK(kalloc_get_limit() == LIMIT);
	CHECK(register_shrinker(&cache_shrinker, "test-cache") == 0);
	many();
	retry_policy();
	broken();
	nofail();
	threads();
	unregister_shrinker(&cache_shrinker);
	drop_all();
	/* malloc under the limit: NULL and ENOMEM */
	errno = 0;
	void *big = malloc(2 * LIMIT);
	CHECKF(big == NULL && errno == ENOMEM, "malloc above the limit: %p, errno %d", big, errno);
	CHECK(kalloc_set_limit(0) == 0);
	big = malloc(2 * LIMIT);
	CHECKF(big != NULL, "malloc with the limit lifted failed");
	free(big);
	return check_done();
}
