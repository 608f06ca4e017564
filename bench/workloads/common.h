/* SPDX-License-Identifier: MIT */
/* Shared helpers of the macro workloads: a seeded xorshift generator, a
 * monotonic clock, and the one-line result every workload prints:
 *     result time_s=<seconds> ops=<count>
 * bench.sh reads that line; peak RSS is measured from outside. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* BENCH_SCALE (a float, default 1) scales the amount of work. */
static inline double scale(void)
{
	const char *v = getenv("BENCH_SCALE");
	double s = v ? atof(v) : 1.0;
	return s > 0 ? s : 1.0;
}

static inline void result(double t, double ops)
{
	printf("result time_s=%.6f ops=%.0f\n", t, ops);
	fflush(stdout);
}

/* Keeps the compiler from removing an allocation whose result is unused. */
static inline void keep(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* Runs fn in t threads (argument: the thread's number), waits for them, and
 * returns the seconds that took; what the threads return is kept. */
static inline double run_threads(int t, void *(*fn)(void *))
{
	pthread_t th[64];
	uintptr_t sum = 0;
	if (t > 64)
		t = 64;
	double t0 = now_s();
	for (int i = 0; i < t; i++)
		pthread_create(&th[i], NULL, fn, (void *)(uintptr_t)i);
	for (int i = 0; i < t; i++) {
		void *r;
		pthread_join(th[i], &r);
		sum += (uintptr_t)r;
	}
	double t1 = now_s();
	keep((void *)sum);
	return t1 - t0;
}
#endif
