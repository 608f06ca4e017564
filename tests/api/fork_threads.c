/* SPDX-License-Identifier: MIT */
/*
 * fork() while other threads are allocating and freeing.  20 times: the
 * parent forks while 4 threads churn through malloc/free of mixed sizes; the
 * child
 *  - verifies and frees the blocks the parent held at fork time,
 *  - mallocs and frees a lot (small, page and huge blocks), checking contents,
 *  - starts a thread that does the same, and joins it,
 *  - exits 0 (nonzero on a failed check).
 * The parent requires every child to exit 0 within 20 seconds (a child stuck
 * on an allocator lock held by a thread that does not exist in the child is
 * killed and reported), and its own threads' blocks to stay intact.
 */
#include "ktest.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdatomic.h>

enum { NCHURN = 4, ROUNDS = 20, HELD = 500 };

static atomic_int stop;
static atomic_long churn_corrupt, churn_failed;

static unsigned char *held[HELD];
static size_t held_n[HELD];

static void churn_loop(uint64_t seed, long iterations, atomic_long *bad, atomic_long *fails)
{
	enum { W = 64 };
	unsigned char *p[W] = { 0 };
	size_t n[W] = { 0 };
	uint64_t tag[W] = { 0 };
	uint64_t rng = seed;
	for (long it = 0; iterations < 0 ? !atomic_load(&stop) : it < iterations; it++) {
		uint64_t r = rng_next(&rng);
		int k = (int)(r % W);
		if (p[k]) {
			if (!block_ok(p[k], n[k], tag[k]))
				atomic_fetch_add(bad, 1);
			free(p[k]);
		}
		n[k] = stress_size(r >> 6);
		tag[k] = seed ^ (uint64_t)it;
		p[k] = malloc(n[k]);
		if (p[k])
			block_fill(p[k], n[k], tag[k]);
		else
			atomic_fetch_add(fails, 1);
	}
	for (int k = 0; k < W; k++) {
		if (p[k] && !block_ok(p[k], n[k], tag[k]))
			atomic_fetch_add(bad, 1);
		free(p[k]);
	}
}

static void *churner(void *arg)
{
	churn_loop(0x1000 + (uint64_t)(uintptr_t)arg, -1, &churn_corrupt, &churn_failed);
	return NULL;
}

static atomic_long child_bad, child_fail;

static void *child_thread(void *arg)
{
	(void)arg;
	churn_loop(0xc417d, 20000, &child_bad, &child_fail);
	return NULL;
}

static int child_main(void *arg)
{
	(void)arg;
	int bad = 0;
	for (int i = 0; i < HELD; i++) {
		if (!block_ok(held[i], held_n[i], 777 + (uint64_t)i))
			bad++;
		free(held[i]);
	}
	churn_loop(0xc41d, 30000, &child_bad, &child_fail);
	pthread_t t;
	int rc = pthread_create(&t, NULL, child_thread, NULL);
	if (rc == 0)
		pthread_join(t, NULL);
	if (bad || rc || atomic_load(&child_bad) || atomic_load(&child_fail)) {
		fprintf(stderr, "child: %d inherited blocks corrupt, pthread_create %d, %ld corrupt, "
		                "%ld failed allocations\n",
		        bad, rc, atomic_load(&child_bad), atomic_load(&child_fail));
		exit(1);
	}
	exit(0);
}

int main(void)
{
	check_allocator();
	uint64_t rng = 31;
	for (int i = 0; i < HELD; i++) {
		held_n[i] = stress_size(rng_next(&rng));
		held[i] = malloc(held_n[i]);
		CHECK(held[i] != NULL);
		if (!held[i])
			return check_done();
		block_fill(held[i], held_n[i], 777 + (uint64_t)i);
	}
	pthread_t t[NCHURN];
	for (uintptr_t i = 0; i < NCHURN; i++)
		CHECK(pthread_create(&t[i], NULL, churner, (void *)i) == 0);

	static struct child_result r;
	for (int round = 0; round < ROUNDS; round++) {
		/* Let the churners get going between forks. */
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		run_child(child_main, NULL, 20000, &r);
		char how[128];
		child_describe(&r, how, sizeof how);
		CHECKF(!r.hung && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		       "fork round %d: child %s; stderr: %s", round, how, r.err);
		if (r.hung)
			break; /* one deadlock is enough to know */
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < NCHURN; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	int bad = 0;
	for (int i = 0; i < HELD; i++) {
		if (!block_ok(held[i], held_n[i], 777 + (uint64_t)i))
			bad++;
		free(held[i]);
	}
	CHECKF(bad == 0, "%d blocks held by the parent were corrupted", bad);
	CHECKF(atomic_load(&churn_corrupt) == 0, "%ld corrupt blocks in the parent's threads",
	       atomic_load(&churn_corrupt));
	CHECKF(atomic_load(&churn_failed) == 0, "%ld failed allocations in the parent's threads",
	       atomic_load(&churn_failed));
	return check_done();
}
