/* SPDX-License-Identifier: MIT */
/*
 * Small-object loops: T threads (argv[1], default 1), each on its own
 * blocks.  A round takes a size of 16, 32 or 64 bytes and a count n from
 * 25 to 1,600 (doubling), allocates n blocks, writes every byte of each,
 * then frees the first half in allocation order (FIFO) and the second half
 * in reverse order (LIFO).  Short-lived batches of small objects, the way
 * parsers and interpreters use them: the front cache's capacity, its refill
 * and flush batches and the locality of the carve order all show here.
 * Every thread does the same rounds; time for all of them.
 */
#include "common.h"

#include <pthread.h>

#define MAXN 1600
#define MAXT 64

static long rounds;

static void *worker(void *arg)
{
	static const size_t sizes[] = { 16, 32, 64 };
	void **p = malloc(MAXN * sizeof *p);
	uint64_t sum = (uintptr_t)arg;
	for (long r = 0; r < rounds; r++) {
		size_t size = sizes[r % 3];
		unsigned n = 25u << ((r / 3) % 7);   /* 25, 50, ..., 1600 */
		for (unsigned i = 0; i < n; i++) {
			unsigned char *b = malloc(size);
			memset(b, (int)(i + r), size);
			p[i] = b;
		}
		for (unsigned i = 0; i < n / 2; i++) {
			sum += ((unsigned char *)p[i])[size - 1];
			free(p[i]);
		}
		for (unsigned i = n; i-- > n / 2;) {
			sum += ((unsigned char *)p[i])[0];
			free(p[i]);
		}
	}
	free(p);
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	int t = argc > 1 ? atoi(argv[1]) : 1;
	if (t < 1 || t > MAXT)
		t = 1;
	rounds = (long)(100000 * scale());   /* per thread */
	result(run_threads(t, worker), (double)rounds * t * (3175.0 / 7));   /* blocks: n averages 3175 / 7 */
	return 0;
}
