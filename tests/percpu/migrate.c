/* SPDX-License-Identifier: MIT */
/*
 * Threads hop between CPUs (sched_setaffinity in a loop) while they allocate
 * and free; every block carries a pattern naming its owner and is checked
 * before it is freed, by its owner or by another thread.  A per-CPU cache
 * that lost or duplicated an object across a migration shows up as a broken
 * pattern or a block handed out twice.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <stdlib.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#define THREADS 6
#define ITERS 200000
#define LIVE 256

static void *shared[THREADS][64];
static pthread_mutex_t locks[THREADS];
static int ncpu;
static _Atomic int bad;

static void fill(unsigned char *p, size_t n, int id) { memset(p, 0x40 + id, n); }
static int verify(const unsigned char *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (p[i] != p[0])
			return 0;
	return p[0] >= 0x40 && p[0] < 0x40 + THREADS;
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	unsigned long s = 0x9e3779b97f4a7c15ul * (unsigned long)(id + 1);
	void *live[LIVE] = { 0 };
	size_t sizes[LIVE] = { 0 };
	for (int it = 0; it < ITERS; it++) {
		if ((it & 1023) == 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET((int)(rng_next(&s) % (unsigned long)ncpu), &set);
			sched_setaffinity(0, sizeof set, &set);
		}
		unsigned k = (unsigned)(rng_next(&s) % LIVE);
		if (live[k]) {
			if (!verify(live[k], sizes[k]))
				bad++;
			if (rng_next(&s) & 1) {
				int t = (int)(rng_next(&s) % THREADS);
				pthread_mutex_lock(&locks[t]);
				unsigned slot = (unsigned)(rng_next(&s) % 64);
				void *old = shared[t][slot];
				shared[t][slot] = live[k];
				pthread_mutex_unlock(&locks[t]);
				free(old);
			} else {
				free(live[k]);
			}
			live[k] = NULL;
		} else {
			sizes[k] = 1 + rng_next(&s) % 600;
			live[k] = malloc(sizes[k]);
			fill(live[k], sizes[k], id);
		}
	}
	for (unsigned k = 0; k < LIVE; k++)
		free(live[k]);
	return NULL;
}

int main(void)
{
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_mutex_init(&locks[i], NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < 64; j++) {
			if (shared[i][j]) {
				unsigned char *p = shared[i][j];
				CHECK(verify(p, 1));
			}
			free(shared[i][j]);
		}
	CHECK(bad == 0);
	return check_done();
}
