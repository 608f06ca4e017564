/* SPDX-License-Identifier: MIT */
/*
 * The caches give memory back: a burst of small allocations on every CPU
 * (one thread per CPU, 64 MiB each in 64..512-byte blocks, all live at the
 * peak), all freed, a pause, then malloc_trim(0): RSS must fall back near where it started,
 * which needs the per-CPU (or per-thread) caches drained, the empty slabs
 * returned to the buddy allocator and the free pages released.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#define PER_THREAD (64L << 20)

static pthread_barrier_t allocated, measured;

static void *burst(void *arg)
{
	unsigned long s = (unsigned long)(size_t)arg * 977 + 1;
	size_t n = 0, cap = 1 << 20;
	void **v = malloc(cap * sizeof *v);
	long bytes = 0;
	while (bytes < PER_THREAD && n < cap) {
		size_t sz = 64 + rng_next(&s) % 448;
		v[n] = malloc(sz);
		memset(v[n], 1, sz);
		bytes += (long)sz;
		n++;
	}
	pthread_barrier_wait(&allocated);
	pthread_barrier_wait(&measured);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return NULL;
}

int main(void)
{
	long before = (long)(rss_bytes() >> 10);
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 2)
		ncpu = 2;
	if (ncpu > 64)
		ncpu = 64;
	pthread_t t[64];
	pthread_barrier_init(&allocated, NULL, (unsigned)ncpu + 1);
	pthread_barrier_init(&measured, NULL, (unsigned)ncpu + 1);
	for (int i = 0; i < ncpu; i++)
		pthread_create(&t[i], NULL, burst, (void *)(size_t)i);
	pthread_barrier_wait(&allocated);
	long peak = (long)(rss_bytes() >> 10);
	pthread_barrier_wait(&measured);
	for (int i = 0; i < ncpu; i++)
		pthread_join(t[i], NULL);
	usleep(20000);
	malloc_trim(0);
	long after = (long)(rss_bytes() >> 10);
	fprintf(stderr, "trim_rss: before %ld KiB, after the burst %ld KiB, after malloc_trim %ld KiB\n", before,
	        peak, after);
	CHECK(peak - before > ncpu * (PER_THREAD >> 10) / 2);
	CHECK(after - before < (peak - before) / 8);
	return check_done();
}
