/* SPDX-License-Identifier: MIT */
/*
 * Thread exit returns cached memory.  200 threads, two at a time, each
 * allocate 10 MiB in small objects (16 to 512 bytes, written), free them all
 * and exit.  Whatever a thread cached must become reusable when it exits:
 * the resident set afterwards stays below 200 MiB (2 GiB went through the
 * allocator in total; a leak of per-thread caches or of the memory behind
 * them shows up as RSS growing with the number of threads).
 *
 * Also asserts that objects freed by a thread are reused by the next ones:
 * RSS after the last thread is not much above RSS after the first ten.
 */
#include "ktest.h"

#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>

enum { THREADS = 200, PER_THREAD = 10 << 20 };

static atomic_long failed;

static void *worker(void *arg)
{
	uint64_t rng = 12345 + (uint64_t)(uintptr_t)arg;
	enum { MAXOBJ = PER_THREAD / 16 };
	void **objs = malloc(MAXOBJ * sizeof *objs);
	if (!objs) {
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	size_t total = 0, count = 0;
	while (total < PER_THREAD && count < MAXOBJ) {
		size_t n = 16 + (size_t)(rng_next(&rng) % 497);
		unsigned char *p = malloc(n);
		if (!p) {
			atomic_fetch_add(&failed, 1);
			break;
		}
		memset(p, (int)(count & 0xff), n);
		objs[count++] = p;
		total += n;
	}
	/* Free in a scrambled order. */
	for (size_t i = 0; i < count; i++) {
		size_t j = i + (size_t)(rng_next(&rng) % (count - i));
		void *t = objs[i];
		objs[i] = objs[j];
		objs[j] = t;
		free(objs[i]);
	}
	free(objs);
	return NULL;
}

int main(void)
{
	check_allocator();
	size_t start = rss_bytes(), after_ten = 0;
	for (uintptr_t i = 0; i < THREADS; i += 2) {
		pthread_t a, b;
		int ra = pthread_create(&a, NULL, worker, (void *)i);
		int rb = pthread_create(&b, NULL, worker, (void *)(i + 1));
		CHECK(ra == 0 && rb == 0);
		if (ra == 0)
			pthread_join(a, NULL);
		if (rb == 0)
			pthread_join(b, NULL);
		if (i + 2 == 10)
			after_ten = rss_bytes();
	}
	size_t end = rss_bytes();
	printf("RSS: %zu MiB at start, %zu MiB after 10 threads, %zu MiB after %d threads\n",
	       start >> 20, after_ten >> 20, end >> 20, THREADS);
	CHECKF(atomic_load(&failed) == 0, "%ld allocations failed", atomic_load(&failed));
	CHECKF(end < (200u << 20), "RSS %zu MiB after %d threads each allocated and freed 10 MiB",
	       end >> 20, THREADS);
	CHECKF(end <= after_ten + (64u << 20),
	       "RSS grew from %zu MiB after 10 threads to %zu MiB after %d: memory freed by exited "
	       "threads is not reused",
	       after_ten >> 20, end >> 20, THREADS);
	return check_done();
}
