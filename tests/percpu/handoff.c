/* SPDX-License-Identifier: MIT */
/*
 * Eight threads allocate mixed sizes and hand a share of their blocks to
 * other threads through mutex-protected queues, so most frees are remote
 * and slabs keep going full -> partial -> empty across threads.
 *
 * Regression: a slab was marked FULL before it was unlinked from its cache's
 * partial list; a free in that window pushed it on the lock-free relist
 * stack through the same `next` link and corrupted the list (a crash in
 * partial_del about one run in ten).  Several rounds make the window likely.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>

#define N 8
#define Q 4096
#define ITERS 400000

static void *queue[N][Q];
static int qn[N];
static pthread_mutex_t ql[N];
static _Atomic int bad;

static void drain(int id)
{
	pthread_mutex_lock(&ql[id]);
	while (qn[id]) {
		unsigned char *p = queue[id][--qn[id]];
		if (p[0] >= N)
			bad++;
		free(p);
	}
	pthread_mutex_unlock(&ql[id]);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	unsigned long s = (unsigned long)id * 7919 + 1;
	void *local[512] = { 0 };
	for (int it = 0; it < ITERS; it++) {
		unsigned k = (unsigned)(rng_next(&s) % 512);
		if (local[k]) {
			unsigned char *p = local[k];
			size_t sz = malloc_usable_size(p);
			if (p[0] != (unsigned char)id || p[sz - 1] != (unsigned char)id)
				bad++;
			if (rng_next(&s) & 1) {
				int t = (int)(rng_next(&s) % N);
				pthread_mutex_lock(&ql[t]);
				if (qn[t] < Q) {
					queue[t][qn[t]++] = p;
					p = NULL;
				}
				pthread_mutex_unlock(&ql[t]);
			}
			free(p);
			local[k] = NULL;
		} else {
			unsigned long r = rng_next(&s);
			size_t sz = 1 + (r >> 12) % ((r & 0x10000) ? 4000 : 200);
			unsigned char *p = malloc(sz);
			memset(p, id, malloc_usable_size(p));
			local[k] = p;
		}
		if ((it & 255) == 0)
			drain(id);
	}
	for (unsigned k = 0; k < 512; k++)
		free(local[k]);
	return NULL;
}

int main(void)
{
	for (int i = 0; i < N; i++)
		pthread_mutex_init(&ql[i], NULL);
	for (int round = 0; round < 4; round++) {
		pthread_t t[N];
		for (int i = 0; i < N; i++)
			pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
		for (int i = 0; i < N; i++)
			pthread_join(t[i], NULL);
		for (int i = 0; i < N; i++)
			drain(i);
	}
	CHECK(bad == 0);
	int r = malloc_trim(0);
	CHECK(r == 0 || r == 1);
	return check_done();
}
