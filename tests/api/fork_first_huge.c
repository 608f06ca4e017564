/* SPDX-License-Identifier: MIT */
/*
 * fork() while threads make the process's first huge allocations (issue:
 * the first huge allocation set up vmalloc's record cache under a private
 * lock that fork preparation did not take; a child forked while it was held
 * waited for ever on its own first allocation above 4 MiB).
 *
 * Many times, in a fresh process each time (a child of this program that
 * has made no huge allocation yet): three threads allocate 8 MiB at once
 * while the process forks; each grandchild allocates 8 MiB and exits.  A
 * grandchild that does not exit within 3 s (it needs milliseconds) is a
 * hang.
 */
#include "ktest.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 150
#define HUGE (8u << 20)

static void *huge_user(void *arg)
{
	(void)arg;
	unsigned char *p = malloc(HUGE);
	if (p) {
		p[0] = p[HUGE - 1] = 1;
		free(p);
	}
	return NULL;
}

/* Waits for pid at most ms; 0 when it exited 0, 1 otherwise, 2 when hung. */
static int wait_for(pid_t pid, int ms)
{
	for (int waited = 0; waited < ms; waited++) {
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 2;
}

static int fresh_process(void)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, huge_user, NULL) != 0)
			return 10;
	int rc = 0;
	for (int k = 0; k < 4 && !rc; k++) {
		pid_t g = fork();
		if (g == 0) {
			unsigned char *p = malloc(HUGE);
			if (!p)
				_exit(3);
			p[HUGE - 1] = 1;
			free(p);
			_exit(0);
		}
		rc = wait_for(g, 3000);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	return rc;
}

int main(void)
{
	check_allocator();
	int hung = 0, failed = 0;
	for (int r = 0; r < ROUNDS; r++) {
		fflush(NULL);
		pid_t c = fork();
		if (c == 0)
			_exit(fresh_process());
		int st;
		waitpid(c, &st, 0);
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 100;
		hung += code == 2;
		failed += code != 0 && code != 2;
	}
	CHECKF(hung == 0 && failed == 0, "%d of %d rounds had a child that hung, %d failed otherwise", hung, ROUNDS,
	       failed);
	return check_done();
}
