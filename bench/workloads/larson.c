/* SPDX-License-Identifier: MIT */
/*
 * larson-like server churn: T threads (argv[1]) each keep a live set of
 * 2000 blocks of random sizes (16..1024 bytes, some up to 8 KiB) and
 * replace random members; every 64th replaced block is handed to the next
 * thread, which frees it (a cross-thread free).  Throughput = replacements
 * per second over all threads.
 */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

#define LIVE 2000
#define MAXT 64

static int nthreads;
static long rounds;
static _Atomic(void *) mailbox[MAXT][64];

static size_t pick_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	return (r & 15) == 0 ? 16 + (r >> 8) % 8192 : 16 + (r >> 8) % 1009;
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
	void **live = malloc(LIVE * sizeof *live);
	for (int i = 0; i < LIVE; i++) {
		size_t n = pick_size(&s);
		live[i] = malloc(n);
		memset(live[i], id, 16);
	}
	for (long r = 0; r < rounds; r++) {
		unsigned k = (unsigned)(rnd(&s) % LIVE);
		void *old = live[k];
		if ((r & 63) == 0) {
			/* hand it to the next thread; free what was there */
			unsigned slot = (unsigned)(rnd(&s) & 63);
			old = atomic_exchange_explicit(&mailbox[(id + 1) % nthreads][slot], old, memory_order_acq_rel);
		}
		free(old);
		size_t n = pick_size(&s);
		live[k] = malloc(n);
		memset(live[k], (int)r, 16);
	}
	for (int i = 0; i < LIVE; i++)
		free(live[i]);
	free(live);
	return NULL;
}

int main(int argc, char **argv)
{
	nthreads = argc > 1 ? atoi(argv[1]) : 2;
	if (nthreads < 1 || nthreads > MAXT)
		nthreads = 2;
	/* the same total work at any thread count */
	rounds = (long)(40000000 * scale()) / nthreads;
	pthread_t t[MAXT];
	double t0 = now_s();
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	double t1 = now_s();
	for (int i = 0; i < nthreads; i++)
		for (int j = 0; j < 64; j++)
			free(atomic_load(&mailbox[i][j]));
	result(t1 - t0, (double)rounds * nthreads);
	return 0;
}
