/* SPDX-License-Identifier: MIT */
/*
 * The RCU API in a program that does not link liburcu: no RCU reader can
 * exist, so kfree_rcu, kmem_cache_free_rcu and the slabs of a
 * SLAB_TYPESAFE_BY_RCU cache are freed at once, kvfree_rcu_barrier returns
 * at once, and kalloc neither maps liburcu nor starts a thread.  Also: the
 * deferred free finds its block from the rcu_head alone, in a slab object,
 * in a tail page of a page block and deep inside a huge block; an rcu_head
 * outside its object is reported and aborts.
 */
#define _GNU_SOURCE
#include "ktest.h"
#include "proc_check.h"

#include <kalloc.h>
#include <sched.h>
#include <stdlib.h>

struct node {
	uint64_t key;
	struct kalloc_rcu_head rcu;
	uint64_t more[5];
};

static int bad_head(void *arg)
{
	(void)arg;
	struct node *a = kmalloc(sizeof *a, GFP_KERNEL);
	struct node *b = kmalloc(sizeof *b, GFP_KERNEL);
	kvfree_call_rcu(&b->rcu, a);   /* head of another object */
	return 0;
}

int main(void)
{
	CHECK(!maps_contain("liburcu"));

	/* One CPU: the front caches give back the block just freed. */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof one, &one);

	struct node *n = kmalloc(sizeof *n, GFP_KERNEL);
	CHECK(n != NULL);
	kfree_rcu(n, rcu);
	struct node *again = kmalloc(sizeof *again, GFP_KERNEL);
	CHECKF(again == n, "kfree_rcu without liburcu: the block was not freed at once");
	kfree(again);

	struct kmem_cache *c = kmem_cache_create("unbound_rcu", sizeof(struct node), 0, 0, NULL);
	CHECK(c != NULL);
	struct node *o = kmem_cache_alloc(c, GFP_KERNEL);
	kmem_cache_free_rcu(c, o, rcu);
	struct node *o2 = kmem_cache_alloc(c, GFP_KERNEL);
	CHECKF(o2 == o, "kmem_cache_free_rcu without liburcu: the object was not freed at once");
	kmem_cache_free(c, o2);
	CHECKF(kmem_cache_destroy(c) == 0, "destroy");

	/* SLAB_TYPESAFE_BY_RCU: slabs go back at once; destroy succeeds. */
	struct kmem_cache *t = kmem_cache_create("unbound_typesafe", 200, 0, SLAB_TYPESAFE_BY_RCU, NULL);
	CHECK(t != NULL);
	static void *objs[4000];
	for (int i = 0; i < 4000; i++)
		objs[i] = kmem_cache_alloc(t, GFP_KERNEL);
	for (int i = 0; i < 4000; i++)
		kmem_cache_free(t, objs[i]);
	kmem_cache_shrink(t);
	CHECKF(kmem_cache_destroy(t) == 0, "destroy of a SLAB_TYPESAFE_BY_RCU cache");

	/* rcu_heads inside a page block's tail page and deep in a huge block */
	struct big { char pad[40 << 10]; struct kalloc_rcu_head rcu; } *big = kmalloc(64 << 10, GFP_KERNEL);
	CHECK(big != NULL);
	kfree_rcu(big, rcu);
	struct huge { char pad[5 << 20]; struct kalloc_rcu_head rcu; } *huge = kmalloc(8 << 20, GFP_KERNEL);
	CHECK(huge != NULL);
	kvfree_rcu(huge, rcu);
	struct node *none = NULL;
	kfree_rcu(none, rcu);
	kvfree_rcu_barrier();

	struct child_result res;
	run_child(bad_head, NULL, 10000, &res);
	CHECKF(child_aborted(&res) && contains(res.err, "kfree_rcu") && contains(res.err, "rcu_head"),
	       "an rcu_head outside its object was not reported: %s", res.err);

	CHECK(!maps_contain("liburcu"));
	CHECKF(thread_count() == 1, "threads: %d", thread_count());
	return check_done();
}
