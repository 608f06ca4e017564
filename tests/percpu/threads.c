/* SPDX-License-Identifier: MIT */
/*
 * Many threads at once, and fork while threads hold cached objects.
 *
 *  1. 300 threads alive together (more than the per-thread mode's first
 *     64 regions, so its regions must grow) each allocate blocks, fill them
 *     with their id, free half (into their front cache), check the rest and
 *     free everything; twice, so regions of exited threads are reused.  After
 *     the joins and malloc_trim(0), the bytes in use are back near where
 *     they started: exiting threads gave their cached objects back.
 *  2. Eight threads free blocks into their caches and wait; the process
 *     forks.  In the child those threads do not exist: in per-thread mode
 *     their caches must have been given back (in use drops by what they
 *     held).  The child then allocates and frees normally.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <stdlib.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define NT 300
#define NB 200

static pthread_barrier_t bar;
static _Atomic int bad;

static void *worker(void *arg)
{
	unsigned char id = (unsigned char)(uintptr_t)arg;
	unsigned char *b[NB];
	for (int i = 0; i < NB; i++) {
		b[i] = malloc(48 + (size_t)(i % 4) * 16);
		if (!b[i]) {
			bad++;
			return NULL;
		}
		memset(b[i], id, 48);
	}
	pthread_barrier_wait(&bar);
	for (int i = 0; i < NB; i += 2)
		free(b[i]);
	pthread_barrier_wait(&bar);
	for (int i = 1; i < NB; i += 2) {
		for (int k = 0; k < 48; k++)
			if (b[i][k] != id) {
				bad++;
				break;
			}
		free(b[i]);
	}
	return NULL;
}

static size_t in_use(void)
{
	malloc_trim(0);
	return mallinfo2().uordblks;
}

static void many_threads(void)
{
	size_t before = in_use();
	for (int round = 0; round < 2; round++) {
		pthread_t t[NT];
		int n = 0;
		pthread_barrier_init(&bar, NULL, NT);
		for (; n < NT; n++)
			if (pthread_create(&t[n], NULL, worker, (void *)(uintptr_t)(n + 1)) != 0)
				break;
		CHECK(n == NT);
		if (n < NT) {
			fprintf(stderr, "could start only %d threads\n", n);
			exit(1);   /* the barrier would never open */
		}
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&bar);
	}
	CHECK(bad == 0);
	size_t after = in_use();
	if (after > before + 64 * 1024)
		fprintf(stderr, "in use: %zu bytes before the threads, %zu after\n", before, after);
	CHECK(after <= before + 64 * 1024);
}

#define NF 8
#define NFB 400
static pthread_barrier_t fbar;

static void *holder(void *arg)
{
	(void)arg;
	void *b[NFB];
	for (int i = 0; i < NFB; i++)
		b[i] = malloc(64);
	for (int i = 0; i < NFB; i++)
		free(b[i]);   /* into this thread's cache (per-thread mode) */
	pthread_barrier_wait(&fbar);   /* cached, alive */
	pthread_barrier_wait(&fbar);   /* after the fork */
	return NULL;
}

static void fork_with_cached_objects(bool per_thread)
{
	pthread_t t[NF];
	pthread_barrier_init(&fbar, NULL, NF + 1);
	for (int i = 0; i < NF; i++)
		pthread_create(&t[i], NULL, holder, NULL);
	pthread_barrier_wait(&fbar);
	size_t parent = mallinfo2().uordblks;
	pid_t pid = fork();
	if (pid == 0) {
		size_t child = mallinfo2().uordblks;
		int fail = 0;
		/* the holders' caches: NF * NFB 64-byte objects, less what a
		 * cache keeps (per-thread caches hold up to 256 of them) */
		if (per_thread && child + (size_t)NF * 200 * 64 > parent) {
			fprintf(stderr, "child: in use %zu, parent %zu: the other threads' caches were kept\n", child,
			        parent);
			fail = 1;
		}
		void *p[1000];
		for (int i = 0; i < 1000; i++) {
			p[i] = malloc(64);
			memset(p[i], 0x5a, 64);
		}
		for (int i = 0; i < 1000; i++)
			free(p[i]);
		_exit(fail);
	}
	CHECK(pid > 0);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pthread_barrier_wait(&fbar);
	for (int i = 0; i < NF; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&fbar);
}

int main(void)
{
	const char *mode = getenv("KALLOC_EXPECT_MODE");
	bool per_thread = mode && strcmp(mode, "per-thread") == 0;
	many_threads();
	fork_with_cached_objects(per_thread);
	return check_done();
}
