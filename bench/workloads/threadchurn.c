/* SPDX-License-Identifier: MIT */
/*
 * Threads that come and go: W waves (scaled) of T threads (argv[1],
 * default 16) at once.  Each thread keeps 4,000 blocks of 16 to 2,048 bytes
 * alive, replaces a random one 100,000 times, frees all and exits; a few
 * blocks per thread (1 in 64) are handed to the next wave and freed there,
 * by another thread.  What the allocator holds for threads that are gone
 * and for CPUs they ran on shows in the peak RSS; the cost of setting up
 * and tearing down per-thread state in the time.
 */
#include "common.h"

#include <pthread.h>

#define LIVE 4000
#define STEPS 100000
#define MAXT 256

static void **handed[MAXT];   /* blocks left by the previous wave's thread i */
static unsigned nhanded[MAXT];

struct job {
	unsigned id;
	uint64_t seed;
	uint64_t sum;
};

static size_t size_of(uint64_t r)
{
	/* mostly small: 16..256 (3 in 4), else up to 2 KiB */
	return (r & 3) ? 16 + (r >> 8) % 241 : 16 + (r >> 8) % 2033;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	uint64_t s = j->seed | 1;
	for (unsigned i = 0; i < nhanded[j->id]; i++)
		free(handed[j->id][i]);
	free(handed[j->id]);
	void **live = malloc(LIVE * sizeof *live);
	for (unsigned i = 0; i < LIVE; i++) {
		size_t n = size_of(rnd(&s));
		live[i] = malloc(n);
		memset(live[i], (int)i, n < 64 ? n : 64);
	}
	for (unsigned k = 0; k < STEPS; k++) {
		unsigned i = (unsigned)(rnd(&s) % LIVE);
		j->sum += *(unsigned char *)live[i];
		free(live[i]);
		size_t n = size_of(rnd(&s));
		live[i] = malloc(n);
		memset(live[i], (int)k, n < 64 ? n : 64);
	}
	void **keep_for_next = malloc((LIVE + 63) / 64 * sizeof *keep_for_next);
	unsigned kept = 0;
	for (unsigned i = 0; i < LIVE; i++) {
		if (i % 64 == 0)
			keep_for_next[kept++] = live[i];
		else
			free(live[i]);
	}
	free(live);
	handed[j->id] = keep_for_next;
	nhanded[j->id] = kept;
	return NULL;
}

int main(int argc, char **argv)
{
	int t = argc > 1 ? atoi(argv[1]) : 16;
	if (t < 1 || t > MAXT)
		t = 16;
	int waves = (int)(16 * scale());
	if (waves < 2)
		waves = 2;
	static pthread_t th[MAXT];
	static struct job jobs[MAXT];
	uint64_t sum = 0;
	double t0 = now_s();
	for (int w = 0; w < waves; w++) {
		for (int i = 0; i < t; i++) {
			jobs[i] = (struct job){ (unsigned)i, 0x51ed270b27e2c6d1ull * (uint64_t)(w * MAXT + i + 1), 0 };
			pthread_create(&th[i], NULL, worker, &jobs[i]);
		}
		for (int i = 0; i < t; i++) {
			pthread_join(th[i], NULL);
			sum += jobs[i].sum;
		}
	}
	for (int i = 0; i < t; i++) {
		for (unsigned k = 0; k < nhanded[i]; k++)
			free(handed[i][k]);
		free(handed[i]);
	}
	double t1 = now_s();
	keep((void *)(uintptr_t)sum);
	result(t1 - t0, (double)waves * t * STEPS);
	return 0;
}
