/* SPDX-License-Identifier: MIT */
/*
 * 16 threads allocate objects of mixed sizes (small, page blocks, a few
 * huge), fill each with a pattern identifying its owner thread and sequence
 * number, and pass them through a shared mutex-protected queue; whichever
 * thread pops an object verifies the pattern and frees it, so most objects
 * are freed by a thread other than the one that allocated them.  Each thread
 * also keeps a private working set it allocates and frees itself.
 *
 * Asserts: no allocation fails, every object holds its owner's pattern when
 * it is freed (no overlap, no corruption by remote frees), and cross-thread
 * frees really happened.  Seeded, so every run does the same operations
 * (the interleaving varies).
 */
#include "ktest.h"

#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>

enum { NTHREADS = 16, OPS = 100000, QCAP = 4096, LOCAL = 32 };

struct item {
	unsigned char *p;
	size_t n;
	uint64_t tag; /* owner << 40 | sequence */
};

static struct {
	pthread_mutex_t lock;
	struct item slot[QCAP];
	size_t head, count;
} queue = { .lock = PTHREAD_MUTEX_INITIALIZER };

static atomic_long cross_frees, corrupt, failed;
static pthread_barrier_t start;

static int push(struct item it)
{
	int ok = 0;
	pthread_mutex_lock(&queue.lock);
	if (queue.count < QCAP) {
		queue.slot[(queue.head + queue.count) % QCAP] = it;
		queue.count++;
		ok = 1;
	}
	pthread_mutex_unlock(&queue.lock);
	return ok;
}

static int pop(struct item *it)
{
	int ok = 0;
	pthread_mutex_lock(&queue.lock);
	if (queue.count) {
		*it = queue.slot[queue.head];
		queue.head = (queue.head + 1) % QCAP;
		queue.count--;
		ok = 1;
	}
	pthread_mutex_unlock(&queue.lock);
	return ok;
}

static void release(const struct item *it, uint64_t self)
{
	if (!block_ok(it->p, it->n, it->tag)) {
		if (atomic_fetch_add(&corrupt, 1) < 5)
			fprintf(stderr, "object %p (%zu bytes) of thread %llu seq %llu is corrupt\n",
			        (void *)it->p, it->n, (unsigned long long)(it->tag >> 40),
			        (unsigned long long)(it->tag & 0xffffffffffull));
	}
	if ((it->tag >> 40) != self)
		atomic_fetch_add(&cross_frees, 1);
	free(it->p);
}

static int allocate(struct item *it, uint64_t self, uint64_t seq, uint64_t r)
{
	it->n = stress_size(r);
	it->tag = self << 40 | seq;
	it->p = malloc(it->n);
	if (!it->p) {
		atomic_fetch_add(&failed, 1);
		return 0;
	}
	block_fill(it->p, it->n, it->tag);
	return 1;
}

static void *worker(void *arg)
{
	uint64_t self = (uint64_t)(uintptr_t)arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (self + 1);
	struct item local[LOCAL] = { 0 };
	uint64_t seq = 0;
	pthread_barrier_wait(&start);
	for (int op = 0; op < OPS; op++) {
		uint64_t r = rng_next(&rng);
		struct item it;
		switch (r % 8) {
		case 0:
		case 1:
		case 2: /* produce for someone else */
			if (allocate(&it, self, seq++, r >> 3) && !push(it))
				release(&it, self);
			break;
		case 3:
		case 4:
		case 5: /* consume someone's object */
			if (pop(&it))
				release(&it, self);
			break;
		default: { /* private working set */
			struct item *slot = &local[(r >> 3) % LOCAL];
			if (slot->p)
				release(slot, self);
			slot->p = NULL;
			allocate(slot, self, seq++, r >> 8);
			break;
		}
		}
	}
	for (int i = 0; i < LOCAL; i++)
		if (local[i].p)
			release(&local[i], self);
	return NULL;
}

int main(void)
{
	check_allocator();
	pthread_t t[NTHREADS];
	pthread_barrier_init(&start, NULL, NTHREADS);
	for (uintptr_t i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
	for (int i = 0; i < NTHREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	struct item it;
	while (pop(&it))
		release(&it, NTHREADS); /* main frees the leftovers */
	pthread_barrier_destroy(&start);
	CHECKF(atomic_load(&failed) == 0, "%ld allocations failed", atomic_load(&failed));
	CHECKF(atomic_load(&corrupt) == 0, "%ld objects corrupt when freed", atomic_load(&corrupt));
	/* How many pops find another thread's object depends on scheduling:
	 * on a 2-CPU machine running tests side by side it ranged from 170,000
	 * to 265,000, under the 200,000 this asked for before; a few tens of
	 * thousands still prove the remote frees happened. */
	CHECKF(atomic_load(&cross_frees) > NTHREADS * OPS / 32,
	       "only %ld cross-thread frees: the test did not do what it claims",
	       atomic_load(&cross_frees));
	printf("cross-thread frees: %ld\n", atomic_load(&cross_frees));
	return check_done();
}
