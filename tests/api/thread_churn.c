/* SPDX-License-Identifier: MIT */
/*
 * 1000 short-lived threads, 8 alive at a time.  Each allocates and frees a
 * few hundred blocks of mixed sizes, checking contents; every third thread
 * also leaves some blocks behind, which main verifies and frees after the
 * thread has exited (objects outliving the thread whose cache they came
 * from).  Half the batches are detached threads, half joined.
 *
 * Asserts: thread creation and every allocation succeed, no block is
 * corrupted, and the leftovers hold their owner's pattern when main frees
 * them.
 */
#include "ktest.h"

#include <stdlib.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

enum { THREADS = 1000, BATCH = 8, LEFT = 16 };

struct leftover {
	unsigned char *p[LEFT];
	size_t n[LEFT];
};

static struct leftover left[THREADS];
static atomic_long corrupt, failed;
static sem_t done; /* posted by each detached thread at its end */

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint64_t rng = 0xabcdef + id * 7919;
	enum { W = 32 };
	unsigned char *p[W] = { 0 };
	size_t n[W] = { 0 };
	for (int it = 0; it < 300; it++) {
		uint64_t r = rng_next(&rng);
		int k = (int)(r % W);
		if (p[k]) {
			if (!block_ok(p[k], n[k], id * 1000 + (uint64_t)k))
				atomic_fetch_add(&corrupt, 1);
			free(p[k]);
		}
		n[k] = stress_size(r >> 5);
		p[k] = malloc(n[k]);
		if (p[k])
			block_fill(p[k], n[k], id * 1000 + (uint64_t)k);
		else
			atomic_fetch_add(&failed, 1);
	}
	for (int k = 0; k < W; k++) {
		if (p[k] && !block_ok(p[k], n[k], id * 1000 + (uint64_t)k))
			atomic_fetch_add(&corrupt, 1);
		free(p[k]);
	}
	if (id % 3 == 0) {
		for (int k = 0; k < LEFT; k++) {
			left[id].n[k] = 1 + (size_t)(rng_next(&rng) % (k < 12 ? 512 : 20000));
			left[id].p[k] = malloc(left[id].n[k]);
			if (left[id].p[k])
				block_fill(left[id].p[k], left[id].n[k], id * 1000 + 500 + (uint64_t)k);
			else
				atomic_fetch_add(&failed, 1);
		}
	}
	if (id / BATCH % 2)
		sem_post(&done);
	return NULL;
}

int main(void)
{
	check_allocator();
	CHECK(sem_init(&done, 0, 0) == 0);
	int create_failed = 0;
	for (uintptr_t base = 0; base < THREADS; base += BATCH) {
		int detached = base / BATCH % 2;
		pthread_t t[BATCH];
		int started[BATCH] = { 0 };
		for (uintptr_t i = 0; i < BATCH && base + i < THREADS; i++) {
			if (pthread_create(&t[i], NULL, worker, (void *)(base + i)) != 0) {
				create_failed++;
				continue;
			}
			started[i] = 1;
			if (detached)
				pthread_detach(t[i]);
		}
		for (int i = 0; i < BATCH; i++) {
			if (!started[i])
				continue;
			if (detached)
				while (sem_wait(&done) != 0)
					;
			else
				CHECK(pthread_join(t[i], NULL) == 0);
		}
		/* Free the leftovers of the batch before the previous one: those
		 * threads have certainly exited by now (detached ones may still be
		 * unwinding right after sem_post). */
		if (base >= BATCH) {
			for (uintptr_t id = base - BATCH; id < base; id++) {
				for (int k = 0; k < LEFT; k++) {
					if (!left[id].p[k])
						continue;
					if (!block_ok(left[id].p[k], left[id].n[k], id * 1000 + 500 + (uint64_t)k))
						atomic_fetch_add(&corrupt, 1);
					free(left[id].p[k]);
					left[id].p[k] = NULL;
				}
			}
		}
	}
	for (uintptr_t id = 0; id < THREADS; id++)
		for (int k = 0; k < LEFT; k++) {
			if (!left[id].p[k])
				continue;
			if (!block_ok(left[id].p[k], left[id].n[k], id * 1000 + 500 + (uint64_t)k))
				atomic_fetch_add(&corrupt, 1);
			free(left[id].p[k]);
		}
	CHECKF(create_failed == 0, "%d pthread_create calls failed", create_failed);
	CHECKF(atomic_load(&failed) == 0, "%ld allocations failed", atomic_load(&failed));
	CHECKF(atomic_load(&corrupt) == 0, "%ld blocks corrupt", atomic_load(&corrupt));
	return check_done();
}
