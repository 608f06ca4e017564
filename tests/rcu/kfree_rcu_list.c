/* SPDX-License-Identifier: MIT */
/*
 * kfree_rcu and kmem_cache_free_rcu under RCU readers.
 *
 * Readers (registered with liburcu, inside rcu_read_lock) walk a singly
 * linked list while one writer unlinks random nodes, frees each with
 * kfree_rcu (argument `kmalloc`) or kmem_cache_free_rcu (`cache`), links
 * new ones, and after every step allocates and frees blocks of the nodes'
 * size filled with junk.  A node is never written once published, so every
 * node a reader reaches must hold its magic and the values derived from its
 * key: a node freed before the readers that could hold it had left their
 * critical sections would be handed to the junk allocations (or get a free
 * pointer written over its start) and be seen.  The writer is not
 * registered with liburcu (kalloc registers it around each deferral) and
 * registers itself at the end, which liburcu refuses with an assertion if
 * kalloc left it registered.  (With KALLOC_RCU=0 the readers of this part
 * found 52 bad nodes in one run; the deterministic case fails every time.)
 *
 * Then a deterministic case: a reader holds a node inside its critical
 * section; the writer unlinks it, frees it with RCU, and allocates up to
 * 4096 blocks of its size (on one CPU, so the front cache's last-in
 * first-out order would give it back at once); none may be the node, and
 * the reader must find it intact.  With `detect` (run with KALLOC_RCU=0,
 * under which kalloc frees at once) the same case must see the node reused:
 * proof that the check can fail.
 *
 * At the end every node is freed with RCU, kvfree_rcu_barrier waits for
 * them, and (cache mode) kmem_cache_destroy returns 0: no object left live.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <kalloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <urcu.h>

#define NODE_MAGIC 0x4e4f44454c495645ull   /* "NODELIVE" */
#define JUNK_BYTE 0xdb
#define READERS 4
#define LIST_LEN 64
#define RUN_MS 1500
#define MAX_STEPS 400000
#define PROBES 4096

struct node {
	uint64_t magic;
	uint64_t key;
	uint64_t check;          /* derived from key */
	struct node *next;
	struct rcu_head rcu;     /* liburcu's own type */
	uint64_t tail[3];        /* key + i */
};

static bool use_cache;
static struct kmem_cache *node_cache;
static struct node *list_head;
static atomic_bool stop;
static atomic_ulong bad_nodes, walked;

static uint64_t derive(uint64_t key)
{
	return (key * 0x9e3779b97f4a7c15ull) ^ NODE_MAGIC;
}

static bool node_ok(const struct node *n)
{
	const volatile struct node *v = n;
	uint64_t key = v->key;
	if (v->magic != NODE_MAGIC || v->check != derive(key))
		return false;
	for (int i = 0; i < 3; i++)
		if (v->tail[i] != key + (uint64_t)i)
			return false;
	return true;
}

static void *alloc_block(void)
{
	return use_cache ? kmem_cache_alloc(node_cache, GFP_KERNEL) : kmalloc(sizeof(struct node), GFP_KERNEL);
}

static void free_block(void *p)
{
	if (use_cache)
		kmem_cache_free(node_cache, p);
	else
		kfree(p);
}

static struct node *new_node(uint64_t key)
{
	struct node *n = alloc_block();
	if (!n)
		abort();
	n->magic = NODE_MAGIC;
	n->key = key;
	n->check = derive(key);
	n->next = NULL;
	for (int i = 0; i < 3; i++)
		n->tail[i] = key + (uint64_t)i;
	return n;
}

static void free_node_rcu(struct node *n)
{
	if (use_cache)
		kmem_cache_free_rcu(node_cache, n, rcu);
	else
		kfree_rcu(n, rcu);
}

static void *reader(void *arg)
{
	(void)arg;
	rcu_register_thread();
	unsigned long seen = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		rcu_read_lock();
		for (struct node *n = rcu_dereference(list_head); n; n = rcu_dereference(n->next)) {
			if (!node_ok(n)) {
				atomic_fetch_add(&bad_nodes, 1);
				break;   /* its next pointer cannot be trusted either */
			}
			seen++;
		}
		rcu_read_unlock();
	}
	rcu_unregister_thread();
	atomic_fetch_add(&walked, seen);
	return NULL;
}

/* The writer: not registered with liburcu. */
static void *writer(void *arg)
{
	(void)arg;
	uint64_t rng = 42, key = 1;
	for (int i = 0; i < LIST_LEN; i++) {
		struct node *n = new_node(key++);
		n->next = list_head;
		rcu_assign_pointer(list_head, n);
	}
	long long end = now_ms() + RUN_MS;
	unsigned long steps = 0;
	for (; steps < MAX_STEPS && now_ms() < end; steps++) {
		/* unlink the node at a random position */
		unsigned pos = (unsigned)rng_range(&rng, 0, LIST_LEN - 1);
		struct node **link = &list_head;
		for (unsigned i = 0; i < pos; i++)
			link = &(*link)->next;
		struct node *old = *link;
		rcu_assign_pointer(*link, old->next);
		free_node_rcu(old);
		/* link a new one at another random position */
		pos = (unsigned)rng_range(&rng, 0, LIST_LEN - 1);
		link = &list_head;
		for (unsigned i = 0; i < pos; i++)
			link = &(*link)->next;
		struct node *n = new_node(key++);
		n->next = *link;
		rcu_assign_pointer(*link, n);
		/* junk in blocks of the node's size, freed at once */
		void *junk[4];
		for (int i = 0; i < 4; i++) {
			junk[i] = alloc_block();
			memset(junk[i], JUNK_BYTE, sizeof(struct node));
		}
		for (int i = 0; i < 4; i++)
			free_block(junk[i]);
	}
	atomic_store(&stop, true);
	test_msg("writer: %lu steps", steps);
	/* kalloc must have left this thread unregistered: liburcu asserts
	 * that a thread registering is not registered yet. */
	rcu_register_thread();
	rcu_unregister_thread();
	return NULL;
}

/* ---- the deterministic case ---------------------------------------------- */

static struct node *held;
static atomic_int phase;   /* 1: the reader holds `held`; 2: check it; 3: reader done */
static atomic_bool held_ok;

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
	held = rcu_dereference(list_head);
	atomic_store(&phase, 1);
	wait_phase(2);
	atomic_store(&held_ok, held && node_ok(held));
	rcu_read_unlock();
	rcu_unregister_thread();
	atomic_store(&phase, 3);
	return NULL;
}

/* Returns true when the held node was reused (or changed) under the
 * reader. */
static bool held_node_reused(void)
{
	static void *probes[PROBES];
	struct node *n = new_node(7777);
	rcu_assign_pointer(list_head, n);
	atomic_store(&phase, 0);
	pthread_t r;
	pthread_create(&r, NULL, holding_reader, NULL);
	wait_phase(1);

	/* One CPU from here to the probes, so that the front caches hand out
	 * a block freed at once first. */
	cpu_set_t old, one;
	sched_getaffinity(0, sizeof old, &old);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof one, &one);

	rcu_assign_pointer(list_head, NULL);
	free_node_rcu(n);
	bool found = false;
	unsigned np = 0;
	for (; np < PROBES; np++) {
		probes[np] = alloc_block();
		memset(probes[np], JUNK_BYTE, sizeof(struct node));
		if (probes[np] == (void *)n) {
			found = true;
			np++;
			break;
		}
	}
	sched_setaffinity(0, sizeof old, &old);
	atomic_store(&phase, 2);
	wait_phase(3);
	pthread_join(r, NULL);
	for (unsigned i = 0; i < np; i++)
		free_block(probes[i]);
	test_msg("deterministic case: node %s among %u blocks of its size; the reader found it %s",
	         found ? "handed out again" : "not handed out", np, atomic_load(&held_ok) ? "intact" : "changed");
	return found || !atomic_load(&held_ok);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "kmalloc";
	use_cache = strcmp(mode, "cache") == 0;
	if (use_cache) {
		node_cache = kmem_cache_create("rcu_node", sizeof(struct node), 0, 0, NULL);
		CHECK(node_cache != NULL);
	}

	if (strcmp(mode, "detect") == 0) {
		/* KALLOC_RCU=0: kalloc frees at once, so the check must see it. */
		bool reused = false;
		for (int i = 0; i < 5 && !reused; i++)
			reused = held_node_reused();
		CHECKF(reused, "with the RCU binding off, a node freed under a reader was not seen reused: "
		       "the check cannot fail");
		return check_done();
	}

	pthread_t r[READERS], w;
	for (int i = 0; i < READERS; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	pthread_create(&w, NULL, writer, NULL);
	pthread_join(w, NULL);
	for (int i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	CHECKF(atomic_load(&bad_nodes) == 0, "readers found %lu freed or reused nodes",
	       (unsigned long)atomic_load(&bad_nodes));
	CHECK(atomic_load(&walked) > 0);

	/* free what is left, with RCU */
	struct node *n = list_head;
	rcu_assign_pointer(list_head, NULL);
	while (n) {
		struct node *next = n->next;
		free_node_rcu(n);
		n = next;
	}

	CHECKF(!held_node_reused(), "a node freed with %s was reused while a reader held it",
	       use_cache ? "kmem_cache_free_rcu" : "kfree_rcu");

	/* A block above the slab sizes, its rcu_head in a tail page: the
	 * deferred call finds the block from the head alone. */
	char *big = kmalloc(64 << 10, GFP_KERNEL);
	CHECK(big != NULL);
	struct { char pad[40 << 10]; struct rcu_head rcu; } *bigp = (void *)big;
	kfree_rcu(bigp, rcu);

	kvfree_rcu_barrier();
	if (use_cache)
		CHECKF(kmem_cache_destroy(node_cache) == 0, "kmem_cache_destroy after kvfree_rcu_barrier: objects live");
	return check_done();
}
