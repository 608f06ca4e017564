/* SPDX-License-Identifier: MIT */
/*
 * malloc and free interrupted by signals.  A setitimer(ITIMER_REAL) fires
 * SIGALRM every 50 microseconds while the main thread (and, in the last
 * phase, a second thread) mallocs, fills, verifies and frees blocks of mixed
 * sizes; an interrupted allocator fast path must restart or complete, never
 * hand out a block twice nor lose one.  Phases:
 *  1. a handler that does nothing;
 *  2. a handler that only counts into a volatile sig_atomic_t;
 *  3. the counting handler run on an alternate signal stack (SA_ONSTACK),
 *     with a second allocating thread.
 * Asserts: no allocation fails, no block is corrupted, and signals really
 * arrived during phases 2 and 3.
 */
#include "ktest.h"

#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t hits;

static void nothing(int sig) { (void)sig; }
static void count(int sig)
{
	(void)sig;
	hits = hits + 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static atomic_long corrupt, failed;

/* Mallocs and frees for `seconds`, checking every block before it is freed. */
static void churn(uint64_t seed, double seconds)
{
	enum { W = 128 };
	unsigned char *p[W] = { 0 };
	size_t n[W] = { 0 };
	uint64_t tag[W] = { 0 };
	uint64_t rng = seed;
	double end = now() + seconds;
	for (long it = 0;; it++) {
		if ((it & 255) == 0 && now() > end)
			break;
		uint64_t r = rng_next(&rng);
		int k = (int)(r % W);
		if (p[k]) {
			if (!block_ok(p[k], n[k], tag[k]))
				atomic_fetch_add(&corrupt, 1);
			free(p[k]);
		}
		n[k] = (r >> 7) % 16 == 0 ? stress_size(r >> 11) : 1 + (size_t)((r >> 11) % 512);
		tag[k] = seed + (uint64_t)it;
		if ((r >> 40) % 7 == 0) {
			p[k] = calloc(1, n[k]);
			if (p[k] && first_nonzero(p[k], n[k]) != n[k])
				atomic_fetch_add(&corrupt, 1);
		} else {
			p[k] = malloc(n[k]);
		}
		if (p[k])
			block_fill(p[k], n[k], tag[k]);
		else
			atomic_fetch_add(&failed, 1);
	}
	for (int k = 0; k < W; k++) {
		if (p[k] && !block_ok(p[k], n[k], tag[k]))
			atomic_fetch_add(&corrupt, 1);
		free(p[k]);
	}
}

static void *second(void *arg)
{
	(void)arg;
	churn(0x5ec0, 0.7);
	return NULL;
}

int main(void)
{
	check_allocator();

	/* 1. do-nothing handler */
	set_handler(SIGALRM, nothing, SA_RESTART);
	alarm_every_us(50);
	churn(1, 0.7);
	alarm_every_us(0);

	/* 2. counting handler */
	hits = 0;
	set_handler(SIGALRM, count, SA_RESTART);
	alarm_every_us(50);
	churn(2, 0.7);
	alarm_every_us(0);
	long phase2 = hits;
	CHECKF(phase2 >= 100, "only %ld SIGALRMs arrived during phase 2", phase2);

	/* 3. on an alternate stack, with a second thread allocating */
	static char altstack[1 << 16];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
	CHECK(sigaltstack(&ss, NULL) == 0);
	hits = 0;
	set_handler(SIGALRM, count, SA_RESTART | SA_ONSTACK);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, second, NULL) == 0);
	alarm_every_us(50);
	churn(3, 0.7);
	alarm_every_us(0);
	CHECK(pthread_join(t, NULL) == 0);
	long phase3 = hits;
	CHECKF(phase3 >= 100, "only %ld SIGALRMs arrived during phase 3", phase3);

	printf("signals: %ld in phase 2, %ld in phase 3\n", phase2, phase3);
	CHECKF(atomic_load(&failed) == 0, "%ld allocations failed", atomic_load(&failed));
	CHECKF(atomic_load(&corrupt) == 0, "%ld blocks corrupt", atomic_load(&corrupt));
	return check_done();
}
