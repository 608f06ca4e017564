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
#endif
