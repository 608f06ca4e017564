/* SPDX-License-Identifier: MIT */
/*
 * SLAB_TYPESAFE_BY_RCU: a reader inside rcu_read_lock that holds an object
 * of such a cache reads an object of that cache until it leaves, however
 * the object is freed, reused or its slab emptied meanwhile.
 *
 * `run`: readers (registered) look objects up in a table of RCU pointers
 * and check each one's type tag (set by the constructor, never written
 * after), twice, a while apart; a writer replaces table entries and frees
 * the old objects at once with kmem_cache_free (reused at once, as in the
 * kernel), and after every 2048 replacements empties the table and shrinks
 * the cache, so whole slabs empty and are handed back (registered with
 * liburcu in every other round); a third thread allocates from another cache of
 * the same object size and slab order and takes page blocks, filling all
 * of it with another tag, and calls malloc_trim(0) (which unmaps chunks
 * found wholly free).  A slab handed back before its grace period would
 * show the other tag, zeros or unmapped memory to a reader.  (With
 * KALLOC_RCU=0 this part saw 14 to 28 objects of the wrong type in each of
 * three runs; the deterministic case below fails every time.)
 *
 * Then a deterministic case: a reader holds an object inside its critical
 * section while every object is freed and the cache shrunk; the page
 * allocator is then asked for single pages until it hands out the page of
 * the held object (at most PAGE_PROBES): it must not, and the reader must
 * still read the type tag.  kmem_cache_destroy started in another thread
 * must not return while the reader is inside its critical section (it
 * waits for the slabs held back), and returns 0 after; the page is handed
 * out again after that (the slabs did go back).
 *
 * `detect` (run with KALLOC_RCU=0: slabs go back at once): the same case
 * must see the page handed out, the tag overwritten and the destroy not
 * waiting: proof that the checks can fail.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <kalloc.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <urcu.h>

#define TAG_T 0x5459504553414645ull   /* "TYPESAFE" */
#define TAG_U 0x4f54484552545950ull   /* another type */
#define READERS 4
#define SLOTS 1024
#define RUN_MS 1500
#define PAGE_PROBES 65536

struct obj {
	uint64_t tag;
	uint64_t key;
	uint64_t data[30];
};

static struct kmem_cache *cache_t, *cache_u;
static struct obj *slots[SLOTS];
static atomic_bool stop;
static atomic_ulong bad, looked;

static void ctor_t(void *p)
{
	((struct obj *)p)->tag = TAG_T;
}

static void *reader(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	rcu_register_thread();
	unsigned long n = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		rcu_read_lock();
		for (int k = 0; k < 16; k++) {
			struct obj *p = rcu_dereference(slots[rng_range(&rng, 0, SLOTS - 1)]);
			if (!p)
				continue;
			/* read the tag twice, a while apart: the window in
			 * which an early release would show */
			uint64_t tag = *(volatile uint64_t *)&p->tag;
			for (int spin = 0; spin < 200; spin++)
				__asm__ volatile("pause" ::: "memory");
			uint64_t tag2 = *(volatile uint64_t *)&p->tag;
			if (tag != TAG_T || tag2 != TAG_T)
				atomic_fetch_add(&bad, 1);
			n++;
		}
		rcu_read_unlock();
	}
	rcu_unregister_thread();
	atomic_fetch_add(&looked, n);
	return NULL;
}

/* The writer registers with liburcu in odd rounds only: kalloc defers the
 * empty slabs from a registered thread and from an unregistered one. */
static void *writer(void *arg)
{
	(void)arg;
	unsigned lo = 0, hi = SLOTS;
	uint64_t rng = 1000, key = 1;
	for (unsigned round = 0; !atomic_load_explicit(&stop, memory_order_relaxed); round++) {
		if (round & 1)
			rcu_register_thread();
		for (int k = 0; k < 2048; k++) {
			unsigned i = (unsigned)rng_range(&rng, lo, hi - 1);
			struct obj *n = kmem_cache_alloc(cache_t, GFP_KERNEL);
			if (!n)
				abort();
			n->key = key++;
			struct obj *old = rcu_xchg_pointer(&slots[i], n);
			if (old)
				kmem_cache_free(cache_t, old);
		}
		/* empty the table: every slab empties, and goes back after a
		 * grace period */
		for (unsigned i = lo; i < hi; i++) {
			struct obj *old = rcu_xchg_pointer(&slots[i], NULL);
			if (old)
				kmem_cache_free(cache_t, old);
		}
		kmem_cache_shrink(cache_t);
		if (round & 1)
			rcu_unregister_thread();
	}
	return NULL;
}

/* Takes memory the page allocator may have got back from cache_t's slabs
 * and writes another tag all over it. */
static void *polluter(void *arg)
{
	(void)arg;
	static struct obj *objs[256];
	unsigned round = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int i = 0; i < 256; i++) {
			objs[i] = kmem_cache_alloc(cache_u, GFP_KERNEL);
			for (int j = 0; j < 32; j++)
				((uint64_t *)objs[i])[j] = TAG_U;
		}
		for (int i = 0; i < 256; i++)
			kmem_cache_free(cache_u, objs[i]);
		unsigned long pages[16];
		for (int i = 0; i < 16; i++) {
			pages[i] = __get_free_pages(GFP_KERNEL, 0);
			for (size_t j = 0; pages[i] && j < PAGE_SIZE / 8; j++)
				((uint64_t *)pages[i])[j] = TAG_U;
		}
		for (int i = 0; i < 16; i++)
			free_pages(pages[i], 0);
		if (++round % 64 == 0)
			malloc_trim(0);
	}
	return NULL;
}

/* ---- the deterministic case ---------------------------------------------- */

static struct obj *held;
static atomic_int phase;   /* 1: held; 2: check; 3: check again and leave; 4: done */
static atomic_bool ok1, ok2;
static atomic_bool destroyed;
static atomic_int destroy_rc;

static void wait_phase(int p)
{
	while (atomic_load(&phase) < p)
		sched_yield();
}

static void *holding_reader(void *arg)
{
	(void)arg;
	rcu_register_thread();
	rcu_read_lock();
	held = rcu_dereference(slots[0]);
	atomic_store(&phase, 1);
	wait_phase(2);
	atomic_store(&ok1, *(volatile uint64_t *)&held->tag == TAG_T);
	atomic_store(&phase, 3);
	while (atomic_load(&phase) < 4)
		sched_yield();
	atomic_store(&ok2, *(volatile uint64_t *)&held->tag == TAG_T);
	rcu_read_unlock();
	rcu_unregister_thread();
	atomic_store(&phase, 5);
	return NULL;
}

static void *destroyer(void *arg)
{
	(void)arg;
	atomic_store(&destroy_rc, kmem_cache_destroy(cache_t));
	atomic_store(&destroyed, true);
	return NULL;
}

static unsigned long probe[PAGE_PROBES];

/* Single pages from the page allocator until one is the page of addr (or
 * PAGE_PROBES of them); that one is filled with TAG_U.  Returns whether it
 * came; every page is given back. */
static bool page_handed_out(const void *addr)
{
	unsigned long want = (unsigned long)addr & PAGE_MASK;
	bool found = false;
	unsigned n = 0;
	for (; n < PAGE_PROBES; n++) {
		probe[n] = __get_free_pages(GFP_KERNEL | __GFP_NOWARN, 0);
		if (!probe[n])
			break;
		if (probe[n] == want) {
			for (size_t j = 0; j < PAGE_SIZE / 8; j++)
				((uint64_t *)probe[n])[j] = TAG_U;
			found = true;
			n++;
			break;
		}
	}
	for (unsigned i = 0; i < n; i++)
		free_pages(probe[i], 0);
	return found;
}

/* Returns the number of ways the held object was not kept (0: kept). */
static int held_case(bool expect_kept)
{
	for (unsigned i = 0; i < SLOTS; i++) {
		struct obj *n = kmem_cache_alloc(cache_t, GFP_KERNEL);
		n->key = i;
		rcu_assign_pointer(slots[i], n);
	}
	pthread_t r, d;
	pthread_create(&r, NULL, holding_reader, NULL);
	wait_phase(1);
	for (unsigned i = 0; i < SLOTS; i++)
		kmem_cache_free(cache_t, rcu_xchg_pointer(&slots[i], NULL));
	kmem_cache_shrink(cache_t);
	bool page_out = page_handed_out(held);
	atomic_store(&phase, 2);
	wait_phase(3);
	pthread_create(&d, NULL, destroyer, NULL);
	usleep(200 * 1000);
	bool destroy_waited = !atomic_load(&destroyed);
	atomic_store(&phase, 4);
	wait_phase(5);
	pthread_join(r, NULL);
	pthread_join(d, NULL);
	int lost = page_out + !atomic_load(&ok1) + !atomic_load(&ok2) + !destroy_waited;
	test_msg("held object: page %s; tag %s, %s after 200 ms; destroy %s, returned %d", page_out ? "handed out" : "kept",
	         atomic_load(&ok1) ? "kept" : "lost", atomic_load(&ok2) ? "kept" : "lost",
	         destroy_waited ? "waited for the reader" : "did not wait", atomic_load(&destroy_rc));
	if (expect_kept) {
		CHECKF(!page_out, "the page of a freed object's slab was handed out while a reader held the object");
		CHECKF(atomic_load(&ok1) && atomic_load(&ok2), "a reader holding a freed object lost its type tag");
		CHECKF(destroy_waited, "kmem_cache_destroy returned while a reader was inside its critical section");
		CHECKF(atomic_load(&destroy_rc) == 0, "kmem_cache_destroy returned %d", atomic_load(&destroy_rc));
		/* the slabs did go back once the grace period was over */
		CHECKF(page_handed_out(held), "the slab's page never came back to the page allocator");
	}
	return lost;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "run";
	cache_t = kmem_cache_create("rcu_typesafe", sizeof(struct obj), 0, SLAB_TYPESAFE_BY_RCU, ctor_t);
	cache_u = kmem_cache_create("rcu_other", sizeof(struct obj), 0, 0, NULL);
	CHECK(cache_t && cache_u);

	if (strcmp(mode, "detect") == 0) {
		int lost = held_case(false);
		CHECKF(lost > 0, "with the RCU binding off, the held object was kept: the checks cannot fail");
		CHECKF(kmem_cache_destroy(cache_u) == 0, "destroy of the other cache");
		return check_done();
	}

	pthread_t r[READERS], w, p;
	for (int i = 0; i < READERS; i++)
		pthread_create(&r[i], NULL, reader, (void *)(uintptr_t)(i + 1));
	pthread_create(&w, NULL, writer, NULL);
	pthread_create(&p, NULL, polluter, NULL);
	usleep(RUN_MS * 1000);
	atomic_store(&stop, true);
	pthread_join(w, NULL);
	pthread_join(p, NULL);
	for (int i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	test_msg("readers looked at %lu objects", (unsigned long)atomic_load(&looked));
	CHECKF(atomic_load(&bad) == 0, "readers saw %lu objects without the cache's type tag",
	       (unsigned long)atomic_load(&bad));
	CHECK(atomic_load(&looked) > 0);

	/* empty the table: the deterministic case starts from an empty cache */
	for (unsigned i = 0; i < SLOTS; i++) {
		struct obj *old = rcu_xchg_pointer(&slots[i], NULL);
		if (old)
			kmem_cache_free(cache_t, old);
	}
	held_case(true);
	CHECKF(kmem_cache_destroy(cache_u) == 0, "destroy of the other cache");
	return check_done();
}
