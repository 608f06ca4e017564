/* SPDX-License-Identifier: MIT */
/*
 * Memory goes back to the OS (pins what kalloc does well: glibc keeps almost
 * all of this for the two seconds, the other allocators most of it even
 * after malloc_trim).  Two threads allocate 512 MiB each of small objects
 * (64 to 512 bytes, written), then free them all and exit.  Two seconds
 * later at most a quarter of that gigabyte may still be resident above the
 * start (kalloc: about 8%); after malloc_trim(0), at most 3% (kalloc: under
 * 1%).  Checked under kalloc only (KALLOC_EXPECT=1): glibc keeps the memory.
 */
#include "ktest.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define PER_THREAD (512ul << 20)

static void *churn(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	size_t cap = PER_THREAD / 64, n = 0, bytes = 0;
	void **v = malloc(cap * sizeof *v);
	if (!v)
		return (void *)1;
	while (bytes < PER_THREAD && n < cap) {
		size_t sz = (size_t)rng_range(&rng, 64, 512);
		unsigned char *p = malloc(sz);
		if (!p)
			return (void *)2;
		memset(p, (int)n, sz);
		v[n++] = p;
		bytes += sz;
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return NULL;
}

int main(void)
{
	check_allocator();
	free(malloc(1));
	size_t base = rss_bytes();
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)) == 0);
	for (int i = 0; i < 2; i++) {
		void *rv;
		pthread_join(t[i], &rv);
		CHECK(rv == NULL);
	}
	size_t gib = 2 * PER_THREAD;
	size_t peak = peak_rss_bytes();
	CHECKF(peak > base + gib / 2, "peak RSS %zu MiB: the gigabyte was not resident", peak >> 20);
	sleep(2);
	size_t after = rss_bytes();
	malloc_trim(0);
	size_t trimmed = rss_bytes();
	size_t held = after > base ? after - base : 0, held_trim = trimmed > base ? trimmed - base : 0;
	test_msg("resident above the start: %zu MiB after 2 s (%.1f%%), %zu MiB after malloc_trim (%.2f%%)",
	         held >> 20, 100.0 * (double)held / (double)gib, held_trim >> 20, 100.0 * (double)held_trim / (double)gib);
	if (expect_kalloc()) {
		CHECKF(held <= gib / 4, "%zu MiB of 1 GiB still resident 2 s after it was freed", held >> 20);
		CHECKF(held_trim <= gib * 3 / 100, "%zu MiB of 1 GiB still resident after malloc_trim(0)", held_trim >> 20);
	}
	return check_done();
}
