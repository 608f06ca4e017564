/* SPDX-License-Identifier: MIT */
/* Shared helpers of the per-CPU cache tests: CHECK counts failures. */
#ifndef PC_H
#define PC_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pc_failures;
#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			pc_failures++;                                                      \
		}                                                                           \
	} while (0)

static inline int pc_finish(const char *name)
{
	if (pc_failures)
		fprintf(stderr, "%s: %d checks failed\n", name, pc_failures);
	return pc_failures ? 1 : 0;
}

/* xorshift, seeded per test and per thread */
static inline unsigned long pc_rand(unsigned long *s)
{
	unsigned long x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * 4;
}

/* The text of kalloc_stats_print, taken in a forked child (so that the
 * report is of this process's state and printing it changes nothing
 * here); NUL-terminated in buf. */
#include <kalloc.h>
#include <sys/wait.h>
#include <unistd.h>
static inline void pc_stats_text(char *buf, size_t size)
{
	int fds[2];
	size_t n = 0;
	buf[0] = 0;
	if (pipe(fds) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		kalloc_stats_print(1);
		_exit(0);
	}
	close(fds[1]);
	ssize_t r;
	while (n < size - 1 && (r = read(fds[0], buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(fds[0]);
	waitpid(pid, NULL, 0);
}
#endif
