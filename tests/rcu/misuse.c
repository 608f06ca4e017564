/* SPDX-License-Identifier: MIT */
/*
 * What kalloc reports when the RCU API is misused with liburcu loaded:
 *   - kmem_cache_destroy of a SLAB_TYPESAFE_BY_RCU cache inside
 *     rcu_read_lock would wait for its own reader: it reports, returns
 *     -EBUSY and leaves the cache usable; outside, it destroys it;
 *   - kvfree_rcu_barrier inside rcu_read_lock: reported, aborts;
 *   - a free of an object whose slab waits for its grace period (a double
 *     free) is reported as an invalid pointer, not pushed on the slab;
 *   - kmem_cache_free_rcu of an object of another cache: reported, aborts.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <kalloc.h>
#include <urcu.h>

struct obj {
	uint64_t key;
	struct rcu_head rcu;
	uint64_t more[6];
};

static int barrier_in_reader(void *arg)
{
	(void)arg;
	rcu_register_thread();
	rcu_read_lock();
	kvfree_rcu_barrier();
	return 0;
}

static int free_in_waiting_slab(void *arg)
{
	(void)arg;
	rcu_register_thread();
	struct kmem_cache *c = kmem_cache_create("misuse_typesafe", sizeof(struct obj), 0, SLAB_TYPESAFE_BY_RCU, NULL);
	static struct obj *objs[64];
	for (int i = 0; i < 64; i++)
		objs[i] = kmem_cache_alloc(c, GFP_KERNEL);
	rcu_read_lock();   /* holds the grace period: the slabs wait */
	for (int i = 0; i < 64; i++)
		kmem_cache_free(c, objs[i]);
	kmem_cache_shrink(c);
	kmem_cache_free(c, objs[0]);   /* again */
	return 0;
}

static int wrong_cache(void *arg)
{
	(void)arg;
	struct kmem_cache *a = kmem_cache_create("misuse_a", sizeof(struct obj), 0, 0, NULL);
	struct kmem_cache *b = kmem_cache_create("misuse_b", sizeof(struct obj), 0, 0, NULL);
	struct obj *o = kmem_cache_alloc(a, GFP_KERNEL);
	kmem_cache_free_rcu(b, o, rcu);
	return 0;
}

int main(void)
{
	rcu_register_thread();
	struct kmem_cache *c = kmem_cache_create("misuse_destroy", sizeof(struct obj), 0, SLAB_TYPESAFE_BY_RCU, NULL);
	CHECK(c != NULL);
	struct obj *o = kmem_cache_alloc(c, GFP_KERNEL);
	kmem_cache_free(c, o);
	rcu_read_lock();
	struct capture cap;
	char err[4096];
	capture_begin(&cap);
	int rc = kmem_cache_destroy(c);
	capture_end(&cap, err, sizeof err);
	rcu_read_unlock();
	CHECKF(rc == -16, "kmem_cache_destroy inside rcu_read_lock returned %d, not -EBUSY", rc);
	CHECKF(contains(err, "misuse_destroy") && contains(err, "read-side critical section"), "report: %s", err);
	o = kmem_cache_alloc(c, GFP_KERNEL);   /* still usable */
	CHECK(o != NULL);
	kmem_cache_free_rcu(c, o, rcu);
	CHECKF(kmem_cache_destroy(c) == 0, "kmem_cache_destroy outside the reader, with an object still queued");
	rcu_unregister_thread();

	struct child_result r;
	char why[128];
	run_child(barrier_in_reader, NULL, 10000, &r);
	CHECKF(child_aborted(&r) && contains(r.err, "kvfree_rcu_barrier") && contains(r.err, "read-side"),
	       "kvfree_rcu_barrier inside rcu_read_lock: %s; %s", child_describe(&r, why, sizeof why), r.err);
	run_child(free_in_waiting_slab, NULL, 10000, &r);
	CHECKF(child_aborted(&r) && contains(r.err, "invalid pointer") && contains(r.err, "grace period"),
	       "a free into a slab waiting for its grace period: %s; %s", child_describe(&r, why, sizeof why), r.err);
	run_child(wrong_cache, NULL, 10000, &r);
	CHECKF(child_aborted(&r) && contains(r.err, "kmem_cache_free_rcu") && contains(r.err, "misuse_a"),
	       "kmem_cache_free_rcu to the wrong cache: %s; %s", child_describe(&r, why, sizeof why), r.err);
	return check_done();
}
