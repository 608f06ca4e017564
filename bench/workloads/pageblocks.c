/* SPDX-License-Identifier: MIT */
/*
 * Page blocks: T threads (argv[1], default 1), each keeping 8 blocks of
 * 33 KiB to 4 MiB alive (sizes log-uniform) and replacing one at random per
 * step; each new block gets one byte per 4 KiB page written (a buffer being
 * filled faults every page in), so reusing memory that is still backed
 * counts as much as the allocator's own time.  Sizes the kmalloc slabs do not cover
 * and the huge path does not take: the buddy allocator's blocks, the
 * per-CPU page caches in front of them, glibc's heap below its mmap
 * threshold and mmap above it.  Time for every thread's steps.
 */
#include "common.h"

#include <math.h>
#include <pthread.h>

#define LIVE 8
#define MAXT 64

static long steps;

static size_t block_size(uint64_t *s)
{
	/* log-uniform in [33 KiB, 4 MiB] */
	double lo = log(33.0 * 1024), hi = log(4.0 * 1024 * 1024);
	double u = (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
	return (size_t)exp(lo + u * (hi - lo));
}

static void touch(unsigned char *b, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i += 4096)
		b[i] = v;
	b[n - 1] = v;
}

static void *worker(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ull ^ (uintptr_t)arg;
	unsigned char *live[LIVE];
	size_t len[LIVE];
	uint64_t sum = 0;
	for (int i = 0; i < LIVE; i++) {
		len[i] = block_size(&s);
		live[i] = malloc(len[i]);
		touch(live[i], len[i], (unsigned char)i);
	}
	for (long k = 0; k < steps; k++) {
		unsigned i = (unsigned)(rnd(&s) % LIVE);
		sum += live[i][len[i] - 1];
		free(live[i]);
		len[i] = block_size(&s);
		live[i] = malloc(len[i]);
		touch(live[i], len[i], (unsigned char)k);
	}
	for (int i = 0; i < LIVE; i++)
		free(live[i]);
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	int t = argc > 1 ? atoi(argv[1]) : 1;
	if (t < 1 || t > MAXT)
		t = 1;
	steps = (long)(200000 * scale());   /* per thread */
	result(run_threads(t, worker), (double)steps * t);
	return 0;
}
