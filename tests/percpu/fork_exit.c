/* SPDX-License-Identifier: MIT */
/*
 * fork() while threads exit with full caches (issue: in per-thread mode a
 * thread's exit returned its cached objects to the slabs first and emptied
 * its stacks after, with no lock: a fork in between gave a child that saw
 * some of those frees and still found the objects in the dead thread's
 * stacks, which its fork handler freed again: duplicates on the slabs'
 * lists, one block handed out twice).
 *
 * Rounds of four threads fill their stacks of several classes (allocate a
 * few hundred blocks of each size, free them all), then exit together while
 * the main thread forks as fast as it can.  Each child allocates many blocks
 * of those sizes, fills each with its own pattern and checks every one: a
 * block handed out twice shows up as a pattern overwritten (or as kalloc's
 * double-free report and an abort).  Runs in both front-cache modes.
 */
#define _GNU_SOURCE
#include "ktest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define PER 200
#define CHILD_BLOCKS 6000

static const size_t sizes[] = { 16, 32, 48, 64, 96, 128, 192, 256, 384, 512 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

static atomic_int ready, go;

static void *filler(void *arg)
{
	(void)arg;
	static __thread void *held[PER];
	for (size_t s = 0; s < NSIZES; s++) {
		for (int i = 0; i < PER; i++)
			held[i] = malloc(sizes[s]);
		for (int i = 0; i < PER; i++)
			free(held[i]);   /* into this thread's stack, up to its capacity */
	}
	atomic_fetch_add(&ready, 1);
	while (!atomic_load(&go))
		;
	return NULL;   /* exit: the stacks are flushed */
}

static int child_check(void)
{
	static unsigned char *p[CHILD_BLOCKS];
	static size_t n[CHILD_BLOCKS];
	for (int i = 0; i < CHILD_BLOCKS; i++) {
		n[i] = sizes[i % NSIZES];
		p[i] = malloc(n[i]);
		if (!p[i])
			return 2;
		pattern_fill(p[i], n[i], (uint64_t)i);
	}
	for (int i = 0; i < CHILD_BLOCKS; i++)
		if (pattern_check(p[i], n[i], (uint64_t)i) != n[i])
			return 3;   /* another block was handed out over this one */
	for (int i = 0; i < CHILD_BLOCKS; i++)
		free(p[i]);
	return 0;
}

int main(void)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rounds = 0, forks = 0;
	do {
		pthread_t th[THREADS];
		atomic_store(&ready, 0);
		atomic_store(&go, 0);
		for (int i = 0; i < THREADS; i++)
			CHECK(pthread_create(&th[i], NULL, filler, NULL) == 0);
		while (atomic_load(&ready) < THREADS)
			;
		atomic_store(&go, 1);
		/* Fork while they exit. */
		for (int k = 0; k < 6; k++) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(child_check());
			int st;
			waitpid(pid, &st, 0);
			forks++;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				CHECKF(0, "round %d: child %s %d", rounds, WIFEXITED(st) ? "exited with" : "killed by signal",
				       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
				break;
			}
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (check_failures == 0 && (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 4000);
	test_msg("%d rounds, %d forks", rounds, forks);
	return check_done();
}
